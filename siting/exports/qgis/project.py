"""QGIS-ready outputs: styles in the GeoPackage and a ``siting.qgz`` project.

Everything is derived from the output folder itself (``run.json``, ``siting.gpkg`` and the
GeoTIFFs), so the same code serves a fresh run and ``siting export qgis`` on an older folder. The
project references every file by a relative path: the folder can be moved or mailed.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import sqlite3
import uuid
import warnings
import zipfile
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
from pyproj import CRS

from siting.config.scenario import Scenario
from siting.exports.qgis.styles import Style, raster_style, vector_style
from siting.exports.runinfo import CriterionInfo, RunInfo, reading_gpkg, sha256
from siting.exports.theme import (
    CONSTRAINTS_GROUP,
    COVERING_GROUP,
    CRITERIA_GROUP,
    INPUTS_GROUP,
    PROPOSALS_GROUP,
    SUITABILITY_GROUP,
)
from siting.pipeline.cache import Step, memo
from siting.raster.grid import Grid, Raster

log = logging.getLogger("siting")

PROJECT = "siting.qgz"
# The legend's groups, top first (the web map's names, from the theme).
GROUPS = (
    PROPOSALS_GROUP,
    COVERING_GROUP,
    CONSTRAINTS_GROUP,
    INPUTS_GROUP,
    SUITABILITY_GROUP,
    CRITERIA_GROUP,
)
# GeoPackage tables by group, top of the legend first; inputs not listed go to "Inputs".
TABLE_GROUPS = {
    "proposed_sites": PROPOSALS_GROUP,
    "allocation_plants": PROPOSALS_GROUP,
    "allocation_lines": PROPOSALS_GROUP,
    "allocation_pareto": PROPOSALS_GROUP,
    "robustness": PROPOSALS_GROUP,
    "robustness_draws": PROPOSALS_GROUP,
    "cluster_weber_snapped": PROPOSALS_GROUP,
    "cluster_weber_points": PROPOSALS_GROUP,
    "clusters": PROPOSALS_GROUP,
    "candidate_patches": PROPOSALS_GROUP,
    "covering_sites": COVERING_GROUP,
    "covering_demand": COVERING_GROUP,
    "exclusions": CONSTRAINTS_GROUP,
    "input_protected_areas": CONSTRAINTS_GROUP,
    "input_water": CONSTRAINTS_GROUP,
    "input_rivers": CONSTRAINTS_GROUP,
}
TITLES = {
    "proposed_sites": "Proposed sites",
    "allocation_plants": "Plants (location-allocation)",
    "allocation_lines": "Haul routes: mine → plant",
    "allocation_pareto": "Allocation: Pareto front (table)",
    "robustness": "Robustness of the plan (share of draws)",
    "robustness_draws": "Robustness: the draws (table)",
    "cluster_weber_snapped": "Growth-pole Weber points, snapped to eligible land",
    "cluster_weber_points": "Growth-pole Weber points",
    "covering_sites": "Technoparks: existing and new",
    "covering_demand": "Demand reached in time, or not",
    "clusters": "Growth poles",
    "candidate_patches": "Candidate patches",
    "exclusions": "Exclusions",
    "study_area": "Study area",
}
RESULT_TABLES = ("study_area", "exclusions", "candidate_patches", "proposed_sites")
GEOMETRY_ORDER = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1}
NO_GEOMETRY = "No geometry"  # an attributes table (the Pareto sweep): listed last in its group


@dataclass
class _Layer:
    id: str
    name: str
    group: str
    source: str
    provider: str
    kind: str  # "vector" or "raster"
    style: Style
    extent: tuple[float, float, float, float]
    geometry: str | None = None
    checked: bool = True


def _context(folder: Path, in_memory: Mapping[str, Raster] | None = None) -> RunInfo:
    """The run info of ``folder`` (:class:`~siting.exports.runinfo.RunInfo`), with the units of
    the criterion rasters written there, or of those the run is writing there (``in_memory``):
    the same code then styles a fresh run and an older output folder."""
    info = RunInfo.read(folder)
    criteria = {}
    for tif in _criteria_tifs(folder, in_memory):
        if in_memory is None:
            with rasterio.open(tif) as src:
                units = src.units[0] or ""
        else:
            units = in_memory[tif.relative_to(folder).as_posix()].units or ""
        criteria[tif.stem] = CriterionInfo(tif.stem, units)
    return dataclasses.replace(info, criteria=criteria)


def _criteria_tifs(folder: Path, in_memory: Mapping[str, Raster] | None) -> list[Path]:
    """The criterion GeoTIFFs of ``folder``, or those the run is writing there."""
    if in_memory is None:
        return sorted((folder / "criteria").glob("*.tif"))
    return sorted(folder / rel for rel in in_memory if rel.startswith("criteria/"))


@dataclass(frozen=True)
class _Sha256:
    """A file's content, by its SHA-256: what a style read back from a GeoTIFF depends on."""

    hex: str


