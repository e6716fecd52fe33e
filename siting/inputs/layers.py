"""Layers: read, validate, reproject and clip the scenario's input data.

Layers are clipped to the study area *padded* by the scenario's largest buffer or search
distance, so a town or reserve just outside the boundary still counts.
"""

from __future__ import annotations

import logging
import warnings

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from siting.config.scenario import LAYER_KINDS, Edit, LayerSpec, Scenario
from siting.errors import LayerError, LayerNotFoundError, ScenarioError
from siting.inputs import edits

log = logging.getLogger("siting")


def read_layer(spec: LayerSpec, crs: str, changes: list[Edit] | None = None) -> gpd.GeoDataFrame:
    """Read one layer, apply its field mapping, what-if edits and filter, repair geometries and
    reproject.

    Parameters
    ----------
    spec
        The layer's entry in the scenario.
    crs
        The working CRS to reproject to.
    changes
        The scenario's edits of this layer (:mod:`siting.inputs.edits`).

    Returns
    -------
    geopandas.GeoDataFrame

    Raises
    ------
    LayerNotFoundError
        If the file (or the GEM boundaries file) does not exist.
    LayerError
        If the file is unreadable, has no CRS, lacks a mapped field, or has no usable geometry.
    """
    if not spec.path.is_file():
        raise LayerNotFoundError(
            f"layer {spec.name!r}: file not found: {spec.path}",
            f"fix layers.{spec.name}.path (relative paths start at the scenario file)",
        )
    if spec.reader == "gem":
        from siting.inputs.sources.gem import read_gem

        if spec.boundaries is not None and not spec.boundaries.is_file():
            raise LayerNotFoundError(
                f"layer {spec.name!r}: boundaries file not found: {spec.boundaries}",
                f"fix layers.{spec.name}.boundaries (relative paths start at the scenario file)",
            )
        gdf = read_gem(spec.path, boundaries=spec.boundaries)
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                gdf = gpd.read_file(spec.path, layer=spec.layer)
        except DataLayerError:
            names = [str(n) for n in pyogrio.list_layers(spec.path)[:, 0]]
            if spec.layer is None or spec.layer in names:
                raise
            raise LayerError(
                f"layer {spec.name!r}: {spec.path} has no layer {spec.layer!r}",
                f"set layers.{spec.name}.layer to one of: {', '.join(names)}",
            ) from None
        except (DataSourceError, OSError, ValueError) as exc:
            raise LayerError(
                f"layer {spec.name!r}: cannot read {spec.path}: {exc}",
                "give a GeoPackage, GeoJSON or shapefile that GDAL can open",
            ) from None
    if gdf.crs is None:
        raise LayerError(
            f"layer {spec.name!r}: {spec.path} has no CRS",
            "assign one, e.g. ogr2ogr -a_srs EPSG:4326 out.gpkg in.shp",
        )
    missing = [src for src in spec.fields.values() if src not in gdf.columns]
    if missing:
        raise LayerError(
            f"layer {spec.name!r}: {spec.path} has no field {', '.join(map(repr, missing))} "
            f"(named in layers.{spec.name}.fields)",
            f"use one of its fields: {', '.join(c for c in gdf.columns if c != 'geometry')}",
        )
    gdf = gdf.rename(columns={src: dst for dst, src in spec.fields.items()})
    if changes:
        gdf = edits.apply(gdf, changes)
    if spec.where:
        gdf = query(gdf, spec.where, f"layers.{spec.name}.where")
    gdf = _repair(gdf, spec)
    _check_kind(gdf, spec)
    return gdf.to_crs(crs)


GEOMETRY_FAMILIES = {
    "point": {"Point", "MultiPoint"},
    "line": {"LineString", "MultiLineString"},
    "polygon": {"Polygon", "MultiPolygon"},
}


def _check_kind(gdf: gpd.GeoDataFrame, spec: LayerSpec) -> None:
    family, required = LAYER_KINDS[spec.kind]
    if family is not None:
        found = set(gdf.geom_type) - GEOMETRY_FAMILIES[family]
        if found:
            raise LayerError(
                f"layer {spec.name!r} (kind = {spec.kind!r}): {spec.path} holds "
                f"{', '.join(sorted(found))} geometries, not {family}s",
                f"point layers.{spec.name}.path at a {family} layer, or change its kind",
            )
    missing = [f for f in required if f not in gdf.columns]
    if missing:
        raise LayerError(
            f"layer {spec.name!r} (kind = {spec.kind!r}) needs the field(s) "
            f"{', '.join(map(repr, missing))}, which {spec.path} lacks",
            f'map them with layers.{spec.name}.fields = {{ {missing[0]} = "<column>" }}; '
            f"its columns: {', '.join(c for c in gdf.columns if c != 'geometry')}",
        )


