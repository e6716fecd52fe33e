"""Raw criterion rasters of a tiled run (:mod:`siting.scale.tiled_run`) as chunked arrays, each
equal to what :func:`siting.mcda.criteria.rasterize` computes on the whole grid (float32):

- ``distance``: :func:`siting.scale.blockwise.distance`, capped where every standardisation of
  the criterion saturates (:func:`distance_cap`), so that its scores are bit-identical; the
  raw values beyond the cap are the cap (:func:`exact_distance` gives the true ones at a few
  cells, e.g. the sites).
- ``within_radius``: the point masses burnt chunk by chunk (the same sums per cell), then the
  disc kernel convolved by FFT on each chunk with a halo of the radius. The single-process run
  convolves the whole grid by FFT: both carry FFT round-off (a few 1e-16 of the total weight
  on the synthetic region), in different places, so the values agree to that tolerance, not
  bit for bit, and a near-tie between cells may rank them differently.
- ``cost_distance``: the friction surface burnt chunk by chunk on the coarse friction grid,
  each feature's start cells found as :func:`siting.raster.cost.start_cells` finds them,
  :func:`siting.scale.tiled_cost.tiled_cost_distance` from them (exact across tiles, tested to
  1e-9 relative), the per-feature minimum or weighted mean, and the bilinear resampling of
  :func:`siting.raster.cost.resample` onto each fine chunk (the same fractional indices and
  kernel). The fill of impassable cells by their nearest passable value runs on a window two
  coarse cells wider than the chunk needs: the same distance, and the same cell unless
  scipy's feature transform breaks a tie between equidistant cells otherwise in a window than
  on the whole grid (it did not in the tests).
- ``travel_time`` (a road graph over the whole region) is refused: :func:`check`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import shapely
from distributed import Client, wait
from scipy import ndimage, signal

from siting.config.scenario import Criterion, Friction, Scenario, Standardization
from siting.errors import ScenarioError
from siting.mcda import criteria as criteria_mod
from siting.mcda.exclusions import grow
from siting.raster.cost import bilinear_fill, resample_axes
from siting.raster.grid import Grid, nearest_cell
from siting.scale import blockwise
from siting.scale.tiled_cost import tiled_cost_distance

#: Criterion kinds a tiled run computes.
SUPPORTED = ("distance", "within_radius", "cost_distance")
#: Coarse cells of the resampling window beyond the cells a fine chunk reads: a filled
#: impassable cell next to a passable one takes a value from within √2 cells.
FILL_HALO = 2


def criteria_of(scenario: Scenario) -> dict[str, Criterion]:
    """Every criterion of the scenario's profiles by name (profiles share a raw raster by
    name), in the order the single-process run computes them."""
    return {c.name: c for p in scenario.profiles.values() for c in p.criteria}


def _key(scenario: Scenario, name: str) -> str:
    """The scenario key of criterion ``name`` (its first profile's)."""
    for profile_name, profile in scenario.profiles.items():
        for i, c in enumerate(profile.criteria):
            if c.name == name:
                return f"profiles.{profile_name}.criteria[{i}] ({name!r})"
    return repr(name)


def check(scenario: Scenario) -> dict[str, float]:
    """Refuse what a tiled run cannot compute equal to the single-process run, before any
    computation; return the distance caps by criterion name.

    Raises
    ------
    ScenarioError
        A criterion of a kind other than :data:`SUPPORTED` ("runs only in one process"), a
        ``distance`` criterion whose standardisation never saturates, or a DEM (slopes are not
        tiled).
    """
    caps = {}
    for name, criterion in criteria_of(scenario).items():
        key = _key(scenario, name)
        if criterion.kind not in SUPPORTED:
            raise ScenarioError(
                f"{key}: kind = {criterion.kind!r} runs only in one process, not on a tiled grid "
                f"(a tiled run computes {', '.join(SUPPORTED)})",
                "run the scenario without a cluster, or measure this criterion by one of those "
                "kinds",
            )
        if criterion.kind == "distance":
            specs = [
                c.standardize
                for p in scenario.profiles.values()
                for c in p.criteria
                if c.name == name
            ]
            caps[name] = distance_cap(key, specs)
    if scenario.dem is not None:
        raise ScenarioError(
            "[terrain] dem: slopes are computed only in one process, not on a tiled grid",
            "run the scenario without a cluster, or drop the dem and max_slope_deg",
        )
    return caps


def distance_cap(key: str, specs: Iterable[Standardization]) -> float:
    """Metres beyond which every standardisation in ``specs`` gives the same score, as a float32
    value (the raw rasters are float32): a capped distance then scores as the true one.

    ``linear`` with ``low`` and ``high`` is constant beyond the larger; ``threshold`` beyond its
    value. The cap lies a little above (one metre, rounded up to a float32), so that every
    distance at or beyond it is strictly past the threshold.

    Raises
    ------
    ScenarioError
        A ``sigmoid`` or ``target`` curve, or a ``linear`` stretch over the data's range: they
        never saturate, so no cap keeps the scores.
    """
    top = 0.0
    for spec in specs:
        if spec.fn == "linear" and spec.low is not None and spec.high is not None:
            top = max(top, float(spec.low), float(spec.high))
        elif spec.fn == "threshold" and spec.value is not None:
            top = max(top, float(spec.value))
        else:
            how = "a min–max stretch over the data" if spec.fn == "linear" else repr(spec.fn)
            raise ScenarioError(
                f"{key}: a distance standardised by {how} never saturates, so a tiled run "
                "cannot cap its distance transform at a finite halo",
                'give it standardize = { fn = "linear", low = …, high = … } (or fn = '
                '"threshold"), or run the scenario without a cluster',
            )
    cap = np.float32(top + 1.0)
    if float(cap) < top + 1.0:
        cap = np.nextafter(cap, np.float32(np.inf))
    return float(cap)


def distance(grid: Grid, geoms: np.ndarray, cap: float, chunks: tuple) -> da.Array:
    """The criterion's float32 distances, ``min(distance, cap)``."""
    return blockwise.distance(grid, geoms, cap, chunks).astype(np.float32)


def exact_distance(
    grid: Grid, geoms: np.ndarray, rows: np.ndarray, cols: np.ndarray, start: float
) -> np.ndarray:
    """The uncapped distance (float64) at cells (``rows``, ``cols``), each from the distance
    transform of a window around it that grows from ``start`` metres until the nearest touched
    cell lies within it (any cell outside is farther)."""
    geoms = np.array([g for g in geoms if g is not None and not g.is_empty], dtype=object)
    tree = shapely.STRtree(geoms)
    out = np.empty(len(rows))
    for k, (row, col) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        half = max(1, math.ceil(start / grid.res))
        while True:
            r0, c0 = max(row - half, 0), max(col - half, 0)
            r1, c1 = min(row + half + 1, grid.height), min(col + half + 1, grid.width)
            part = blockwise.window_grid(grid, r0, c0, r1 - r0, c1 - c0)
            minx, miny, maxx, maxy = part.bounds
            near = geoms[np.sort(tree.query(shapely.box(minx, miny, maxx, maxy)))]
            touched = part.mask(near, all_touched=True)
            whole = r0 == 0 and c0 == 0 and r1 == grid.height and c1 == grid.width
            if touched.any():
                d = ndimage.distance_transform_edt(~touched, sampling=grid.res)[row - r0, col - c0]
                if d <= half * grid.res or whole:
                    out[k] = d
                    break
            elif whole:
                out[k] = np.inf
                break
            half *= 2
    return out


def within_radius(
    grid: Grid, gdf: gpd.GeoDataFrame, criterion: Criterion, chunks: tuple
) -> da.Array:
    """The sum of the criterion's weights within its radius, float32 (see the module)."""
    radius = float(criterion.radius_m or 0.0)
    weights = np.asarray(criteria_mod.weights_of(gdf, criterion), dtype=float)
    points = shapely.point_on_surface(gdf.geometry.values)
    rows, cols = grid.index(shapely.get_x(points), shapely.get_y(points))
    inside = grid.contains(rows, cols)
    rows, cols, weights = rows[inside], cols[inside], weights[inside]
    blocks = {}
    for (i, j), (row, col, height, width) in blockwise.windows(chunks):
        mine = (rows >= row) & (rows < row + height) & (cols >= col) & (cols < col + width)
        task = dask.delayed(_mass, pure=True)(
            rows[mine] - row, cols[mine] - col, weights[mine], (height, width)
        )
        blocks[i, j] = da.from_delayed(task, (height, width), dtype=np.float64)
    mass = da.block([[blocks[i, j] for j in range(len(chunks[1]))] for i in range(len(chunks[0]))])
    r = int(np.floor(radius / grid.res))
    offsets = np.arange(-r, r + 1) * grid.res
    kernel = (np.hypot(*np.meshgrid(offsets, offsets)) <= radius).astype(float)
    summed = da.map_overlap(_disc_sum, mass, depth=r, boundary=0.0, dtype=np.float64, kernel=kernel)
    return summed.astype(np.float32)


def _mass(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, shape: tuple) -> np.ndarray:
    # The layer's order within the chunk: each cell adds its features in the same order.
    mass = np.zeros(shape)
    np.add.at(mass, (rows, cols), weights)
    return mass


def _disc_sum(mass: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    out = signal.fftconvolve(mass, kernel, mode="same")
    return np.clip(out, 0.0, None)


def friction(
    spec: Friction, layers: dict[str, gpd.GeoDataFrame], grid: Grid, chunks: tuple
) -> da.Array:
    """:func:`siting.raster.cost.friction_surface` as a chunked float64 array, in the same
    order: off-road, impassable features, routes burnt last."""
    surface = da.full(grid.shape, spec.off_road, dtype=float, chunks=chunks)
    for rule in spec.impassable:
        water = blockwise.mask(grid, grow(layers[rule.layer], rule), chunks, all_touched=True)
        surface = da.where(water, np.inf, surface)
    for layer, cost in spec.routes:
        on_route = blockwise.mask(grid, layers[layer].geometry.values, chunks, all_touched=True)
        surface = da.where(on_route, da.minimum(surface, cost), surface)
    return surface


def start_cells(fric: da.Array, grid: Grid, geoms: np.ndarray) -> list[np.ndarray]:
    """:func:`siting.raster.cost.start_cells` of each geometry: the passable cells it touches
    (burnt in its own window), else the passable cell nearest its representative point."""
    touched = []
    for geom in geoms:
        minx, miny, maxx, maxy = geom.bounds
        (r_top, c_left), (r_bot, c_right) = (
            (int(v[0]) for v in grid.index(np.array([x]), np.array([y])))
            for x, y in ((minx, maxy), (maxx, miny))
        )
        r0, c0 = max(r_top - 1, 0), max(c_left - 1, 0)
        r1, c1 = min(r_bot + 2, grid.height), min(c_right + 2, grid.width)
        if r0 >= r1 or c0 >= c1:
            touched.append(np.empty((0, 2), dtype=np.int64))
            continue
        part = blockwise.window_grid(grid, r0, c0, r1 - r0, c1 - c0)
        local = np.argwhere(part.mask([geom], all_touched=True))
        touched.append(local + np.array([r0, c0]))
    every = np.concatenate([np.empty((0, 2), dtype=np.int64), *touched])
    values = fric.vindex[every[:, 0], every[:, 1]].compute() if len(every) else np.empty(0)
    out, at = [], 0
    for geom, cells in zip(geoms, touched, strict=True):
        passable = np.isfinite(values[at : at + len(cells)])
        at += len(cells)
        if passable.any():
            out.append(cells[passable])
            continue
        point = geom.representative_point()
        x, y = nearest_cell(da.isfinite(fric), grid, point.x, point.y)
        rows, cols = grid.index(np.array([x]), np.array([y]))
        out.append(np.array([[rows[0], cols[0]]]))
    return out


def coarse_chunks(grid: Grid, coarse: Grid, chunks: tuple) -> tuple:
    """Chunks of the friction grid: the fine chunks' typical size over the coarsening factor
    (at least 8 cells a side)."""
    factor = max(1, round(coarse.res / grid.res))
    size = tuple(max(8, max(c) // factor) for c in chunks)
    return blockwise.chunks_of(coarse, size)


def cost_distance(
    grid: Grid,
    gdf: gpd.GeoDataFrame,
    criterion: Criterion,
    fric: da.Array,
    coarse: Grid,
    chunks: tuple,
    client: Client,
) -> tuple[da.Array, dict[str, int]]:
    """The criterion's least (or, with ``weight_field``, weighted mean) accumulated cost on the
    fine grid, float32, and the tiled searches' rounds and tile runs."""
    starts = start_cells(fric, coarse, gdf.geometry.values)
    info = {"searches": 0, "rounds": 0, "tile_runs": 0}

    def search(cells: np.ndarray) -> da.Array:
        run = tiled_cost_distance(fric, cells, transform=coarse.transform, client=client)
        info["searches"] += 1
        info["rounds"] += run.rounds
        info["tile_runs"] += run.tile_runs
        return run.cost

    if criterion.weight_field is None:
        # The least over sources of each one's cost is the cost from all of them at once; each
        # feature's surface is float32 in CostField, and rounding commutes with the minimum.
        cells = np.concatenate(starts).astype(np.int64)
        coarse_cost = search(cells).astype(np.float32).astype(np.float64)
        coarse_cost = client.persist(coarse_cost)
    else:
        weights = np.asarray(criteria_mod.weights_of(gdf, criterion), dtype=np.float64)
        total = None
        for w, cells in zip(weights.tolist(), starts, strict=True):
            part = search(cells.astype(np.int64)).astype(np.float32).astype(np.float64) * w
            # Kept on the workers, feature by feature: one surface at a time besides the total.
            total = client.persist(part if total is None else total + part)
            wait(total)
        assert total is not None
        coarse_cost = client.persist(total / weights.sum())
    # Computed before the coarse surface is let go: a delayed task over a slice of a persisted
    # array does not keep the array's futures alive.
    fine = client.persist(resample(coarse_cost, coarse, grid, chunks).astype(np.float32))
    wait(fine)
    return fine, info


def resample(data: da.Array, source: Grid, target: Grid, chunks: tuple) -> da.Array:
    """:func:`siting.raster.cost.resample` of a chunked coarse surface onto ``target``'s
    ``chunks``: each fine chunk from the window of coarse cells it reads (plus
    :data:`FILL_HALO`), by the same fractional indices and kernel."""
    (r0, r1, fr, near_r), (c0, c1, fc, near_c) = resample_axes(source, target)
    blocks = {}
    for (i, j), (row0, col0, height, width) in blockwise.windows(chunks):
        rs, cs = slice(row0, row0 + height), slice(col0, col0 + width)
        lo_r = max(int(min(r0[rs].min(), near_r[rs].min())) - FILL_HALO, 0)
        hi_r = min(int(max(r1[rs].max(), near_r[rs].max())) + FILL_HALO + 1, source.height)
        lo_c = max(int(min(c0[cs].min(), near_c[cs].min())) - FILL_HALO, 0)
        hi_c = min(int(max(c1[cs].max(), near_c[cs].max())) + FILL_HALO + 1, source.width)
        window = data[lo_r:hi_r, lo_c:hi_c]
        task = dask.delayed(_resample_block, pure=True)(
            window,
            (r0[rs] - lo_r, r1[rs] - lo_r, fr[rs], near_r[rs] - lo_r),
            (c0[cs] - lo_c, c1[cs] - lo_c, fc[cs], near_c[cs] - lo_c),
        )
        blocks[i, j] = da.from_delayed(task, (height, width), dtype=np.float64)
    return da.block([[blocks[i, j] for j in range(len(chunks[1]))] for i in range(len(chunks[0]))])


def _resample_block(window: np.ndarray, rows: tuple, cols: tuple) -> np.ndarray:
    finite = np.isfinite(window)
    filled = window
    if not finite.all() and finite.any():
        _, (ri, ci) = ndimage.distance_transform_edt(~finite, return_indices=True)
        filled = window[ri, ci]
    r0, r1, fr, near_r = rows
    c0, c1, fc, near_c = cols
    return bilinear_fill(filled, finite, r0, r1, fr, c0, c1, fc, near_r, near_c)
