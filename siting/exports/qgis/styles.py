"""QGIS 3.22 styles (QML) and SLD 1.1.0 equivalents for the GeoPackage tables and GeoTIFFs.

:func:`vector_style` styles one table of :func:`siting.exports.gpkg.layers_of` (proposed sites by
profile with ranks as labels, hatched exclusions, mines by status sized by output, rail and roads
by class, candidate patches graduated by score …); :func:`raster_style` styles one GeoTIFF of
:mod:`siting.exports.rasters` (a continuous pseudocolour ramp, or a colour table). The colours
follow the web map (:mod:`siting.exports.webmap.page`).

A QML written beside a file with the same stem (``suitability_technopark.qml`` next to
``suitability_technopark.tif``) is applied by QGIS when the file is added; for a GeoPackage the
styles can be stored in its ``layer_styles`` table. Each :class:`Style` also carries a one-paragraph
``abstract`` for the layer's metadata (it is embedded in the QML as the custom property
``siting/abstract`` and in the SLD as the style's ``Abstract``).

The QML is built from a small description of the style (symbols, classes, labels), so that the QML
and the SLD say the same thing; ``tests/qgis_style_probe.py`` loads every QML into QGIS itself.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from siting.exports.rasters import NODATA
from siting.exports.webmap.page import (
    CLUSTER_COLOR,
    COVERED_COLORS,
    EXISTING_COLOR,
    STATUS_COLORS,
    transport_unit,
    weight_unit,
)
from siting.raster.grid import Raster

if TYPE_CHECKING:
    import geopandas as gpd

    from siting.pipeline.stages import Result

QGIS_VERSION = "3.22.16-Białowieża"
DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
PX_PER_MM = 96 / 25.4  # SLD sizes are in pixels (at 96 dpi)
DEFAULT_COLOR = "#636363"

LINE_CLASSES = {  # layer kind → class → (colour, width in mm, label)
    "rail": {
        "main": ("#000000", 0.8, "Main line"),
        "branch": ("#525252", 0.5, "Branch line"),
    },
    "roads": {
        "federal": ("#d94801", 0.7, "Federal road"),
        "regional": ("#fd8d3c", 0.45, "Regional road"),
    },
}
ANCHOR_CLASSES = {  # anchor kind → (marker, colour, size in mm, label)
    "ugle_naukograd": ("star", "#e7298a", 6.0, "UgleNaukoGrad"),
    "technopark": ("diamond", "#2ca02c", 4.5, "Technopark"),
    "university": ("triangle", "#1f78b4", 3.5, "University"),
    "research_institute": ("triangle", "#6a3d9a", 3.5, "Research institute"),
}
SETTLEMENT_COLOR = "#6a51a3"
EXCLUSION_COLOR = "#b2182b"
PROTECTED_COLOR = "#1a9850"
WATER_COLOR = "#2171b5"
RIVER_COLOR = "#4292c6"
COAL_AREA_COLOR = "#8c510a"
POWER_COLOR = "#fec44f"
HATCH_ANGLES = (45.0, -45.0, 0.0, 90.0, 22.5, -67.5)

ALIASES = {
    "site_id": "Site",
    "profile": "Profile",
    "rank": "Rank (1 = best)",
    "score": "Suitability score (0–1)",
    "patch_id": "Candidate patch",
    "x": "Easting (m)",
    "y": "Northing (m)",
    "lon": "Longitude (° E)",
    "lat": "Latitude (° N)",
    "near": "Nearest place",
    "name": "Name",
    "name_ru": "Name (Russian)",
    "id": "ID",
    "kind": "Kind",
    "output": "Output (Mt/yr)",
    "capacity_mtpa": "Capacity (Mt/yr)",
    "status": "Status",
    "mine_type": "Mine type",
    "gem_id": "GEM tracker ID",
    "operator": "Operator",
    "coal_grade": "Coal grade",
    "district": "District",
    "population": "Population",
    "geonames_id": "GeoNames ID",
    "ref": "Road number",
    "electrified": "Electrified",
    "width_m": "Width (m)",
    "area_km2": "Area (km²)",
    "capacity_mw": "Capacity (MW)",
    "fuel": "Fuel",
    "city": "City",
    "reason": "Reason for exclusion",
    "layer": "Excluded by layer",
    "buffer_m": "Buffer (m)",
    "area_ha": "Area (ha)",
    "mean_score": "Mean suitability (0–1)",
    "max_score": "Maximum suitability (0–1)",
    "cluster": "Growth pole (−1 = none)",
    "n_members": "Number of members",
    "stability": "Bootstrap stability (Jaccard, 0–1)",
    "centroid_x": "Weighted centroid easting (m)",
    "centroid_y": "Weighted centroid northing (m)",
    "weber_x": "Weber point easting (m)",
    "weber_y": "Weber point northing (m)",
    "weber_snap_x": "Snapped Weber point easting (m)",
    "weber_snap_y": "Snapped Weber point northing (m)",
    "snap_m": "Weber point moved to eligible land (m)",
    "snap_profile": "Eligible land of profile",
    "members": "Members",
    "n_served": "Mines served",
    "demand": "Served feature",
    "share": "Share of the feature's demand (0–1)",
    "km": "Distance (road-equivalent km)",
    "route_km": "Route length (km)",
    "utilisation": "Utilisation (served / capacity, 0–1)",
    "cost": "Haul cost (cost units)",
    "suitability_weight": "Suitability weight α (0 = transport only, 1 = suitability only)",
    "mean_suitability": "Mean suitability of the plants, demand-weighted (0–1)",
    "n_plants": "Plants opened",
    "plants": "Plants opened (site ids)",
    "gap": "Proven optimality gap (0–1)",
    "seconds": "Solver time (s)",
    "pareto_optimal": "Pareto-optimal",
    "n_covered": "Features covered",
    "minutes": "Travel time to the nearest open site (min)",
    "served_by": "Nearest open site within the limit",
}


# --- the style's description ---------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """A layer style for QGIS 3.22, its SLD equivalent and the layer's abstract.

    Attributes
    ----------
    qml
        A complete QML document (``<!DOCTYPE qgis …><qgis version="3.22.16-Białowieża" …>``).
    sld
        An SLD 1.1.0 ``StyledLayerDescriptor`` with the same colours and widths (simple
        symbolizers: no data-defined sizes).
    renderer
        The QGIS renderer type written: ``singleSymbol``, ``categorizedSymbol``,
        ``graduatedSymbol``, ``RuleRenderer``, or for rasters ``singlebandpseudocolor`` or
        ``paletted``; None for an attributes table (no geometry: nothing to draw, and the SLD
        carries only the abstract).
    abstract
        One paragraph: what the layer is, its units, its source and the scenario.
    """

    qml: str
    sld: str
    renderer: str | None
    abstract: str


@dataclass(frozen=True)
class _Marker:
    shape: str  # QGIS SimpleMarker name: circle, square, star, triangle, diamond …
    fill: str
    size: float  # mm
    stroke: str = "#ffffff"
    stroke_width: float = 0.3
    size_expr: str | None = None


@dataclass(frozen=True)
class _Line:
    color: str
    width: float  # mm
    style: str = "solid"  # solid, dash, dot
    width_expr: str | None = None


@dataclass(frozen=True)
class _Fill:
    color: str | None  # None: no fill
    stroke: str | None
    stroke_width: float = 0.26
    stroke_style: str = "solid"
    fill_alpha: float = 1.0


@dataclass(frozen=True)
class _Hatch:
    color: str
    angle: float = 45.0
    distance: float = 2.5  # mm between lines
    width: float = 0.3


_SymbolLayer = _Marker | _Line | _Fill | _Hatch


@dataclass(frozen=True)
class _Symbol:
    kind: str  # marker, line, fill
    layers: tuple[_SymbolLayer, ...]
    opacity: float = 1.0


@dataclass(frozen=True)
class _Class:
    """One legend entry: a category value, or a range (lower, upper)."""

    label: str
    symbol: _Symbol
    value: str | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class _Label:
    text: str  # a field name, or an expression when ``expression``
    expression: bool = False
    size: float = 9.0  # pt
    color: str = "#1a1a1a"
    bold: bool = False
    buffer: float = 1.0  # mm, white
    placement: str = "point"  # point, line, polygon
    sld_field: str | None = None  # the field an SLD TextSymbolizer shows
    sld_filter: tuple[str, str, float] | None = None  # (field, op, value) for the SLD label rule


@dataclass(frozen=True)
class _Spec:
    renderer: str
    geometry: str  # marker, line, fill
    classes: tuple[_Class, ...]
    attr: str | None = None
    label: _Label | None = None
    order_by: tuple[str, bool] | None = None  # (expression, ascending)
    ramp: tuple[str, ...] = ()  # graduated: the colour ramp's stops
    method: str = "EqualInterval"


# --- colours and small helpers -------------------------------------------------------------------


def _rgba(color: str, alpha: float = 1.0) -> str:
    """``#rrggbb`` → QGIS ``r,g,b,a``."""
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * alpha)}"


