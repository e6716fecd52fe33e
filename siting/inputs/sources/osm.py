"""OpenStreetMap through osmnx: the layers a scenario reads, downloaded or from an extract.

:func:`fetch` downloads a region from the Overpass API; :func:`from_osm_file` reads a local
``.osm`` / ``.osm.bz2`` extract. Both write one GeoPackage in EPSG:4326 whose layers are named
after the scenario's layer kinds (see :data:`LAYERS`), the road graph as GraphML beside it, and a
scenario snippet (:func:`scenario_snippet`) that points at them.

A download is made of one Overpass query per step (:data:`STEPS`); each finished step is kept in
a cache folder per region, so a fetch interrupted by an Overpass failure resumes with the steps
that remain. Overpass refusals (429, 504, a query timeout) become a :class:`SitingError` with
retry advice instead of osmnx's own silent 55-second retries.

Data © OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import time
import xml.sax
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import requests
import shapely
from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

from siting.errors import LayerError, SitingError

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

#: One Overpass query per step (the unit of caching) and its tags; ``roads`` is the graph query
#: of :func:`road_filter`. A step makes the layer of its name (``landuse``: quarries, industrial).
STEPS: dict[str, dict[str, bool | str | list[str]]] = {
    "roads": {},
    "rail": {"railway": list(RAIL_TYPES)},
    "stations": {"railway": list(STATION_TYPES)},
    "settlements": {"place": list(PLACE_TYPES)},
    "protected_areas": {"boundary": "protected_area", "leisure": "nature_reserve"},
    "water": {"natural": "water"},
    "rivers": {"waterway": ["river", "canal"]},
    "landuse": {"landuse": ["quarry", "industrial"]},
}

RETRY_FIX = (
    "wait a few minutes and run the same command again (layers already downloaded are cached "
    "and not requested again); or ask for a smaller --bbox, another --overpass-url, or work "
    "from an extract with --osm-file (e.g. from download.geofabrik.de)"
)


@dataclass(frozen=True)
class Region:
    """Where to fetch: a (multi)polygon in lon/lat and a label for messages and file names."""

    polygon: shapely.Polygon | shapely.MultiPolygon
    label: str


@dataclass(frozen=True)
class Fetched:
    """What a fetch wrote: the GeoPackage, the road graph, the snippet, features per layer."""

    gpkg: Path
    graphml: Path | None
    snippet: Path
    counts: dict[str, int]


class _Refused(Exception):
    """An HTTP answer that osmnx would retry forever or ignore: raised from a response hook."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


# --- Regions ---------------------------------------------------------------------------------


def region_from_bbox(west: float, south: float, east: float, north: float) -> Region:
    """A region from a lon/lat bounding box.

    Raises
    ------
    SitingError
        If the box is outside lon/lat ranges or its corners are swapped.
    """
    ok = -180 <= west < east <= 180 and -90 <= south < north <= 90
    if not ok:
        raise SitingError(
            f"--bbox {west:g} {south:g} {east:g} {north:g} is not a box in degrees",
            "give WEST SOUTH EAST NORTH in lon/lat, e.g. --bbox 85.9 55.2 86.3 55.5",
        )
    label = f"bbox {west:g},{south:g},{east:g},{north:g}"
    return Region(shapely.box(west, south, east, north), label)


def region_from_place(place: str, *, nominatim_url: str | None = None) -> Region:
    """A region from a place name, geocoded to its boundary by Nominatim.

    Parameters
    ----------
    place
        E.g. ``"Kemerovo Oblast, Russia"``.
    nominatim_url
        Another Nominatim server than osmnx's default.

    Raises
    ------
    SitingError
        If the name does not geocode to a polygon, or Nominatim cannot be reached.
    """
    with _osmnx_settings(None, nominatim_url=nominatim_url), _http_errors("Nominatim"):
        try:
            gdf = ox.geocode_to_gdf(place)
        except InsufficientResponseError:
            raise SitingError(
                f"--place {place!r} was not found by the Nominatim geocoder",
                'check the spelling, add the country ("Kemerovo Oblast, Russia"), or give --bbox',
            ) from None
        except TypeError:  # osmnx: the name geocodes, but to a point, not an area
            raise SitingError(
                f"--place {place!r} geocodes to a point, not an area with a boundary",
                "name an administrative area (a district, an oblast), or give --bbox",
            ) from None
    return Region(shapely.union_all(gdf.geometry.values), place)