def _file_style(name: str, path: Path, content: _Sha256) -> Style:
    return raster_style(_raster(path))


def _raster_style(name: str, path: Path, written: Raster) -> Style:
    return raster_style(_raster(path, written))


# A style depends on the raster's name (``path.stem``) and values, not on the folder it is in
# (a run writes into a fresh staging folder): ``path`` is not part of these steps' keys.

#: The QML style of a GeoTIFF read back from an output folder (``siting export qgis``).
FILE_STYLE = Step("qgis_style", _file_style, unkeyed=frozenset({"path"}))

#: The QML style of a raster of the run, from its values in memory (as float32, as written).
RASTER_STYLE = Step("qgis_style", _raster_style, unkeyed=frozenset({"path"}))


def _raster(path: Path, written: Raster | None = None) -> Raster:
    """The GeoTIFF at ``path`` as a :class:`Raster`, or, given ``written``, the raster it is
    written from as :mod:`~siting.exports.rasters` writes it (float32 values, its description
    and units), without reading the file: a style then sees the same range either way."""
    if written is not None:
        data = written.data.astype(np.float32)
        return Raster(
            data, written.grid, path.stem, written.units or "", written.description or written.name
        )
    with rasterio.open(path) as src:
        data = src.read(1, masked=True).astype("float64").filled(float("nan"))
        grid = Grid(src.transform, src.width, src.height, str(src.crs))
        return Raster(data, grid, path.stem, src.units[0] or "", src.descriptions[0] or "")


