"""Time the embedded Kuzbass run, stage by stage, at one or more resolutions.

Usage: python benchmarks/default_run.py [RESOLUTION ...] [--docs]   (default: 250 100)

Each resolution runs in a fresh process so that peak memory (max RSS) is its own. Outputs are
written to a temporary folder, as a user's run would write them. Each run starts with an empty
cache (it is kept in the temporary folder), so it computes every step. Targets (issue #2, on a
2-core machine): ≤ 60 s at 250 m, ≤ 5 min at 100 m. With ``--docs`` the figures are also
written for the documentation's performance page (``docs/performance/default_run.md``, by
``benchmarks/_report.py``).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time

from _report import record

TARGETS_S = {250.0: 60.0, 100.0: 300.0}


def one(resolution: float) -> dict:
    import siting

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = siting.run(resolution=resolution, output_dir=tmp)
        wall = time.perf_counter() - start
    return {
        "resolution_m": resolution,
        "cells": result.grid.width * result.grid.height,
        "wall_s": round(wall, 2),
        "stages_s": result.timings,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(one(float(argv[1]))))
        return
    docs = "--docs" in argv
    rows: list[dict[str, object]] = []
    for res in [float(a) for a in argv if a != "--docs"] or [250.0, 100.0]:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(res)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        target = TARGETS_S.get(res)
        verdict = (
            ""
            if target is None
            else (f"target {target:.0f} s: {'met' if r['wall_s'] <= target else 'MISSED'}")
        )
        stages = " ".join(f"{k}={v:.1f}" for k, v in r["stages_s"].items())
        print(
            f"default_run resolution_m={res:g} cells={r['cells'] / 1e6:.1f}M "
            f"wall_s={r['wall_s']:.1f} peak_rss_mb={r['peak_rss_mb']} {verdict}"
        )
        print(f"  stages_s: {stages}")
        rows.append(
            {
                "resolution": f"{res:g} m",
                "cells": r["cells"],
                "wall time": f"{r['wall_s']:.1f} s",
                **{name: f"{seconds:.1f} s" for name, seconds in r["stages_s"].items()},
                "peak memory": f"{r['peak_rss_mb'] / 1024:.1f} GB",
                "target": "–" if target is None else f"≤ {target:.0f} s: {verdict.split()[-1]}",
            }
        )
    if docs:
        notes = (
            "The embedded Kuzbass scenario, every output written (into a temporary folder), "
            "each resolution in a fresh process with an empty cache. Cells are those of the "
            "padded grid; the stage columns are `result.timings`; peak memory is the process's "
            "maximum resident set size."
        )
        print(f"wrote {record('default_run', rows, notes=notes)}")


if __name__ == "__main__":
    main(sys.argv[1:])
