"""What-if edits: features added to, removed from or updated in a layer as it is read.

A scenario that ``extends`` another states its question as edits of the base's layers (a new
rail spur, a mine that closes, a new reserve) instead of copies of its files. Added features
keep a ``ADDED`` column naming the edit until the layers are clipped, so that one lying outside
the study area is an error naming that edit.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from pyogrio.errors import DataSourceError

from siting.config.scenario import Edit
from siting.errors import LayerError, LayerNotFoundError, ScenarioError
from siting.inputs.expression import select

ADDED = "_added_by"


def apply(gdf: gpd.GeoDataFrame, edits: list[Edit]) -> gpd.GeoDataFrame:
    """``gdf`` with ``edits`` applied in order.

    Raises
    ------
    ScenarioError
        If a selection matches no feature, names unknown ids or an unknown field, or an
        addition has neither a path nor a GeoJSON geometry.
    LayerNotFoundError
        If an added file does not exist.
    LayerError
        If an added file cannot be read or has no CRS.
    """
    for edit in edits:
        if edit.action == "add":
            new = _features(edit).to_crs(gdf.crs)
            new[ADDED] = edit.key
            gdf = gpd.GeoDataFrame(pd.concat([gdf, new], ignore_index=True), crs=gdf.crs)
            continue
        chosen = _selected(gdf, edit)
        if edit.action == "remove":
            gdf = gdf[~chosen].reset_index(drop=True)
        else:
            gdf = gdf.copy()
            for name, value in edit.values.items():
                try:
                    gdf.loc[chosen, name] = value
                except (TypeError, ValueError):  # pandas refuses "a lot" in a column of numbers
                    raise ScenarioError(
                        f"{edit.key}.values.{name} = {value!r}: field {name!r} of layer "
                        f"{edit.layer!r} holds "
                        + ("numbers" if pd.api.types.is_numeric_dtype(gdf[name]) else "text"),
                        f"give a value of that kind, e.g. {gdf[name].dropna().tolist()[0]!r}"
                        if gdf[name].notna().any()
                        else "give a value of that kind",
                    ) from None
    return gdf


def check_inside(gdf: gpd.GeoDataFrame, window: shapely.Geometry) -> gpd.GeoDataFrame:
    """Raise if an added feature lies outside ``window`` (the padded study area); drop the
    marker column."""
    if ADDED not in gdf.columns:
        return gdf
    added = gdf[ADDED].notna()
    outside = added & ~gdf.intersects(window)
    if outside.any():
        key = gdf.loc[outside, ADDED].iloc[0]
        x, y = shapely.get_coordinates(gdf.geometry[outside].iloc[0])[0]
        raise ScenarioError(
            f"{key}: the added feature at ({x:.0f}, {y:.0f}) in the scenario CRS lies outside the "
            "study area",
            "check its coordinates and their crs (inline coordinates are lon, lat by default)",
        )
    return gdf.drop(columns=ADDED)


def _features(edit: Edit) -> gpd.GeoDataFrame:
    if edit.path is not None:
        if not edit.path.is_file():
            raise LayerNotFoundError(
                f"{edit.key}.path: file not found: {edit.path}", "fix the path"
            )
        try:
            gdf = gpd.read_file(edit.path)
        except (DataSourceError, OSError, ValueError) as exc:
            raise LayerError(
                f"{edit.key}.path: cannot read {edit.path}: {exc}", "give a file GDAL can open"
            ) from None
        if gdf.crs is None:
            raise LayerError(f"{edit.key}.path: {edit.path} has no CRS", "assign one")
        return gdf
    if edit.geometry is None:
        raise ScenarioError(
            f"{edit.key} adds nothing: it has neither path nor geometry",
            "give path = <file> or an inline geometry = { type = ..., coordinates = ... }",
        )
    try:
        geom = shapely.geometry.shape(edit.geometry)
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise ScenarioError(
            f"{edit.key}.geometry is not a GeoJSON geometry ({exc})",
            'write e.g. geometry = { type = "LineString", coordinates = [[86.1, 54.0], '
            "[86.3, 54.1]] }",
        ) from None
    if geom.is_empty or not geom.is_valid:
        raise ScenarioError(f"{edit.key}.geometry is empty or invalid", "fix its coordinates")
    return gpd.GeoDataFrame([dict(edit.properties)], geometry=[geom], crs=edit.crs)


def _selected(gdf: gpd.GeoDataFrame, edit: Edit) -> pd.Series:
    fields = ", ".join(c for c in gdf.columns if c != "geometry")
    if edit.where is not None:
        chosen = select(gdf, edit.where, f"{edit.key}.where")
        if not chosen.any():
            raise ScenarioError(
                f"{edit.key}.where = {edit.where!r} selects no feature of layer {edit.layer!r}",
                "check the expression against the layer's values",
            )
        return chosen
    if edit.id_field not in gdf.columns:
        raise ScenarioError(
            f"{edit.key}.id_field = {edit.id_field!r}: layer {edit.layer!r} has no such field",
            f"use one of: {fields}",
        )
    unknown = [i for i in edit.ids if i not in set(gdf[edit.id_field])]
    if unknown:
        raise ScenarioError(
            f"{edit.key}.ids: no feature of layer {edit.layer!r} has {edit.id_field} "
            f"{', '.join(map(repr, unknown))}",
            f"use values of its {edit.id_field!r} field, e.g. {gdf[edit.id_field].iloc[0]!r}",
        )
    return gdf[edit.id_field].isin(edit.ids)