def region_from_scenario(path: str | Path, *, pad_km: float | None = None) -> Region:
    """A region from a scenario's study area, padded.

    Parameters
    ----------
    path
        The scenario TOML.
    pad_km
        Padding; by default the scenario's largest buffer or search distance, at least 10 km,
        so that towns, roads and reserves just outside the boundary are fetched too.

    Raises
    ------
    SitingError
        If the scenario or its study-area layer cannot be read.
    """
    from siting.config import scenario
    from siting.inputs import layers

    s = scenario.load(path)
    area = layers.study_area(s, layers.read_layer(s.layers[s.study_area], s.crs))
    pad = max(s.pad, 10_000.0) if pad_km is None else pad_km * 1000.0
    # Overpass receives every vertex of the polygon: a padded boundary simplified within a
    # quarter of the padding still covers the study area and makes a short query.
    padded = area.buffer(pad).simplify(pad / 4) if pad > 0 else area
    polygon = gpd.GeoSeries([padded], crs=s.crs).to_crs(CRS).iloc[0]
    return Region(polygon, f"{s.name} + {pad / 1000:g} km")


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


def _empty(layer: str) -> gpd.GeoDataFrame:
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
    """Turn osmnx features into the layers of one step of :data:`STEPS` (not ``roads``).

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


def _drivable(data: dict[str, Any], classes: Sequence[str]) -> bool:
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
        return _empty("roads")
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


def _download_roads(region: Region, classes: Sequence[str]) -> nx.MultiDiGraph:
    try:
        # retain_all: a region's road net falls apart at its edge; keep every piece.
        G = ox.graph_from_polygon(
            region.polygon,
            network_type="drive",
            custom_filter=road_filter(classes),
            retain_all=True,
            truncate_by_edge=True,
        )
    except InsufficientResponseError:
        return nx.MultiDiGraph(crs=CRS)
    except ValueError as exc:  # osmnx: ways came back, but none inside the polygon
        if "no graph nodes" not in str(exc):
            raise
        return nx.MultiDiGraph(crs=CRS)
    return with_speeds(G)


def _roads_from_file(path: Path, classes: Sequence[str], region: Region | None) -> nx.MultiDiGraph:
    try:
        G = ox.graph_from_xml(path, simplify=False, retain_all=True)
    except InsufficientResponseError:  # osmnx: no node and no way in the file
        return nx.MultiDiGraph(crs=CRS)
    keep = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if _drivable(d, classes)]
    G = G.edge_subgraph(keep).copy()
    if region is not None and len(G):
        try:
            G = ox.truncate.truncate_graph_polygon(G, region.polygon, truncate_by_edge=True)
        except ValueError:  # no road node inside the region
            return nx.MultiDiGraph(crs=CRS)
    if G.number_of_edges() == 0:
        return nx.MultiDiGraph(crs=CRS)
    return with_speeds(ox.simplify_graph(G))


# --- osmnx settings and errors ---------------------------------------------------------------


def _refuse(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """requests response hook: stop at a refusal instead of letting osmnx sleep and retry."""
    if response.status_code == 429 or response.status_code >= 500:
        raise _Refused(response.url, f"HTTP {response.status_code} {response.reason}")
    if response.ok and response.url.endswith("/interpreter"):
        try:
            remark = response.json().get("remark", "")
        except ValueError:
            raise _Refused(response.url, "an answer that is not JSON") from None
        # Overpass reports a query that ran out of time or memory as 200 with a remark and
        # whatever it had found so far: not a result to keep.
        if "runtime error" in remark:
            raise _Refused(response.url, remark)


@contextmanager
def _osmnx_settings(
    cache: Path | None,
    *,
    overpass_url: str | None = None,
    nominatim_url: str | None = None,
    timeout: float | None = None,
) -> Iterator[None]:
    """Set osmnx's global settings for one fetch and restore the caller's afterwards."""
    s = ox.settings
    names = (
        "use_cache",
        "cache_folder",
        "overpass_url",
        "nominatim_url",
        "requests_timeout",
        "requests_kwargs",
        "useful_tags_way",
        "log_console",
    )
    saved = {n: getattr(s, n) for n in names}
    try:
        s.use_cache = cache is not None
        if cache is not None:
            s.cache_folder = str(cache)
        s.overpass_url = overpass_url or s.overpass_url
        s.nominatim_url = nominatim_url or s.nominatim_url
        s.requests_timeout = timeout or s.requests_timeout
        s.requests_kwargs = {**s.requests_kwargs, "hooks": {"response": [_refuse]}}
        # _drivable reads these from the graph of an extract
        s.useful_tags_way = list(dict.fromkeys([*s.useful_tags_way, "motor_vehicle", "motorcar"]))
        s.log_console = False
        yield
    finally:
        for n, v in saved.items():
            setattr(s, n, v)


@contextmanager
def _http_errors(service: str) -> Iterator[None]:
    """Turn a refused, failed or timed-out request into a SitingError with retry advice."""
    try:
        yield
    except _Refused as exc:
        raise SitingError(
            f"{service} refused the request ({exc.reason}) at {exc.url}", RETRY_FIX
        ) from None
    except requests.Timeout:
        raise SitingError(
            f"{service} did not answer within {ox.settings.requests_timeout:g} s", RETRY_FIX
        ) from None
    except (requests.ConnectionError, ResponseStatusCodeError) as exc:
        raise SitingError(
            f"{service} cannot be reached: {exc}",
            "check the network connection and --overpass-url, or use --osm-file",
        ) from None


# --- Caching and writing ---------------------------------------------------------------------


def slug(text: str) -> str:
    """A file-name form of a region label."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "region"


