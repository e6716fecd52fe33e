"""Criteria: raw criterion rasters (metres, cost, people) on the run's grid.

- ``distance``: Euclidean distance to the nearest feature (exact distance transform between cell
  centres, :func:`scipy.ndimage.distance_transform_edt`).
- ``cost_distance``: accumulated cost over the friction surface (:mod:`siting.raster.cost`),
  computed on
  the coarser friction grid and resampled bilinearly.
- ``within_radius``: sum of a field (population, output) of features within a radius (a disc
  kernel convolved by FFT).
- ``travel_time``: minutes from the nearest feature over the road network and the off-network
  leg (:mod:`siting.network.traveltime`), or with ``minutes`` the sum of a field of the features
  within
  that time; computed on the friction grid and resampled bilinearly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import shapely
from numba import njit
from scipy import ndimage, signal

from siting.config.scenario import Criterion
from siting.errors import LayerError, ScenarioError
from siting.inputs.layers import attribute, query
from siting.network.traveltime import TravelTimes
from siting.raster.cost import CostField, cost_field, resample
from siting.raster.grid import Grid, Raster

UNITS = {"distance": "m", "cost_distance": "cost units", "within_radius": "", "travel_time": "min"}


def distance(grid: Grid, geometries: np.ndarray) -> np.ndarray:
    """Distance in metres from each cell centre to the nearest cell touched by a geometry."""
    touched = grid.mask(geometries, all_touched=True)
    if not touched.any():
        raise LayerError("no feature falls on the grid", "check the layer's extent and CRS")
    return ndimage.distance_transform_edt(~touched, sampling=grid.res)


def distance_update(grid: Grid, base: np.ndarray, added: Iterable[shapely.Geometry]) -> np.ndarray:
    """:func:`distance` to some features plus ``added`` ones, from ``base``, the distance to the
    others as float32: equal to computing it afresh, cast to float32.

    The distance to the union is the smaller of the two distances, and the new one can only be
    smaller where the base exceeds the distance to the bounding box of the added cells: the
    transform runs on the window of those cells alone (a rail spur: a few hundred thousand cells
    of the 23 M of a 100 m Kuzbass grid).
    """
    out = base.astype(np.float32)  # a copy: the base may be a read-only cached map
    touched = grid.mask(added, all_touched=True)
    rows, cols = np.flatnonzero(touched.any(axis=1)), np.flatnonzero(touched.any(axis=0))
    if not len(rows):  # no added feature falls on the grid
        return out
    r0, r1, c0, c1 = _reach(out, rows[0], rows[-1], cols[0], cols[-1], grid.res)
    window = (
        slice(min(r0, rows[0]), max(r1, rows[-1]) + 1),
        slice(min(c0, cols[0]), max(c1, cols[-1]) + 1),
    )
    near = ndimage.distance_transform_edt(~touched[window], sampling=grid.res)
    np.minimum(out[window], near.astype(np.float32), out=out[window])
    return out


@njit(cache=True, nogil=True)
def _reach(
    base: np.ndarray, first_row: int, last_row: int, first_col: int, last_col: int, res: float
) -> tuple[int, int, int, int]:
    """First and last row and column of the cells whose ``base`` distance exceeds their distance
    to the box of rows ``first_row … last_row`` and columns ``first_col … last_col`` (a lower
    bound of the distance to any cell in it): where cells in the box may be nearer. Less a
    millionth, for the rounding of both; ``(n, -1, m, -1)`` when there are none."""
    height, width = base.shape
    r0, r1, c0, c1 = height, -1, width, -1
    scale = res * (1 - 1e-6)
    for i in range(height):
        dy = max(first_row - i, i - last_row, 0)
        for j in range(width):
            dx = max(first_col - j, j - last_col, 0)
            if math.sqrt(dy * dy + dx * dx) * scale < base[i, j]:
                r0, r1 = min(r0, i), max(r1, i)
                c0, c1 = min(c0, j), max(c1, j)
    return r0, r1, c0, c1


def within_radius(
    grid: Grid, geometries: np.ndarray, weights: np.ndarray, radius: float
) -> np.ndarray:
    """Sum of ``weights`` of features whose (representative) point lies within ``radius`` of each
    cell centre."""
    points = shapely.point_on_surface(geometries)
    rows, cols = grid.index(shapely.get_x(points), shapely.get_y(points))
    inside = grid.contains(rows, cols)
    mass = np.zeros(grid.shape)
    np.add.at(mass, (rows[inside], cols[inside]), np.asarray(weights, dtype=float)[inside])
    r = int(np.floor(radius / grid.res))
    offsets = np.arange(-r, r + 1) * grid.res
    kernel = (np.hypot(*np.meshgrid(offsets, offsets)) <= radius).astype(float)
    out = signal.fftconvolve(mass, kernel, mode="same")
    # FFT round-off leaves tiny negatives and fractions where the true sum is a whole count.
    return np.clip(out, 0.0, None)


def features(layers: dict[str, gpd.GeoDataFrame], criterion: Criterion) -> gpd.GeoDataFrame:
    """The criterion's layer, filtered by its ``where``."""
    gdf = layers[criterion.layer]
    if criterion.where:
        gdf = query(gdf, criterion.where, f"criterion {criterion.name!r}: where")
        if gdf.empty:
            raise LayerError(
                f"criterion {criterion.name!r}: no feature of layer "
                f"{criterion.layer!r} matches where = {criterion.where!r}",
                "loosen the filter or fix the layer",
            )
    return gdf


