"""QGIS styles of the GeoPackage's tables: one :class:`~siting.exports.qgis.symbols.Spec` per table.

Proposed sites by profile with ranks as labels, hatched exclusions, mines by status sized by
output, rail and roads by class, anchors by kind, candidate patches graduated by score, the models'
plants, routes and covering …, each with human field aliases and an abstract. Colours, classes,
units, aliases and abstracts come from :mod:`siting.exports.theme`, as on the web map.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from siting.exports import theme
from siting.exports.qgis import qml, sld
from siting.exports.qgis.symbols import (
    Class,
    Fill,
    Hatch,
    Label,
    Line,
    Marker,
    Spec,
    Style,
    Symbol,
    num,
    ramp_colors,
)
from siting.exports.theme import (
    ABSTRACTS,
    ALIASES,
    BOUNDARY_COLOR,
    CLUSTER_COLOR,
    COAL_AREA_COLOR,
    COVERED_COLORS,
    DEFAULT_COLOR,
    EXCLUSION_COLOR,
    EXISTING_COLOR,
    NEW_SITE_COLOR,
    PLANT_COLOR,
    POWER_COLOR,
    PROTECTED_COLOR,
    RIVER_COLOR,
    ROBUSTNESS_COLORS,
    SETTLEMENT_COLOR,
    STATION_COLOR,
    STATUS_COLORS,
    STUDY_AREA_COLOR,
    SUITABILITY_CMAP,
    WATER_COLOR,
    Palette,
    humanize,
)

if TYPE_CHECKING:
    from typing import TypeAlias

    import geopandas as gpd

    from siting.exports.runinfo import RunInfo

    # What the styles read of a run: its run info, made by a live run or read back from an
    # output folder (siting.exports.qgis.project).
    Run: TypeAlias = RunInfo

HATCH_ANGLES = (45.0, -45.0, 0.0, 90.0, 22.5, -67.5)  # one per profile's exclusions


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


def field_aliases(columns: Iterable[str], result: Run, table: str | None = None) -> dict[str, str]:
    """Human names for a table's fields (``score`` → "Suitability score (0–1)" …).

    Parameters
    ----------
    columns
        The table's column names (the geometry column is skipped).
    result
        The run, for the criteria's units, the layers' kinds and the models' weight fields (or
        the same read back from an output folder by :mod:`siting.exports.qgis.project`).
    table
        The table's name: the covering tables' ``weight`` is the covering demand (population),
        not the allocation's.

    Returns
    -------
    dict
        Alias by field name, for every field.
    """
    s = result.scenario
    a, poles = s.allocation, s.clusters
    weight = theme.weight_unit(s, a.demand, a.weight_field) if a else "weight"
    per_km = theme.transport_unit(s, a.demand, a.weight_field) if a else "weight·km"
    pole_unit = theme.field_unit(s, poles.layer, poles.weight_field) if poles else None
    covering = getattr(s, "covering", None)
    reach = (
        theme.weight_unit(s, covering.demand, covering.weight_field)
        if covering is not None
        else "weight"
    )
    layer = table.removeprefix("input_") if table and table.startswith("input_") else None
    extra = {
        "weight": f"Demand ({weight})" if weight != "weight" else "Demand weight",
        "served_weight": f"Demand served ({weight})",
        "capacity": f"Capacity ({weight})",
        "weight_x_km": f"Demand × distance ({per_km})",
        "transport": f"Transport, Σ demand × km ({per_km})",
        "weight_x_cost": f"Demand × haul cost ({weight} × cost units)",
        "total_weight": f"Total {poles.weight_field} ({pole_unit})"
        if poles and pole_unit
        else "Total weight",
        "total_capacity": "Total design capacity",
        "covered_weight": f"Demand covered ({reach})",
        "covered": "Covered within the time limit"
        if covering is None
        else f"Covered within {num(covering.max_minutes)} min",
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
            aliases[column] = f"{humanize(criterion)} contribution"
        elif prefix == "raw" and criterion in result.criteria:
            units = result.criteria[criterion].units
            aliases[column] = f"{humanize(criterion)} raw value" + (f" ({units})" if units else "")
        elif (unit := theme.field_unit(s, layer, column)) is not None:
            aliases[column] = f"{humanize(column)} ({unit})"
        else:
            aliases[column] = extra.get(column) or ALIASES.get(column) or humanize(column)
    return aliases


def _abstract(table: str, gdf: gpd.GeoDataFrame, result: Run) -> str:
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
        units = "".join(
            f" {humanize(column)} in {unit}."
            for column in gdf.columns
            if (unit := theme.field_unit(s, name, column)) is not None
        )
        units += theme.exactness_sentence(spec)  # a schematic layer says so
        return (
            f"Input layer '{name}' as the run used it{source}: reprojected to {s.crs} and clipped "
            f"to the padded study area.{units} {where}"
        )
    what = ABSTRACTS.get(table, f"Table '{table}' of the siting run.")
    if table.startswith("allocation_") and s.allocation is not None:
        a = s.allocation
        capacity = getattr(a, "capacity", None)
        unit = theme.weight_unit(s, a.demand, a.weight_field)
        model = (
            f"p-median, p = {a.p}"
            if capacity is None
            else f"capacitated, capacity {num(capacity)} {unit} per plant, "
            f"opening cost {num(getattr(a, 'opening_cost', 0.0))} "
            f"{theme.transport_unit(s, a.demand, a.weight_field)}"
            + (f", p = {a.p}" if a.p is not None else ", opening costs decide how many")
        )
        what += (
            f" Profile '{a.profile}', {model}; demand '{a.demand}' weighted by "
            f"{a.weight_field or 'count'} ({unit})."
        )
    covering = getattr(s, "covering", None)
    if table.startswith("covering_") and covering is not None:
        kept = f", existing '{covering.existing}'" if covering.existing else ""
        kept += f" where {covering.existing_where}" if covering.existing_where else ""
        what += (
            f" Profile '{covering.profile}', p = {covering.p} new site(s){kept}; demand "
            f"'{covering.demand}' weighted by {covering.weight_field or 'count'}, within "
            f"{num(covering.max_minutes)} min "
            + (
                f"door to door over the road network ('{network.layer}')."
                if (network := getattr(s, "network", None)) is not None
                else f"at {num(covering.speed_kmh)} km/h on roads."
            )
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


def _single(symbol: Symbol, legend: str, **kwargs) -> Spec:
    return Spec("singleSymbol", symbol.kind, (Class(legend, symbol),), **kwargs)


def _default_symbol(kind: str) -> Symbol:
    if kind == "line":
        return Symbol("line", (Line(DEFAULT_COLOR, 0.5),))
    if kind == "fill":
        return Symbol("fill", (Fill(DEFAULT_COLOR, "#252525", 0.3, fill_alpha=0.3),))
    return Symbol("marker", (Marker("circle", DEFAULT_COLOR, 2.5, "#ffffff", 0.3),))


def _outline(color: str, width: float, style: str = "solid") -> Symbol:
    return Symbol("fill", (Fill(None, color, width, style),))


def _proposed_sites(gdf: gpd.GeoDataFrame, result: Run) -> Spec:
    top = max(2.0, _max(gdf, "rank", 2.0))
    size = f'coalesce(scale_linear("rank", 1, {num(top)}, 7, 3.5), 4)'
    classes = tuple(
        Class(
            p.title,
            Symbol("marker", (Marker("circle", p.color, 5.0, "#ffffff", 0.6, size),)),
            value=name,
        )
        for name, p in result.scenario.profiles.items()
    )
    label = Label("rank", size=9.0, bold=True, buffer=1.0, sld_field="rank")
    return Spec(
        "categorizedSymbol", "marker", classes, "profile", label, order_by=('"rank"', False)
    )


def _exclusions(gdf: gpd.GeoDataFrame, result: Run) -> Spec:
    def hatched(color: str, angle: float) -> Symbol:
        return Symbol(
            "fill",
            (Hatch(color, angle, 2.5, 0.3), Fill(None, color, 0.4, "dash")),
            opacity=0.8,
        )

    if "profile" not in gdf.columns:
        return _single(hatched(EXCLUSION_COLOR, 45.0), "Excluded")
    profiles = result.scenario.profiles
    values = list(profiles) + [v for v in _present(gdf, "profile") if v not in profiles]
    classes = tuple(
        Class(
            f"Excluded for {profiles[v].title}" if v in profiles else f"Excluded for {v}",
            hatched(
                profiles[v].color if v in profiles else EXCLUSION_COLOR,
                HATCH_ANGLES[i % len(HATCH_ANGLES)],
            ),
            value=v,
        )
        for i, v in enumerate(values)
    )
    return Spec("categorizedSymbol", "fill", classes, "profile")


def _mines(gdf: gpd.GeoDataFrame) -> Spec:
    size = 'coalesce(scale_linear(sqrt("output"), 0, 5, 1.5, 8), 2)'

    def marker(color: str) -> Symbol:
        return Symbol("marker", (Marker("circle", color, 3.0, "#ffffff", 0.25, size),), 0.85)

    statuses = _present(gdf, "status", STATUS_COLORS)
    if not statuses:
        return _single(marker(STATUS_COLORS["operating"]), "Mine (size = output)")
    classes = tuple(
        Class(humanize(v), marker(STATUS_COLORS.get(v, DEFAULT_COLOR)), value=v) for v in statuses
    )
    return Spec("categorizedSymbol", "marker", classes, "status", order_by=('"output"', False))


def _lines_by_class(gdf: gpd.GeoDataFrame, result: Run, layer: str, palette: Palette) -> Spec:
    """A line layer by class (:data:`siting.exports.theme.CLASS_FIELD`), the most important
    class boldest (:func:`siting.exports.theme.classes`)."""
    field = theme.CLASS_FIELD
    values = gdf[field].tolist() if field in gdf.columns else []
    ranked = theme.classes(result.scenario, layer, values)
    if not ranked:
        return _single(
            Symbol("line", (Line(palette.single.color, palette.single.mm),)), palette.single_label
        )
    classes = tuple(
        Class(
            theme.class_label(result.scenario, layer, value, palette.noun),
            Symbol("line", (Line(palette.style(rank).color, palette.style(rank).mm),)),
            value=value,
        )
        for rank, value in enumerate(ranked)
    )
    return Spec("categorizedSymbol", "line", classes, field)


def _settlements(gdf: gpd.GeoDataFrame) -> Spec:
    if "population" not in gdf.columns:
        marker = Marker("circle", SETTLEMENT_COLOR, 2.5, "#ffffff", 0.3)
        label = Label("name", sld_field="name") if "name" in gdf.columns else None
        return _single(Symbol("marker", (marker,), 0.8), "Settlement", label=label)
    top = _max(gdf, "population", 1.0)
    size = f'coalesce(scale_linear(sqrt("population"), 0, {num(math.sqrt(top))}, 1.5, 7), 1.5)'
    marker = Marker("circle", SETTLEMENT_COLOR, 2.5, "#ffffff", 0.3, size)
    label = None
    if "name" in gdf.columns:
        pops = np.sort(gdf["population"].to_numpy(dtype=float, na_value=np.nan))
        pops = pops[np.isfinite(pops)]
        threshold = float(pops[-min(10, len(pops))]) if len(pops) else 0.0
        label = Label(
            f'if("population" >= {num(threshold)}, "name", NULL)',
            expression=True,
            size=8.5,
            sld_field="name",
            sld_filter=("population", ">=", threshold),
        )
    return _single(
        Symbol("marker", (marker,), 0.8),
        "Settlement (size = population)",
        label=label,
        order_by=('"population"', False),
    )


def _anchors(gdf: gpd.GeoDataFrame, result: Run, layer: str) -> Spec:
    """Anchors by kind, the first kind (in the layer's order) most prominent."""
    palette, field = theme.ANCHORS, theme.CLASS_FIELD
    ranked = theme.classes(result.scenario, layer, gdf[field].tolist() if field in gdf else [])
    if not ranked:
        m = palette.single
        return _single(Symbol("marker", (Marker(m.shape, m.color, m.mm),)), palette.single_label)
    classes = []
    for rank, value in enumerate(ranked):
        m = palette.style(rank)
        classes.append(
            Class(
                theme.class_label(result.scenario, layer, value, palette.noun),
                Symbol("marker", (Marker(m.shape, m.color, m.mm),)),
                value,
            )
        )
    return Spec("categorizedSymbol", "marker", tuple(classes), field)


def _power_plants(gdf: gpd.GeoDataFrame) -> Spec:
    size = None
    if "capacity_mw" in gdf.columns:
        top = math.sqrt(_max(gdf, "capacity_mw", 1.0))
        size = f'coalesce(scale_linear(sqrt("capacity_mw"), 0, {num(top)}, 2.5, 6.5), 3)'
    marker = Marker("diamond", POWER_COLOR, 4.0, "#252525", 0.3, size)
    label = "Power plant (size = capacity)" if size else "Power plant"
    return _single(Symbol("marker", (marker,)), label)


def _rivers(gdf: gpd.GeoDataFrame) -> Spec:
    expr = None
    if "width_m" in gdf.columns:
        top = _max(gdf, "width_m", 100.0)
        expr = f'coalesce(scale_linear("width_m", 0, {num(top)}, 0.3, 1.6), 0.4)'
    line = Line(RIVER_COLOR, 0.6, width_expr=expr)
    return _single(Symbol("line", (line,)), "River (width = width_m)" if expr else "River")


def _patches(gdf: gpd.GeoDataFrame) -> Spec:
    values = gdf["mean_score"].to_numpy(dtype=float, na_value=np.nan) if len(gdf) else np.array([])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.05, hi + 0.05  # one score only: five classes around it
    edges = np.linspace(lo, hi, 6)
    colors = ramp_colors(SUITABILITY_CMAP, 5)
    classes = tuple(
        Class(
            f"{edges[i]:.2f} – {edges[i + 1]:.2f}",
            Symbol("fill", (Fill(colors[i], "#3a3a3a", 0.15, fill_alpha=0.85),)),
            lower=float(edges[i]),
            upper=float(edges[i + 1]),
        )
        for i in range(5)
    )
    return Spec(
        "graduatedSymbol",
        "fill",
        classes,
        "mean_score",
        ramp=tuple(ramp_colors(SUITABILITY_CMAP, 11)),
    )


def _plants(gdf: gpd.GeoDataFrame, result: Run) -> Spec:
    a = result.scenario.allocation
    color = PLANT_COLOR
    if a is not None and a.profile in result.scenario.profiles:
        color = result.scenario.profiles[a.profile].color
    marker = Marker("square", color, 6.5, "#000000", 0.6)
    capacitated = "utilisation" in gdf.columns
    label = None
    if "site_id" in gdf.columns and capacitated:
        label = Label(
            "\"site_id\" || ' (' || round(100 * \"utilisation\") || ' %)'",
            expression=True,
            size=8.5,
            bold=True,
            sld_field="site_id",
        )
    elif "site_id" in gdf.columns:
        label = Label("site_id", size=8.5, bold=True, sld_field="site_id")
    legend = "Plant (capacitated; label: utilisation)" if capacitated else "Plant (p-median)"
    return _single(Symbol("marker", (marker,)), legend, label=label)


def _covering_sites(gdf: gpd.GeoDataFrame, result: Run) -> Spec:
    covering = getattr(result.scenario, "covering", None)
    color = NEW_SITE_COLOR
    if covering is not None and covering.profile in result.scenario.profiles:
        color = result.scenario.profiles[covering.profile].color
    known = {
        "existing": ("star", EXISTING_COLOR, 6.5, "Existing, kept open"),
        "new": ("diamond", color, 5.5, "New site (maximal covering)"),
    }
    statuses = _present(gdf, "status", known) or list(known)
    classes = tuple(
        Class(
            known.get(v, ("circle", DEFAULT_COLOR, 4.0, humanize(v)))[3],
            Symbol(
                "marker",
                (Marker(*known.get(v, ("circle", DEFAULT_COLOR, 4.0))[:3], "#000000", 0.4),),
            ),
            value=v,
        )
        for v in statuses
    )
    label = Label("name", size=8.5, bold=True, sld_field="name") if "name" in gdf else None
    return Spec("categorizedSymbol", "marker", classes, "status", label)


def _covering_demand(gdf: gpd.GeoDataFrame, result: Run) -> Spec:
    covering = getattr(result.scenario, "covering", None)
    limit = f"{num(covering.max_minutes)} min" if covering is not None else "the time limit"
    top = math.sqrt(_max(gdf, "weight", 1.0))
    size = f'coalesce(scale_linear(sqrt("weight"), 0, {num(top)}, 1.5, 7), 1.5)'
    classes = tuple(
        Class(
            f"Reached within {limit}" if covered else f"Not reached within {limit}",
            Symbol(
                "marker",
                (Marker("circle", COVERED_COLORS[covered], 3.0, "#ffffff", 0.3, size),),
                0.85,
            ),
            value="true" if covered else "false",
        )
        for covered in (True, False)
    )
    return Spec("categorizedSymbol", "marker", classes, "covered", order_by=('"weight"', False))


def _robustness(gdf: gpd.GeoDataFrame, result: Run) -> Spec:
    spec = getattr(result.scenario, "sensitivity", None)
    robust = f"{spec.robust:.0%}" if spec is not None else "the robust share"
    fragile = f"{spec.fragile:.0%}" if spec is not None else "the fragile share"
    known = {
        "robust": (6.0, f"Robust: in the plan in ≥ {robust} of the draws"),
        "moderate": (5.0, "Moderate"),
        "fragile": (5.0, f"Fragile: in the plan in < {fragile} of the draws"),
        "": (2.5, "Not in the plan"),
    }
    classes = tuple(
        Class(
            legend,
            Symbol("marker", (Marker("circle", ROBUSTNESS_COLORS[v], size, "#000000", 0.4),)),
            value=v,
        )
        for v, (size, legend) in known.items()
    )
    return Spec("categorizedSymbol", "marker", classes, "robustness_class")


def _spec(table: str, gdf: gpd.GeoDataFrame, result: Run) -> Spec:
    geometry = _geometry_kind(gdf, _TABLE_GEOMETRY.get(table, "marker"))
    layer, layer_kind = None, None
    if table.startswith("input_"):
        layer = table.removeprefix("input_")
        layer_kind = theme.role(result.scenario, layer)
    if table == "proposed_sites":
        return _proposed_sites(gdf, result)
    if table == "exclusions":
        return _exclusions(gdf, result)
    if table == "candidate_patches" and "mean_score" in gdf.columns:
        return _patches(gdf)
    if table == "study_area":
        return _single(_outline(STUDY_AREA_COLOR, 0.8), "Study area")
    if table == "clusters":
        label = Label(
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
        star = Marker("star", CLUSTER_COLOR, 5.0, "#ffffff", 0.4)
        return _single(Symbol("marker", (star,)), "Weber point of a growth pole")
    if table == "cluster_weber_snapped":
        ring = Marker("circle", "#ffffff", 4.0, CLUSTER_COLOR, 0.6)
        star = Marker("star", CLUSTER_COLOR, 3.0, CLUSTER_COLOR, 0.0)
        return _single(
            Symbol("marker", (ring, star)), "Weber point snapped to eligible land (ringed star)"
        )
    if table == "allocation_lines" and geometry == "line":
        top = _max(gdf, "weight", 1.0)
        expr = f'coalesce(scale_linear("weight", 0, {num(top)}, 0.2, 2.0), 0.2)'
        line = Line(DEFAULT_COLOR, 0.6, width_expr=expr)
        legend = "Haul route, mine → plant (width = demand)"
        return _single(Symbol("line", (line,), 0.7), legend, order_by=('"weight"', True))
    if table == "allocation_plants":
        return _plants(gdf, result)
    if table == "covering_sites":
        return _covering_sites(gdf, result)
    if table == "robustness":
        return _robustness(gdf, result)
    if table == "covering_demand":
        return _covering_demand(gdf, result)
    if {"output", "status"} <= set(gdf.columns) or (
        layer_kind == "mines" and "output" in gdf.columns
    ):
        return _mines(gdf)
    palette = theme.LINES.get(layer_kind) if layer_kind is not None else None
    if layer is not None and palette is not None and geometry == "line":
        return _lines_by_class(gdf, result, layer, palette)
    if layer_kind == "boundary":
        return _single(_outline(BOUNDARY_COLOR, 0.5, "dash"), "Region boundary")
    if layer_kind == "protected_areas" and geometry == "fill":
        fill = Fill(PROTECTED_COLOR, PROTECTED_COLOR, 0.4, fill_alpha=0.25)
        return _single(Symbol("fill", (fill,)), "Protected area")
    if layer_kind == "water" and geometry == "fill":
        fill = Fill(WATER_COLOR, WATER_COLOR, 0.3, fill_alpha=0.6)
        return _single(Symbol("fill", (fill,)), "Lake or reservoir")
    if layer_kind == "rivers" and geometry == "line":
        return _rivers(gdf)
    if layer_kind == "settlements" and geometry == "marker":
        return _settlements(gdf)
    if layer_kind == "stations" and geometry == "marker":
        square = Marker("square", STATION_COLOR, 1.8, "#ffffff", 0.2)
        return _single(Symbol("marker", (square,)), "Railway station")
    if layer is not None and layer_kind == "anchors" and geometry == "marker":
        return _anchors(gdf, result, layer)
    if layer_kind == "power_plants" and geometry == "marker":
        return _power_plants(gdf)
    if layer_kind == "coal_areas" and geometry == "fill":
        return _single(_outline(COAL_AREA_COLOR, 0.5), "Coal-bearing area")
    return _single(_default_symbol(geometry), humanize(table.removeprefix("input_")))


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

# --- public API ----------------------------------------------------------------------------------


def vector_style(table: str, gdf: gpd.GeoDataFrame, result: Run) -> Style:
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
        The run (profiles and their colours, criteria units, the scenario), or the same read
        back from an output folder by :mod:`siting.exports.qgis.project`.

    Returns
    -------
    Style
        QML, SLD, renderer type and abstract.

    Examples
    --------
    >>> from siting.exports import gpkg
    >>> from siting.exports.qgis.styles import vector_style
    >>> tables = gpkg.layers_of(result)  # doctest: +SKIP
    >>> style = vector_style("proposed_sites", tables["proposed_sites"], result)
    ... # doctest: +SKIP
    >>> style.renderer  # doctest: +SKIP
    'categorizedSymbol'
    """
    import geopandas as gpd

    abstract = _abstract(table, gdf, result)
    title = humanize(table.removeprefix("input_"))
    if not isinstance(gdf, gpd.GeoDataFrame):
        # An attributes table (no geometry): field aliases and the abstract, nothing to draw.
        columns = list(gdf.columns)
        root, _ = sld.styled_layer(table, title, abstract)
        return Style(
            qml=qml.document(None, field_aliases(columns, result, table), abstract, columns),
            sld=sld.serialize(root),
            renderer=None,
            abstract=abstract,
        )
    spec = _spec(table, gdf, result)
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    aliases = field_aliases(columns, result, table)
    return Style(
        qml=qml.document(spec, aliases, abstract, columns),
        sld=sld.document(spec, table, title, abstract),
        renderer=spec.renderer,
        abstract=abstract,
    )
