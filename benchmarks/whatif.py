"""Incremental what-if re-runs (issue #7): the cold default run vs the same run after adding one
rail spur, with the on-disk cache of intermediate results.

Usage: python benchmarks/whatif.py [--resolution 100] [--docs]

1. A small warm-up run at 2 km with the cache off, so that neither timed run pays for numba's
   compilation or first imports.
2. Cold: the embedded Kuzbass scenario into an empty output folder (its cache starts empty), with
   every output written, as ``siting run`` does.
3. Warm: a scenario that ``extends = "kuzbass"`` and adds one rail spur to Yerunakovo (the
   notebook's what-if), into the same output folder, so it finds the cold run's cache.

Prints each run's stages and what the what-if reused and recomputed; the last line is
``whatif cold_s=<a> warm_s=<b> ratio=<b/a>``. Target (issue #7): ratio ≤ 0.25 at 100 m. With
``--docs`` the figures are also written for the documentation's performance page
(``docs/performance/whatif.md``, by ``benchmarks/_report.py``).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import siting

from _report import record

SPUR = """\
extends = "kuzbass"
name = "kuzbass_spur"
title = "Kuzbass: a rail spur to Yerunakovo"

[[add]]
layer = "rail"
geometry = { type = "LineString", coordinates = [[87.0, 54.05], [87.355, 54.122]] }
properties = { id = "spur-yerunakovo", name = "New spur to Yerunakovo", kind = "branch" }
"""


def timed(scenario: str | Path | None, **kw: Any) -> tuple[float, siting.Result]:
    start = time.perf_counter()
    result = siting.run(scenario, **kw)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=float, default=100.0)
    parser.add_argument(
        "--docs", action="store_true", help="also write the figures to docs/performance/whatif.md"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "outputs"
        timed(None, resolution=2000, output_dir=Path(tmp) / "warmup", cache=False)
        cold_s, cold = timed(None, resolution=args.resolution, output_dir=out)
        spur = Path(tmp) / "spur.toml"
        spur.write_text(SPUR, encoding="utf-8")
        warm_s, warm = timed(spur, resolution=args.resolution, output_dir=out)
        n_cells = cold.grid.width * cold.grid.height
        lines = [f"resolution {args.resolution:g} m, {n_cells / 1e6:.1f} M cells"]
        for label, seconds, result in (("cold", cold_s, cold), ("warm", warm_s, warm)):
            stages = ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items())
            lines.append(f"{label}: {seconds:.1f} s ({stages})")
        summary = warm.cache.summary()
        lines.append(f"what-if reused {len(summary['hits'])} step(s), recomputed:")
        lines.append("  " + ", ".join(summary["misses"]))
        if summary["updated"]:
            lines.append("of which updated from the cold run's: " + ", ".join(summary["updated"]))
        before, after = cold.allocation, warm.allocation
        if before is not None and after is not None:
            lines.append(f"transport {before.transport:,.1f} → {after.transport:,.1f} Mt·km/yr")
    lines.append(f"whatif cold_s={cold_s:.2f} warm_s={warm_s:.2f} ratio={warm_s / cold_s:.3f}")
    print("\n".join(lines))
    if args.docs:
        row = {
            "resolution": f"{args.resolution:g} m",
            "cold run": f"{cold_s:.1f} s",
            "what-if run": f"{warm_s:.1f} s",
            "ratio": f"{warm_s / cold_s:.3f}",
            "target": f"≤ 0.25: {'met' if warm_s / cold_s <= 0.25 else 'MISSED'}",
            "steps reused": str(len(summary["hits"])),
            "steps recomputed": str(len(summary["misses"])),
        }
        notes = (
            "The embedded Kuzbass scenario into an empty cache (cold), then a what-if that "
            "`extends` it with one rail spur to Yerunakovo, into the same output folder (warm); "
            "both write every output, after a small warm-up run. What the benchmark printed:"
            "\n\n```text\n" + "\n".join(lines) + "\n```"
        )
        print(f"wrote {record('whatif', [row], notes=notes)}")


if __name__ == "__main__":
    main()