def _ramp_colors(cmap: str, n: int) -> list[str]:
    """``n`` evenly spaced colours of a matplotlib colour map, as ``#rrggbb``."""
    import matplotlib

    colormap = matplotlib.colormaps[cmap]
    return [matplotlib.colors.to_hex(colormap(i / max(n - 1, 1))) for i in range(n)]


def _num(value: float) -> str:
    """A number for XML and expressions: short, and never in exponent notation."""
    return f"{value:.6f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"


def _humanize(name: str) -> str:
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _geometry_kind(gdf: gpd.GeoDataFrame, default: str = "marker") -> str:
    types = set(gdf.geom_type.dropna().unique())
    if types & {"Polygon", "MultiPolygon"}:
        return "fill"
    if types & {"LineString", "MultiLineString", "LinearRing"}:
        return "line"
    if types & {"Point", "MultiPoint"}:
        return "marker"
    return default


def _present(gdf: gpd.GeoDataFrame, column: str, order: Iterable[str] = ()) -> list[str]:
    """The distinct values of a column as strings, known ones first in their given order."""
    if column not in gdf.columns:
        return []
    values = {str(v) for v in gdf[column].dropna().unique()}
    known = [v for v in order if v in values]
    return known + sorted(values - set(known))


def _max(gdf: gpd.GeoDataFrame, column: str, default: float = 1.0) -> float:
    if column not in gdf.columns:
        return default
    values = np.asarray(gdf[column].to_numpy(dtype=float, na_value=np.nan), dtype=float)
    values = values[np.isfinite(values)]
    return float(values.max()) if values.size and values.max() > 0 else default


# --- aliases and abstracts -----------------------------------------------------------------------


def field_aliases(
    columns: Iterable[str], result: Result, table: str | None = None
) -> dict[str, str]:
    """Human names for a table's fields (``score`` → "Suitability score (0–1)" …).

    Parameters
    ----------
    columns
        The table's column names (the geometry column is skipped).
    result
        The run, for the criteria's units and the models' weight fields.
    table
        The table's name: the covering tables' ``weight`` is the covering demand (population),
        not the allocation's.

    Returns
    -------
    dict
        Alias by field name, for every field.
    """
    s = result.scenario
    weight = weight_unit(s.allocation.weight_field) if s.allocation else "weight"
    per_km = transport_unit(s.allocation.weight_field) if s.allocation else "weight·km"
    pole_weight = weight_unit(s.clusters.weight_field) if s.clusters else "weight"
    covering = getattr(s, "covering", None)
    reach = weight_unit(covering.weight_field) if covering is not None else "weight"
    extra = {
        "weight": f"Demand ({weight})" if weight != "weight" else "Demand weight",
        "served_weight": f"Demand served ({weight})",
        "capacity": f"Capacity ({weight})",
        "weight_x_km": f"Demand × distance ({per_km})",
        "transport": f"Transport, Σ demand × km ({per_km})",
        "weight_x_cost": f"Demand × haul cost ({weight} × cost units)",
        "total_weight": f"Total output ({pole_weight})"
        if pole_weight == "Mt/yr"
        else "Total weight",
        "total_capacity": "Total design capacity",
        "covered_weight": f"Demand covered ({reach})",
        "covered": "Covered within the time limit"
        if covering is None
        else f"Covered within {_num(covering.max_minutes)} min",
    }
    if table in ("covering_sites", "covering_demand"):
        extra["weight"] = f"Demand ({reach})"
        extra["status"] = "Existing (kept open) or new"
        extra["score"] = "Suitability score of a new site (0–1)"
    aliases = {}
    for column in columns:
        if column == "geometry":
            continue
        prefix, _, criterion = column.partition("_")
        if prefix == "w" and criterion in result.criteria:
            aliases[column] = f"{_humanize(criterion)} contribution"
        elif prefix == "raw" and criterion in result.criteria:
            units = result.criteria[criterion].units
            aliases[column] = f"{_humanize(criterion)} raw value" + (f" ({units})" if units else "")
        else:
            aliases[column] = extra.get(column) or ALIASES.get(column) or _humanize(column)
    return aliases


_WHAT = {
    "study_area": "The study area: the outline the run's suitability and sites are confined to.",
    "exclusions": (
        "Exclusions: one polygon per exclusion rule and profile (the features of a layer buffered "
        "by the rule's distance), with the reason; no site is proposed inside them."
    ),
    "candidate_patches": (
        "Candidate patches: connected areas of the best-scoring eligible land of each profile, "
        "with their area (ha) and mean and maximum suitability (0–1); the proposed sites are "
        "picked from them."
    ),
    "proposed_sites": (
        "Proposed sites, ranked per profile (rank 1 = best), with the suitability score (0–1), "
        "each criterion's weighted contribution (w_<criterion>, adding up to the score), its raw "
        "value (raw_<criterion>, in the criterion's units: metres, cost units, people …), "
        "lon/lat and the nearest place."
    ),
    "clusters": (
        "Growth poles: clusters of mines (their outline + 2 km) with their number of members, "
        "total output, weighted centroid, Weber point and the Weber point snapped to eligible "
        "land."
    ),
    "cluster_weber_points": (
        "Weber points of the growth poles: the point minimising the output-weighted distance to "
        "the pole's mines."
    ),
    "cluster_weber_snapped": (
        "Weber points of the growth poles moved to the nearest eligible cell of a profile's "
        "suitability (snap_m: how far, in m): where a plant could stand closest to the optimum."
    ),
    "allocation_plants": (
        "Plants opened by the location-allocation among the proposed sites, with the demand they "
        "serve, the number of features served and their transport (demand × road-equivalent km); "
        "in the capacitated model also their capacity and utilisation."
    ),
    "allocation_lines": (
        "Haul routes: the least-cost route over the friction surface from each demand feature to "
        "the plant serving it, with the demand shipped, its share of the feature, the "
        "road-equivalent cost distance (km), demand × km and the route's length (km)."
    ),
    "allocation_pareto": (
        "Pareto sweep of the location-allocation (a table, no geometry): one row per suitability "
        "weight α, with the transport (demand × km), the demand-weighted mean suitability of the "
        "plants, the plants opened, the proven gap and whether the row is Pareto-optimal."
    ),
    "covering_sites": (
        "Technoparks by maximal covering: the existing facilities kept open and the new sites "
        "chosen, each with the demand it covers (the features nearest to it within the time "
        "limit)."
    ),
    "covering_demand": (
        "Demand of the maximal covering: each feature with its travel time to the nearest open "
        "site, whether that is within the limit, and which site it is."
    ),
}


