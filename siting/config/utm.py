"""The UTM zone of a place: what ``crs = "auto"`` chooses, and what an error about the CRS
suggests.

:func:`utm_zone` asks pyproj's database for the WGS 84 UTM zones of a point.
:func:`zone_of_study_area` finds the zone of a scenario's study area for the fix of an error
raised while the scenario is loaded (a CRS in degrees or in feet): it reads the study-area
layer's file as the run would (its ``layer``, ``fields`` and ``where``), and gives up quietly
(``None``) if it cannot, since the fix then still says ``crs = "auto"``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from siting.config.values import LONLAT, UTM_FIX
from siting.errors import ScenarioError, SitingError
from siting.inputs import expression


def utm_zone(lon: float, lat: float) -> tuple[str, str] | None:
    """The WGS 84 UTM zone of a point, e.g. ``("EPSG:32645", "UTM zone 45N")``; ``None`` north
    of 84° N and south of 80° S, where no UTM zone is defined.

    On a zone border, the zone whose central meridian is nearest (the eastern one on a tie); on
    the equator, the northern zone.
    """
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    found = query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat)
    )
    zones = [i.code for i in found if i.auth_name == "EPSG" and i.code[:3] in ("326", "327")]
    if not zones:
        return None
    north = lat >= 0

    def rank(code: str) -> tuple[bool, float, int]:
        zone = int(code[3:])
        return (code.startswith("326") != north, abs(lon - (zone * 6 - 183)), -zone)

    best = min(zones, key=rank)
    return f"EPSG:{best}", f"UTM zone {int(best[3:])}{'N' if best[:3] == '326' else 'S'}"


def zone_fix(zone: tuple[str, str] | None) -> str:
    """The fix of an error about the CRS: the zone if known, else how to find it."""
    if zone is None:
        return UTM_FIX
    code, name = zone
    return f'use crs = "{code}" ({name}, where the study area lies), or crs = "auto"'


def zone_of_study_area(
    path: Any, layer: Any = None, where: Any = None, fields: Any = None
) -> tuple[str, str] | None:
    """Best effort, for an error's fix: the UTM zone of the centre of the study area read from
    ``path`` (its ``layer``, after the ``fields`` renames and the ``where`` filter); ``None``
    if it cannot be read (no file, a GEM sheet, no CRS …)."""
    import geopandas as gpd
    import shapely

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = gpd.read_file(Path(path), layer=layer)
        if gdf.crs is None or gdf.empty:
            return None
        if isinstance(fields, dict):
            gdf = gdf.rename(columns={src: dst for dst, src in fields.items()})
        if isinstance(where, str):
            gdf = gdf[expression.select(gdf, where, "where")]
        area = shapely.union_all(gdf.to_crs(LONLAT).geometry.values)
        if area.is_empty:
            return None
        centre = area.centroid
        return utm_zone(float(centre.x), float(centre.y))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError, SitingError):
        return None  # GDAL's, pyproj's and pandas' errors: no hint, the fix still helps


def with_zone(error: ScenarioError, crs: object, spec: Any) -> ScenarioError:
    """``error`` with the study area's UTM zone in its fix, if it is about ``crs`` (the
    message starts ``crs = '…'``) and the zone can be found; ``spec`` is the study area's
    layer: a :class:`~siting.config.tables.LayerSpec` or its table in the file."""
    if not isinstance(crs, str) or not error.message.startswith(f"crs = {crs!r}"):
        return error
    if error.fix != UTM_FIX:
        return error
    table = spec if isinstance(spec, dict) else getattr(spec, "__dict__", {})
    if table.get("reader", "vector") != "vector" or "path" not in table:
        return error
    zone = zone_of_study_area(
        table["path"], table.get("layer"), table.get("where"), table.get("fields")
    )
    return error if zone is None else ScenarioError(error.message, zone_fix(zone))