def weights_of(gdf: gpd.GeoDataFrame, criterion: Criterion) -> np.ndarray:
    """The criterion's ``weight_field`` values (all ones when it has none)."""
    if criterion.weight_field is None:
        return np.ones(len(gdf))
    key = f"criterion {criterion.name!r}: weight_field"
    return attribute(gdf, criterion.weight_field, key, criterion.layer).to_numpy(dtype=float)


def compute(
    criterion: Criterion,
    layers: dict[str, gpd.GeoDataFrame],
    grid: Grid,
    friction: Raster | None,
    cost_fields: dict[str, CostField],
    travel: TravelTimes | None = None,
) -> Raster:
    """The raw raster of one criterion.

    ``cost_fields`` caches per-feature cost surfaces by layer and filter, so that the models can
    reuse them for their cost matrices; ``travel`` is the run's road network for ``travel_time``.
    """
    return rasterize(criterion, features(layers, criterion), grid, friction, cost_fields, travel)


def rasterize(
    criterion: Criterion,
    gdf: gpd.GeoDataFrame,
    grid: Grid,
    friction: Raster | None,
    cost_fields: dict[str, CostField],
    travel: TravelTimes | None = None,
) -> Raster:
    """The raw raster of one criterion from its features (:func:`features`); see :func:`compute`."""
    geoms = gdf.geometry.values
    if criterion.kind == "distance":
        data = distance(grid, geoms)
    elif criterion.kind == "within_radius":
        data = within_radius(grid, geoms, weights_of(gdf, criterion), _radius_m(criterion))
    elif criterion.kind == "travel_time":
        if travel is None:
            raise ValueError(f"criterion {criterion.name!r} (travel_time) needs the road network")
        if criterion.minutes is None:
            coarse = travel.to_nearest(geoms)
        else:
            coarse = travel.within(geoms, weights_of(gdf, criterion), criterion.minutes)
        data = resample(coarse, travel.grid, grid)
    else:
        if friction is None:
            raise ValueError(f"criterion {criterion.name!r} (cost_distance) needs the friction")
        field = cost_field(cost_fields, friction, criterion.layer, criterion.where, geoms)
        coarse = (
            field.weighted_mean(weights_of(gdf, criterion))
            if criterion.weight_field
            else field.minimum()
        )
        data = resample(coarse, field.grid, grid)
    units = UNITS[criterion.kind]
    if criterion.kind == "within_radius" or criterion.minutes is not None:
        units = criterion.weight_field or "count"
    return Raster(data.astype(np.float32), grid, criterion.name, units, describe(criterion))


def _radius_m(criterion: Criterion) -> float:
    """The ``radius_m`` of a ``within_radius`` criterion; a :class:`ScenarioError` if it has none
    (a :class:`Criterion` built in Python: the scenario loader checks its own)."""
    if criterion.radius_m is None:
        raise ScenarioError(
            f"criterion {criterion.name!r} (kind = 'within_radius') has no radius_m",
            "give radius_m = <metres>",
        )
    return float(criterion.radius_m)


def describe(criterion: Criterion) -> str:
    """A one-line description of what the raster measures."""
    where = f" ({criterion.where})" if criterion.where else ""
    if criterion.kind == "distance":
        return f"distance to nearest {criterion.layer}{where}, metres"
    if criterion.kind == "within_radius":
        return (
            f"sum of {criterion.weight_field or 'features'} of {criterion.layer}{where} within "
            f"{_radius_m(criterion) / 1000:g} km"
        )
    if criterion.kind == "travel_time" and criterion.minutes is not None:
        return (
            f"sum of {criterion.weight_field or 'features'} of {criterion.layer}{where} within "
            f"{criterion.minutes:g} minutes by road"
        )
    if criterion.kind == "travel_time":
        return f"travel time by road from the nearest {criterion.layer}{where}, minutes"
    how = f"{criterion.weight_field}-weighted mean" if criterion.weight_field else "least"
    return f"{how} accumulated cost from {criterion.layer}{where} over the friction surface"