def _abstract(table: str, gdf: gpd.GeoDataFrame, result: Result) -> str:
    s = result.scenario
    where = (
        f"Scenario '{s.name}' ({s.title}), grid {result.grid.res:g} m, CRS {s.crs}; "
        f"{len(gdf)} feature(s); written by siting."
    )
    if table.startswith("input_"):
        name = table.removeprefix("input_")
        spec = s.layers.get(name)
        source = ""
        if spec is not None:
            source = f" from {spec.path.name}" if spec.path is not None else ""
            source += f" (features where {spec.where})" if spec.where else ""
            renamed = ", ".join(f"{new} ← {old}" for new, old in (spec.fields or {}).items())
            source += f", fields renamed {renamed}" if renamed else ""
        units = " Output in Mt/yr." if "output" in gdf.columns else ""
        return (
            f"Input layer '{name}' as the run used it{source}: reprojected to {s.crs} and clipped "
            f"to the padded study area.{units} {where}"
        )
    what = _WHAT.get(table, f"Table '{table}' of the siting run.")
    if table.startswith("allocation_") and s.allocation is not None:
        a = s.allocation
        capacity = getattr(a, "capacity", None)
        model = (
            f"p-median, p = {a.p}"
            if capacity is None
            else f"capacitated, capacity {_num(capacity)} {weight_unit(a.weight_field)} per plant, "
            f"opening cost {_num(getattr(a, 'opening_cost', 0.0))} "
            f"{transport_unit(a.weight_field)}"
            + (f", p = {a.p}" if a.p is not None else ", opening costs decide how many")
        )
        what += (
            f" Profile '{a.profile}', {model}; demand '{a.demand}' weighted by "
            f"{a.weight_field or 'count'} ({weight_unit(a.weight_field)})."
        )
    covering = getattr(s, "covering", None)
    if table.startswith("covering_") and covering is not None:
        kept = f", existing '{covering.existing}'" if covering.existing else ""
        kept += f" where {covering.existing_where}" if covering.existing_where else ""
        what += (
            f" Profile '{covering.profile}', p = {covering.p} new site(s){kept}; demand "
            f"'{covering.demand}' weighted by {covering.weight_field or 'count'}, within "
            f"{_num(covering.max_minutes)} min at {_num(covering.speed_kmh)} km/h on roads."
        )
    if table == "clusters" and s.clusters is not None:
        outline = getattr(s.clusters, "outline", "convex")
        what += f" Outline: {outline} hull of the members."
    if table == "cluster_weber_snapped" and s.clusters is not None:
        what += f" Profile '{getattr(s.clusters, 'snap_profile', None)}'."
    if table == "proposed_sites":
        what += " Profiles: " + ", ".join(p.title for p in s.profiles.values()) + "."
    return f"{what} {where}"


# --- the styles of each table --------------------------------------------------------------------


def _single(symbol: _Symbol, legend: str, **kwargs) -> _Spec:
    return _Spec("singleSymbol", symbol.kind, (_Class(legend, symbol),), **kwargs)


def _default_symbol(kind: str) -> _Symbol:
    if kind == "line":
        return _Symbol("line", (_Line(DEFAULT_COLOR, 0.5),))
    if kind == "fill":
        return _Symbol("fill", (_Fill(DEFAULT_COLOR, "#252525", 0.3, fill_alpha=0.3),))
    return _Symbol("marker", (_Marker("circle", DEFAULT_COLOR, 2.5, "#ffffff", 0.3),))


def _outline(color: str, width: float, style: str = "solid") -> _Symbol:
    return _Symbol("fill", (_Fill(None, color, width, style),))


def _proposed_sites(gdf: gpd.GeoDataFrame, result: Result) -> _Spec:
    top = max(2.0, _max(gdf, "rank", 2.0))
    size = f'coalesce(scale_linear("rank", 1, {_num(top)}, 7, 3.5), 4)'
    classes = tuple(
        _Class(
            p.title,
            _Symbol("marker", (_Marker("circle", p.color, 5.0, "#ffffff", 0.6, size),)),
            value=name,
        )
        for name, p in result.scenario.profiles.items()
    )
    label = _Label("rank", size=9.0, bold=True, buffer=1.0, sld_field="rank")
    return _Spec(
        "categorizedSymbol", "marker", classes, "profile", label, order_by=('"rank"', False)
    )


def _exclusions(gdf: gpd.GeoDataFrame, result: Result) -> _Spec:
    def hatched(color: str, angle: float) -> _Symbol:
        return _Symbol(
            "fill",
            (_Hatch(color, angle, 2.5, 0.3), _Fill(None, color, 0.4, "dash")),
            opacity=0.8,
        )

    if "profile" not in gdf.columns:
        return _single(hatched(EXCLUSION_COLOR, 45.0), "Excluded")
    profiles = result.scenario.profiles
    values = list(profiles) + [v for v in _present(gdf, "profile") if v not in profiles]
    classes = tuple(
        _Class(
            f"Excluded for {profiles[v].title}" if v in profiles else f"Excluded for {v}",
            hatched(
                profiles[v].color if v in profiles else EXCLUSION_COLOR,
                HATCH_ANGLES[i % len(HATCH_ANGLES)],
            ),
            value=v,
        )
        for i, v in enumerate(values)
    )
    return _Spec("categorizedSymbol", "fill", classes, "profile")


def _mines(gdf: gpd.GeoDataFrame) -> _Spec:
    size = 'coalesce(scale_linear(sqrt("output"), 0, 5, 1.5, 8), 2)'

    def marker(color: str) -> _Symbol:
        return _Symbol("marker", (_Marker("circle", color, 3.0, "#ffffff", 0.25, size),), 0.85)

    statuses = _present(gdf, "status", STATUS_COLORS)
    if not statuses:
        return _single(marker(STATUS_COLORS["operating"]), "Mine (size = output)")
    classes = tuple(
        _Class(_humanize(v), marker(STATUS_COLORS.get(v, DEFAULT_COLOR)), value=v) for v in statuses
    )
    return _Spec("categorizedSymbol", "marker", classes, "status", order_by=('"output"', False))


def _lines_by_kind(gdf: gpd.GeoDataFrame, layer_kind: str) -> _Spec:
    known = LINE_CLASSES[layer_kind]
    fallback = {"rail": ("#000000", 0.6, "Railway"), "roads": ("#d94801", 0.5, "Road")}[layer_kind]
    kinds = _present(gdf, "kind", known)
    if not kinds:
        color, width, label = fallback
        return _single(_Symbol("line", (_Line(color, width),)), label)
    classes = tuple(
        _Class(
            known.get(k, (None, None, _humanize(k)))[2],
            _Symbol("line", (_Line(*known.get(k, (DEFAULT_COLOR, 0.4, ""))[:2]),)),
            value=k,
        )
        for k in kinds
    )
    return _Spec("categorizedSymbol", "line", classes, "kind")


def _settlements(gdf: gpd.GeoDataFrame) -> _Spec:
    if "population" not in gdf.columns:
        marker = _Marker("circle", SETTLEMENT_COLOR, 2.5, "#ffffff", 0.3)
        label = _Label("name", sld_field="name") if "name" in gdf.columns else None
        return _single(_Symbol("marker", (marker,), 0.8), "Settlement", label=label)
    top = _max(gdf, "population", 1.0)
    size = f'coalesce(scale_linear(sqrt("population"), 0, {_num(math.sqrt(top))}, 1.5, 7), 1.5)'
    marker = _Marker("circle", SETTLEMENT_COLOR, 2.5, "#ffffff", 0.3, size)
    label = None
    if "name" in gdf.columns:
        pops = np.sort(gdf["population"].to_numpy(dtype=float, na_value=np.nan))
        pops = pops[np.isfinite(pops)]
        threshold = float(pops[-min(10, len(pops))]) if len(pops) else 0.0
        label = _Label(
            f'if("population" >= {_num(threshold)}, "name", NULL)',
            expression=True,
            size=8.5,
            sld_field="name",
            sld_filter=("population", ">=", threshold),
        )
    return _single(
        _Symbol("marker", (marker,), 0.8),
        "Settlement (size = population)",
        label=label,
        order_by=('"population"', False),
    )


def _anchors(gdf: gpd.GeoDataFrame) -> _Spec:
    kinds = _present(gdf, "kind", ANCHOR_CLASSES)
    if not kinds:
        return _single(
            _Symbol("marker", (_Marker("star", "#e7298a", 4.5, "#ffffff", 0.3),)), "Anchor"
        )
    classes = []
    for k in kinds:
        shape, color, size, label = ANCHOR_CLASSES.get(
            k, ("circle", DEFAULT_COLOR, 3.0, _humanize(k))
        )
        classes.append(
            _Class(
                label, _Symbol("marker", (_Marker(shape, color, size, "#ffffff", 0.3),)), value=k
            )
        )
    return _Spec("categorizedSymbol", "marker", tuple(classes), "kind")


