"""The grid stages that need no search, as chunked Dask arrays: burning layers, exclusion masks,
standardisation, suitability, capped distances, and the Cloud-Optimized GeoTIFF export.

A national grid at 100 m (~1.7e9 cells, 13 GB a float64 raster) does not fit one process; here
each chunk is computed on its own, by the same kernels as the single-process stages, so the
results are bit-identical to theirs on the same grid (same dtype, same order of operations):

- :func:`rasterize`, :func:`mask`: :meth:`Grid.rasterize` on each chunk's window of the grid
  (its own transform, shifted by whole cells), with only the geometries near the chunk; exact
  on grids snapped to whole metres in positive coordinates (a warning says when it may not be).
- :func:`standardize`, :func:`surface`: the compiled scores of :mod:`siting.mcda.standardize`;
  a min–max stretch takes its range from a Dask reduction first (min and max are exact).
- :func:`distance`: the distance transform of each chunk with a halo as deep as the cap
  (:func:`dask.array.map_overlap`); the single-process :func:`siting.mcda.criteria.distance`
  has no cap, so this is the capped variant, ``min(distance, cap)``.
- :func:`write_cog`: chunks computed a few at a time and written by windows into a tiled
  GeoTIFF, then translated to a COG by GDAL, which reads it tile by tile.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import rasterio
import rasterio.shutil
import rasterio.windows
import shapely
from affine import Affine
from scipy import ndimage

from siting.config.scenario import Profile, Standardization
from siting.errors import InfeasibleError, LayerError
from siting.exports.rasters import COG_OPTIONS, NODATA, gtiff_profile, label_band
from siting.mcda.exclusions import exclusions
from siting.mcda.standardize import accumulate_scores, as_float_array, curve_parameters, score_array
from siting.raster.grid import Grid

log = logging.getLogger("siting")

#: Default chunk: 2,048² cells, 16 MB of float32 (tiles of the COG are 512², a divisor).
CHUNK = 2048


def chunks_of(grid: Grid, chunks: int | tuple | None = None) -> tuple[tuple[int, ...], ...]:
    """Dask's normalised (row, column) chunk sizes of ``grid`` (:data:`CHUNK` by default)."""
    spec = CHUNK if chunks is None else chunks
    return da.core.normalize_chunks(spec, grid.shape, dtype=np.float64)


def window_grid(grid: Grid, row: int, col: int, height: int, width: int) -> Grid:
    """The part of ``grid`` from cell (``row``, ``col``), ``height`` × ``width`` cells."""
    return Grid(grid.transform @ Affine.translation(col, row), width, height, grid.crs)


def windows(
    chunks: tuple[tuple[int, ...], ...],
) -> Iterator[tuple[tuple[int, int], tuple[int, int, int, int]]]:
    """Each block's index and (row, column, height, width), row by row."""
    row = 0
    for i, height in enumerate(chunks[0]):
        col = 0
        for j, width in enumerate(chunks[1]):
            yield (i, j), (row, col, height, width)
            col += width
        row += height


