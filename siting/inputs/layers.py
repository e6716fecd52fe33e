"""Layers: read, validate, reproject and clip the scenario's input data.

Layers are clipped to the study area *padded* by the scenario's largest buffer or search
distance, so a town or reserve just outside the boundary still counts.
"""

from __future__ import annotations

import logging
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from siting.config.scenario import LAYER_KINDS, Edit, LayerSpec, Scenario, amounts
from siting.errors import LayerError, LayerNotFoundError, ScenarioError
from siting.inputs import edits
from siting.inputs import expression as expression_mod

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
    """Rows of ``gdf`` matching the filter ``expression`` (:mod:`siting.inputs.expression`:
    a restricted language, never handed to pandas' ``query``); errors name the scenario key."""
    return gdf[expression_mod.select(gdf, expression, key)]


def selected(
    gdf: gpd.GeoDataFrame, expression: str | None, key: str, layer: str
) -> gpd.GeoDataFrame:
    """The features of ``layer`` that ``expression`` (the scenario's ``key``) selects, all of
    them without one; selecting none is a :class:`~siting.errors.ScenarioError` naming the key:
    a model told to keep existing facilities must find some."""
    chosen = query(gdf, expression, key) if expression else gdf
    if chosen.empty:
        raise ScenarioError(
            f"{key} = {expression!r} selects no feature of layer {layer!r}",
            "check the expression against the layer's values",
        )
    return chosen


def capacity_values(
    gdf: gpd.GeoDataFrame, field: str | None, default: float, key: str, layer: str, fallback: str
) -> np.ndarray:
    """Each feature's capacity from ``field`` (the scenario's ``key``), ``default`` where it is
    empty or there is no field: existing plants whose capacity is not published.

    Raises
    ------
    ScenarioError
        If ``layer`` has no such field.
    LayerError
        If a value is not a finite number > 0 (``fallback`` names what an empty one takes).
    """
    if field is None:
        return np.full(len(gdf), float(default))
    if field not in gdf.columns:
        raise ScenarioError(
            f"{key} = {field!r}: layer {layer!r} has no such field",
            f"use one of: {', '.join(c for c in gdf.columns if c != 'geometry')}",
        )
    raw = gdf[field]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = (values <= 0) | np.isinf(values) | (np.isnan(values) & raw.notna().to_numpy())
    if bad.any():
        raise LayerError(
            f"layer {layer!r}: field {field!r} ({key}) must be a finite number > 0 or empty; "
            f"{int(bad.sum())} feature(s) are not",
            f"fix the values, or leave them empty to take {fallback}",
        )
    return np.where(np.isnan(values), float(default), values)


def _repair(gdf: gpd.GeoDataFrame, spec: LayerSpec) -> gpd.GeoDataFrame:
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.any():
        log.warning("layer %r: dropped %d feature(s) without geometry", spec.name, int(empty.sum()))
        gdf = gdf[~empty]
    _finite_coordinates(gdf, spec)
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        log.warning("layer %r: repaired %d invalid geometry(ies)", spec.name, int(invalid.sum()))
        gdf = gdf.copy()
        before = gdf.geometry[invalid].values
        gdf.loc[invalid, "geometry"] = same_family(before, shapely.make_valid(before))
        collapsed = gdf.geometry.is_empty
        if collapsed.any():
            log.warning(
                "layer %r: dropped %d invalid feature(s) with no %s left after repair",
                spec.name,
                int(collapsed.sum()),
                "area, length or point",
            )
            gdf = gdf[~collapsed]
    if gdf.empty:
        raise LayerError(
            f"layer {spec.name!r}: {spec.path} has no features"
            + (f" matching where = {spec.where!r}" if spec.where else ""),
            "check the file and the layer's where filter",
        )
    return gdf.reset_index(drop=True)


