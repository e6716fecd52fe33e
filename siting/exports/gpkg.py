"""GeoPackage export: inputs as used and every result layer, one table each, in the run's CRS."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

if TYPE_CHECKING:
    from siting.pipeline import Result


def layers_of(result: Result) -> dict[str, gpd.GeoDataFrame]:
    """The tables written to the GeoPackage, by table name."""
    crs = result.scenario.crs
    tables: dict[str, gpd.GeoDataFrame] = {
        "study_area": gpd.GeoDataFrame(
            {"name": [result.scenario.title]}, geometry=[result.study_area], crs=crs
        ),
    }
    tables |= {f"input_{name}": gdf for name, gdf in result.layers.items()}
    tables["exclusions"] = gpd.GeoDataFrame(
        pd.concat([s.exclusions for s in result.surfaces.values()], ignore_index=True), crs=crs
    )
    tables["candidate_patches"] = result.patches
    tables["proposed_sites"] = result.sites
    if result.clusters is not None:
        tables["clusters"] = result.clusters
        tables["cluster_weber_points"] = gpd.GeoDataFrame(
            result.clusters.drop(columns="geometry"),
            geometry=gpd.points_from_xy(result.clusters["weber_x"], result.clusters["weber_y"]),
            crs=crs,
        )
    if result.allocation is not None:
        tables["allocation_plants"] = result.allocation.plants
        tables["allocation_lines"] = result.allocation.lines
    return tables


def write(result: Result, path: Path) -> Path:
    """Write all tables of :func:`layers_of` to one GeoPackage."""
    for name, gdf in layers_of(result).items():
        gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    return path