def _power_plants(gdf: gpd.GeoDataFrame) -> _Spec:
    size = None
    if "capacity_mw" in gdf.columns:
        top = math.sqrt(_max(gdf, "capacity_mw", 1.0))
        size = f'coalesce(scale_linear(sqrt("capacity_mw"), 0, {_num(top)}, 2.5, 6.5), 3)'
    marker = _Marker("diamond", POWER_COLOR, 4.0, "#252525", 0.3, size)
    label = "Power plant (size = capacity)" if size else "Power plant"
    return _single(_Symbol("marker", (marker,)), label)


def _rivers(gdf: gpd.GeoDataFrame) -> _Spec:
    expr = None
    if "width_m" in gdf.columns:
        top = _max(gdf, "width_m", 100.0)
        expr = f'coalesce(scale_linear("width_m", 0, {_num(top)}, 0.3, 1.6), 0.4)'
    line = _Line(RIVER_COLOR, 0.6, width_expr=expr)
    return _single(_Symbol("line", (line,)), "River (width = width_m)" if expr else "River")


def _patches(gdf: gpd.GeoDataFrame) -> _Spec:
    values = gdf["mean_score"].to_numpy(dtype=float, na_value=np.nan) if len(gdf) else np.array([])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.05, hi + 0.05  # one score only: five classes around it
    edges = np.linspace(lo, hi, 6)
    colors = _ramp_colors("viridis", 5)
    classes = tuple(
        _Class(
            f"{edges[i]:.2f} – {edges[i + 1]:.2f}",
            _Symbol("fill", (_Fill(colors[i], "#3a3a3a", 0.15, fill_alpha=0.85),)),
            lower=float(edges[i]),
            upper=float(edges[i + 1]),
        )
        for i in range(5)
    )
    return _Spec(
        "graduatedSymbol",
        "fill",
        classes,
        "mean_score",
        ramp=tuple(_ramp_colors("viridis", 11)),
    )


def _plants(gdf: gpd.GeoDataFrame, result: Result) -> _Spec:
    a = result.scenario.allocation
    color = "#d62728"
    if a is not None and a.profile in result.scenario.profiles:
        color = result.scenario.profiles[a.profile].color
    marker = _Marker("square", color, 6.5, "#000000", 0.6)
    capacitated = "utilisation" in gdf.columns
    label = None
    if "site_id" in gdf.columns and capacitated:
        label = _Label(
            "\"site_id\" || ' (' || round(100 * \"utilisation\") || ' %)'",
            expression=True,
            size=8.5,
            bold=True,
            sld_field="site_id",
        )
    elif "site_id" in gdf.columns:
        label = _Label("site_id", size=8.5, bold=True, sld_field="site_id")
    legend = "Plant (capacitated; label: utilisation)" if capacitated else "Plant (p-median)"
    return _single(_Symbol("marker", (marker,)), legend, label=label)


def _covering_sites(gdf: gpd.GeoDataFrame, result: Result) -> _Spec:
    covering = getattr(result.scenario, "covering", None)
    color = "#2ca02c"
    if covering is not None and covering.profile in result.scenario.profiles:
        color = result.scenario.profiles[covering.profile].color
    known = {
        "existing": ("star", EXISTING_COLOR, 6.5, "Existing, kept open"),
        "new": ("diamond", color, 5.5, "New site (maximal covering)"),
    }
    statuses = _present(gdf, "status", known) or list(known)
    classes = tuple(
        _Class(
            known.get(v, ("circle", DEFAULT_COLOR, 4.0, _humanize(v)))[3],
            _Symbol(
                "marker",
                (_Marker(*known.get(v, ("circle", DEFAULT_COLOR, 4.0))[:3], "#000000", 0.4),),
            ),
            value=v,
        )
        for v in statuses
    )
    label = _Label("name", size=8.5, bold=True, sld_field="name") if "name" in gdf else None
    return _Spec("categorizedSymbol", "marker", classes, "status", label)


def _covering_demand(gdf: gpd.GeoDataFrame, result: Result) -> _Spec:
    covering = getattr(result.scenario, "covering", None)
    limit = f"{_num(covering.max_minutes)} min" if covering is not None else "the time limit"
    top = math.sqrt(_max(gdf, "weight", 1.0))
    size = f'coalesce(scale_linear(sqrt("weight"), 0, {_num(top)}, 1.5, 7), 1.5)'
    classes = tuple(
        _Class(
            f"Reached within {limit}" if covered else f"Not reached within {limit}",
            _Symbol(
                "marker",
                (_Marker("circle", COVERED_COLORS[covered], 3.0, "#ffffff", 0.3, size),),
                0.85,
            ),
            value="true" if covered else "false",
        )
        for covered in (True, False)
    )
    return _Spec("categorizedSymbol", "marker", classes, "covered", order_by=('"weight"', False))


def _spec(table: str, gdf: gpd.GeoDataFrame, result: Result) -> _Spec:
    geometry = _geometry_kind(gdf, _TABLE_GEOMETRY.get(table, "marker"))
    layer_kind = None
    if table.startswith("input_"):
        name = table.removeprefix("input_")
        spec = result.scenario.layers.get(name)
        layer_kind = spec.kind if spec is not None and spec.kind != "generic" else name
    if table == "proposed_sites":
        return _proposed_sites(gdf, result)
    if table == "exclusions":
        return _exclusions(gdf, result)
    if table == "candidate_patches" and "mean_score" in gdf.columns:
        return _patches(gdf)
    if table == "study_area":
        return _single(_outline("#333333", 0.8), "Study area")
    if table == "clusters":
        label = _Label(
            "'Pole ' || \"cluster\"",
            expression=True,
            size=9.0,
            color=CLUSTER_COLOR,
            bold=True,
            placement="polygon",
            sld_field="cluster",
        )
        return _single(_outline(CLUSTER_COLOR, 0.6), "Growth pole (mine cluster)", label=label)
    if table == "cluster_weber_points":
        star = _Marker("star", CLUSTER_COLOR, 5.0, "#ffffff", 0.4)
        return _single(_Symbol("marker", (star,)), "Weber point of a growth pole")
    if table == "cluster_weber_snapped":
        ring = _Marker("circle", "#ffffff", 4.0, CLUSTER_COLOR, 0.6)
        star = _Marker("star", CLUSTER_COLOR, 3.0, CLUSTER_COLOR, 0.0)
        return _single(
            _Symbol("marker", (ring, star)), "Weber point snapped to eligible land (ringed star)"
        )
    if table == "allocation_lines" and geometry == "line":
        top = _max(gdf, "weight", 1.0)
        expr = f'coalesce(scale_linear("weight", 0, {_num(top)}, 0.2, 2.0), 0.2)'
        line = _Line(DEFAULT_COLOR, 0.6, width_expr=expr)
        label = "Haul route, mine → plant (width = demand)"
        return _single(_Symbol("line", (line,), 0.7), label, order_by=('"weight"', True))
    if table == "allocation_plants":
        return _plants(gdf, result)
    if table == "covering_sites":
        return _covering_sites(gdf, result)
    if table == "covering_demand":
        return _covering_demand(gdf, result)
    if {"output", "status"} <= set(gdf.columns) or (
        layer_kind == "mines" and "output" in gdf.columns
    ):
        return _mines(gdf)
    if layer_kind in ("rail", "roads") and geometry == "line":
        return _lines_by_kind(gdf, layer_kind)
    if layer_kind == "boundary":
        return _single(_outline("#252525", 0.5, "dash"), "Region boundary")
    if layer_kind == "protected_areas" and geometry == "fill":
        fill = _Fill(PROTECTED_COLOR, PROTECTED_COLOR, 0.4, fill_alpha=0.25)
        return _single(_Symbol("fill", (fill,)), "Protected area")
    if layer_kind == "water" and geometry == "fill":
        fill = _Fill(WATER_COLOR, WATER_COLOR, 0.3, fill_alpha=0.6)
        return _single(_Symbol("fill", (fill,)), "Lake or reservoir")
    if layer_kind == "rivers" and geometry == "line":
        return _rivers(gdf)
    if layer_kind == "settlements" and geometry == "marker":
        return _settlements(gdf)
    if layer_kind == "stations" and geometry == "marker":
        square = _Marker("square", "#000000", 1.8, "#ffffff", 0.2)
        return _single(_Symbol("marker", (square,)), "Railway station")
    if layer_kind == "anchors" and geometry == "marker":
        return _anchors(gdf)
    if layer_kind == "power_plants" and geometry == "marker":
        return _power_plants(gdf)
    if layer_kind == "coal_areas" and geometry == "fill":
        return _single(_outline(COAL_AREA_COLOR, 0.5), "Coal-bearing area")
    return _single(_default_symbol(geometry), _humanize(table.removeprefix("input_")))


