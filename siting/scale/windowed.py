"""Candidate-to-demand cost matrices on a tiled grid, by windowed per-candidate searches.

On one machine the location models read their costs from one cost-distance surface per demand
feature over the whole grid (:class:`siting.raster.cost.CostField`). On a grid too large for one
machine that is a full search per mine; the models need only the costs between the demand and
the few candidate sites. So :func:`cost_matrix` runs one search per *candidate*, each over a
window of the friction around it (a task that reads just that window of the chunked friction),
and reads the cost at each demand feature's start cells. A step costs the same in both directions
(its length times the mean friction of the cells it passes), so the cost from a candidate to a
mine is the cost from the mine to the candidate.

**Exactness.** Any path that leaves a window of half-width ``radius_m`` around the candidate
costs at least ``radius_m × f_min`` (``f_min``: the grid's least friction), so a cost found in
the window up to that bound is the cost over the whole grid; beyond it the matrix holds ``inf``
and ``exact`` says so. A window that the grid's edges clip on every side is the whole grid: its
bound is infinite. The radius is the caller's: give that of the longest haul that matters (a
plant does not serve a mine across the country).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dask.array as da
import numpy as np
import shapely

from siting.errors import ScenarioError
from siting.raster.cost import cost_distance
from siting.raster.grid import Grid
from siting.scale.blockwise import window_grid
from siting.scale.tiled_criteria import start_cells

if TYPE_CHECKING:
    from distributed import Client


@dataclass
class WindowedCosts:
    """What :func:`cost_matrix` found.

    Attributes
    ----------
    cost
        Demand × candidates, float64: the least accumulated cost, ``inf`` where it exceeds the
        window's exact bound (or the demand cannot be reached at all).
    bound
        Per candidate: ``radius_m × f_min``, or ``inf`` when its window is the whole grid;
        every finite entry of its column is at most this and exact.
    windows
        The (row, col, height, width) of each candidate's window.
    """

    cost: np.ndarray
    bound: np.ndarray
    windows: list[tuple[int, int, int, int]]

    @property
    def exact(self) -> np.ndarray:
        """Where the matrix holds the exact cost (every finite entry)."""
        return np.isfinite(self.cost)


def _window(grid: Grid, x: float, y: float, radius_m: float) -> tuple[int, int, int, int]:
    """The cells within ``radius_m`` of (x, y) in each direction, clipped to the grid."""
    rows, cols = grid.index(np.array([x]), np.array([y]))
    reach_r = math.ceil(radius_m / abs(grid.transform.e)) + 1
    reach_c = math.ceil(radius_m / abs(grid.transform.a)) + 1
    r0 = max(int(rows[0]) - reach_r, 0)
    c0 = max(int(cols[0]) - reach_c, 0)
    r1 = min(int(rows[0]) + reach_r + 1, grid.height)
    c1 = min(int(cols[0]) + reach_c + 1, grid.width)
    return r0, c0, r1 - r0, c1 - c0


def _search(
    block: np.ndarray,
    grid: Grid,
    window: tuple[int, int, int, int],
    start: tuple[int, int],
    starts: list[np.ndarray],
    bound: float,
) -> np.ndarray:
    """One candidate's search in its window: the least cost to each demand feature's start
    cells (``inf`` beyond ``bound`` or outside the window)."""
    r0, c0, height, width = window
    local = window_grid(grid, r0, c0, height, width)
    field = cost_distance(
        np.asarray(block), np.array([[start[0] - r0, start[1] - c0]]), transform=local.transform
    ).cost
    out = np.full(len(starts), np.inf)
    for i, cells in enumerate(starts):
        rows, cols = cells[:, 0] - r0, cells[:, 1] - c0
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        if inside.any():
            value = float(field[rows[inside], cols[inside]].min())
            out[i] = value if value <= bound else np.inf
    return out


def cost_matrix(
    friction: da.Array,
    grid: Grid,
    demand: Sequence[shapely.Geometry] | np.ndarray,
    candidates: np.ndarray,
    radius_m: float,
    client: Client | None = None,
) -> WindowedCosts:
    """Least-cost matrix from each demand feature to each candidate (see the module docstring).

    Parameters
    ----------
    friction
        Cost per metre on ``grid`` (chunked; NaN and ``inf`` impassable).
    grid
        The friction's grid.
    demand
        The demand features (in the grid's CRS).
    candidates
        ``(m, 2)`` candidate coordinates (x, y).
    radius_m
        Half-width of each candidate's window: costs up to ``radius_m × f_min`` are exact.
    client
        Runs one task per candidate on its cluster; None: here.

    Returns
    -------
    WindowedCosts
    """
    if radius_m <= 0:
        raise ValueError(f"radius_m must be > 0, not {radius_m}")
    positive = da.where(da.isfinite(friction) & (friction > 0), friction, np.inf)
    f_min = float(positive.min().compute())
    if not np.isfinite(f_min):
        raise ScenarioError(
            "the friction has no passable cell", "check the friction's impassable layers"
        )
    try:
        starts = start_cells(friction, grid, np.asarray(demand, dtype=object))
    except ValueError:  # nearest_cell found no passable cell at all
        raise ScenarioError(
            "the friction has no passable cell near a demand feature",
            "check the friction's impassable layers",
        ) from None
    xy = np.asarray(candidates, dtype=float).reshape(-1, 2)
    rows, cols = grid.index(xy[:, 0], xy[:, 1])
    windows = [_window(grid, x, y, radius_m) for x, y in xy]
    whole = (0, 0, grid.height, grid.width)
    bounds = np.array([np.inf if w == whole else radius_m * f_min for w in windows])
    columns: list[np.ndarray] = []
    tasks = []
    for j, (r0, c0, height, width) in enumerate(windows):
        start = (int(rows[j]), int(cols[j]))
        block = friction[r0 : r0 + height, c0 : c0 + width]
        bound = float(bounds[j])
        if client is None:
            columns.append(_search(block.compute(), grid, windows[j], start, starts, bound))
        else:
            # The window is read on the cluster, where the friction's chunks are.
            tasks.append(
                client.submit(
                    _search, client.compute(block), grid, windows[j], start, starts, bound,
                    pure=False,
                )
            )  # fmt: skip
    if client is not None:
        columns = client.gather(tasks)
    cost = np.column_stack(columns) if columns else np.zeros((len(starts), 0))
    return WindowedCosts(cost, bounds, windows)
