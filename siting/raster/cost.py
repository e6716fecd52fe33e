"""Cost surfaces: the friction raster and accumulated cost-distance over it.

Friction is a cost per metre: cheap along roads and rail, dear off-road, impassable (``inf``) on
open water except where a road or rail line crosses it (a bridge). Accumulated cost is computed
by the numba kernel in :mod:`siting.raster.dijkstra`, by the rule of scikit-image's
``MCP_Geometric``
(8-connected, diagonal steps √2 longer, the cost of a step the mean of its two cells' frictions
times its length) and equal to it.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import rasterio.features
import shapely
from affine import Affine
from numba import njit
from scipy import ndimage

from siting.config.scenario import Friction
from siting.mcda.exclusions import grow
from siting.raster import dijkstra
from siting.raster.grid import Grid, Raster, nearest_cell

#: Threads for independent searches (the numba kernel runs without the GIL).
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_RASTERIO = threading.Lock()


def friction_surface(friction: Friction, layers: dict[str, gpd.GeoDataFrame], grid: Grid) -> Raster:
    """Cost per metre on ``grid``: ``off_road`` everywhere, ``inf`` on impassable features, and
    each route's cost along it (routes are burnt last, so they bridge water they cross).

    Impassable features take every cell they touch: a river narrower than a cell still becomes an
    unbroken barrier that no diagonal step slips through.
    """
    surface = np.full(grid.shape, friction.off_road, dtype=float)
    for rule in friction.impassable:
        water = grid.mask(grow(layers[rule.layer], rule), all_touched=True)
        surface[water] = np.inf
    for layer, cost in friction.routes:
        on_route = grid.mask(layers[layer].geometry.values, all_touched=True)
        surface[on_route] = np.minimum(surface[on_route], cost)
    return Raster(surface, grid, "friction", "cost/m", "travel cost per metre")


@dataclass(frozen=True)
class Slope:
    """How a step's cost depends on its grade (rise over horizontal run) when a DEM is given.

    Build it with :meth:`vehicle` or :meth:`tobler`; the step's isotropic cost (length × mean
    friction) is multiplied by the factor of its grade, so the cost depends on the direction.
    """

    model: int
    up: float = math.inf
    down: float = math.inf
    per_grade: float = 0.0

    @classmethod
    def vehicle(
        cls, max_grade: float = 0.08, max_downgrade: float | None = None, per_grade: float = 10.0
    ) -> Slope:
        """A haul truck or train: a step steeper than ``max_grade`` uphill (or ``max_downgrade``
        downhill, by default the same) is forbidden in that direction; uphill steps cost
        ``1 + per_grade · grade`` times the flat (10: a 5 % climb costs 1.5×), downhill ones as
        on the flat.
        """
        down = max_grade if max_downgrade is None else max_downgrade
        if not (max_grade > 0 and down > 0 and per_grade >= 0):
            raise ValueError(
                "Slope.vehicle: max_grade and max_downgrade must be > 0 and per_grade ≥ 0 "
                f"(got {max_grade}, {down}, {per_grade})"
            )
        return cls(dijkstra.VEHICLE, max_grade, down, per_grade)

    @classmethod
    def tobler(cls) -> Slope:
        """People on foot: Tobler's hiking function, speed 6·exp(−3.5·|grade + 0.05|) km/h; the
        factor is the walking time relative to the flat (fastest slightly downhill)."""
        return cls(dijkstra.TOBLER)

    def factor(self, grade: np.ndarray) -> np.ndarray:
        """The multiplier at ``grade`` (``inf`` where the step is forbidden), as the kernel
        applies it."""
        grade = np.asarray(grade, dtype=float)
        if self.model == dijkstra.VEHICLE:
            out = np.where(grade > 0, 1.0 + self.per_grade * grade, 1.0)
            return np.where((grade > self.up) | (-grade > self.down), np.inf, out)
        return np.exp(3.5 * (np.abs(grade + 0.05) - 0.05))


@dataclass
class CostDistance:
    """What :func:`cost_distance` returns: the accumulated cost and how each cell is reached.

    Attributes
    ----------
    cost
        Least accumulated cost from any source (float64; ``inf`` where no source is reachable
        within ``max_cost``).
    allocation
        Index of the source each cell is reached from, i.e. its cheapest source (int32; -1 where
        not reached).
    direction
        The move that reached each cell, an index into :data:`siting.raster.dijkstra.MOVES` (int8;
        -1
        at a source cell and where not reached): :meth:`path` follows it back.
    transform
        The friction raster's affine transform.
    """

    cost: np.ndarray
    allocation: np.ndarray
    direction: np.ndarray
    transform: Affine

    def path(self, x: float, y: float) -> shapely.LineString | None:
        """Least-cost path to the cell holding ``(x, y)`` from its cheapest source, as a
        LineString through cell centres from the source to the point's cell; ``None`` if the
        cell is not reached (or lies outside the raster).
        """
        col, row = (math.floor(v) for v in ~self.transform @ (x, y))
        height, width = self.cost.shape
        if not (0 <= row < height and 0 <= col < width) or not np.isfinite(self.cost[row, col]):
            return None
        rows, cols = [row], [col]
        while (m := self.direction[row, col]) >= 0:
            row -= int(dijkstra.MOVES[m, 0])
            col -= int(dijkstra.MOVES[m, 1])
            rows.append(row)
            cols.append(col)
        if len(rows) == 1:
            rows.append(row)
            cols.append(col)
        # affine documents vector arrays for @, but its stub admits only tuples of floats.
        centres = (np.array(cols[::-1]) + 0.5, np.array(rows[::-1]) + 0.5)
        xs, ys = self.transform @ centres  # type: ignore[operator]
        return shapely.LineString(np.column_stack([xs, ys]))


def cost_distance(
    friction: np.ndarray,
    sources: Sequence[shapely.Geometry] | np.ndarray,
    *,
    transform: Affine | None = None,
    start_costs: Sequence[float] | np.ndarray | None = None,
    connectivity: int = 8,
    max_cost: float = math.inf,
    nodata: float | None = None,
    barriers: Sequence[shapely.Geometry] | None = None,
    bridges: Sequence[shapely.Geometry] | None = None,
    dem: np.ndarray | None = None,
    slope: Slope | None = None,
) -> CostDistance:
    """Least accumulated cost from many sources over a friction raster.

    A step between neighbouring cells costs its length (from the cell size of ``transform``;
    diagonals √2 longer) times the mean friction of the cells it passes through: its two end
    cells, and for a knight's move (``connectivity=16``) also the two cells its segment
    crosses. That is scikit-image ``MCP_Geometric``'s rule for 8 neighbours, and the results are
    equal to it.

    Parameters
    ----------
    friction
        Cost per metre (2-D). NaN, ``inf`` and ``nodata`` cells are impassable; negative values
        are an error.
    sources
        Shapely geometries in the raster's CRS (a point starts in the cell holding it; a line or
        polygon in every cell it touches), or an ``(n, 2)`` integer array of (row, col) cells.
        Source cells that are impassable are left out (a start there reaches nothing).
    transform
        The raster's affine transform (north-up, rasterio convention); by default pixel space
        with unit cells.
    start_costs
        Cost already paid at each source (e.g. a mine's existing haul cost); 0 by default.
    connectivity
        8 (king's moves) or 16 (also knight's moves: straighter paths, less grid bias).
    max_cost
        Cells dearer than this are not reached, and the search stops there.
    nodata
        A friction value meaning impassable.
    barriers, bridges
        Lines or polygons burnt in as impassable (every cell they touch, so that no diagonal
        step slips through); then every cell a bridge touches gets its friction back.
    dem, slope
        Elevation in metres on the friction's grid and a :class:`Slope` model: a step's cost is
        multiplied by the slope factor of its grade in its direction of travel. Cells without
        elevation (NaN) are impassable.

    Returns
    -------
    CostDistance
        Cost, nearest-source allocation and the directions for least-cost paths.

    Raises
    ------
    ValueError
        Negative friction, a source outside the raster, every source impassable, a DEM of
        another shape, or a bad parameter, with what to change.

    Notes
    -----
    Peak memory is about 2.6 times the float64 friction raster on top of the input: the kernel
    keeps cost and friction side by side (2×) and a packed source label and move (int32, 0.5×);
    the costs are then gathered to the front of their array, which shrinks in place to the
    result (1×), before the allocation and direction rasters (0.625×) are unpacked. A DEM adds
    its padded copy (1×) during the search.
    """
    friction = np.asarray(friction, dtype=np.float64)
    if friction.ndim != 2 or friction.size == 0:
        raise ValueError(
            f"cost_distance: friction must be a non-empty 2-D array, got {friction.shape}"
        )
    transform = Affine.identity() if transform is None else transform
    if transform.b != 0 or transform.d != 0:
        raise ValueError("cost_distance: the transform is rotated; warp the raster north-up first")
    if connectivity not in (8, 16):
        raise ValueError(f"cost_distance: connectivity must be 8 or 16, got {connectivity}")
    # Impassable as given: not finite, or nodata (GDAL's usual -9999 is negative, not an error).
    impassable = np.empty(friction.shape, dtype=bool)
    negative = dijkstra.impassable(
        friction, math.nan if nodata is None else float(nodata), impassable
    )
    height, width = friction.shape
    if negative >= 0:
        row, col = divmod(negative, width)
        raise ValueError(
            f"cost_distance: friction is negative at row {row}, col {col} "
            f"({friction[row, col]:g}); mark impassable cells with NaN, inf or nodata instead"
        )
    cells, source_of = _source_cells(sources, transform, friction.shape)
    n_sources = int(source_of.max()) + 1
    if n_sources >= 2**26:  # the kernel packs the source index and the move in one int32
        raise ValueError(
            f"cost_distance: {n_sources} sources, at most {2**26 - 1}; merge nearby sources"
        )
    costs = np.zeros(n_sources) if start_costs is None else np.asarray(start_costs, dtype=float)
    if costs.shape != (n_sources,) or not np.all(np.isfinite(costs) & (costs >= 0)):
        raise ValueError(
            f"cost_distance: start_costs must be {n_sources} finite values ≥ 0, one per source"
        )
    blocked = impassable
    if barriers:
        blocked = impassable | _touched(barriers, transform, friction.shape)
        if bridges:
            # A bridge lifts the barrier, not what was impassable to begin with.
            blocked &= ~_touched(bridges, transform, friction.shape) | impassable
    del impassable
    if dem is not None and np.shape(dem) == friction.shape:
        blocked |= ~np.isfinite(np.asarray(dem, dtype=np.float64))  # no grade without elevation
    usable = ~blocked.ravel()[cells] & (costs[source_of] <= max_cost)
    if not usable.any():
        raise ValueError(
            "cost_distance: every source cell is impassable (NaN, inf, nodata or a barrier) or "
            "dearer than max_cost; move the sources onto passable cells"
        )
    cells, source_of = cells[usable], source_of[usable]
    if dem is not None:
        dem = np.asarray(dem, dtype=np.float64)
        if dem.shape != friction.shape:
            raise ValueError(
                f"cost_distance: the DEM is {dem.shape[0]}×{dem.shape[1]} cells, the friction "
                f"{height}×{width}; resample the DEM onto the friction's grid"
            )
        if slope is None:
            raise ValueError("cost_distance: a DEM needs a slope model, e.g. Slope.vehicle()")
    elif slope is not None:
        raise ValueError("cost_distance: a slope model needs the DEM it reads grades from")
    pad = 2 if connectivity == 16 else 1
    padded_width = width + 2 * pad
    moves = dijkstra.MOVES[:connectivity]
    dx, dy = abs(transform.a), abs(transform.e)
    lengths = np.hypot(moves[:, 0] * dy, moves[:, 1] * dx)
    offsets = moves[:, 0] * padded_width + moves[:, 1]
    through = dijkstra.crossed(moves)
    crossing = through[:, :, 0] * padded_width + through[:, :, 1]

    # Filled in place, without temporaries the size of the raster: memory is the limit on the
    # largest rasters (the numbers are in the docstring's Notes).
    state = np.empty(((height + 2 * pad) * padded_width, 2))
    extremes = dijkstra.load_state(state, friction, blocked, pad)
    del blocked
    elevation = np.zeros(1)
    params = np.zeros(3)
    model = dijkstra.ISOTROPIC
    factor_range = (1.0, 1.0)
    if slope is not None and dem is not None:  # both or neither, checked above
        elevation = np.zeros((height + 2 * pad, padded_width))
        elevation[pad:-pad, pad:-pad] = dem
        elevation = elevation.ravel()
        params = np.array([slope.up, slope.down, slope.per_grade])
        model = slope.model
        # The steepest step actually there, not the whole relief over the shortest step: Tobler's
        # factor grows exponentially, and a loose bound makes the buckets so wide that cells are
        # settled many times over (7× on a rough 1 M-cell DEM).
        factor_range = _factor_range(slope, dijkstra.steepest(dem, moves, lengths))
    delta, n_buckets = bucket_width(extremes, lengths, factor_range)
    start = (cells // width + pad) * padded_width + cells % width + pad
    order = np.lexsort((start, costs[source_of]))
    start, source_of = start[order], source_of[order]
    # A cell shared by sources starts from the cheapest (the first after sorting by cost).
    start, first = np.unique(start, return_index=True)
    source_of = source_of[first]
    order = np.argsort(costs[source_of], kind="stable")
    origin = np.full(len(state), -1, dtype=np.int32)
    dijkstra.spread(
        state, origin, offsets, lengths, crossing, start[order], costs[source_of[order]],
        source_of[order].astype(np.int32), float(max_cost), elevation, model, params, delta,
        n_buckets,
    )  # fmt: skip
    dijkstra.gather_costs(state, height, width, pad)
    # The costs now lead the state's buffer: resizing in place keeps them and hands the rest
    # back (glibc's realloc shrinks a large block where it lies), so the result takes no second
    # raster-sized array. No view of ``state`` exists, so the reference check can be skipped.
    state.resize((height, width), refcheck=False)
    cost = state
    allocation = np.empty((height, width), dtype=np.int32)
    direction = np.empty((height, width), dtype=np.int8)
    dijkstra.unpack(origin, pad, allocation, direction)
    return CostDistance(cost, allocation, direction, transform)


def _factor_range(slope: Slope, steepest: float) -> tuple[float, float]:
    """Smallest and largest slope factor a step can have, for grades within ±``steepest``."""
    grades = np.linspace(-steepest, steepest, 2001)
    factors = slope.factor(np.concatenate([grades, [0.0, -0.05]]))
    finite = factors[np.isfinite(factors)]
    return float(finite.min()), float(finite.max())


def bucket_width(
    extremes: tuple[float, float], lengths: np.ndarray, factor_range: tuple[float, float]
) -> tuple[float, int]:
    """Bucket width and count for the kernel's queue: four of the cheapest steps per bucket
    (measured fastest: fewer buckets each visited in memory order, few cells settled twice),
    and never more than 2²⁰ slots (wider buckets stay exact, just slower)."""
    smallest, largest = extremes
    dearest = largest * float(lengths.max()) * factor_range[1]
    if not np.isfinite(smallest) or dearest == 0:
        return 1.0, 4
    cheapest = smallest * float(lengths.min()) * factor_range[0]
    delta = max(4 * cheapest, dearest / 2**20)
    return delta, 1 << (int(dearest / delta) + 2).bit_length()


def _touched(
    geometries: Sequence[shapely.Geometry], transform: Affine, shape: tuple[int, int]
) -> np.ndarray:
    shapes = [(g, 1) for g in geometries if g is not None and not g.is_empty]
    if not shapes:
        return np.zeros(shape, dtype=bool)
    burnt = rasterio.features.rasterize(
        shapes, out_shape=shape, transform=transform, all_touched=True, dtype="uint8"
    )
    return burnt.astype(bool)


def _source_cells(
    sources: Sequence[shapely.Geometry] | np.ndarray, transform: Affine, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Flat cell indices of the sources and the source index of each cell."""
    height, width = shape
    if isinstance(sources, np.ndarray) and sources.dtype.kind in "iu":
        if sources.ndim != 2 or sources.shape[1] != 2 or len(sources) == 0:
            raise ValueError("cost_distance: cell sources must be an (n, 2) array of (row, col)")
        rows, cols = sources[:, 0], sources[:, 1]
        outside = (rows < 0) | (rows >= height) | (cols < 0) | (cols >= width)
        if outside.any():
            k = int(np.argmax(outside))
            raise ValueError(
                f"cost_distance: source {k} (row {rows[k]}, col {cols[k]}) is outside the "
                f"{height}×{width} raster"
            )
        return rows * width + cols, np.arange(len(sources))
    geoms = list(sources)
    if not geoms:
        raise ValueError("cost_distance: no sources given")
    points = np.asarray(geoms, dtype=object)
    if (shapely.get_type_id(points) == 0).all() and not shapely.is_empty(points).any():
        # Points only (e.g. every node of a road graph): one vectorised lookup.
        cols, rows = np.floor(~transform @ (shapely.get_x(points), shapely.get_y(points)))
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        if not inside.all():
            k = int(np.argmin(inside))
            raise ValueError(
                f"cost_distance: source {k} (Point at {points[k].x:.0f}, {points[k].y:.0f}) "
                "lies outside the raster; clip the sources to it or enlarge the raster"
            )
        return rows.astype(np.int64) * width + cols.astype(np.int64), np.arange(len(points))
    cells, owner = [], []
    for k, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            raise ValueError(f"cost_distance: source {k} is an empty geometry")
        if isinstance(geom, shapely.Point):
            col, row = (math.floor(v) for v in ~transform @ (geom.x, geom.y))
            inside = 0 <= row < height and 0 <= col < width
            found = np.array([row * width + col] if inside else [], dtype=np.int64)
        else:
            found = _window_cells(geom, transform, shape)
        if len(found) == 0:
            minx, miny = geom.bounds[:2]
            raise ValueError(
                f"cost_distance: source {k} ({geom.geom_type} at {minx:.0f}, {miny:.0f}) lies "
                "outside the raster; clip the sources to it or enlarge the raster"
            )
        cells.append(np.asarray(found, dtype=np.int64))
        owner.append(np.full(len(found), k))
    return np.concatenate(cells), np.concatenate(owner)


def _window_cells(geom: shapely.Geometry, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """Flat indices of the cells a line or polygon touches, rasterised in its own window only
    (so thousands of small sources cost no more than their size)."""
    height, width = shape
    minx, miny, maxx, maxy = geom.bounds
    (ca, ra), (cb, rb) = ~transform @ (minx, maxy), ~transform @ (maxx, miny)
    c0, r0 = max(math.floor(min(ca, cb)) - 1, 0), max(math.floor(min(ra, rb)) - 1, 0)
    c1, r1 = min(math.floor(max(ca, cb)) + 2, width), min(math.floor(max(ra, rb)) + 2, height)
    if c0 >= c1 or r0 >= r1:
        return np.empty(0, dtype=np.int64)
    window = transform @ Affine.translation(c0, r0)
    # Searches run in threads; rasterio's per-thread set-up is not safe to race (it then warns
    # of a dataset without transform), so rasterising is one thread at a time.
    with _RASTERIO:
        burnt = rasterio.features.rasterize(
            [(geom, 1)], out_shape=(r1 - r0, c1 - c0), transform=window, all_touched=True,
            dtype="uint8",
        )  # fmt: skip
    rows, cols = np.nonzero(burnt)
    return (rows + r0) * width + cols + c0


@dataclass
class CostField:
    """Accumulated cost from each feature of a layer, on the (coarse) friction grid.

    ``stack[i]`` is the cost surface from feature ``i``. Kept per feature so that a criterion can
    weight features (Weber's transport cost) and the models can read feature → site costs.
    """

    stack: np.ndarray
    grid: Grid

    @classmethod
    def from_features(cls, friction: Raster, geometries: np.ndarray) -> CostField:
        """Compute one surface per geometry, starting from :func:`start_cells`."""
        stack = np.empty((len(geometries), *friction.grid.shape), dtype=np.float32)
        starts = [start_cells(friction, geom) for geom in geometries]

        def one(cells: np.ndarray) -> np.ndarray:
            return cost_distance(friction.data, cells, transform=friction.grid.transform).cost

        # The kernel releases the GIL: one search per core.
        with ThreadPoolExecutor(max_workers=CORES) as pool:
            for i, cost in enumerate(pool.map(one, starts)):
                stack[i] = cost
        return cls(stack, friction.grid)

    def weighted_mean(self, weights: np.ndarray) -> np.ndarray:
        """Σ wᵢ·costᵢ / Σ wᵢ per cell: mean cost of bringing every feature's weight to the cell."""
        w = np.asarray(weights, dtype=np.float64)
        total = np.tensordot(w, self.stack.astype(np.float64), axes=1)
        return total / w.sum()

    def minimum(self) -> np.ndarray:
        """Cost from the cheapest feature to each cell."""
        return self.stack.min(axis=0).astype(np.float64)

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cost matrix (features × points), read at the cells holding the points."""
        rows, cols = self.grid.index(x, y)
        rows = np.clip(rows, 0, self.grid.height - 1)
        cols = np.clip(cols, 0, self.grid.width - 1)
        return self.stack[:, rows, cols].astype(np.float64)


def start_cells(friction: Raster, geom: shapely.Geometry) -> np.ndarray:
    """Where a feature's travel starts, as (row, col) cells: the passable cells it touches (a
    point: its cell). A feature on none (beyond the grid, or a mine whose cell a river took)
    starts from the passable cell nearest to it: the bank, the grid's edge."""
    grid = friction.grid
    touched = grid.mask([geom], all_touched=True)
    passable = np.isfinite(friction.data)
    if (touched & passable).any():
        return np.argwhere(touched & passable)
    x, y = nearest_cell(passable, grid, *(float(v[0]) for v in _xy(geom)))
    rows, cols = grid.index(np.array([x]), np.array([y]))
    return np.array([[rows[0], cols[0]]])


def _xy(geom: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    point = geom.representative_point()
    return np.array([point.x]), np.array([point.y])


def resample(data: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    """Bilinear resampling of a coarse surface onto a finer aligned grid.

    Cells whose nearest coarse cell is not finite stay ``inf``; elsewhere non-finite neighbours are
    replaced by the nearest finite value so that they do not bleed into the interpolation.
    """
    finite = np.isfinite(data)
    if not finite.all():
        _, (ri, ci) = ndimage.distance_transform_edt(~finite, return_indices=True)
        filled = data[ri, ci]
    else:
        filled = data
    (r0, r1, fr, near_r), (c0, c1, fc, near_c) = resample_axes(source, target)
    return bilinear_fill(filled, finite, r0, r1, fr, c0, c1, fc, near_r, near_c)


def resample_axes(source: Grid, target: Grid) -> tuple[tuple, tuple]:
    """For :func:`resample`, per axis (rows, then columns) of ``target``: the two coarse cells
    around each fine centre, the weight of the second, and the nearest coarse cell.

    The grids are aligned, so each fine row and column has its two coarse neighbours and weight
    once: the same values as ``map_coordinates(order=1, mode="nearest")`` without its per-cell
    coordinate arrays, in one compiled pass (numpy's passes were the slowest step at 100 m).
    """
    xs, ys = target.centers()
    # Fractional coarse indices of target cell centres (coarse centres sit at index + 0.5).
    col = (xs - source.transform.c) / source.res - 0.5
    row = (source.transform.f - ys) / source.res - 0.5
    r0, r1, fr = coarse_neighbours(row, source.height)
    c0, c1, fc = coarse_neighbours(col, source.width)
    near_r = np.clip(np.round(row).astype(np.int64), 0, source.height - 1)
    near_c = np.clip(np.round(col).astype(np.int64), 0, source.width - 1)
    return (r0, r1, fr, near_r), (c0, c1, fc, near_c)


@njit(cache=True, nogil=True)
def bilinear_fill(
    filled: np.ndarray,
    finite: np.ndarray,
    r0: np.ndarray,
    r1: np.ndarray,
    fr: np.ndarray,
    c0: np.ndarray,
    c1: np.ndarray,
    fc: np.ndarray,
    near_r: np.ndarray,
    near_c: np.ndarray,
) -> np.ndarray:
    out = np.empty((len(r0), len(c0)))
    for i in range(len(r0)):
        top, bottom, w = filled[r0[i]], filled[r1[i]], fr[i]
        passable = finite[near_r[i]]
        for j in range(len(c0)):
            if not passable[near_c[j]]:  # the nearest coarse cell is impassable
                out[i, j] = np.inf
                continue
            a, b, v = c0[j], c1[j], fc[j]
            upper = top[a] * (1.0 - v) + top[b] * v
            lower = bottom[a] * (1.0 - v) + bottom[b] * v
            out[i, j] = upper * (1.0 - w) + lower * w
    return out


def coarse_neighbours(index: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two coarse cells around each fractional index and the weight of the second; beyond
    the first and last centres both are the edge cell ("nearest" edge mode)."""
    lower = np.floor(index)
    weight = index - lower
    i0 = np.clip(lower.astype(np.int64), 0, n - 1)
    i1 = np.clip(lower.astype(np.int64) + 1, 0, n - 1)
    return i0, i1, weight


def cost_field(
    cache: dict[str, CostField],
    friction: Raster,
    layer: str,
    where: str | None,
    geometries: np.ndarray,
) -> CostField:
    """The per-feature cost field of a layer (after its filter), computed once per run: the
    criteria and the models share it. Cached under ``"<layer>|<where>"``."""
    key = f"{layer}|{where or ''}"
    if key not in cache:
        cache[key] = CostField.from_features(friction, geometries)
    return cache[key]
