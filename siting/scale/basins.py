"""Basins: a national scenario split into groups of mines, each run as a regional scenario.

A country's coal mines lie in a few dozen clusters thousands of kilometres apart: one grid over
all of them would be mostly empty and no single projection keeps distances true over it. So a
national scenario is split into *basins*, each a group of mines with its own study area and its
own working CRS, and each basin runs as an ordinary scenario (:func:`basin_scenario`).

- :func:`split_basins` groups mines by single linkage on great-circle distance: two mines closer
  than ``link_km`` share a basin, and so does any chain of such mines (the connected components
  of the graph of close pairs, which do not depend on the order of the rows). A basin's study
  area is the convex hull of its mines plus ``buffer_km``.
- :func:`basins_from_polygons` takes the study areas as given polygons (a layer with a ``basin``
  field, such as ``layers/russia/basins.geojson``) and assigns each mine to the polygon that
  contains it.

The CRS of a basin is chosen for the basin, never for a region: the UTM zone of its centre
(:func:`siting.config.utm.utm_zone`) when it spans at most :data:`UTM_MAX_SPAN_DEG` degrees of
longitude, else an azimuthal equidistant projection centred on it. Longitudes are handled on the
circle: the centre is the mean of the mines' unit vectors, and spans and lon/lat outlines are
measured with the longitudes shifted to the centre's meridian, so a basin across 180° E is a
few degrees wide, not 360.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.neighbors import BallTree

from siting.config.messages import translated
from siting.config.scenario import Scenario
from siting.config.utm import utm_zone
from siting.config.values import LONLAT
from siting.errors import LayerError, ScenarioError
from siting.inputs.layers import read_layer
from siting.inputs.place import MAX_SCALE_ERROR, scale_error

log = logging.getLogger("siting")

EARTH_KM = 6371.0088
"""Mean Earth radius (IUGG), for great-circle distances."""
UTM_MAX_SPAN_DEG = 6.0
"""A basin at most this wide in longitude (its study area) works in the UTM zone of its centre;
a wider one in an azimuthal equidistant projection centred on it."""
BASIN_FIELD = "basin"
"""The field of a basin-areas layer that holds each basin's name."""


@dataclass(frozen=True)
class Basin:
    """One basin: a group of mines, its study area and its working CRS."""

    name: str
    """Stable and unique among the basins of one split: the slug of its mines' most common
    province (``kemerovo``), numbered when several basins share it (``sakha-1``, ``sakha-2``)."""
    title: str
    """For maps and reports, e.g. ``"Kemerovo basin"``."""
    mines: gpd.GeoDataFrame
    """The basin's mines, EPSG:4326, in the order of their ids (or of the input)."""
    area: shapely.Geometry
    """The study area, a polygon in :attr:`crs`."""
    crs: str
    """The working CRS: ``"EPSG:326NN"`` (UTM) or an azimuthal equidistant PROJ string."""
    lon: float
    """The centre's longitude, -180 to 180."""
    lat: float
    """The centre's latitude."""
    span_deg: float
    """The study area's extent in longitude, measured on the circle (degrees)."""

    @property
    def area_lonlat(self) -> shapely.Geometry:
        """The study area in lon/lat, longitudes continued past ±180 around the centre's
        meridian (so a basin across 180° E stays one polygon, e.g. 178.9 to 181.2)."""
        return to_lonlat(self.area, self.crs, self.lon)


# --- the pieces: distances, centres, longitudes on the circle, the CRS ----------------------


