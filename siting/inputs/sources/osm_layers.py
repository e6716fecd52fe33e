"""OpenStreetMap features → the scenario's layers, without downloading or reading a file.

The layers' columns (:data:`LAYERS`); tag values read as numbers (:func:`parse_population`,
:func:`parse_width`); osmnx features turned into the rail, station, settlement, protected-area,
water, river and land-use layers (:func:`feature_layers`); the road classes, default speeds and
the roads layer of an osmnx graph (:func:`road_filter`, :func:`with_speeds`, :func:`road_layer`).
:mod:`siting.inputs.sources.osm` downloads or reads the features and writes these layers.

Data © OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd

log = logging.getLogger("siting")

CRS = "EPSG:4326"

#: Road classes of the region-scale network (``roads="main"``).
MAIN_ROADS = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
)
#: Road classes of the full drivable network (``roads="drive"``).
DRIVE_ROADS = (*MAIN_ROADS, "unclassified", "residential", "living_street", "road")
ROAD_SETS = {"main": MAIN_ROADS, "drive": DRIVE_ROADS}

#: Speed (km/h) of a road without a usable ``maxspeed`` tag, by class: Russian limits outside
#: towns (110 on motorways, 90 elsewhere) lowered for lesser roads, 60 in towns, 20 in yards.
DEFAULT_SPEEDS = {
    "motorway": 110.0,
    "trunk": 90.0,
    "primary": 80.0,
    "secondary": 70.0,
    "tertiary": 60.0,
    "motorway_link": 60.0,
    "trunk_link": 50.0,
    "primary_link": 50.0,
    "secondary_link": 40.0,
    "tertiary_link": 40.0,
    "unclassified": 50.0,
    "residential": 40.0,
    "living_street": 20.0,
    "road": 40.0,
}
FALLBACK_KMH = 50.0

RAIL_TYPES = ("rail", "narrow_gauge")
STATION_TYPES = ("station", "halt")
PLACE_TYPES = ("city", "town", "village", "hamlet")
#: Keys that mark a railway as out of use although it is still tagged ``railway=rail``.
LIFECYCLE_KEYS = ("abandoned", "disused", "razed", "demolished", "construction", "proposed")
#: Channel width (m) of a waterway without a readable ``width`` tag.
DEFAULT_WIDTH_M = {"river": 20.0, "canal": 8.0}

#: The GeoPackage's layers: scenario kind and the columns written (besides ``geometry``).
LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "boundary": ("boundary", ("name",)),
    "roads": (
        "roads",
        (
            "osm_id",
            "name",
            "ref",
            "highway",
            "maxspeed",
            "oneway",
            "length",
            "speed_kph",
            "travel_time",
        ),
    ),
    "rail": (
        "rail",
        ("osm_id", "name", "kind", "railway", "service", "usage", "electrified", "operator"),
    ),
    "stations": ("stations", ("osm_id", "name", "kind", "operator")),
    "settlements": ("settlements", ("osm_id", "name", "place", "population")),
    "protected_areas": (
        "protected_areas",
        ("osm_id", "name", "kind", "protect_class", "protection_title"),
    ),
    "water": ("water", ("osm_id", "name", "kind")),
    "rivers": ("rivers", ("osm_id", "name", "kind", "width_m", "width_source")),
    "quarries": ("generic", ("osm_id", "name", "landuse", "resource", "operator")),
    "industrial": ("generic", ("osm_id", "name", "landuse", "resource", "operator")),
}


# --- Parsing tag values ----------------------------------------------------------------------

_NUMBER = re.compile(r"\d{1,3}(?:[ ,.'\u00a0\u202f\u2009]\d{3})+(?!\d)|\d+(?:[.,]\d+)?")


def parse_population(value: object) -> float:
    """A ``population`` tag as a number: ``"12 000"``, ``"12,000"``, ``"12.000"``, ``"~5000"``,
    ``"ок. 450"``, ``"1200;1300"`` (the first) → a float; empty or no digits → NaN.

    Separators followed by exactly three digits group thousands (a population is a whole
    number, so ``"12.000"`` is twelve thousand).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, (int, float)):
        return float(value)
    match = _NUMBER.search(str(value).split(";")[0])
    if match is None:
        return math.nan
    text = match.group()
    if re.fullmatch(r"\d{1,3}(?:[ ,.'\u00a0\u202f\u2009]\d{3})+", text):
        return float(re.sub(r"\D", "", text))
    return float(text.replace(",", "."))


def parse_width(value: object) -> float:
    """A ``width`` tag in metres: ``"15"``, ``"15 m"``, ``"3,5"`` → float; anything else NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    match = re.fullmatch(r"\s*(\d+(?:[.,]\d+)?)\s*(m)?\s*", str(value))
    return float(match.group(1).replace(",", ".")) if match else math.nan


# --- Features → layers -----------------------------------------------------------------------


def _col(gdf: gpd.GeoDataFrame, key: str) -> pd.Series:
    """A tag as a column of strings (None where untagged), even when no feature has it."""
    if key not in gdf.columns:
        return pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
    return gdf[key].astype(object).where(gdf[key].notna(), None)


def _osm_ids(gdf: gpd.GeoDataFrame) -> list[str]:
    """``way/123``-style ids from osmnx's (element, id) index."""
    return [f"{element}/{osmid}" for element, osmid in gdf.index]