def region_cache(region: Region, roads: str, cache_dir: Path) -> Path:
    """The cache folder of one region and road set (same polygon, same folder)."""
    key = hashlib.sha1(shapely.to_wkb(region.polygon) + roads.encode()).hexdigest()[:10]
    return cache_dir / f"{slug(region.label)}-{key}"


def _save_step(folder: Path, step: str, layers: dict[str, gpd.GeoDataFrame]) -> None:
    """Keep a finished step: its non-empty layers, then a JSON of counts that marks it done."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{step}.tmp.gpkg"
    for name, gdf in layers.items():
        if len(gdf):
            gdf.to_file(tmp, layer=name, driver="GPKG")
    if tmp.exists():
        os.replace(tmp, folder / f"{step}.gpkg")
    counts = {name: len(gdf) for name, gdf in layers.items()}
    (folder / f".{step}.json.tmp").write_text(json.dumps(counts), encoding="utf-8")
    os.replace(folder / f".{step}.json.tmp", folder / f"{step}.json")


def _load_step(folder: Path, step: str) -> dict[str, gpd.GeoDataFrame] | None:
    done = folder / f"{step}.json"
    if not done.is_file():
        return None
    counts = json.loads(done.read_text(encoding="utf-8"))
    return {
        name: gpd.read_file(folder / f"{step}.gpkg", layer=name) if n else _empty(name)
        for name, n in counts.items()
    }


def _log_step(step: str, layers: dict[str, gpd.GeoDataFrame], seconds: float | None) -> None:
    counts = ", ".join(f"{len(gdf)} {name}" for name, gdf in layers.items())
    when = "cached" if seconds is None else f"{seconds:.1f} s"
    log.info("osm: %-15s %s (%s)", step, counts, when)


def _utm(polygon: shapely.Geometry) -> str:
    """The UTM zone (WGS 84) of a lon/lat geometry's centre: a working CRS in metres."""
    centre = polygon.centroid
    zone = int((centre.x + 180) // 6) % 60 + 1
    return f"EPSG:{32600 + zone if centre.y >= 0 else 32700 + zone}"


def scenario_snippet(
    gpkg: Path, counts: dict[str, int], *, crs: str, label: str, road_classes: Sequence[str]
) -> str:
    """TOML for a scenario: ``study_area``, ``crs``, a ``[layers.*]`` table per non-empty layer
    of ``gpkg`` (path relative to the snippet, which sits beside it) and a ``[network]`` over
    the roads, at :data:`DEFAULT_SPEEDS`.

    Use it with ``extends = "<snippet>.toml"`` in a scenario that adds the profiles.
    """
    lines = [
        f"# OpenStreetMap layers of {label}, written by `siting fetch osm`.",
        "# Data © OpenStreetMap contributors, ODbL 1.0. Paths are relative to this file: use it",
        '# from a scenario with extends = "<this file>", or copy the tables and fix the paths.',
        'study_area = "boundary"',
        f'crs = "{crs}"  # UTM zone of the region',
    ]
    for name, n in counts.items():
        if not n:
            continue
        lines += [
            "",
            f"[layers.{name}]",
            f'path = "{gpkg.name}"',
            f'layer = "{name}"',
            f'kind = "{LAYERS[name][0]}"',
        ]
        if name == "settlements":
            lines += [
                "# population-weighted criteria need a number: places without a population tag",
                "# are left out (drop this line to keep them for exclusions)",
                'where = "population > 0"',
            ]
    if counts.get("roads"):
        speeds = ", ".join(f"{c} = {DEFAULT_SPEEDS[c]:g}" for c in road_classes)
        lines += [
            "",
            "# travel time over the roads by class, in km/h (edit to local truck speeds)",
            "[network]",
            'layer = "roads"',
            'class_field = "highway"',
            f"speeds = {{ {speeds} }}",
            f"default_kmh = {FALLBACK_KMH:g}",
        ]
    return "\n".join(lines) + "\n"


def _missing_dirs(folder: Path) -> list[Path]:
    return [p for p in (folder, *folder.parents) if not p.exists()]


def write(
    layers: dict[str, gpd.GeoDataFrame],
    graph: nx.MultiDiGraph,
    out_path: str | Path,
    *,
    region: Region | None,
    label: str,
    road_classes: Sequence[str],
) -> Fetched:
    """Write the layers (and a ``boundary``: the region, else the layers' extent, named
    ``label``) to one GeoPackage, the graph to GraphML and the snippet to TOML beside it,
    atomically: temporary files are renamed into place only once all are written.

    Raises
    ------
    SitingError
        If every layer is empty (nothing written).
    """
    out = Path(out_path)
    counts = {name: len(gdf) for name, gdf in layers.items()}
    if not any(counts.values()):
        raise SitingError(
            f"OpenStreetMap has none of the features sought in {label} "
            f"({', '.join(n for n in LAYERS if n != 'boundary')})",
            "check the region (--bbox is WEST SOUTH EAST NORTH in degrees) or the extract",
        )
    extent = shapely.union_all([shapely.box(*g.total_bounds) for g in layers.values() if len(g)])
    boundary = gpd.GeoDataFrame(
        {"name": [label]},
        geometry=[region.polygon if region is not None else extent],
        crs=CRS,
    )
    counts = {"boundary": 1, **counts}
    targets = {
        "gpkg": out,
        "graphml": out.with_suffix(".graphml"),
        "toml": out.with_suffix(".toml"),
    }
    created = _missing_dirs(out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = {k: p.with_name(f".{p.stem}.{os.getpid()}.tmp{p.suffix}") for k, p in targets.items()}
    try:
        for name, gdf in {"boundary": boundary, **layers}.items():
            if len(gdf):
                gdf.to_file(tmp["gpkg"], layer=name, driver="GPKG")
        if counts.get("roads"):
            ox.io.save_graphml(graph, tmp["graphml"])
        snippet = scenario_snippet(
            out,
            counts,
            crs=_utm(boundary.geometry.iloc[0]),
            label=label,
            road_classes=[c for c in road_classes if c in set(layers["roads"]["highway"])],
        )
        tmp["toml"].write_text(snippet, encoding="utf-8")
        for key, path in tmp.items():
            if path.exists():
                os.replace(path, targets[key])
    except BaseException:
        for path in tmp.values():
            path.unlink(missing_ok=True)
        for folder in created:
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    graphml = targets["graphml"] if counts.get("roads") else None
    if graphml is None:
        targets["graphml"].unlink(missing_ok=True)  # a stale graph of an earlier fetch
    return Fetched(out, graphml, targets["toml"], counts)


# --- Entry points ----------------------------------------------------------------------------


def _road_set(roads: str) -> tuple[str, ...]:
    if roads not in ROAD_SETS:
        raise SitingError(f"roads = {roads!r} is not one of {', '.join(ROAD_SETS)}")
    return ROAD_SETS[roads]


def fetch(
    region: Region,
    out_path: str | Path,
    *,
    roads: str = "main",
    cache_dir: str | Path = Path("outputs") / ".osm-cache",
    overpass_url: str | None = None,
    timeout: float | None = None,
) -> Fetched:
    """Download a region's layers from the Overpass API and write them (see :func:`write`).

    Each step of :data:`STEPS` is one query; a finished step is cached under
    ``cache_dir/<region>/`` and not requested again, so after a failure the same call resumes.
    osmnx's own HTTP cache (``cache_dir/http``) is on too.

    Parameters
    ----------
    region
        From :func:`region_from_place`, :func:`region_from_bbox` or
        :func:`region_from_scenario`.
    out_path
        The GeoPackage to write; the GraphML and the snippet get the same name.
    roads
        ``"main"`` (motorway … tertiary and links: region scale) or ``"drive"`` (also
        unclassified, residential and living streets).
    cache_dir
        Folder of the caches.
    overpass_url
        Another Overpass API (default: osmnx's, overpass-api.de).
    timeout
        Seconds to wait for each answer (default: osmnx's, 180).

    Returns
    -------
    Fetched

    Raises
    ------
    SitingError
        If Overpass refuses (429, 504, a query timeout) or cannot be reached, or the region has
        none of the features sought. Nothing is written to ``out_path`` then.
    """
    classes = _road_set(roads)
    folder = region_cache(region, roads, Path(cache_dir))
    layers: dict[str, gpd.GeoDataFrame] = {}
    graph = nx.MultiDiGraph(crs=CRS)
    with (
        _osmnx_settings(Path(cache_dir) / "http", overpass_url=overpass_url, timeout=timeout),
        _http_errors("Overpass"),
    ):
        for step, tags in STEPS.items():
            cached = _load_step(folder, step)
            if step == "roads" and cached is not None and len(cached["roads"]):
                graph = ox.io.load_graphml(folder / "roads.graphml")
            if cached is None:
                start = time.perf_counter()
                if step == "roads":
                    graph = _download_roads(region, classes)
                    if graph.number_of_edges():
                        folder.mkdir(parents=True, exist_ok=True)
                        ox.io.save_graphml(graph, folder / ".roads.graphml.tmp")
                        os.replace(folder / ".roads.graphml.tmp", folder / "roads.graphml")
                    cached = {"roads": road_layer(graph)}
                else:
                    try:
                        features = ox.features_from_polygon(region.polygon, tags)
                    except InsufficientResponseError:  # osmnx: no matching feature
                        features = gpd.GeoDataFrame(geometry=[], crs=CRS)
                    cached = feature_layers(step, features)
                _save_step(folder, step, cached)
                _log_step(step, cached, time.perf_counter() - start)
            else:
                _log_step(step, cached, None)
            layers.update(cached)
    return write(layers, graph, out_path, region=region, label=region.label, road_classes=classes)


def from_osm_file(
    path: str | Path,
    out_path: str | Path,
    *,
    region: Region | None = None,
    roads: str = "main",
) -> Fetched:
    """Read a local OSM XML extract (``.osm``, ``.osm.bz2``) into the layers and write them.

    The file is read twice: once as a road graph (``osmnx.graph_from_xml``) and once for all
    other features at once (``osmnx.features_from_xml``).

    Parameters
    ----------
    path
        The extract. PBF files must be converted first (``osmium cat x.osm.pbf -o x.osm.bz2``).
    out_path
        The GeoPackage to write.
    region
        Keep only what lies in this region; default: the whole file.
    roads
        ``"main"`` or ``"drive"``, as for :func:`fetch`.

    Raises
    ------
    LayerError
        If the file is missing, not OSM XML, truncated or corrupt, or holds none of the
        features sought. Nothing is written to ``out_path`` then.
    """
    path = Path(path)
    classes = _road_set(roads)
    if not path.is_file():
        raise LayerError(f"OSM file not found: {path}", "give the path of a .osm or .osm.bz2 file")
    tags: dict[str, list[str]] = {}
    for step_tags in STEPS.values():
        for key, value in step_tags.items():
            tags.setdefault(key, []).extend([value] if isinstance(value, str) else value)
    polygon = region.polygon if region is not None else None
    start = time.perf_counter()
    try:
        with _osmnx_settings(None):
            graph = _roads_from_file(path, classes, region)
            try:
                features = ox.features_from_xml(path, polygon=polygon, tags=tags)
            except InsufficientResponseError:  # osmnx: no matching feature
                features = gpd.GeoDataFrame(geometry=[], crs=CRS)
    except (OSError, EOFError, ParseError, xml.sax.SAXException, UnicodeDecodeError) as exc:
        hint = " (a .pbf must be converted to .osm first)" if ".pbf" in path.name else ""
        raise LayerError(
            f"{path} is not a readable OSM XML file{hint}: {exc}",
            "give an .osm or .osm.bz2 extract (osmium cat x.osm.pbf -o x.osm.bz2 converts "
            "PBF); if it was downloaded, download it again: it may be truncated",
        ) from None
    layers = {"roads": road_layer(graph)}
    for step in STEPS:
        if step != "roads":
            layers.update(feature_layers(step, features))
    log.info(
        "osm: %s: %s (%.1f s)",
        path.name,
        ", ".join(f"{len(g)} {n}" for n, g in layers.items()),
        time.perf_counter() - start,
    )
    label = region.label if region is not None else path.name
    return write(layers, graph, out_path, region=region, label=label, road_classes=classes)