def rasterize(
    grid: Grid,
    geometries: Sequence[shapely.Geometry] | np.ndarray,
    chunks: int | tuple | None = None,
    value: float = 1.0,
    fill: float = 0.0,
    all_touched: bool = False,
    dtype: str = "uint8",
) -> da.Array:
    """:meth:`Grid.rasterize` of ``geometries`` as a chunked array, chunk by chunk.

    Each chunk burns, on its own window of the grid, the geometries whose bounds come within a
    cell of it (a tree query), so a task carries only its neighbourhood's geometries.

    GDAL maps a coordinate to cells as coordinate / resolution − origin / resolution. When
    every window's origin / resolution is a whole number and the grid lies where coordinates
    are positive (a projected grid snapped to a resolution in whole metres, as
    :meth:`Grid.from_bounds` makes it, e.g. in UTM north), that difference is exact for
    coordinates on the grid, a window's cell coordinates are the grid's less whole numbers,
    and the burns tested equal, edges through cell centres included. Otherwise a cell whose
    centre lies on an edge may fall on either side (a 0.001° grid: 65 of 7,081 cells), and a
    warning says so.
    """
    normal = chunks_of(grid, chunks)
    if not _exact_windows(grid, normal):
        log.warning(
            "the grid's chunk origins are not whole numbers of cells from 0 in positive "
            "coordinates (%s): a chunked burn may differ from a whole-grid one in cells whose "
            "centre lies on an edge",
            grid.transform,
        )
    geoms = np.array([g for g in geometries if g is not None and not g.is_empty], dtype=object)
    tree = shapely.STRtree(geoms)
    res = grid.res
    blocks: dict[tuple[int, int], da.Array] = {}
    for (i, j), (row, col, height, width) in windows(normal):
        part = window_grid(grid, row, col, height, width)
        minx, miny, maxx, maxy = part.bounds
        around = shapely.box(minx - res, miny - res, maxx + res, maxy + res)
        near = geoms[np.sort(tree.query(around))]  # the layer's order: the burn order
        task = dask.delayed(_burn, pure=True)(part, near, value, fill, all_touched, dtype)
        blocks[i, j] = da.from_delayed(task, (height, width), dtype=np.dtype(dtype))
    rows, cols = len(normal[0]), len(normal[1])
    return da.block([[blocks[i, j] for j in range(cols)] for i in range(rows)])


def _exact_windows(grid: Grid, chunks: tuple[tuple[int, ...], ...]) -> bool:
    """Whether each window's origin over the resolution is a whole number, the grid's plus
    the window's offset, on both axes, and the grid's bounds are positive."""
    if min(grid.bounds) < 0:
        return False
    t = grid.transform
    x0, y0 = t.c / t.a, t.f / t.e
    for _, (row, col, height, width) in windows(chunks):
        part = window_grid(grid, row, col, height, width).transform
        if part.c / part.a != x0 + col or part.f / part.e != y0 + row:
            return False
    return x0.is_integer() and y0.is_integer()


def _burn(
    part: Grid, geoms: np.ndarray, value: float, fill: float, all_touched: bool, dtype: str
) -> np.ndarray:
    # Geometries sorted by their index in the layer: the burn order of the whole-grid call.
    return part.rasterize(geoms, value=value, fill=fill, all_touched=all_touched, dtype=dtype)


def mask(
    grid: Grid,
    geometries: Sequence[shapely.Geometry] | np.ndarray,
    chunks: int | tuple | None = None,
    all_touched: bool = False,
) -> da.Array:
    """:meth:`Grid.mask` as a chunked boolean array."""
    return rasterize(grid, geometries, chunks, all_touched=all_touched).astype(bool)


def distance(
    grid: Grid,
    geometries: Sequence[shapely.Geometry] | np.ndarray,
    cap: float,
    chunks: int | tuple | None = None,
) -> da.Array:
    """``min(criteria.distance(grid, geometries), cap)`` as a chunked float64 array.

    Parameters
    ----------
    cap
        Metres: distances beyond it are ``cap``. Each chunk's distance transform sees a halo of
        ⌈cap / resolution⌉ cells, which holds every feature within ``cap`` of the chunk.

    Raises
    ------
    LayerError
        If no feature falls on the grid (as the single-process distance); this check computes
        the burnt mask once.
    ValueError
        If ``cap`` is not positive and finite.
    """
    if not (math.isfinite(cap) and cap > 0):
        raise ValueError(f"the distance cap must be a positive number of metres, not {cap!r}")
    touched = mask(grid, geometries, chunks, all_touched=True)
    if not bool(touched.any().compute()):
        raise LayerError("no feature falls on the grid", "check the layer's extent and CRS")
    depth = math.ceil(cap / grid.res)
    return da.map_overlap(
        _capped_edt,
        touched,
        depth=depth,
        boundary="none",
        dtype=np.float64,
        res=grid.res,
        cap=float(cap),
    )


