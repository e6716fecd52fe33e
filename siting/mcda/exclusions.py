"""Exclusions: land a profile may not use, as polygons with the reason for each.

Features are grown into what they really occupy (a settlement's built-up disc, a river's channel)
plus their protection zone (``buffer_m``); steep land comes from the DEM's slope.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import rasterio.features
import shapely

from siting.config.scenario import Exclusion, Profile
from siting.inputs.layers import attribute, query
from siting.raster.grid import Raster


def grow(gdf: gpd.GeoDataFrame, rule: Exclusion) -> np.ndarray:
    """Geometries of an exclusion (or impassable) rule: features grown to footprints and buffers.

    Points with ``footprint_m2_per_person`` become discs of area population × that figure;
    lines with ``width_field`` are widened to that width; then ``buffer_m`` is added.
    """
    if rule.where:
        gdf = query(gdf, rule.where, f"exclusion on {rule.layer!r}: where")
    geoms = gdf.geometry.values
    extra = np.zeros(len(gdf))
    if rule.footprint_m2_per_person is not None:
        people = attribute(gdf, "population", "footprint_m2_per_person needs", rule.layer)
        extra += np.sqrt(people.to_numpy() * rule.footprint_m2_per_person / np.pi)
    if rule.width_field is not None:
        width = attribute(gdf, rule.width_field, "width_field", rule.layer)
        extra += width.to_numpy() / 2
    extra += rule.buffer_m
    if np.any(extra > 0):
        geoms = shapely.buffer(geoms, extra, quad_segs=8)
    return geoms


def exclusions(profile: Profile, layers: dict[str, gpd.GeoDataFrame], crs: str) -> gpd.GeoDataFrame:
    """The profile's exclusion polygons (one row per rule, dissolved)."""
    rows = []
    for rule in profile.exclusions:
        geoms = grow(layers[rule.layer], rule)
        if len(geoms):
            reason = rule.reason or (
                f"{rule.layer}" + (f" + {rule.buffer_m:g} m" if rule.buffer_m else "")
            )
            rows.append(
                {
                    "profile": profile.name,
                    "layer": rule.layer,
                    "reason": reason,
                    "buffer_m": rule.buffer_m,
                    "geometry": shapely.union_all(geoms),
                }
            )
    columns = ["profile", "layer", "reason", "buffer_m", "geometry"]
    return gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs=crs)


def steep_land(slope: Raster, max_deg: float) -> tuple[np.ndarray, gpd.GeoDataFrame | None]:
    """Cells steeper than ``max_deg`` (cells without elevation are not) and their outline as one
    exclusion row (None when no cell is that steep)."""
    with np.errstate(invalid="ignore"):
        steep = slope.data > max_deg
    if not steep.any():
        return steep, None
    cells = [
        shapely.geometry.shape(g)
        for g, _ in rasterio.features.shapes(
            steep.astype(np.uint8), mask=steep, transform=slope.grid.transform
        )
    ]
    row = gpd.GeoDataFrame(
        {"layer": ["terrain"], "reason": [f"slope > {max_deg:g}°"], "buffer_m": [0.0]},
        geometry=[shapely.union_all(cells)],
        crs=slope.grid.crs,
    )
    return steep, row
