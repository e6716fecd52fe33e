"""Where the study area lies, checked when a run starts, before any other layer is read: the
working CRS suits the place (or ``crs = "auto"`` chooses it), and the run's grid fits in memory.

A CRS can be projected and in metres and still be wrong for the place: a UTM zone of another
continent (an Australian basin in the Kuzbass zone) or Web Mercator at 55° N (distances 1.7
times too long). Two checks catch it:

- the centre of the study area lies in the CRS's area of use (pyproj's ``area_of_use``, with a
  margin of :data:`MARGIN_DEG`), else the error names the UTM zone of the study area;
- over the study area, the CRS's scale stays within :data:`MAX_SCALE_ERROR` of true (pyproj's
  ``Proj.get_factors``, Tissot's indicatrix, at the vertices of the area's convex hull): this
  bounds what a study area spilling over its zone, or a CRS without an area of use (a PROJ
  string), does to buffers and distances.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS, Proj

from siting.config.memory import available_memory
from siting.config.scenario import LayerSpec, Scenario, check_grid
from siting.config.utm import utm_zone, zone_fix
from siting.config.values import AUTO, LONLAT
from siting.errors import ScenarioError
from siting.inputs.layers import read_layer, study_area

log = logging.getLogger("siting")

MARGIN_DEG = 1.0
"""How far (degrees) the study area's centre may lie outside the CRS's area of use: a region
on the border of two UTM zones may use either."""
MAX_SCALE_ERROR = 0.02
"""Largest relative error of distances over the study area (UTM: 0.04 % on its central
meridian, 0.1 % at its zone's edges at the equator)."""


@dataclass(frozen=True)
class Place:
    """The study area in lon/lat and the UTM zone of its centre."""

    layer: gpd.GeoDataFrame
    """The study-area layer as read, in its file's CRS."""
    area: shapely.Geometry
    """The study area in lon/lat."""
    lon: float
    lat: float
    utm: str
    """The UTM zone's CRS, e.g. ``"EPSG:32645"``."""
    utm_name: str
    """E.g. ``"UTM zone 45N"``."""


def settle(scenario: Scenario) -> Scenario:
    """The scenario with its working CRS chosen (``crs = "auto"``) and checked against the study
    area, and its grid checked against the machine's memory.

    Reads the study-area layer only (in lon/lat), so that a wrong CRS or a grid too large is
    refused in seconds, before the other layers are read.

    Returns
    -------
    Scenario
        ``scenario``, with ``crs`` the UTM zone's EPSG code if it was ``"auto"``.

    Raises
    ------
    ScenarioError
        If the CRS is meant for another place or distorts distances over the study area (the
        message names the UTM zone of the study area), or the grid would not fit in memory (the
        fix gives the finest resolution that does).
    LayerError
        If the study-area layer cannot be read or has no area.
    """
    place = locate(scenario)
    crs = working_crs(scenario, place)
    # The bounds as the run will compute them: the file's coordinates projected, then united.
    area = study_area(scenario, place.layer.to_crs(crs))
    minx, miny, maxx, maxy = (float(v) for v in area.bounds)
    need = check_grid(
        (minx, miny, maxx, maxy), scenario.pad, scenario.resolution, scenario.bytes_per_cell
    )
    free = available_memory()
    if free is not None and need > free:  # fits the machine, not what other programs leave
        log.warning(
            "the run needs about %.1f GB of memory and %.1f GB are free now: close other "
            "programs, or use a coarser resolution",
            need / 1e9,
            free / 1e9,
        )
    return scenario if crs == scenario.crs else dataclasses.replace(scenario, crs=crs)


def working_crs(scenario: Scenario, place: Place | None = None) -> str:
    """The scenario's CRS checked against its study area, or, for ``crs = "auto"``, the UTM
    zone of the study area's centre.

    Raises
    ------
    ScenarioError
        As :func:`settle`, for the CRS.
    """
    place = locate(scenario) if place is None else place
    crs = scenario.crs
    if crs == AUTO:
        crs = place.utm
        log.info('crs = "auto": the study area lies in %s, %s', place.utm_name, crs)
    else:
        check_area_of_use(crs, place)
    check_scale(crs, place, scenario.crs == AUTO)
    return crs


def locate(scenario: Scenario) -> Place:
    """The study area in lon/lat (with the scenario's edits of it) and the UTM zone of its
    centre.

    Raises
    ------
    ScenarioError
        If the study area lies beyond the UTM zones (north of 84° N, south of 80° S).
    """
    spec = scenario.layers[scenario.study_area]
    changes = [e for e in scenario.edits if e.layer == spec.name]
    layer = read_layer(spec, _file_crs(spec), changes)
    area = study_area(scenario, layer.to_crs(LONLAT))
    centre = area.centroid
    lon, lat = float(centre.x), float(centre.y)
    zone = utm_zone(lon, lat)
    if zone is None:
        polar = "EPSG:3413 (NSIDC polar stereographic north)" if lat > 0 else "EPSG:3031"
        raise ScenarioError(
            f"the study area's centre (longitude {lon:.2f}, latitude {lat:.2f}) lies beyond "
            "the UTM zones (84° N to 80° S)",
            f"give crs = a polar CRS in metres, e.g. {polar}",
        )
    return Place(layer, area, lon, lat, *zone)


def _file_crs(spec: LayerSpec) -> str:
    """The CRS of a layer's file (lon/lat for a GEM sheet, or if the file cannot be read: then
    :func:`read_layer` says why)."""
    if spec.reader != "vector" or not spec.path.is_file():
        return LONLAT
    try:
        crs = pyogrio.read_info(spec.path, layer=spec.layer)["crs"]
    except (DataSourceError, DataLayerError, OSError, ValueError):
        return LONLAT
    return str(crs) if crs else LONLAT


def check_area_of_use(crs: str, place: Place) -> None:
    """Raise if the study area's centre lies outside the CRS's area of use (a margin of
    :data:`MARGIN_DEG` degrees).

    A CRS without an area of use (a PROJ string) passes; :func:`check_scale` still holds it.
    """
    aou = CRS.from_user_input(crs).area_of_use
    if aou is None:
        return
    west, south, east, north = aou.bounds
    m = MARGIN_DEG
    lat_ok = south - m <= place.lat <= north + m
    if west <= east:
        lon_ok = west - m <= place.lon <= east + m
    else:  # the area of use crosses the antimeridian
        lon_ok = place.lon >= west - m or place.lon <= east + m
    if lat_ok and lon_ok:
        return
    raise ScenarioError(
        f"crs = {crs!r} is meant for {_area_name(aou.name)!r} (longitude {west:g} to {east:g}, "
        f"latitude {south:g} to {north:g}), but the study area lies around longitude "
        f"{place.lon:.1f}, latitude {place.lat:.1f}: distances there would be wrong",
        zone_fix((place.utm, place.utm_name)),
    )


def check_scale(crs: str, place: Place, auto: bool = False) -> None:
    """Raise if distances in ``crs`` are off by more than :data:`MAX_SCALE_ERROR` somewhere in
    the study area.

    The error is measured by Tissot's indicatrix (pyproj's ``get_factors``): its semi-axes are
    the largest and the smallest scale at a point, 1 where distances are true.
    """
    error, lon, lat = scale_error(crs, place.area)
    if error <= MAX_SCALE_ERROR:
        return
    name = CRS.from_user_input(crs).name
    key = f'crs = "auto" ({crs}, {place.utm_name})' if auto else f"crs = {crs!r}"
    if not auto and name != "unknown":
        key += f" ({name})"
    told = "cannot map" if not np.isfinite(error) else f"distorts distances by {error:.1%} at"
    message = (
        f"{key} {told} longitude {lon:.1f}, latitude {lat:.1f} of the study area (more than "
        f"{MAX_SCALE_ERROR:.0%}): buffers, distances and areas would be wrong"
    )
    if not auto and scale_error(place.utm, place.area)[0] <= MAX_SCALE_ERROR:
        raise ScenarioError(message, zone_fix((place.utm, place.utm_name)))
    centred = centred_crs(place)
    if scale_error(centred, place.area)[0] <= MAX_SCALE_ERROR:
        raise ScenarioError(
            message + ": the study area is too large for one UTM zone",
            f'use a projection centred on it: crs = "{centred}"',
        )
    raise ScenarioError(
        message + ": the study area is too large for any one projection to keep distances true",
        "split it into regions and run each on its own",
    )


def scale_error(crs: str, area: shapely.Geometry) -> tuple[float, float, float]:
    """The largest relative error of distances in ``crs`` over ``area`` (lon/lat), and where:
    ``(error, lon, lat)``; ``inf`` where the projection cannot represent a point."""
    hull = shapely.get_coordinates(shapely.convex_hull(area))
    centre = shapely.get_coordinates(area.centroid)
    points = np.vstack([hull, centre])
    factors = Proj(CRS.from_user_input(crs)).get_factors(points[:, 0], points[:, 1], errcheck=False)
    big = np.asarray(factors.tissot_semimajor, dtype=float)
    small = np.asarray(factors.tissot_semiminor, dtype=float)
    error = np.maximum(np.abs(big - 1), np.abs(1 - small))
    error[~np.isfinite(error)] = np.inf
    k = int(np.argmax(error))
    return float(error[k]), float(points[k, 0]), float(points[k, 1])


def centred_crs(place: Place) -> str:
    """An azimuthal equidistant projection centred on the study area: true distances from its
    centre, within 1 % up to about 1,500 km from it."""
    return (
        f"+proj=aeqd +lat_0={place.lat:.2f} +lon_0={place.lon:.2f} +x_0=0 +y_0=0 "
        "+datum=WGS84 +units=m +no_defs"
    )


def _area_name(name: str) -> str:
    """The first sentence of an area of use's description ("Between 84°E and 90°E, …")."""
    return name.split(". ")[0].rstrip(".")