def _capped_edt(touched: np.ndarray, res: float, cap: float) -> np.ndarray:
    """The capped distance of a chunk with its halo. The distance to the nearest feature in the
    window is the true one wherever that is within the cap (the feature is in the halo), and at
    least the true one elsewhere, so capped both agree."""
    if not touched.any():
        return np.full(touched.shape, cap)
    return np.minimum(ndimage.distance_transform_edt(~touched, sampling=res), cap)


def _range(values: da.Array, within: da.Array | None) -> tuple[da.Array, da.Array, da.Array]:
    """The finite values' minimum and maximum within the mask, and whether there is one (lazy),
    in the values' dtype: what the single-process stretch finds over the whole grid."""
    usable = da.isfinite(values) if within is None else da.isfinite(values) & within
    return (
        da.where(usable, values, np.inf).min(),
        da.where(usable, values, -np.inf).max(),
        usable.any(),
    )


def _as_floats(values: da.Array) -> da.Array:
    """``values`` in the dtype the kernels read (float32 as it is, anything else float64)."""
    return values if values.dtype == np.float32 else values.astype(np.float64)


def _stretched(spec: Standardization) -> bool:
    return spec.fn == "linear" and spec.low is None and spec.high is None


def parameters_of(
    values: Sequence[da.Array], specs: Sequence[Standardization], within: da.Array | None = None
) -> list[tuple[int, float, float, bool]]:
    """Each standardisation's function code and parameters, as the single-process
    ``curve_parameters`` finds them: the ranges of the min–max stretches come from Dask reductions
    (exact), computed together, handed to the same code as two-value arrays."""
    floats = [_as_floats(v) for v in values]
    lazy = [
        _range(v, within) if _stretched(s) else None for v, s in zip(floats, specs, strict=True)
    ]
    found = dask.compute(*lazy)
    out = []
    for v, spec, extent in zip(floats, specs, found, strict=True):
        lo_hi = [extent[0], extent[1]] if extent is not None and extent[2] else []
        out.append(curve_parameters(np.array(lo_hi, dtype=v.dtype), spec, None))
    return out


def standardize(
    values: da.Array, spec: Standardization, within: da.Array | None = None
) -> da.Array:
    """:func:`siting.mcda.standardize.standardize` as a chunked float64 array."""
    values = _as_floats(values)
    (params,) = parameters_of([values], [spec], within)
    return da.map_blocks(_score64_block, values, params, dtype=np.float64)


@dataclass
class ChunkedSurface:
    """A profile's surfaces as chunked arrays (see :class:`siting.mcda.suitability.Surface`)."""

    profile: Profile
    scores: dict[str, da.Array]
    suitability: da.Array
    excluded: da.Array
    exclusions: gpd.GeoDataFrame


def surface(
    profile: Profile,
    raw: dict[str, da.Array],
    layers: dict[str, gpd.GeoDataFrame],
    grid: Grid,
    in_area: da.Array,
    slope: da.Array | None = None,
) -> ChunkedSurface:
    """:func:`siting.mcda.suitability.evaluate` on chunked criteria: scores (float32) and the
    suitability (float32, NaN where not eligible), bit-identical to it.

    Steep land is excluded as there, but its outline is not added to the exclusion polygons
    (tracing it is a vector pass over the whole grid).

    Raises
    ------
    InfeasibleError
        If no cell of the study area escapes the exclusions (this computes the eligible mask).
    """
    excl = exclusions(profile, layers, grid.crs)
    chunks = in_area.chunks  # every input is rechunked like the study area, so blocks pair up
    excluded = mask(grid, excl.geometry.values, chunks, all_touched=True)
    if slope is not None and profile.max_slope_deg is not None:
        steep = da.map_blocks(_steeper, slope.rechunk(chunks), profile.max_slope_deg, dtype=bool)
        excluded = excluded | steep
    eligible = in_area & ~excluded
    if not bool(eligible.any().compute()):
        raise InfeasibleError(
            f"profile {profile.name!r}: no cell of the study area is left after its exclusions "
            f"({', '.join(excl['reason'])})",
            f"reduce the buffers in profiles.{profile.name}.exclusions or drop one of them",
        )
    values = [_as_floats(raw[c.name]).rechunk(chunks) for c in profile.criteria]
    params = parameters_of(values, [c.standardize for c in profile.criteria], in_area)
    weights = [float(w) for w in profile.weights]
    scores = {
        c.name: da.map_blocks(_score_block, v, p, dtype=np.float32)
        for v, c, p in zip(values, profile.criteria, params, strict=True)
    }
    suitability = da.map_blocks(
        _suitability_block, eligible, *values, params=params, weights=weights, dtype=np.float32
    )
    return ChunkedSurface(profile, scores, suitability, excluded, excl)


