"""Time the embedded Kuzbass run, stage by stage, at one or more resolutions.

Usage: python benchmarks/default_run.py [RESOLUTION ...]   (default: 250 100)

Each resolution runs in a fresh process so that peak memory (max RSS) is its own. Outputs are
written to a temporary folder, as a user's run would write them. Targets (issue #2, on a 2-core
machine): ≤ 60 s at 250 m, ≤ 5 min at 100 m.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time

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
    for res in [float(a) for a in argv] or [250.0, 100.0]:
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


if __name__ == "__main__":
    main(sys.argv[1:])