def _write_styles(gpkg: Path, styles: dict[str, Style], geometry_column: dict[str, str]) -> None:
    """Store each table's style as its default in the GeoPackage's ``layer_styles`` table (the
    table QGIS itself writes), and each table's abstract as its ``gpkg_contents`` description."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with sqlite3.connect(gpkg) as db:
        db.execute("DROP TABLE IF EXISTS layer_styles")
        db.execute("DELETE FROM gpkg_contents WHERE table_name = 'layer_styles'")
        db.execute(
            "CREATE TABLE layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), "
            "f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT, "
            "useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), "
            "update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
        )
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change) "
            "VALUES ('layer_styles', 'attributes', 'layer_styles', ?)",
            (now,),
        )
        for table, style in styles.items():
            db.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'siting')",
                (table, geometry_column[table], table, style.qml, style.sld, style.abstract),
            )
            db.execute(
                "UPDATE gpkg_contents SET description = ?, identifier = ? WHERE table_name = ?",
                (style.abstract, TITLES.get(table, table), table),
            )


def _spatialrefsys(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return (
        '<spatialrefsys nativeFormat="Wkt">'
        f"<wkt>{html.escape(crs.to_wkt())}</wkt>"
        f"<srid>{epsg or ''}</srid><authid>{'EPSG:' + str(epsg) if epsg else ''}</authid>"
        f"<description>{html.escape(crs.name)}</description>"
        f"<geographicflag>{'true' if crs.is_geographic else 'false'}</geographicflag>"
        "</spatialrefsys>"
    )


def _extent(xmin: float, ymin: float, xmax: float, ymax: float, tag: str = "extent") -> str:
    return (
        f"<{tag}><xmin>{xmin!r}</xmin><ymin>{ymin!r}</ymin><xmax>{xmax!r}</xmax>"
        f"<ymax>{ymax!r}</ymax></{tag}>"
    )


def _style_children(qml: str) -> str:
    """The children of a QML document's root: what a project's ``maplayer`` carries inline."""
    root = ElementTree.fromstring(qml)
    return "".join(ElementTree.tostring(child, encoding="unicode") for child in root)


def _maplayer(layer: _Layer, srs: str, scenario: Scenario) -> str:
    abstract = html.escape(layer.style.abstract)
    metadata = (
        "<resourceMetadata><identifier>" + html.escape(layer.id) + "</identifier>"
        "<parentidentifier></parentidentifier><language></language><type>dataset</type>"
        f"<title>{html.escape(layer.name)}</title><abstract>{abstract}</abstract>"
        f'<keywords vocabulary="siting"><keyword>{html.escape(scenario.name)}</keyword>'
        "</keywords><contact><name></name><organization>siting</organization></contact>"
        f"<crs>{srs}</crs></resourceMetadata>"
    )
    geometry = f' geometry="{layer.geometry}"' if layer.geometry else ""
    return (
        f'<maplayer type="{layer.kind}"{geometry} autoRefreshEnabled="0" '
        'refreshOnNotifyEnabled="0" hasScaleBasedVisibilityFlag="0">'
        + _extent(*layer.extent)
        + f"<id>{html.escape(layer.id)}</id><datasource>{html.escape(layer.source)}</datasource>"
        f"<layername>{html.escape(layer.name)}</layername><srs>{srs}</srs>{metadata}"
        f'<provider encoding="UTF-8">{layer.provider}</provider>'
        + _style_children(layer.style.qml)
        + "</maplayer>"
    )


def _project_xml(
    layers: list[_Layer], scenario: Scenario, extent: tuple[float, float, float, float]
) -> str:
    crs = CRS.from_user_input(scenario.crs)
    srs = _spatialrefsys(crs)
    tree = []
    for group in GROUPS:
        members = [lyr for lyr in layers if lyr.group == group]
        if not members:
            continue
        entries = "".join(
            f'<layer-tree-layer id="{html.escape(lyr.id)}" name="{html.escape(lyr.name)}" '
            f'source="{html.escape(lyr.source)}" providerKey="{lyr.provider}" '
            f'checked="{"Qt::Checked" if lyr.checked else "Qt::Unchecked"}" expanded="0" '
            'legend_exp=""><customproperties/></layer-tree-layer>'
            for lyr in members
        )
        checked = "Qt::Checked" if any(lyr.checked for lyr in members) else "Qt::Unchecked"
        tree.append(
            f'<layer-tree-group name="{group}" checked="{checked}" '
            f'expanded="{"1" if group != CRITERIA_GROUP else "0"}">'
            f"<customproperties/>{entries}</layer-tree-group>"
        )
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    title = html.escape(scenario.title)
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis projectname="{title}" version="3.22.16-Białowieża" saveUser="siting">'
        f'<homePath path=""/><title>{title}</title>'
        f"<projectCrs>{srs}</projectCrs>"
        "<layer-tree-group><customproperties/>" + "".join(tree) + "</layer-tree-group>"
        '<mapcanvas annotationsVisible="1" name="theMapCanvas"><units>meters</units>'
        + _extent(*extent)
        + f"<rotation>0</rotation><destinationsrs>{srs}</destinationsrs>"
        "<rendermaptile>0</rendermaptile></mapcanvas>"
        "<projectlayers>"
        + "".join(_maplayer(lyr, srs, scenario) for lyr in layers)
        + "</projectlayers>"
        "<layerorder>"
        + "".join(f'<layer id="{html.escape(lyr.id)}"/>' for lyr in layers)
        + "</layerorder>"
        '<properties><Paths><Absolute type="bool">false</Absolute></Paths>'
        '<SpatialRefSys><ProjectionsEnabled type="int">1</ProjectionsEnabled></SpatialRefSys>'
        "</properties>"
        f"<projectMetadata><identifier>{html.escape(scenario.name)}</identifier>"
        f"<parentidentifier></parentidentifier><language></language><type></type>"
        f"<title>{title}</title><abstract>{html.escape(scenario.description)}</abstract>"
        "<author>siting</author>"
        f"<creation>{now}</creation></projectMetadata>"
        "</qgis>\n"
    )


def _bounds(values: Any) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = (float(v) for v in values)
    return xmin, ymin, xmax, ymax


def write(folder: Path, in_memory: Mapping[str, Raster] | None = None) -> Path:
    """Style the GeoPackage's tables, write a ``.qml`` beside each GeoTIFF and write the QGIS
    project ``siting.qgz`` for the output ``folder``.

    Within :func:`siting.pipeline.cache.using` a run's cache, the style of a raster styled
    before is reused (a style reads every value of the raster for its range). ``in_memory``
    gives, by path relative to ``folder``, the rasters a run writes there: the project is then
    made from them, not from the files, which may still be being written.

    Layers missing from an older folder are left out with a warning naming them.

    Raises
    ------
    SitingError
        If ``folder`` is not a siting output folder (no ``run.json``).
    """
    folder = Path(folder)
    context = _context(folder, in_memory)
    scenario = context.scenario
    layers: list[_Layer] = []
    gpkg = folder / "siting.gpkg"
    missing = []
    extent = context.grid.bounds
    if gpkg.is_file():
        with reading_gpkg(gpkg):
            tables = {
                name: geom for name, geom in pyogrio.list_layers(gpkg) if name != "layer_styles"
            }
            missing += [t for t in RESULT_TABLES if t not in tables]
            styles, vectors = {}, []
            with closing(sqlite3.connect(gpkg)) as db:  # one query, not a GDAL open per table
                columns = dict(
                    db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns")
                )
            geometry_column = {table: columns.get(table, "") for table in tables}
            for table, geometry in tables.items():
                with warnings.catch_warnings():  # GDAL's notes on odd date strings in inputs
                    warnings.simplefilter("ignore", RuntimeWarning)
                    gdf = gpd.read_file(gpkg, layer=table)
                styles[table] = vector_style(table, gdf, context)
                spatial = geometry is not None
                bounds = _bounds(gdf.total_bounds) if spatial and len(gdf) else extent
                if table == "study_area" and len(gdf):
                    extent = bounds
                group = TABLE_GROUPS.get(table, INPUTS_GROUP)
                name = (
                    TITLES.get(table) or table.removeprefix("input_").replace("_", " ").capitalize()
                )
                vectors.append(
                    _Layer(
                        id=f"{table}_{uuid.uuid5(uuid.NAMESPACE_URL, table).hex[:12]}",
                        name=name,
                        group=group,
                        source=f"./siting.gpkg|layername={table}",
                        provider="ogr",
                        kind="vector",
                        style=styles[table],
                        extent=bounds,
                        geometry=geometry if spatial else NO_GEOMETRY,
                        checked=table != "candidate_patches",
                    )
                )
            _write_styles(gpkg, styles, geometry_column)
            # Points over lines over polygons within each group, as a cartographer would stack them.
            vectors.sort(
                key=lambda lyr: (
                    GROUPS.index(lyr.group),
                    3 if lyr.geometry == NO_GEOMETRY else GEOMETRY_ORDER.get(lyr.geometry or "", 2),
                )
            )
            layers += vectors
    else:
        missing.append("siting.gpkg")
    suitability = [folder / f"suitability_{p}.tif" for p in scenario.profiles]
    if in_memory is None:
        present = [p for p in suitability if p.is_file()]
    else:
        present = [p for p in suitability if p.relative_to(folder).as_posix() in in_memory]
    missing += [p.name for p in suitability if p not in present]
    for i, path in enumerate(present + _criteria_tifs(folder, in_memory)):
        rel = path.relative_to(folder).as_posix()
        written = (in_memory or {}).get(rel)
        if written is None:
            with rasterio.open(path) as src:  # the layer entry needs only the header
                bounds, units = _bounds(src.bounds), src.units[0] or ""
            label = f"QGIS style {path.stem}"
            content = _Sha256(sha256(path))
            style = memo(FILE_STYLE, label, name=path.stem, path=path, content=content)
        else:  # the run's own raster: named by its inputs' key, its values need no reading
            bounds, units = _bounds(written.grid.bounds), written.units or ""
            label = f"QGIS style {path.stem}"
            style = memo(RASTER_STYLE, label, name=path.stem, path=path, written=written)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".qml").write_text(style.qml, encoding="utf-8")
        is_suitability = path.parent == folder
        name = (
            f"Suitability: {scenario.profiles[path.stem.removeprefix('suitability_')].title}"
            if is_suitability
            else f"Criterion: {path.stem}" + (f" ({units})" if units else "")
        )
        layers.append(
            _Layer(
                id=f"{path.stem}_{uuid.uuid5(uuid.NAMESPACE_URL, rel).hex[:12]}",
                name=name,
                group=SUITABILITY_GROUP if is_suitability else CRITERIA_GROUP,
                source=f"./{rel}",
                provider="gdal",
                kind="raster",
                style=style,
                extent=bounds,
                checked=is_suitability and i == 0,
            )
        )
    if missing:
        log.warning(
            "QGIS project for %s: left out what the folder lacks: %s", folder, ", ".join(missing)
        )
    xml = _project_xml(layers, scenario, extent)
    project = folder / PROJECT
    with zipfile.ZipFile(project, "w", zipfile.ZIP_DEFLATED) as qgz:
        qgz.writestr("siting.qgs", xml)
    return project