def query(gdf: gpd.GeoDataFrame, expression: str, key: str) -> gpd.GeoDataFrame:
    """Rows of ``gdf`` matching a pandas ``query`` expression; errors name the scenario key."""
    try:
        return gdf.query(expression)
    except Exception as exc:  # pandas raises many types for a bad expression
        raise ScenarioError(
            f"{key} = {expression!r} cannot be evaluated: {exc}",
            f"use the layer's fields: {', '.join(c for c in gdf.columns if c != 'geometry')}",
        ) from None


def _repair(gdf: gpd.GeoDataFrame, spec: LayerSpec) -> gpd.GeoDataFrame:
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.any():
        log.warning("layer %r: dropped %d feature(s) without geometry", spec.name, int(empty.sum()))
        gdf = gdf[~empty]
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        log.warning("layer %r: repaired %d invalid geometry(ies)", spec.name, int(invalid.sum()))
        gdf = gdf.copy()
        gdf.loc[invalid, "geometry"] = shapely.make_valid(gdf.geometry[invalid].values)
    if gdf.empty:
        raise LayerError(
            f"layer {spec.name!r}: {spec.path} has no features"
            + (f" matching where = {spec.where!r}" if spec.where else ""),
            "check the file and the layer's where filter",
        )
    return gdf.reset_index(drop=True)


def study_area(scenario: Scenario, layer: gpd.GeoDataFrame) -> shapely.Geometry:
    """The study area as one polygon in the working CRS."""
    geom = shapely.union_all(layer.geometry.values)
    if geom.area <= 0:
        raise LayerError(
            f"study area layer {scenario.study_area!r} has no polygon area",
            "point study_area at a layer of polygons (e.g. the region's boundary)",
        )
    return geom


def load_layers(scenario: Scenario) -> tuple[dict[str, gpd.GeoDataFrame], shapely.Geometry]:
    """Read every layer of the scenario and clip it to the padded study area.

    Returns
    -------
    layers, area
        The layers by name (working CRS) and the study-area polygon.

    Raises
    ------
    LayerError
        If a layer cannot be read or is empty after clipping.
    """
    raw = {
        name: read_layer(spec, scenario.crs, [e for e in scenario.edits if e.layer == name])
        for name, spec in scenario.layers.items()
    }
    area = study_area(scenario, raw[scenario.study_area])
    window = area.buffer(scenario.pad) if scenario.pad > 0 else area
    layers = {}
    for name, gdf in raw.items():
        if name == scenario.study_area:
            layers[name] = gdf
            continue
        gdf = edits.check_inside(gdf, window)
        clipped = gdf[gdf.intersects(window)]
        if clipped.empty:
            raise LayerError(
                f"layer {name!r} has no feature within {scenario.pad / 1000:g} km "
                "of the study area "
                f"(read {len(gdf)} from {scenario.layers[name].path})",
                "check that the layer covers the study area and that its CRS is right",
            )
        if len(clipped) < len(gdf):
            log.info(
                "layer %r: kept %d of %d features near the study area", name, len(clipped), len(gdf)
            )
        layers[name] = clipped.reset_index(drop=True)
    return layers, area


def attribute(gdf: gpd.GeoDataFrame, field: str, key: str, layer: str) -> pd.Series:
    """A numeric column of a layer, with an error naming the scenario key if it is missing."""
    if field not in gdf.columns:
        raise ScenarioError(
            f"{key} = {field!r}: layer {layer!r} has no such field",
            f"use one of: {', '.join(c for c in gdf.columns if c != 'geometry')}, "
            f"or map it with layers.{layer}.fields",
        )
    values = pd.to_numeric(gdf[field], errors="coerce")
    if values.isna().any():
        bad = int(values.isna().sum())
        raise LayerError(
            f"layer {layer!r}: field {field!r} has {bad} empty or non-numeric value(s)",
            f"fill them, or filter them out with layers.{layer}.where",
        )
    return values