def _positions(mines: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The mines' points (a polygon's representative point) as lon, lat arrays, -180..180."""
    geoms = mines.geometry.values
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    xy = shapely.get_coordinates(points)
    return wrap(xy[:, 0]), xy[:, 1]


def wrap(lon: np.ndarray | float, centre: float = 0.0) -> np.ndarray:
    """Longitudes shifted by whole turns into ``centre - 180 .. centre + 180``."""
    return centre + (np.mod(np.asarray(lon, dtype=float) - centre + 180.0, 360.0) - 180.0)


def centre_of(lon: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    """The spherical centre of points: the direction of the mean of their unit vectors (well
    defined across 180° E, unlike the mean longitude)."""
    la, lo = np.radians(lat), np.radians(lon)
    x, y, z = np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)
    mx, my, mz = float(x.mean()), float(y.mean()), float(z.mean())
    if np.hypot(mx, my) < 1e-12:  # points all round the pole, or at it
        return 0.0, 90.0 if mz >= 0 else -90.0
    lon0 = float(np.degrees(np.arctan2(my, mx)))
    lat0 = float(np.degrees(np.arctan2(mz, np.hypot(mx, my))))
    return float(wrap(lon0)), lat0


def aeqd(lon: float, lat: float) -> str:
    """An azimuthal equidistant projection centred on (lon, lat), in metres: true distances
    from the centre, within 1 % up to about 1,500 km from it (the form of
    :func:`siting.inputs.place.centred_crs`)."""
    return (
        f"+proj=aeqd +lat_0={lat:.2f} +lon_0={lon:.2f} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def to_lonlat(geom: shapely.Geometry, crs: str, centre_lon: float) -> shapely.Geometry:
    """``geom`` from ``crs`` to lon/lat, longitudes continued around ``centre_lon``."""
    transformer = Transformer.from_crs(CRS.from_user_input(crs), LONLAT, always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([wrap(lon, centre_lon), lat])

    return shapely.transform(geom, project)


def _project(lon: np.ndarray, lat: np.ndarray, crs: str) -> np.ndarray:
    transformer = Transformer.from_crs(LONLAT, CRS.from_user_input(crs), always_xy=True)
    x, y = transformer.transform(lon, lat)
    return np.column_stack([x, y])


def _hull_area(lon: np.ndarray, lat: np.ndarray, crs: str, buffer_m: float) -> shapely.Geometry:
    hull = shapely.convex_hull(shapely.multipoints(_project(lon, lat, crs)))
    return shapely.buffer(hull, buffer_m, quad_segs=16)


def choose_crs(lon: float, lat: float, span_deg: float) -> str:
    """The UTM zone of the centre for a basin at most :data:`UTM_MAX_SPAN_DEG` wide, else an
    azimuthal equidistant projection centred on it (also beyond the UTM zones, 84° N–80° S)."""
    zone = utm_zone(lon, lat)
    if zone is not None and span_deg <= UTM_MAX_SPAN_DEG:
        return zone[0]
    return aeqd(lon, lat)


def _span(geom_lonlat: shapely.Geometry) -> float:
    minx, _, maxx, _ = shapely.bounds(geom_lonlat)
    return float(maxx - minx)


def _slug(text: object) -> str:
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _check_mines(mines: gpd.GeoDataFrame, id_field: str | None) -> gpd.GeoDataFrame:
    """The mines in lon/lat, in the order of ``id_field`` (the input order without one)."""
    if mines.crs is None:
        raise LayerError("mines for basins: the layer has no CRS", "give the mines in EPSG:4326")
    if len(mines) == 0:
        raise LayerError("mines for basins: no mine to group", "give at least one mine")
    mines = mines.to_crs(LONLAT) if not CRS.from_user_input(mines.crs).equals(LONLAT) else mines
    if bool(mines.geometry.isna().any() or mines.geometry.is_empty.any()):
        raise LayerError(
            "mines for basins: some mines have no geometry", "drop them or give their points"
        )
    if id_field is not None and id_field in mines.columns:
        order = np.argsort(mines[id_field].astype(str).to_numpy(), kind="stable")
        mines = mines.iloc[order]
    return mines.reset_index(drop=True)


def _basin(
    name: str,
    title: str,
    mines: gpd.GeoDataFrame,
    buffer_m: float,
    polygon: shapely.Geometry | None = None,
) -> Basin:
    """A basin of ``mines``: its centre and CRS, and its study area (the given ``polygon`` in
    lon/lat, or the hull of the mines plus ``buffer_m``)."""
    lon, lat = _positions(mines)
    if polygon is None:
        lon0, lat0 = centre_of(lon, lat)
        provisional = aeqd(lon0, lat0)
        span = _span(to_lonlat(_hull_area(lon, lat, provisional, buffer_m), provisional, lon0))
        crs = choose_crs(lon0, lat0, span)
        area = _hull_area(lon, lat, crs, buffer_m)
    else:
        first = float(shapely.get_coordinates(polygon)[0, 0])
        outline = shapely.transform(
            polygon, lambda xy: np.column_stack([wrap(xy[:, 0], first), xy[:, 1]])
        )
        centre = outline.centroid
        lon0, lat0 = float(wrap(centre.x)), float(centre.y)
        span = _span(outline)
        crs = choose_crs(lon0, lat0, span)
        area = shapely.transform(outline, lambda xy: _project(xy[:, 0], xy[:, 1], crs))
    area = shapely.make_valid(area)
    error, at_lon, at_lat = scale_error(crs, to_lonlat(area, crs, lon0))
    if error > MAX_SCALE_ERROR:
        log.warning(
            "basin %r: its CRS distorts distances by %.1f%% at longitude %.1f, latitude %.1f "
            "(more than %.0f%%): a run of it will be refused; split it with a smaller link",
            name,
            100 * error,
            at_lon,
            at_lat,
            100 * MAX_SCALE_ERROR,
        )
    return Basin(name, title, mines, area, crs, lon0, lat0, span)


def _named(groups: list[gpd.GeoDataFrame], name_field: str | None) -> list[tuple[str, str]]:
    """Each group's name and title, from its mines' most common ``name_field`` (ties: the first
    in alphabetical order), numbered where several groups share one."""
    labels = []
    for mines in groups:
        values = (
            [str(v) for v in mines[name_field] if isinstance(v, str) and v.strip()]
            if name_field is not None and name_field in mines.columns
            else []
        )
        counts = Counter(values)
        best = min(counts, key=lambda v: (-counts[v], v)) if counts else "Basin"
        labels.append((_slug(best) or "basin", best))
    total = Counter(slug for slug, _ in labels)
    seen: Counter[str] = Counter()
    out = []
    for slug, label in labels:
        seen[slug] += 1
        if total[slug] == 1:
            out.append((slug, f"{label} basin"))
        else:
            out.append((f"{slug}-{seen[slug]}", f"{label} basin {seen[slug]}"))
    return out


def _check_params(link_km: float, buffer_km: float, min_mines: int) -> None:
    if not (np.isfinite(link_km) and link_km > 0):
        raise ScenarioError(
            f"basins: link_km = {link_km!r} must be > 0", "give kilometres, e.g. 100"
        )
    if not (np.isfinite(buffer_km) and buffer_km >= 0):
        raise ScenarioError(
            f"basins: buffer_km = {buffer_km!r} must be >= 0", "give kilometres, e.g. 30"
        )
    if min_mines < 1:
        raise ScenarioError(f"basins: min_mines = {min_mines!r} must be >= 1", "give 1 or more")


def _drop_small(groups: list[gpd.GeoDataFrame], min_mines: int) -> list[gpd.GeoDataFrame]:
    small = [g for g in groups if len(g) < min_mines]
    if small:
        log.warning(
            "basins: left out %d group(s) of fewer than %d mine(s) (%d mine(s) in all)",
            len(small),
            min_mines,
            sum(len(g) for g in small),
        )
    return [g for g in groups if len(g) >= min_mines]


# --- splitting ---------------------------------------------------------------------------


def split_basins(
    mines: gpd.GeoDataFrame,
    *,
    link_km: float = 100.0,
    buffer_km: float = 30.0,
    min_mines: int = 1,
    id_field: str | None = "gem_id",
    name_field: str | None = "province",
) -> list[Basin]:
    """Group mines into basins by single linkage on great-circle distance.

    Parameters
    ----------
    mines
        The mines (points; a polygon counts by a point inside it), with a CRS (EPSG:4326 or
        any other: they are read in lon/lat).
    link_km
        Mines closer than this (great-circle, km) are in one basin, and so is any chain of them.
    buffer_km
        The study area is the convex hull of the basin's mines plus this, in the basin's CRS.
    min_mines
        Groups of fewer mines are left out (a warning counts them).
    id_field
        A field that orders the mines (and so the basins' order and names) whatever the order of
        the rows; without it, the input's order.
    name_field
        The field that names a basin: its mines' most common value (``province``).

    Returns
    -------
    list of Basin
        Largest first (most mines; ties: the basin whose first mine comes first), with unique
        names.

    Raises
    ------
    LayerError
        If the mines have no CRS, no rows, or rows without a geometry.
    ScenarioError
        If a parameter is out of range.
    """
    _check_params(link_km, buffer_km, min_mines)
    mines = _check_mines(mines, id_field)
    lon, lat = _positions(mines)
    tree = BallTree(np.radians(np.column_stack([lat, lon])), metric="haversine")
    near = tree.query_radius(np.radians(np.column_stack([lat, lon])), r=link_km / EARTH_KM)
    rows = np.repeat(np.arange(len(mines)), [len(n) for n in near])
    cols = np.concatenate(near) if len(near) else np.array([], dtype=int)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(mines),) * 2)
    _, labels = connected_components(graph, directed=False)
    # Components in the order of their first mine, then largest first (stable: no set order).
    first = {int(lab): i for i, lab in reversed(list(enumerate(labels)))}
    comps = sorted(first, key=lambda lab: (-int(np.sum(labels == lab)), first[lab]))
    groups = [mines[labels == lab].reset_index(drop=True) for lab in comps]
    groups = _drop_small(groups, min_mines)
    names = _named(groups, name_field)
    return [
        _basin(name, title, g, buffer_km * 1000.0)
        for (name, title), g in zip(names, groups, strict=True)
    ]


def basins_from_polygons(
    mines: gpd.GeoDataFrame,
    polygons: gpd.GeoDataFrame,
    *,
    name_field: str = BASIN_FIELD,
    min_mines: int = 1,
    id_field: str | None = "gem_id",
    title_field: str = "title",
) -> list[Basin]:
    """Basins from given study areas: each polygon one basin, named by ``name_field`` (titled
    by ``title_field`` if the layer has it), holding the mines it contains (tested in the
    basin's CRS).

    A mine in several polygons goes to the first in the layer's order; mines in none are left
    out; so are polygons with fewer than ``min_mines`` mines (a warning counts each). Polygons in
    lon/lat may continue past ±180 (as :func:`write_areas` writes them).

    Returns
    -------
    list of Basin
        In the layer's order.

    Raises
    ------
    LayerError
        If the polygons lack ``name_field``, repeat or miss a name, or are not polygons.
    """
    mines = _check_mines(mines, id_field)
    if name_field not in polygons.columns:
        raise LayerError(
            f"basin areas: no field {name_field!r}",
            f"give each polygon its basin's name in a field {name_field!r}",
        )
    names = [str(v) if v is not None else "" for v in polygons[name_field]]
    if any(not n.strip() for n in names) or len(set(names)) < len(names):
        raise LayerError(
            f"basin areas: the {name_field!r} field must name every polygon once",
            "give each basin polygon its own name",
        )
    if not set(polygons.geom_type) <= {"Polygon", "MultiPolygon"}:
        raise LayerError("basin areas: not all features are polygons", "give polygons")
    if polygons.crs is not None and not CRS.from_user_input(polygons.crs).equals(LONLAT):
        polygons = polygons.to_crs(LONLAT)
    taken = np.zeros(len(mines), dtype=bool)
    twice = 0
    lon, lat = _positions(mines)
    basins: list[Basin] = []
    titles = (
        [str(v) for v in polygons[title_field]]
        if title_field in polygons.columns
        else [f"{n} basin" for n in names]
    )
    for name, title, polygon in zip(names, titles, polygons.geometry.values, strict=True):
        basin = _basin(name, title, mines.iloc[:0], 0.0, polygon)
        inside = shapely.covers(basin.area, shapely.points(_project(lon, lat, basin.crs)))
        twice += int(np.sum(inside & taken))
        mine = inside & ~taken
        taken |= inside
        if mine.sum() < min_mines:
            log.warning(
                "basin %r: %d mine(s) inside, fewer than %d: left out", name, mine.sum(), min_mines
            )
            continue
        basins.append(dataclasses.replace(basin, mines=mines[mine].reset_index(drop=True)))
    if twice:
        log.warning("basin areas: %d mine(s) in more than one polygon: kept in the first", twice)
    if not taken.all():
        log.warning("basin areas: %d mine(s) outside every polygon: left out", int((~taken).sum()))
    return basins


# --- files and scenarios -----------------------------------------------------------------


def write_areas(basins: Sequence[Basin], path: str | Path, digits: int = 5) -> Path:
    """Write the basins' study areas as GeoJSON (lon/lat, ``digits`` decimals: about a metre),
    one feature per line, fields ``basin``, ``title``, ``crs``, ``n_mines``, ``lon``, ``lat``.

    A basin across 180° E keeps longitudes past 180 (RFC 7946 would cut it in two): the run
    reads it as one polygon.
    """
    lines = []
    for b in basins:
        outline = shapely.set_precision(shapely.make_valid(b.area_lonlat), 10.0**-digits)
        feature = {
            "type": "Feature",
            "properties": {
                BASIN_FIELD: b.name,
                "title": b.title,
                "crs": b.crs,
                "n_mines": len(b.mines),
                "lon": round(b.lon, 4),
                "lat": round(b.lat, 4),
            },
            "geometry": shapely.geometry.mapping(outline),
        }
        lines.append(json.dumps(feature, ensure_ascii=False))
    text = '{"type": "FeatureCollection", "features": [\n' + ",\n".join(lines) + "\n]}\n"
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path


def scenario_mines(scenario: Scenario, layer: str = "mines") -> gpd.GeoDataFrame:
    """The mines a scenario reads (its ``where``, field renames and edits applied), in lon/lat:
    what a national scenario splits into basins."""
    if layer not in scenario.layers:
        raise ScenarioError(
            f"scenario {scenario.name!r} has no layer {layer!r} to split into basins",
            f"use one of: {', '.join(scenario.layers)}",
        )
    changes = [e for e in scenario.edits if e.layer == layer]
    return read_layer(scenario.layers[layer], LONLAT, changes)


def basins_of(scenario: Scenario, mines: str = "mines") -> list[Basin]:
    """The basins of a national scenario: its study-area layer's polygons, named by their
    ``basin`` field (as ``layers/russia/basins.geojson``), with the scenario's mines."""
    spec = scenario.layers[scenario.study_area]
    areas = read_layer(dataclasses.replace(spec, where=None), LONLAT)
    if BASIN_FIELD not in areas.columns:
        raise ScenarioError(
            f"study_area = {scenario.study_area!r} of scenario {scenario.name!r} has no "
            f"{BASIN_FIELD!r} field: it is not split into basins",
            "split the mines with siting.scale.basins.split_basins and write their areas "
            "with write_areas",
        )
    return basins_from_polygons(scenario_mines(scenario, mines), areas)


def basin_scenario(national: Scenario, basin: Basin, areas: str | Path | None = None) -> Scenario:
    """The scenario of one basin: the national scenario with the basin's study area and CRS,
    named ``<national>-<basin>``.

    The study area is the feature ``basin == '<name>'`` of the areas file (``areas``, as
    :func:`write_areas` writes it; by default the national study-area layer's own file). The
    other layers stay the national files: a run clips them to the basin's study area padded by
    the scenario's largest distance, so mines and towns just across the basin's edge count.

    Raises
    ------
    ScenarioError
        If the areas file has no feature of that basin, or the copy is not valid.
    """
    spec = national.layers[national.study_area]
    path = Path(areas) if areas is not None else spec.path
    try:
        found = gpd.read_file(path, columns=[BASIN_FIELD], ignore_geometry=True)
    except Exception as exc:  # pyogrio raises several error types for unreadable files
        raise ScenarioError(
            f"basin areas: cannot read {path}: {exc}", "write them with write_areas"
        ) from None
    if BASIN_FIELD not in found.columns or basin.name not in set(found[BASIN_FIELD]):
        raise ScenarioError(
            f"basin areas {path}: no feature with {BASIN_FIELD} = {basin.name!r}",
            "write the basins' areas with siting.scale.basins.write_areas and pass that file",
        )
    area = dataclasses.replace(
        spec,
        path=path,
        reader="vector",
        kind="boundary",
        layer=None,
        fields={},
        where=f"{BASIN_FIELD} == '{basin.name}'",
    )
    with translated():
        return dataclasses.replace(
            national,
            name=f"{national.name}-{basin.name}",
            title=f"{national.title}: {basin.title}",
            crs=basin.crs,
            layers={**national.layers, national.study_area: area},
        )