_TABLE_GEOMETRY = {
    "study_area": "fill",
    "exclusions": "fill",
    "candidate_patches": "fill",
    "clusters": "fill",
    "allocation_lines": "line",
    "input_boundary": "fill",
    "input_coal_areas": "fill",
    "input_protected_areas": "fill",
    "input_water": "fill",
    "input_rail": "line",
    "input_roads": "line",
    "input_rivers": "line",
}


# --- QML -----------------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, attrib: dict[str, str] | None = None, **kw) -> ET.Element:
    return ET.SubElement(parent, tag, {**(attrib or {}), **kw})


def _option_map(parent: ET.Element, values: dict[str, str], name: str | None = None) -> ET.Element:
    node = _sub(parent, "Option", {"name": name} if name else None, type="Map")
    for key, value in values.items():
        _sub(node, "Option", name=key, type="QString", value=value)
    return node


def _data_defined(parent: ET.Element, tag: str, expressions: dict[str, str]) -> None:
    """``<data_defined_properties>``: each QGIS property key → an active expression."""
    box = _sub(_sub(parent, tag), "Option", type="Map")
    _sub(box, "Option", name="name", type="QString", value="")
    if expressions:
        props = _sub(box, "Option", name="properties", type="Map")
        for key, expression in expressions.items():
            prop = _sub(props, "Option", name=key, type="Map")
            _sub(prop, "Option", name="active", type="bool", value="true")
            _sub(prop, "Option", name="expression", type="QString", value=expression)
            _sub(prop, "Option", name="type", type="int", value="3")
    else:
        _sub(box, "Option", name="properties")
    _sub(box, "Option", name="type", type="QString", value="collection")


_UNIT_SCALE = "3x:0,0,0,0,0,0"


def _qml_layer(parent: ET.Element, layer: _SymbolLayer, name: str) -> None:
    if isinstance(layer, _Marker):
        node = _sub(parent, "layer", {"class": "SimpleMarker"}, enabled="1", locked="0", pass_="0")
        props = {
            "angle": "0",
            "color": _rgba(layer.fill),
            "horizontal_anchor_point": "1",
            "joinstyle": "bevel",
            "name": layer.shape,
            "offset": "0,0",
            "offset_map_unit_scale": _UNIT_SCALE,
            "offset_unit": "MM",
            "outline_color": _rgba(layer.stroke),
            "outline_style": "solid" if layer.stroke_width > 0 else "no",
            "outline_width": _num(layer.stroke_width),
            "outline_width_map_unit_scale": _UNIT_SCALE,
            "outline_width_unit": "MM",
            "scale_method": "diameter",
            "size": _num(layer.size),
            "size_map_unit_scale": _UNIT_SCALE,
            "size_unit": "MM",
            "vertical_anchor_point": "1",
        }
        _option_map(node, props)
        _data_defined(
            node, "data_defined_properties", {"size": layer.size_expr} if layer.size_expr else {}
        )
    elif isinstance(layer, _Line):
        node = _sub(parent, "layer", {"class": "SimpleLine"}, enabled="1", locked="0", pass_="0")
        props = {
            "capstyle": "round",
            "customdash": "5;2",
            "customdash_unit": "MM",
            "draw_inside_polygon": "0",
            "joinstyle": "round",
            "line_color": _rgba(layer.color),
            "line_style": layer.style,
            "line_width": _num(layer.width),
            "line_width_unit": "MM",
            "offset": "0",
            "offset_unit": "MM",
            "use_custom_dash": "0",
            "width_map_unit_scale": _UNIT_SCALE,
        }
        _option_map(node, props)
        dd = {"outlineWidth": layer.width_expr} if layer.width_expr else {}
        _data_defined(node, "data_defined_properties", dd)
    elif isinstance(layer, _Fill):
        node = _sub(parent, "layer", {"class": "SimpleFill"}, enabled="1", locked="0", pass_="0")
        props = {
            "border_width_map_unit_scale": _UNIT_SCALE,
            "color": _rgba(layer.color or "#ffffff", layer.fill_alpha if layer.color else 0.0),
            "joinstyle": "bevel",
            "offset": "0,0",
            "offset_unit": "MM",
            "outline_color": _rgba(layer.stroke or "#000000"),
            "outline_style": layer.stroke_style if layer.stroke else "no",
            "outline_width": _num(layer.stroke_width),
            "outline_width_unit": "MM",
            "style": "solid" if layer.color else "no",
        }
        _option_map(node, props)
        _data_defined(node, "data_defined_properties", {})
    else:
        node = _sub(
            parent, "layer", {"class": "LinePatternFill"}, enabled="1", locked="0", pass_="0"
        )
        props = {
            "angle": _num(layer.angle),
            "color": _rgba(layer.color),
            "distance": _num(layer.distance),
            "distance_map_unit_scale": _UNIT_SCALE,
            "distance_unit": "MM",
            "line_width": _num(layer.width),
            "line_width_map_unit_scale": _UNIT_SCALE,
            "line_width_unit": "MM",
            "offset": "0",
            "offset_map_unit_scale": _UNIT_SCALE,
            "offset_unit": "MM",
            "outline_width_map_unit_scale": _UNIT_SCALE,
            "outline_width_unit": "MM",
        }
        _option_map(node, props)
        _data_defined(node, "data_defined_properties", {})
        hatch_line = _Symbol("line", (_Line(layer.color, layer.width),))
        _qml_symbol(node, hatch_line, f"@{name}@0")


def _qml_symbol(parent: ET.Element, symbol: _Symbol, name: str) -> None:
    node = _sub(
        parent,
        "symbol",
        name=name,
        type=symbol.kind,
        alpha=_num(symbol.opacity),
        clip_to_extent="1",
        force_rhr="0",
    )
    _data_defined(node, "data_defined_properties", {})
    for layer in symbol.layers:
        _qml_layer(node, layer, name)


def _qml_ramp(parent: ET.Element, colors: Sequence[str], name: str = "[source]") -> None:
    node = _sub(parent, "colorramp", name=name, type="gradient")
    n = len(colors)
    stops = ":".join(f"{_num(i / (n - 1))};{_rgba(c)}" for i, c in enumerate(colors[1:-1], 1))
    _option_map(
        node,
        {
            "color1": _rgba(colors[0]),
            "color2": _rgba(colors[-1]),
            "discrete": "0",
            "rampType": "gradient",
            "stops": stops,
        },
    )


def _qml_renderer(parent: ET.Element, spec: _Spec) -> None:
    attrib = {
        "type": spec.renderer,
        "symbollevels": "0",
        "forceraster": "0",
        "enableorderby": "1" if spec.order_by else "0",
        "referencescale": "-1",
    }
    if spec.attr:
        attrib["attr"] = spec.attr
    if spec.renderer == "graduatedSymbol":
        attrib["graduatedMethod"] = "GraduatedColor"
    node = _sub(parent, "renderer-v2", attrib)
    if spec.renderer == "categorizedSymbol":
        box = _sub(node, "categories")
        for i, c in enumerate(spec.classes):
            _sub(box, "category", render="true", symbol=str(i), value=c.value or "", label=c.label)
    elif spec.renderer == "graduatedSymbol":
        box = _sub(node, "ranges")
        for i, c in enumerate(spec.classes):
            _sub(
                box,
                "range",
                render="true",
                symbol=str(i),
                lower=f"{c.lower:.15f}",
                upper=f"{c.upper:.15f}",
                label=c.label,
            )
    symbols = _sub(node, "symbols")
    for i, c in enumerate(spec.classes):
        _qml_symbol(symbols, c.symbol, str(i))
    if spec.renderer in ("categorizedSymbol", "graduatedSymbol"):
        source = _sub(node, "source-symbol")
        _qml_symbol(source, spec.classes[0].symbol, "0")
    if spec.renderer == "graduatedSymbol":
        _qml_ramp(node, spec.ramp)
        method = _sub(node, "classificationMethod", id=spec.method)
        _sub(method, "symmetricMode", enabled="0", symmetrypoint="0", astride="0")
        _sub(method, "labelFormat", format="%1 – %2", labelprecision="2", trimtrailingzeroes="0")
        _sub(_sub(method, "parameters"), "Option")
        _sub(method, "extraInformation")
    if spec.order_by:
        expression, ascending = spec.order_by
        order = _sub(node, "orderby")
        clause = _sub(order, "orderByClause", asc="1" if ascending else "0", nullsFirst="0")
        clause.text = expression
    _sub(node, "rotation")
    _sub(node, "sizescale")


