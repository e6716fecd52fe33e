"""highspy in the benchmarks: HiGHS's banner kept out of the printed tables."""

from __future__ import annotations

import os
import sys


def quiet_highs_banner() -> None:
    """Let highspy print its once-per-process banner to /dev/null instead of into the table
    (it prints it whatever its options: ERGO-Code/HiGHS#2749)."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