def same_family(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``after`` (``make_valid(before)``) with each geometry of the dimension of its original.

    Repairing a polygon whose ring touches itself or runs back along itself (Sakha, Krasnoyarsk
    Krai as stored) gives a GeometryCollection of polygons and the collapsed lines: the lines
    are dropped, the polygons kept. A geometry with no part of its dimension left is empty.
    """
    out = np.array(after, dtype=object)
    dims = shapely.get_dimensions(before)
    for i in np.flatnonzero((shapely.get_dimensions(after) != dims) | _is_collection(after)):
        parts = shapely.get_parts(shapely.get_parts(after[i]))
        parts = parts[shapely.get_dimensions(parts) == dims[i]]
        make = (shapely.multipoints, shapely.multilinestrings, shapely.multipolygons)[dims[i]]
        out[i] = parts[0] if len(parts) == 1 else make(parts)
    return out


def _is_collection(geoms: np.ndarray) -> np.ndarray:
    return shapely.get_type_id(geoms) == shapely.GeometryType.GEOMETRYCOLLECTION


def _finite_coordinates(gdf: gpd.GeoDataFrame, spec: LayerSpec) -> None:
    """Raise if a feature has a coordinate that is NaN or infinite (GEOS cannot repair it; a
    point without coordinates, an overflow in the program that wrote the file)."""
    xy, rows = shapely.get_coordinates(gdf.geometry.values, return_index=True)
    bad = np.unique(rows[~np.isfinite(xy).all(axis=1)])
    if len(bad):
        raise LayerError(
            f"layer {spec.name!r}: {len(bad)} feature(s) of {spec.path} have a coordinate that "
            f"is not a finite number, e.g. {_feature(gdf, int(bad[0]))}",
            "fix or delete them in the file",
        )


def _feature(gdf: gpd.GeoDataFrame, i: int) -> str:
    """A feature as a user finds it: by its name, else by its row (from 1)."""
    if "name" in gdf.columns and isinstance(gdf["name"].iloc[i], str):
        return f"{gdf['name'].iloc[i]!r} (row {i + 1})"
    return f"row {i + 1}"


def check_amounts(scenario: Scenario, layers: dict[str, gpd.GeoDataFrame]) -> None:
    """Raise if a field the scenario reads as an amount (a weight, a width, a population, a
    capacity: :func:`~siting.config.schema.amounts`) has a value that is empty, not a number,
    negative or infinite in the features read; and if a mine's ``output`` or a settlement's
    ``population`` is negative or infinite, read or not.

    Raises
    ------
    ScenarioError
        If the field is missing (naming the key that reads it).
    LayerError
        Naming the layer, the field, the key, how many values are wrong and examples.
    """
    for use in amounts(scenario):
        gdf = layers[use.layer]
        if use.field not in gdf.columns:
            raise ScenarioError(
                f"{use.key} reads field {use.field!r}, which layer {use.layer!r} lacks",
                f"use one of: {', '.join(c for c in gdf.columns if c != 'geometry')}, "
                f"or map it with layers.{use.layer}.fields",
            )
        if use.where:
            gdf = query(gdf, use.where, f"{use.key.rsplit('.', 1)[0]}.where")
        _amount(gdf, use.field, scenario.layers[use.layer], f"read by {use.key}", empty=False)
    for name, spec in scenario.layers.items():
        field = {"mines": "output", "settlements": "population"}.get(spec.kind)
        if field is not None and field in layers[name].columns:
            _amount(layers[name], field, spec, f"kind = {spec.kind!r}", empty=True)


def _amount(gdf: gpd.GeoDataFrame, field: str, spec: LayerSpec, why: str, empty: bool) -> None:
    values = pd.to_numeric(gdf[field], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = (values < 0) | np.isinf(values)
    if not empty:
        bad |= np.isnan(values)
    if not bad.any():
        return
    rows = np.flatnonzero(bad)
    column = gdf[field]
    shown = ", ".join(f"{_plain(column.iloc[i])!r} at {_feature(gdf, int(i))}" for i in rows[:3])
    allowed = "finite and >= 0 (or empty)" if empty else "a finite number >= 0"
    raise LayerError(
        f"layer {spec.name!r}: field {field!r} ({why}) must be {allowed}; "
        f"{len(rows)} of {len(values)} features are not: {shown}",
        f"fix them in {spec.path}, or leave those features out with layers.{spec.name}.where, "
        f'e.g. "{field} >= 0"',
    )


def _plain(value: object) -> object:
    """A value as the file holds it: ``-5.0``, not ``np.float64(-5.0)``."""
    return value.item() if isinstance(value, np.generic) else value


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
    check_amounts(scenario, layers)
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
