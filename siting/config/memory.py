"""How much memory a run's grid needs, and how much the machine has: a grid that cannot fit is
refused before anything is read or allocated (:func:`siting.config.schema.check_grid`).

The estimate is per cell of the padded grid, from what a run keeps: one float64 raster per
criterion, and per profile its suitability, scores and masks, plus the study-area mask and the
transient arrays of the distance transforms. Measured peaks (resident memory above the process
at rest, ``resource.getrusage``): 45 bytes per cell for 3 criteria and 1 profile and 81 for 6
and 2 (the synthetic region at 20 m, 16 M cells), 159–180 for the Kuzbass default's 15 and 3
(at 100 and 250 m). :func:`bytes_per_cell` gives 56, 96 and 184: above each.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

BASE_BYTES = 16
"""Per cell, whatever the scenario: the study-area mask, the grid's coordinates, transients."""
CRITERION_BYTES = 8
"""Per cell and criterion: its raw raster (float64), shared by the profiles that use it."""
PROFILE_BYTES = 16
"""Per cell and profile: its suitability, eligible land and candidate masks."""
PROCESS_BYTES = 1_000_000_000
"""What the process holds before the grid (Python, GDAL, numba and the layers): 0.5–0.6 GB
measured, rounded up."""

_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),  # cgroup v2
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),  # cgroup v1
)


def bytes_per_cell(criteria: Iterable[str], profiles: int) -> int:
    """Estimated peak memory of a run per grid cell.

    Parameters
    ----------
    criteria
        The criteria's names over all profiles (profiles share a criterion's raster by name).
    profiles
        The number of profiles.
    """
    return BASE_BYTES + CRITERION_BYTES * len(set(criteria)) + PROFILE_BYTES * profiles


def machine_memory() -> int | None:
    """The memory a run may use, in bytes: the physical memory, or the container's limit if
    lower; ``None`` where the system does not say (the grid is then capped by its number of
    cells only)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no such name
        return None
    for path in _CGROUP_LIMITS:
        try:
            text = path.read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total if total > 0 else None


def available_memory() -> int | None:
    """The memory free for a new process now (Linux's ``MemAvailable``), or ``None``."""
    try:
        lines = Path("/proc/meminfo").read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        parts = value.split()
        if name == "MemAvailable" and parts and parts[0].isdigit():
            return int(parts[0]) * 1024
    return None
