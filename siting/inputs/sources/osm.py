"""OpenStreetMap through osmnx: the layers a scenario reads, downloaded or from an extract.

:func:`fetch` downloads a region from the Overpass API; :func:`from_osm_file` reads a local
``.osm`` / ``.osm.bz2`` extract. Both turn the features into layers named after the scenario's
layer kinds (:mod:`siting.inputs.sources.osm_layers`) and write them to one GeoPackage in
EPSG:4326, the road graph as GraphML beside it, and a scenario snippet (:func:`scenario_snippet`)
that points at them.

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
import os
import re
import time
import xml.sax
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import geopandas as gpd
import networkx as nx
import osmnx as ox
import requests
import shapely

from siting.errors import LayerError, LayerNotFoundError, SitingError
from siting.inputs.sources.osm_layers import (
    CRS,
    DEFAULT_SPEEDS,
    FALLBACK_KMH,
    LAYERS,
    PLACE_TYPES,
    RAIL_TYPES,
    ROAD_SETS,
    STATION_TYPES,
    drivable,
    empty_layer,
    feature_layers,
    road_filter,
    road_layer,
    with_speeds,
)

log = logging.getLogger("siting")

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


class _Rejected(Exception):
    """Any other HTTP error answer (a wrong URL): waiting will not mend it."""


#: How osmnx words "the query found nothing" (no way, node, feature or place). osmnx raises it
#: as a ValueError subclass from its private module ``osmnx._errors``, so the message is read
#: instead of the class; HTTP errors never get that far (see :func:`_refuse`).
_NOTHING_FOUND = (
    "no data elements",  # no node and no way
    "no graph nodes",  # ways came back, but no node inside the polygon
    "no matching features",
    "returned 0 results",  # Nominatim
    "could not geocode",
    "but `which_result",
    "did not return a",  # an answer that is not a list (Nominatim) or dict (Overpass)
    "responded:",  # an answer that is not JSON (HTTP errors are stopped before)
)


def _found_nothing(exc: ValueError) -> bool:
    """Whether an osmnx error says that the query found nothing."""
    return any(words in str(exc).lower() for words in _NOTHING_FOUND)


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
        except ValueError as exc:
            if not _found_nothing(exc):
                raise
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
    from siting.inputs import layers, place

    s = scenario.load(path)
    crs = place.working_crs(s)  # crs = "auto": the study area's UTM zone
    area = layers.study_area(s, layers.read_layer(s.layers[s.study_area], crs))
    pad = max(s.pad, 10_000.0) if pad_km is None else pad_km * 1000.0
    # Overpass receives every vertex of the polygon: a padded boundary simplified within a
    # quarter of the padding still covers the study area and makes a short query.
    padded = area.buffer(pad).simplify(pad / 4) if pad > 0 else area
    polygon = gpd.GeoSeries([padded], crs=crs).to_crs(CRS).iloc[0]
    return Region(polygon, f"{s.name} + {pad / 1000:g} km")


# --- Road graphs -----------------------------------------------------------------------------


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
    except ValueError as exc:  # osmnx: no way came back, or none inside the polygon
        if not _found_nothing(exc):
            raise
        return nx.MultiDiGraph(crs=CRS)
    return with_speeds(G)


def _roads_from_file(path: Path, classes: Sequence[str], region: Region | None) -> nx.MultiDiGraph:
    try:
        G = ox.graph_from_xml(path, simplify=False, retain_all=True)
    except ValueError as exc:  # osmnx: no node and no way in the file
        if not _found_nothing(exc):
            raise
        return nx.MultiDiGraph(crs=CRS)
    keep = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if drivable(d, classes)]
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
    """requests response hook: stop at a refusal instead of letting osmnx sleep and retry, and
    at any other HTTP error (a wrong URL) instead of letting osmnx report it with an exception
    of its private module."""
    if response.status_code == 429 or response.status_code >= 500:
        raise _Refused(response.url, f"HTTP {response.status_code} {response.reason}")
    # osmnx itself falls back to a default pause when Overpass has no /status endpoint.
    if not response.ok and not response.url.rstrip("/").endswith("/status"):
        raise _Rejected(f"{response.url}: HTTP {response.status_code} {response.reason}")
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
        # drivable reads these from the graph of an extract
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
    except (requests.ConnectionError, _Rejected) as exc:
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
        name: gpd.read_file(folder / f"{step}.gpkg", layer=name) if n else empty_layer(name)
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
                    except ValueError as exc:  # osmnx: no matching feature
                        if not _found_nothing(exc):
                            raise
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
    LayerNotFoundError
        If the file does not exist.
    LayerError
        If the file is not OSM XML, truncated or corrupt, or holds none of the features
        sought. Nothing is written to ``out_path`` then.
    """
    path = Path(path)
    classes = _road_set(roads)
    if not path.is_file():
        raise LayerNotFoundError(
            f"OSM file not found: {path}", "give the path of a .osm or .osm.bz2 file"
        )
    tags: dict[str, bool | str | list[str]] = {}
    for step_tags in STEPS.values():
        for key, value in step_tags.items():
            known = tags.setdefault(key, [])
            if isinstance(value, bool) or isinstance(known, bool):
                tags[key] = True  # osmnx: any value of the key, which covers the listed ones
            elif isinstance(known, list):
                known.extend([value] if isinstance(value, str) else value)
    polygon = region.polygon if region is not None else None
    start = time.perf_counter()
    try:
        with _osmnx_settings(None):
            graph = _roads_from_file(path, classes, region)
            try:
                features = ox.features_from_xml(path, polygon=polygon, tags=tags)
            except ValueError as exc:  # osmnx: no matching feature
                if not _found_nothing(exc):
                    raise
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
