"""GeoPackage export: inputs as used and every result layer, one table each, in the run's CRS.

Spatial tables are GeoDataFrames; tables without a location (the allocation's Pareto sweep) are
plain DataFrames, written as GeoPackage "attributes" tables (no geometry column, no CRS).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import pyogrio

if TYPE_CHECKING:
    from siting.pipeline.result import Result


def layers_of(result: Result) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """The tables written to the GeoPackage, by table name.

    Every table is a GeoDataFrame in the scenario's CRS, except ``allocation_pareto`` and
    ``robustness_draws``: plain DataFrames (see :func:`is_spatial`).
    """
    crs = result.scenario.crs
    tables: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {
        "study_area": gpd.GeoDataFrame(
            {"name": [result.scenario.title]}, geometry=[result.study_area], crs=crs
        ),
    }
    tables |= {f"input_{name}": gdf for name, gdf in result.layers.items()}
    tables["exclusions"] = gpd.GeoDataFrame(
        pd.concat([s.exclusions for s in result.surfaces.values()], ignore_index=True), crs=crs
    )
    tables["candidate_patches"] = result.patches
    rob = result.robustness
    tables["proposed_sites"] = result.sites if rob is None else rob.annotate(result.sites)
    if result.clusters is not None:
        tables["clusters"] = result.clusters
        attributes = result.clusters.drop(columns="geometry")
        tables["cluster_weber_points"] = gpd.GeoDataFrame(
            attributes,
            geometry=gpd.points_from_xy(result.clusters["weber_x"], result.clusters["weber_y"]),
            crs=crs,
        )
        spec = result.scenario.clusters
        if spec is not None and spec.snap_profile is not None and "weber_snap_x" in attributes:
            # The Weber point moved onto eligible land: where a plant could actually stand.
            tables["cluster_weber_snapped"] = gpd.GeoDataFrame(
                attributes.assign(snap_profile=spec.snap_profile),
                geometry=gpd.points_from_xy(
                    result.clusters["weber_snap_x"], result.clusters["weber_snap_y"]
                ),
                crs=crs,
            )
    a = result.allocation
    if a is not None:
        tables["allocation_plants"] = a.plants if rob is None else rob.annotate(a.plants)
        tables["allocation_lines"] = a.lines
        if a.pareto is not None:
            tables["allocation_pareto"] = pd.DataFrame(a.pareto).reset_index(drop=True)
    c = result.covering
    if c is not None:
        tables["covering_sites"] = c.sites
        tables["covering_demand"] = c.demand
    if rob is not None:
        tables["robustness"] = gpd.GeoDataFrame(
            rob.sites, geometry=gpd.points_from_xy(rob.sites["x"], rob.sites["y"]), crs=crs
        )
        tables["robustness_draws"] = rob.draws
    if result.chain is not None:
        tables["chain_flows"] = result.chain.flows
        tables["chain_plants"] = result.chain.plants
    return tables


def is_spatial(table: pd.DataFrame) -> bool:
    """Whether a table of :func:`layers_of` has geometries (else it is an attributes table)."""
    return isinstance(table, gpd.GeoDataFrame)


def write(result: Result, path: Path) -> Path:
    """Write all tables of :func:`layers_of` to one GeoPackage."""
    with _unsynced():
        for name, gdf in layers_of(result).items():
            if is_spatial(gdf):
                gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
            else:
                pyogrio.write_dataframe(pd.DataFrame(gdf), path, layer=name, driver="GPKG")
    return path


@contextmanager
def _unsynced() -> Iterator[None]:
    """SQLite without a disk sync per committed table (about half of writing the GeoPackage).
    Safe here: the file is written into a staging folder that only becomes the output folder once
    complete (:func:`siting.exports.staged`), and is no less durable than the other outputs."""
    option = "OGR_SQLITE_SYNCHRONOUS"
    before = pyogrio.get_gdal_config_option(option)
    pyogrio.set_gdal_config_options({option: "OFF"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({option: before})


def write_pareto_csv(result: Result, path: Path) -> Path | None:
    """Write the allocation's Pareto sweep as CSV (None when the run has none)."""
    a = result.allocation
    if a is None or a.pareto is None:
        return None
    a.pareto.to_csv(path, index=False)
    return path