def _in_use(gdf: gpd.GeoDataFrame) -> pd.Series:
    """Features not marked abandoned, disused, razed … by a lifecycle key (``disused=yes``)."""
    keep = pd.Series(True, index=gdf.index)
    for key in LIFECYCLE_KEYS:
        value = _col(gdf, key)
        keep &= value.isna() | (value == "no")
    return keep


def _of_family(gdf: gpd.GeoDataFrame, family: str) -> pd.Series:
    types = {
        "line": ("LineString", "MultiLineString"),
        "polygon": ("Polygon", "MultiPolygon"),
    }[family]
    return gdf.geom_type.isin(types)


def _frame(gdf: gpd.GeoDataFrame, layer: str, **columns: Any) -> gpd.GeoDataFrame:
    """The layer's columns, in :data:`LAYERS` order, for the rows of ``gdf``."""
    data = {"osm_id": _osm_ids(gdf), **columns}
    names = LAYERS[layer][1]
    out = gpd.GeoDataFrame(
        {c: list(data[c]) if c in data else list(_col(gdf, c)) for c in names},
        geometry=list(gdf.geometry),
        crs=CRS,
    )
    return out


def empty_layer(layer: str) -> gpd.GeoDataFrame:
    """A layer of :data:`LAYERS` with its columns and no row."""
    return gpd.GeoDataFrame({c: [] for c in LAYERS[layer][1]}, geometry=[], crs=CRS)


