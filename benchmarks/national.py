"""A national run on a Dask LocalCluster (issue #21): the embedded Russia scenario, basin by basin.

Usage: python benchmarks/national.py [--workers 2] [--resolution R] [--docs]

Runs ``siting.scale.national.run_national`` on the embedded ``russia`` scenario (37 basins of
Russia's operating coal mines, each its own scenario in its own UTM zone) on a
``distributed.LocalCluster`` of ``--workers`` processes, writing every output (each basin's
folder, the national GeoPackage, map and report) into a temporary folder with the cache off, as
``siting run russia --workers N --no-cache`` does. While it runs, the workers' resident memory
is sampled every 0.5 s through ``Client.run`` (psutil), and the largest is reported.

The last line: ``national basins=<n> ran=<k> with_sites=<k> sites=<s> workers=<w>
seconds=<t> peak_worker_gb=<g>``. Target (issue #21): completes on a 2-core, 24 GB machine at
the default resolution with sites in at least 8 basins.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psutil

from siting.config.scenario import load
from siting.scale.cluster import connect
from siting.scale.national import run_national

from _report import ROOT, record


def _rss() -> int:
    return psutil.Process().memory_info().rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--resolution", type=float, help="metres (default: the scenario's)")
    parser.add_argument("--docs", action="store_true", help="write docs/performance/national.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    scenario = load("russia")
    if args.resolution is not None:
        scenario = scenario.with_overrides(resolution=args.resolution)
    peak = 0
    with tempfile.TemporaryDirectory() as tmp, connect(args.workers) as client:
        assert client is not None
        scenario = scenario.with_overrides(output_dir=Path(tmp))
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                try:
                    peak = max(peak, *client.run(_rss).values())
                except Exception:  # the cluster closing under the last sample
                    return
                done.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        result = run_national(scenario, client=client, cache=False)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    ran = [b for b in result.basins if b.status == "ok"]
    with_sites = sum(len(b.sites) > 0 for b in ran)
    lines = [
        f"scenario {scenario.name}: {len(result.basins)} basins at {scenario.resolution:g} m "
        f"on {result.workers}",
        f"{len(ran)} ran, {len(result.basins) - len(ran)} skipped, {with_sites} with sites, "
        f"{len(result.sites)} sites",
        *[
            # Paths as a reader of the docs has them: relative to the repository.
            f"  skipped {n}x: {message.replace(str(ROOT) + '/', '')}"
            for message, n in Counter(
                b.message for b in result.basins if b.status != "ok"
            ).most_common()
        ],
        f"slowest basin: {max(b.seconds for b in ran):.1f} s; all basins' seconds summed: "
        f"{sum(b.seconds for b in result.basins):.1f}",
        f"national seconds={seconds:.1f} peak_worker_gb={peak / 1e9:.2f}",
    ]
    summary = (
        f"national basins={len(result.basins)} ran={len(ran)} with_sites={with_sites} "
        f"sites={len(result.sites)} workers={args.workers} seconds={seconds:.1f} "
        f"peak_worker_gb={peak / 1e9:.2f}"
    )
    lines.append(summary)
    print("\n".join(lines))
    if args.docs:
        record(
            "national",
            lines,
            notes="`siting.scale.national.run_national` on the embedded Russia scenario, every "
            "output written (cache off), on a `LocalCluster`; the time includes writing each "
            "basin's folder and the national GeoPackage, map and report, not starting the "
            "cluster. Peak worker memory: the largest resident set of a worker, sampled every "
            "0.5 s.",
        )


if __name__ == "__main__":
    main()