_PLACEMENT = {  # QgsPalLayerSettings::Placement
    "point": ("6", "1"),  # ordered positions around the point, 1 mm away
    "line": ("2", "0"),  # parallel to the line
    "polygon": ("1", "0"),  # over the centroid
}


def _qml_labeling(parent: ET.Element, label: _Label) -> None:
    settings = _sub(_sub(parent, "labeling", type="simple"), "settings", calloutType="simple")
    style = _sub(
        settings,
        "text-style",
        fieldName=label.text,
        isExpression="1" if label.expression else "0",
        fontSize=_num(label.size),
        fontSizeUnit="Point",
        fontWeight="75" if label.bold else "50",
        fontItalic="0",
        textColor=_rgba(label.color),
        textOpacity="1",
        namedStyle="Bold" if label.bold else "Regular",
        multilineHeight="1",
        blendMode="0",
        allowHtml="0",
        useSubstitutions="0",
        capitalization="0",
        previewBkgrdColor="255,255,255,255",
        legendString="Aa",
        textOrientation="horizontal",
    )
    _sub(
        style,
        "text-buffer",
        bufferDraw="1" if label.buffer > 0 else "0",
        bufferSize=_num(label.buffer),
        bufferSizeUnits="MM",
        bufferSizeMapUnitScale=_UNIT_SCALE,
        bufferColor="255,255,255,255",
        bufferOpacity="0.85",
        bufferNoFill="1",
        bufferJoinStyle="128",
        bufferBlendMode="0",
    )
    _sub(style, "background", shapeDraw="0")
    _sub(style, "shadow", shadowDraw="0")
    _sub(
        settings,
        "text-format",
        wrapChar="",
        multilineAlign="3",
        formatNumbers="0",
        decimals="3",
        plussign="0",
        addDirectionSymbol="0",
        autoWrapLength="0",
    )
    placement, dist = _PLACEMENT[label.placement]
    _sub(
        settings,
        "placement",
        placement=placement,
        dist=dist,
        distUnits="MM",
        placementFlags="10",
        polygonPlacementFlags="2",
        quadOffset="4",
        priority="5",
        predefinedPositionOrder="TR,TL,BR,BL,R,L,TSR,BSR",
        offsetType="0",
        xOffset="0",
        yOffset="0",
        offsetUnits="MM",
        centroidInside="1",
        centroidWhole="0",
        fitInPolygonOnly="0",
        repeatDistance="0",
    )
    _sub(
        settings,
        "rendering",
        drawLabels="1",
        obstacle="1",
        obstacleFactor="1",
        obstacleType="1",
        displayAll="0",
        upsidedownLabels="0",
        labelPerPart="0",
        mergeLines="0",
        scaleVisibility="0",
        scaleMin="0",
        scaleMax="0",
        limitNumLabels="0",
        maxNumLabels="2000",
        minFeatureSize="0",
        fontLimitPixelSize="0",
        fontMinPixelSize="3",
        fontMaxPixelSize="10000",
        zIndex="0",
        unplacedVisibility="0",
    )
    _data_defined(settings, "dd_properties", {})


_GEOMETRY_CODE = {"marker": "0", "line": "1", "fill": "2"}


def _root(labels: bool | None = None) -> ET.Element:
    root = ET.Element(
        "qgis",
        version=QGIS_VERSION,
        styleCategories="AllStyleCategories",
        hasScaleBasedVisibilityFlag="0",
        minScale="100000000",
        maxScale="0",
    )
    if labels is not None:
        root.set("labelsEnabled", "1" if labels else "0")
        root.set("simplifyDrawingHints", "1")
        root.set("simplifyAlgorithm", "0")
        root.set("simplifyDrawingTol", "1")
        root.set("simplifyLocal", "1")
        root.set("simplifyMaxScale", "1")
        root.set("readOnly", "0")
    flags = _sub(root, "flags")
    for flag, value in (("Identifiable", "1"), ("Removable", "1"), ("Searchable", "1")):
        _sub(flags, flag).text = value
    return root


def _custom_properties(root: ET.Element, abstract: str) -> None:
    _option_map(_sub(root, "customproperties"), {"siting/abstract": abstract})


def _serialize(root: ET.Element) -> str:
    ET.indent(root, "  ")
    text = ET.tostring(root, encoding="unicode")
    # ElementTree cannot take "pass" as a keyword: it is written as pass_ and renamed here.
    text = text.replace(' pass_="', ' pass="')
    return f"{DOCTYPE}\n{text}\n"


def _qml(spec: _Spec | None, aliases: dict[str, str], abstract: str, fields: Sequence[str]) -> str:
    """A layer's QML; ``spec`` None for an attributes table (no renderer, no geometry)."""
    root = _root(labels=None if spec is None else spec.label is not None)
    if spec is not None:
        _qml_renderer(root, spec)
        if spec.label is not None:
            _qml_labeling(root, spec.label)
    _custom_properties(root, abstract)
    _sub(root, "blendMode").text = "0"
    _sub(root, "featureBlendMode").text = "0"
    _sub(root, "layerOpacity").text = "1"
    box = _sub(root, "aliases")
    _sub(box, "alias", field="fid", index="0", name="Feature ID")
    for column in aliases:
        # GeoPackage layers open with the feature id as field 0.
        index = str(list(fields).index(column) + 1) if column in fields else "-1"
        _sub(box, "alias", field=column, index=index, name=aliases[column])
    _sub(root, "previewExpression").text = (
        '"site_id"' if "site_id" in aliases else ('"name"' if "name" in aliases else "")
    )
    _sub(root, "mapTip")
    _sub(root, "layerGeometryType").text = "4" if spec is None else _GEOMETRY_CODE[spec.geometry]
    return _serialize(root)


# --- SLD -----------------------------------------------------------------------------------------

SLD_NS = "http://www.opengis.net/sld"
SE_NS = "http://www.opengis.net/se"
OGC_NS = "http://www.opengis.net/ogc"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SLD_NS)
ET.register_namespace("se", SE_NS)
ET.register_namespace("ogc", OGC_NS)
ET.register_namespace("xsi", XSI_NS)
ET.register_namespace("xlink", XLINK_NS)

_SLD_MARKS = {  # QGIS marker → SLD well-known name
    "circle": "circle",
    "square": "square",
    "star": "star",
    "triangle": "triangle",
    "diamond": "square",  # rotated below
    "cross": "cross",
}


def _se(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{SE_NS}}}{tag}", attrib)
    if text is not None:
        node.text = text
    return node