def rail_layer(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Railway lines in use, each with a ``kind``.

    ``kind`` is ``yard``, ``siding`` (also crossovers) or ``spur`` after the ``service`` tag;
    else ``industrial`` or ``branch`` after ``usage``; else ``main``. Lines tagged
    ``railway=abandoned/disused/razed/construction`` are not rail types and never match;
    ``railway=rail`` lines with a lifecycle key (``disused=yes``) are dropped too.
    """
    railway = _col(features, "railway")
    rows = features[railway.isin(RAIL_TYPES) & _in_use(features) & _of_family(features, "line")]
    service = _col(rows, "service")
    usage = _col(rows, "usage")
    kind = np.select(
        [
            service == "yard",
            service.isin(["siding", "crossover"]),
            service == "spur",
            usage == "industrial",
            usage == "branch",
        ],
        ["yard", "siding", "spur", "industrial", "branch"],
        "main",
    )
    electrified = _col(rows, "electrified")
    return _frame(
        rows,
        "rail",
        kind=kind,
        electrified=electrified.notna() & (electrified != "no"),
    )


def _points(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Points as they are; areas and lines by a point inside them."""
    return gdf.geometry.where(gdf.geom_type == "Point", gdf.geometry.representative_point())


def station_layer(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Railway stations and halts as points (``kind`` = station or halt); metro, light-rail and
    funicular stations and stations out of use are left out."""
    railway = _col(features, "railway")
    urban = _col(features, "station").isin(["subway", "light_rail", "monorail", "funicular"])
    rows = features[railway.isin(STATION_TYPES) & ~urban & _in_use(features)]
    rows = rows.set_geometry(_points(rows))
    return _frame(rows, "stations", kind=_col(rows, "railway"))


def settlement_layer(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cities, towns, villages and hamlets as points, with a numeric ``population``
    (:func:`parse_population`; NaN where untagged or unreadable).

    A place mapped both as a node and as an area around that node with the same name is kept
    once, as the node.
    """
    rows = features[_col(features, "place").isin(PLACE_TYPES)]
    is_node = rows.geom_type == "Point"
    nodes, areas = rows[is_node], rows[~is_node]
    duplicate = pd.Series(False, index=areas.index)
    for key, area in areas.iterrows():
        same_name = nodes[_col(nodes, "name") == area.get("name")]
        duplicate[key] = bool(area.get("name")) and bool(same_name.within(area.geometry).any())
    rows = pd.concat([nodes, areas[~duplicate]])
    rows = rows.set_geometry(_points(rows))
    population = [parse_population(v) for v in _col(rows, "population")]
    unread = [
        v
        for v, p in zip(_col(rows, "population"), population, strict=True)
        if v is not None and math.isnan(p)
    ]
    if unread:
        log.warning("osm: settlements: unreadable population tag(s) left empty: %s", unread)
    return _frame(rows, "settlements", population=np.array(population, dtype=float))


def protected_area_layer(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Protected areas (``boundary=protected_area``) and nature reserves
    (``leisure=nature_reserve``) as polygons; ``kind`` says which tag made them."""
    protected = _col(features, "boundary") == "protected_area"
    reserve = _col(features, "leisure") == "nature_reserve"
    rows = features[(protected | reserve) & _of_family(features, "polygon")]
    kind = np.where(protected[rows.index], "protected_area", "nature_reserve")
    return _frame(rows, "protected_areas", kind=kind)


def water_layer(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Water bodies (``natural=water``) as polygons; ``kind`` is the ``water`` tag (lake,
    reservoir, river …) or ``water``."""
    rows = features[(_col(features, "natural") == "water") & _of_family(features, "polygon")]
    return _frame(rows, "water", kind=_col(rows, "water").fillna("water"))


def river_layer(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rivers and canals as lines, with ``width_m`` from the ``width`` tag, else
    :data:`DEFAULT_WIDTH_M` (``width_source`` says which)."""
    kind = _col(features, "waterway")
    rows = features[kind.isin(list(DEFAULT_WIDTH_M)) & _of_family(features, "line")]
    kind = _col(rows, "waterway")
    tagged = np.array([parse_width(v) for v in _col(rows, "width")], dtype=float)
    default = kind.map(DEFAULT_WIDTH_M).to_numpy(float)
    return _frame(
        rows,
        "rivers",
        kind=kind,
        width_m=np.where(np.isnan(tagged), default, tagged),
        width_source=np.where(np.isnan(tagged), "default", "tag"),
    )


def landuse_layers(features: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Quarries (``landuse=quarry``; ``resource=coal`` marks open-pit coal) and industrial land
    as polygons."""
    landuse = _col(features, "landuse")
    polygons = _of_family(features, "polygon")
    return {
        "quarries": _frame(features[(landuse == "quarry") & polygons], "quarries"),
        "industrial": _frame(features[(landuse == "industrial") & polygons], "industrial"),
    }


def feature_layers(step: str, features: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Turn osmnx features into the layers of one download step (not ``roads``) of
    :data:`siting.inputs.sources.osm.STEPS`.

    ``features`` may hold other features too (a whole extract): each layer picks its own.
    """
    converters: dict[str, Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]] = {
        "rail": rail_layer,
        "stations": station_layer,
        "settlements": settlement_layer,
        "protected_areas": protected_area_layer,
        "water": water_layer,
        "rivers": river_layer,
    }
    if step == "landuse":
        return landuse_layers(features)
    return {step: converters[step](features)}


# --- Roads -----------------------------------------------------------------------------------


def road_filter(classes: Sequence[str]) -> str:
    """The Overpass way filter of drivable roads of the given ``highway`` classes."""
    return (
        f'["highway"~"^({"|".join(classes)})$"]["area"!~"yes"]["access"!~"^(private|no)$"]'
        '["motor_vehicle"!~"^no$"]["motorcar"!~"^no$"]'
    )


def drivable(data: dict[str, Any], classes: Sequence[str]) -> bool:
    """The edge test of :func:`road_filter`, for graphs read from a file (which hold every
    way of the file: buildings, railways, footpaths)."""
    return (
        data.get("highway") in classes
        and data.get("area") != "yes"
        and data.get("access") not in ("private", "no")
        and data.get("motor_vehicle") != "no"
        and data.get("motorcar") != "no"
    )


def with_speeds(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Add ``speed_kph`` (the ``maxspeed`` tag, else :data:`DEFAULT_SPEEDS` by class) and
    ``travel_time`` (seconds) to every edge."""
    G = ox.routing.add_edge_speeds(G, hwy_speeds=DEFAULT_SPEEDS, fallback=FALLBACK_KMH)
    return ox.routing.add_edge_travel_times(G)


def _first_class(value: object) -> str:
    """A merged edge's most important ``highway`` class (osmnx lists them after simplifying)."""
    if not isinstance(value, list):
        return str(value)
    rank = {c: i for i, c in enumerate(DRIVE_ROADS)}
    return min(value, key=lambda c: rank.get(c, len(rank)))


def _joined(value: object) -> str | None:
    if isinstance(value, list):
        return ";".join(dict.fromkeys(str(v) for v in value))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def road_layer(G: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """The road graph's edges as lines, each road once (both directions of a two-way road are
    one line), with the graph's ``length`` (m), ``speed_kph`` and ``travel_time`` (s)."""
    if G.number_of_edges() == 0:
        return empty_layer("roads")
    edges = ox.convert.graph_to_gdfs(ox.convert.to_undirected(G), nodes=False)
    osmid = edges["osmid"].map(
        lambda v: ";".join(f"way/{i}" for i in (v if isinstance(v, list) else [v]))
    )
    return gpd.GeoDataFrame(
        {
            "osm_id": list(osmid),
            "name": [_joined(v) for v in _col(edges, "name")],
            "ref": [_joined(v) for v in _col(edges, "ref")],
            "highway": [_first_class(v) for v in edges["highway"]],
            "maxspeed": [_joined(v) for v in _col(edges, "maxspeed")],
            "oneway": edges["oneway"].astype(bool).to_list(),
            "length": edges["length"].astype(float).to_list(),
            "speed_kph": edges["speed_kph"].astype(float).to_list(),
            "travel_time": edges["travel_time"].astype(float).to_list(),
        },
        geometry=list(edges.geometry),
        crs=CRS,
    )