def _steeper(slope: np.ndarray, max_deg: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return slope > max_deg


def _score64_block(values: np.ndarray, params: tuple[int, float, float, bool]) -> np.ndarray:
    """A chunk's float64 scores, as ``standardize`` computes them."""
    fn, a, b, higher = params
    return score_array(as_float_array(values), fn, a, b, higher)


def _score_block(values: np.ndarray, params: tuple[int, float, float, bool]) -> np.ndarray:
    """A chunk's float32 scores, by the kernel that ``accumulate`` runs (into a total that is
    dropped)."""
    values = as_float_array(values)
    scores = np.empty(values.shape, dtype=np.float32)
    fn, a, b, higher = params
    accumulate_scores(values, fn, a, b, higher, 0.0, np.zeros(values.shape), scores)
    return scores


def _suitability_block(
    eligible: np.ndarray, *values: np.ndarray, params: list, weights: list[float]
) -> np.ndarray:
    """A chunk's suitability: the scores added criterion by criterion into a float64 total,
    as ``evaluate`` does, NaN off the eligible cells, float32."""
    total = np.zeros(eligible.shape)
    for block, (fn, a, b, higher), weight in zip(values, params, weights, strict=True):
        block = as_float_array(block)
        scores = np.empty(block.shape, dtype=np.float32)
        accumulate_scores(block, fn, a, b, higher, weight, total, scores)
    total[~eligible] = np.nan
    return total.astype(np.float32)


def write_cog(
    data: da.Array,
    grid: Grid,
    path: Path,
    name: str,
    units: str = "",
    description: str = "",
    batch: int = 4,
) -> Path:
    """Write a chunked raster as :func:`siting.exports.rasters.write_geotiff` writes a
    :class:`Raster` (same values, tiles, overviews, metadata), never holding more than
    ``batch`` chunks on the client.

    Chunks are computed ``batch`` at a time (on the current Dask scheduler) and written by
    windows into a tiled GeoTIFF next to ``path``; GDAL's COG driver then copies it, reading
    tile by tile, and builds the overviews.
    """
    if data.shape != grid.shape:
        raise ValueError(f"the array is {data.shape}, the grid {grid.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        **gtiff_profile(grid),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "DEFLATE",
        "BIGTIFF": "IF_SAFER",
    }
    blocks = list(windows(data.chunks))
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        staging = Path(tmp) / "tiled.tif"
        with rasterio.open(staging, "w", **profile) as dst:
            for start in range(0, len(blocks), batch):
                part = blocks[start : start + batch]
                done = dask.compute(*[data.blocks[index] for index, _ in part])
                for (_, (row, col, height, width)), block in zip(part, done, strict=True):
                    out = np.where(np.isfinite(block), block, NODATA).astype(np.float32)
                    dst.write(out, 1, window=rasterio.windows.Window(col, row, width, height))
            label_band(dst, name, units, description)
        with rasterio.open(staging) as src:
            # A tiled grid may pass 4 GB: BigTIFF then.
            rasterio.shutil.copy(src, path, **COG_OPTIONS, BIGTIFF="IF_SAFER")
    return path