def _ogc(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    node = ET.SubElement(parent, f"{{{OGC_NS}}}{tag}")
    if text is not None:
        node.text = text
    return node


def _svg(parent: ET.Element, name: str, value: str) -> None:
    _se(parent, "SvgParameter", value, name=name)


def _px(mm: float) -> str:
    return _num(round(mm * PX_PER_MM, 2))


def _sld_stroke(parent: ET.Element, color: str, width: float, style: str, opacity: float) -> None:
    stroke = _se(parent, "Stroke")
    _svg(stroke, "stroke", color)
    _svg(stroke, "stroke-width", _px(width))
    if opacity < 1:
        _svg(stroke, "stroke-opacity", _num(opacity))
    _svg(stroke, "stroke-linejoin", "round")
    _svg(stroke, "stroke-linecap", "round")
    if style == "dash":
        _svg(stroke, "stroke-dasharray", f"{_px(2 * width + 1.5)} {_px(width + 1)}")
    elif style == "dot":
        _svg(stroke, "stroke-dasharray", f"{_px(width)} {_px(width + 1)}")


def _sld_symbolizers(rule: ET.Element, symbol: _Symbol) -> None:
    for layer in symbol.layers:
        if isinstance(layer, _Marker):
            graphic = _se(_se(rule, "PointSymbolizer"), "Graphic")
            mark = _se(graphic, "Mark")
            _se(mark, "WellKnownName", _SLD_MARKS.get(layer.shape, "circle"))
            fill = _se(mark, "Fill")
            _svg(fill, "fill", layer.fill)
            if symbol.opacity < 1:
                _svg(fill, "fill-opacity", _num(symbol.opacity))
            if layer.stroke_width > 0:
                _sld_stroke(mark, layer.stroke, layer.stroke_width, "solid", 1.0)
            _se(graphic, "Size", _px(layer.size))
            if layer.shape == "diamond":
                _se(graphic, "Rotation", "45")
        elif isinstance(layer, _Line):
            _sld_stroke(
                _se(rule, "LineSymbolizer"), layer.color, layer.width, layer.style, symbol.opacity
            )
        elif isinstance(layer, _Fill):
            poly = _se(rule, "PolygonSymbolizer")
            if layer.color:
                fill = _se(poly, "Fill")
                _svg(fill, "fill", layer.color)
                _svg(fill, "fill-opacity", _num(layer.fill_alpha * symbol.opacity))
            if layer.stroke:
                _sld_stroke(
                    poly, layer.stroke, layer.stroke_width, layer.stroke_style, symbol.opacity
                )
        else:
            fill = _se(_se(rule, "PolygonSymbolizer"), "Fill")
            graphic = _se(_se(fill, "GraphicFill"), "Graphic")
            mark = _se(graphic, "Mark")
            # The nearest of SE's four hatch marks (angles counter-clockwise from east, as QGIS).
            angle = layer.angle % 180
            name = ("horline", "slash", "vertline", "backslash")[round(angle / 45) % 4]
            _se(mark, "WellKnownName", f"shape://{name}")
            _sld_stroke(mark, layer.color, layer.width, "solid", symbol.opacity)
            _se(graphic, "Size", _px(layer.distance))


def _sld_filter(rule: ET.Element, attr: str, c: _Class) -> None:
    flt = _ogc(rule, "Filter")
    if c.value is not None:
        equal = _ogc(flt, "PropertyIsEqualTo")
        _ogc(equal, "PropertyName", attr)
        _ogc(equal, "Literal", c.value)
        return
    both = _ogc(flt, "And")
    low = _ogc(both, "PropertyIsGreaterThanOrEqualTo")
    _ogc(low, "PropertyName", attr)
    _ogc(low, "Literal", repr(c.lower))
    high = _ogc(both, "PropertyIsLessThanOrEqualTo")
    _ogc(high, "PropertyName", attr)
    _ogc(high, "Literal", repr(c.upper))


def _sld_root(name: str, title: str, abstract: str) -> tuple[ET.Element, ET.Element]:
    root = ET.Element(
        f"{{{SLD_NS}}}StyledLayerDescriptor",
        {
            "version": "1.1.0",
            f"{{{XSI_NS}}}schemaLocation": (
                "http://www.opengis.net/sld "
                "http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd"
            ),
        },
    )
    layer = ET.SubElement(root, f"{{{SLD_NS}}}NamedLayer")
    _se(layer, "Name", name)
    style = ET.SubElement(layer, f"{{{SLD_NS}}}UserStyle")
    _se(style, "Name", name)
    description = _se(style, "Description")
    _se(description, "Title", title)
    _se(description, "Abstract", abstract)
    return root, _se(style, "FeatureTypeStyle")


def _sld_text(rule: ET.Element, label: _Label) -> None:
    text = _se(rule, "TextSymbolizer")
    _ogc(_se(text, "Label"), "PropertyName", label.sld_field or label.text)
    font = _se(text, "Font")
    _svg(font, "font-family", "sans-serif")
    _svg(font, "font-size", _num(round(label.size * 96 / 72, 1)))
    if label.bold:
        _svg(font, "font-weight", "bold")
    placement = _se(text, "LabelPlacement")
    if label.placement == "line":
        _se(placement, "LinePlacement")
    else:
        point = _se(placement, "PointPlacement")
        anchor = _se(point, "AnchorPoint")
        _se(anchor, "AnchorPointX", "0" if label.placement == "point" else "0.5")
        _se(anchor, "AnchorPointY", "0" if label.placement == "point" else "0.5")
        if label.placement == "point":
            displacement = _se(point, "Displacement")
            _se(displacement, "DisplacementX", _px(1.5))
            _se(displacement, "DisplacementY", _px(1.5))
    if label.buffer > 0:
        halo = _se(text, "Halo")
        _se(halo, "Radius", _px(label.buffer))
        _svg(_se(halo, "Fill"), "fill", "#ffffff")
    _svg(_se(text, "Fill"), "fill", label.color)


def _sld(spec: _Spec, name: str, title: str, abstract: str) -> str:
    root, fts = _sld_root(name, title, abstract)
    for c in spec.classes:
        rule = _se(fts, "Rule")
        _se(rule, "Name", c.label)
        _se(_se(rule, "Description"), "Title", c.label)
        if spec.renderer != "singleSymbol" and spec.attr:
            _sld_filter(rule, spec.attr, c)
        _sld_symbolizers(rule, c.symbol)
    if spec.label is not None:
        rule = _se(fts, "Rule")
        _se(rule, "Name", "Labels")
        if spec.label.sld_filter is not None:
            attr, _, value = spec.label.sld_filter
            greater = _ogc(_ogc(rule, "Filter"), "PropertyIsGreaterThanOrEqualTo")
            _ogc(greater, "PropertyName", attr)
            _ogc(greater, "Literal", _num(value))
        _sld_text(rule, spec.label)
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- public API ----------------------------------------------------------------------------------


def vector_style(table: str, gdf: gpd.GeoDataFrame, result: Result) -> Style:
    """The QGIS style of one GeoPackage table.

    Parameters
    ----------
    table
        The table's name in ``siting.gpkg`` (a key of :func:`siting.exports.gpkg.layers_of`):
        ``proposed_sites``, ``exclusions``, ``input_mines`` … Unknown tables get a plain symbol
        by geometry type.
    gdf
        The table as written (its columns give the aliases, its values the classes and scales).
    result
        The run (profiles and their colours, criteria units, the scenario).

    Returns
    -------
    Style
        QML, SLD, renderer type and abstract.

    Examples
    --------
    >>> from siting.exports import gpkg, qgis_styles
    >>> tables = gpkg.layers_of(result)  # doctest: +SKIP
    >>> style = qgis_styles.vector_style("proposed_sites", tables["proposed_sites"], result)
    ... # doctest: +SKIP
    >>> style.renderer  # doctest: +SKIP
    'categorizedSymbol'
    """
    import geopandas as gpd

    abstract = _abstract(table, gdf, result)
    title = _humanize(table.removeprefix("input_"))
    if not isinstance(gdf, gpd.GeoDataFrame):
        # An attributes table (no geometry): field aliases and the abstract, nothing to draw.
        columns = list(gdf.columns)
        root, _ = _sld_root(table, title, abstract)
        ET.indent(root, "  ")
        sld = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
        return Style(
            qml=_qml(None, field_aliases(columns, result, table), abstract, columns),
            sld=sld + "\n",
            renderer=None,
            abstract=abstract,
        )
    spec = _spec(table, gdf, result)
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    aliases = field_aliases(columns, result, table)
    return Style(
        qml=_qml(spec, aliases, abstract, columns),
        sld=_sld(spec, table, title, abstract),
        renderer=spec.renderer,
        abstract=abstract,
    )


def _is_score(raster: Raster) -> bool:
    text = f"{raster.name} {raster.units}".lower()
    return bool(re.search(r"suitab|score|0[–-]1", text))


def _raster_abstract(raster: Raster) -> str:
    grid = raster.grid
    what = raster.description or raster.name
    units = f"Units: {raster.units}." if raster.units else "Unitless."
    return (
        f"Raster '{raster.name}': {what}. {units} Float32 GeoTIFF on a {grid.res:g} m grid "
        f"({grid.width} × {grid.height} cells) in {grid.crs}; no data ({_num(NODATA)}) where "
        "excluded, outside the study area or not computed. Written by siting."
    )


def _raster_root(abstract: str) -> tuple[ET.Element, ET.Element]:
    root = _root()
    _option_map(
        _sub(root, "customproperties"), {"identify/format": "Value", "siting/abstract": abstract}
    )
    _data_defined(root, "pipe-data-defined-properties", {})
    pipe = _sub(root, "pipe")
    _sub(
        _sub(pipe, "provider"),
        "resampling",
        enabled="false",
        maxOversampling="2",
        zoomedInResamplingMethod="nearestNeighbour",
        zoomedOutResamplingMethod="nearestNeighbour",
    )
    return root, pipe


def _raster_tail(root: ET.Element, pipe: ET.Element, renderer: ET.Element) -> None:
    # -9999 is the files' nodata value (QGIS honours it from the file too); listing it as fully
    # transparent keeps the no-data cells clear even when a copy lost the nodata tag.
    transparency = _sub(renderer, "rasterTransparency")
    _sub(
        _sub(transparency, "singleValuePixelList"),
        "pixelListEntry",
        min=_num(NODATA),
        max=_num(NODATA),
        percentTransparent="100",
    )
    origin = _sub(renderer, "minMaxOrigin")
    for tag, text in (
        ("limits", "None"),
        ("extent", "WholeRaster"),
        ("statAccuracy", "Exact"),
        ("cumulativeCutLower", "0.02"),
        ("cumulativeCutUpper", "0.98"),
        ("stdDevFactor", "2"),
    ):
        _sub(origin, tag).text = text
    # QGIS expects rasterTransparency and minMaxOrigin first; move them before the shader.
    for child in (origin, transparency):
        renderer.remove(child)
        renderer.insert(0, child)
    _sub(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    _sub(
        pipe,
        "huesaturation",
        saturation="0",
        grayscaleMode="0",
        invertColors="0",
        colorizeOn="0",
        colorizeRed="255",
        colorizeGreen="128",
        colorizeBlue="128",
        colorizeStrength="100",
    )
    _sub(pipe, "rasterresampler", maxOversampling="2")
    _sub(pipe, "resamplingStage").text = "resamplingFilter"
    _sub(root, "blendMode").text = "0"


def _raster_continuous(raster: Raster, abstract: str) -> tuple[str, str]:
    values = raster.data[np.isfinite(raster.data) & (raster.data != NODATA)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    cmap = "viridis" if _is_score(raster) else "magma_r"
    precision = min(4, max(0, 2 - math.floor(math.log10(hi - lo))))
    unit = f" {raster.units}" if raster.units else ""
    root, pipe = _raster_root(abstract)
    renderer = _sub(
        pipe,
        "rasterrenderer",
        type="singlebandpseudocolor",
        band="1",
        opacity="1",
        alphaBand="-1",
        classificationMin=repr(lo),
        classificationMax=repr(hi),
        nodataColor="",
    )
    shader = _sub(
        _sub(renderer, "rastershader"),
        "colorrampshader",
        colorRampType="INTERPOLATED",
        classificationMode="1",
        clip="0",
        minimumValue=repr(lo),
        maximumValue=repr(hi),
        labelPrecision=str(precision),
    )
    _qml_ramp(shader, _ramp_colors(cmap, 17))
    items = _ramp_colors(cmap, 9)
    stops = np.linspace(lo, hi, len(items))
    for value, color in zip(stops, items, strict=True):
        _sub(
            shader,
            "item",
            value=repr(float(value)),
            color=color,
            alpha="255",
            label=f"{value:,.{precision}f}{unit}",
        )
    legend = _sub(
        shader,
        "rampLegendSettings",
        useContinuousLegend="1",
        prefix="",
        suffix=unit,
        minimumLabel="",
        maximumLabel="",
        direction="0",
        orientation="2",
    )
    fmt = _sub(legend, "numericFormat", id="basic")
    box = _sub(fmt, "Option", type="Map")
    _sub(box, "Option", name="decimals", type="int", value=str(precision))
    _sub(box, "Option", name="show_thousand_separator", type="bool", value="true")
    _sub(box, "Option", name="show_trailing_zeros", type="bool", value="false")
    _raster_tail(root, pipe, renderer)
    qml = _serialize(root)

    sld_root, fts = _sld_root(raster.name, raster.description or raster.name, abstract)
    symbolizer = _se(_se(fts, "Rule"), "RasterSymbolizer")
    _se(symbolizer, "Opacity", "1")
    interpolate = _se(_se(symbolizer, "ColorMap"), "Interpolate", fallbackValue="#00000000")
    _se(interpolate, "LookupValue", "Rasterdata")
    for value, color in zip(stops, items, strict=True):
        point = _se(interpolate, "InterpolationPoint")
        _se(point, "Data", repr(float(value)))
        _se(point, "Value", color)
    ET.indent(sld_root, "  ")
    sld = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(sld_root, encoding="unicode")
    return qml, sld + "\n"


def _raster_paletted(raster: Raster, abstract: str) -> tuple[str, str]:
    data = raster.data[np.isfinite(raster.data) & (raster.data != NODATA)]
    values = np.unique(data)[:256]
    import matplotlib

    table = matplotlib.colormaps["tab10" if len(values) <= 10 else "tab20"]
    colors = [matplotlib.colors.to_hex(table(i % table.N)) for i in range(len(values))]
    unit = f" {raster.units}" if raster.units else ""
    root, pipe = _raster_root(abstract)
    renderer = _sub(
        pipe,
        "rasterrenderer",
        type="paletted",
        band="1",
        opacity="1",
        alphaBand="-1",
        nodataColor="",
    )
    palette = _sub(renderer, "colorPalette")
    for value, color in zip(values, colors, strict=False):
        _sub(
            palette,
            "paletteEntry",
            value=_num(float(value)),
            color=color,
            alpha="255",
            label=f"{_num(float(value))}{unit}",
        )
    _raster_tail(root, pipe, renderer)
    qml = _serialize(root)

    sld_root, fts = _sld_root(raster.name, raster.description or raster.name, abstract)
    symbolizer = _se(_se(fts, "Rule"), "RasterSymbolizer")
    _se(symbolizer, "Opacity", "1")
    categorize = _se(_se(symbolizer, "ColorMap"), "Categorize", fallbackValue="#00000000")
    _se(categorize, "LookupValue", "Rasterdata")
    for i, (value, color) in enumerate(zip(values, colors, strict=False)):
        if i:
            _se(categorize, "Threshold", _num((float(values[i - 1]) + float(value)) / 2))
        _se(categorize, "Value", color)
    ET.indent(sld_root, "  ")
    sld = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(sld_root, encoding="unicode")
    return qml, sld + "\n"


def raster_style(raster: Raster, kind: str = "continuous") -> Style:
    """The QML sidecar (and SLD) of one GeoTIFF written by :mod:`siting.exports.rasters`.

    Parameters
    ----------
    raster
        The raster as written (its finite values give the colour ramp's range; its name and units
        choose the ramp and label the legend).
    kind
        ``"continuous"``: a ``singlebandpseudocolor`` renderer with an interpolated ramp, viridis
        for suitability and scores, magma_r (dark = far / costly) for distances, costs and other
        criteria. ``"categorical"``: a ``paletted`` renderer with one colour per distinct value.

    Returns
    -------
    Style
        QML, SLD, renderer type and abstract. The -9999 no-data value is drawn transparent.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    abstract = _raster_abstract(raster)
    if kind == "continuous":
        qml, sld = _raster_continuous(raster, abstract)
        return Style(qml, sld, "singlebandpseudocolor", abstract)
    if kind == "categorical":
        qml, sld = _raster_paletted(raster, abstract)
        return Style(qml, sld, "paletted", abstract)
    raise ValueError(f"raster_style: kind must be 'continuous' or 'categorical', not {kind!r}")


__all__ = ["Style", "field_aliases", "raster_style", "vector_style"]
