"""``map.html``: the interactive folium map of a run, and a side-by-side map of two runs.

Overlays are grouped (Proposals, Technoparks (covering), Suitability, Criteria, Constraints,
Inputs) in one layer control; basemaps (OpenStreetMap, satellite, terrain, from xyzservices) in
another. With ``offline=True`` (the default) every script and style is inlined, so the file opens
on a closed network; only basemap tiles need one.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import branca.colormap
import folium
import folium.plugins
import geopandas as gpd
import matplotlib
import matplotlib.image
import numpy as np
import xyzservices.providers as xyz

from siting.exports import theme
from siting.exports.theme import (
    BAR_COLOR,
    CLUSTER_COLOR,
    CONSTRAINTS_GROUP,
    COVERED_COLORS,
    COVERING_GROUP,
    CRITERIA_GROUP,
    CRITERION_CMAP,
    DEFAULT_COLOR,
    EXCLUSION_COLOR,
    EXISTING_COLOR,
    INPUTS_GROUP,
    NEW_SITE_COLOR,
    PROPOSALS_GROUP,
    PROTECTED_COLOR,
    RIVER_COLOR,
    SETTLEMENT_COLOR,
    STATUS_COLORS,
    STUDY_AREA_COLOR,
    SUITABILITY_CMAP,
    SUITABILITY_GROUP,
    WATER_COLOR,
)
from siting.exports.webmap import caveat, chain, elements, robustness
from siting.exports.webmap.offline import inline_assets
from siting.exports.webmap.overlay import WGS84, cached_overlay

if TYPE_CHECKING:
    from siting.allocation import Allocation, Covering
    from siting.config.scenario import AllocationModel, CoveringModel
    from siting.pipeline.result import Result

BASEMAPS = (
    (xyz.OpenStreetMap.Mapnik, "OpenStreetMap"),
    (xyz.Esri.WorldImagery, "Satellite (Esri World Imagery)"),
    (xyz.OpenTopoMap, "Terrain (OpenTopoMap)"),
)
TITLE = (
    "<style>.leaflet-control-layers-expanded{{max-height:calc(100vh - 160px);"
    "overflow-y:auto}}</style>"
    "<div id='siting-title' style='position:fixed;top:10px;left:60px;z-index:1000;"
    "background:white;padding:6px 10px;border-radius:4px;box-shadow:0 1px 4px #0004;"
    "font:13px sans-serif;max-width:480px'><b>{title}</b><br>scenario <code>{name}</code> · "
    "grid {res:g} m · {n_sites} proposed sites{notes}{caveat}</div>"
)


def _bars(row: gpd.GeoSeries, criteria: list, units: dict[str, str]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(c.title or c.name)}</td><td style='width:110px'>"
        f"<div class='bar' style='background:{BAR_COLOR};height:10px;"
        f"width:{max(0.0, row[f'w_{c.name}']) / max(row['score'], 1e-9) * 100:.0f}%'></div></td>"
        f"<td>{row[f'w_{c.name}']:.3f}</td><td>{row[f'raw_{c.name}']:,.0f} "
        f"{html.escape(units[c.name])}</td></tr>"
        for c in criteria
    )
    return (
        "<table style='font-size:11px'><tr><th>criterion</th><th colspan=2>contribution</th>"
        f"<th>raw value</th></tr>{rows}</table>"
    )


def _site_popup(row: gpd.GeoSeries, result: Result) -> str:
    profile = result.scenario.profiles[row["profile"]]
    units = {name: r.units for name, r in result.criteria.items()}
    head = (
        f"<div class='site-popup'><b>{html.escape(profile.title)} #{row['rank']}</b> "
        f"<code>{html.escape(row['site_id'])}</code><br>rank {row['rank']} · score "
        f"<b>{row['score']:.3f}</b><br>{html.escape(str(row.get('near', '')))} "
        f"({row['lat']:.4f} N, {row['lon']:.4f} E)"
    )
    if row.get("origin") == "weber":  # a candidate by transport, not by its score
        head += "<br>the Weber point of a growth pole (least transport to its mines)"
    served = ""
    a = result.allocation
    if a is not None and row["site_id"] in set(a.plants["site_id"]):
        served = _plant_block(result, row["site_id"])
    head += robustness.popup_line(result, row["site_id"])
    return head + served + _bars(row, list(profile.criteria), units) + "</div>"


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}" if np.isfinite(value) else "–"


def _allocation(result: Result) -> tuple[Allocation, AllocationModel]:
    """The run's location-allocation and its model (for a run that has one)."""
    a, spec = result.allocation, result.scenario.allocation
    if a is None or spec is None:
        raise ValueError("the run has no location-allocation")
    return a, spec


def _covering_of(result: Result) -> tuple[Covering, CoveringModel]:
    """The run's maximal covering and its model (for a run that has one)."""
    c, spec = result.covering, result.scenario.covering
    if c is None or spec is None:
        raise ValueError("the run has no maximal covering")
    return c, spec


def _plant_block(result: Result, site_id: str) -> str:
    """The popup lines of a site the location-allocation opened: what it serves, its transport,
    and its capacity and utilisation in the capacitated model."""
    a, spec = _allocation(result)
    unit = theme.weight_unit(result.scenario, spec.demand, spec.weight_field)
    plant = a.plants[a.plants["site_id"] == site_id].iloc[0]
    lines = a.lines[a.lines["site_id"] == site_id].sort_values("weight", ascending=False)
    items = "".join(
        f"<li>{html.escape(str(d))}: {w:.2f} {unit}, {km:.1f} km"
        + (f" ({share:.0%} of it)" if share < 1 - 1e-6 else "")
        + "</li>"
        for d, w, km, share in zip(
            lines["demand"], lines["weight"], lines["km"], lines["share"], strict=True
        )
    )
    what = "mines" if spec.demand == "mines" else f"{html.escape(spec.demand)} features"
    capacity = ""
    if "capacity" in plant.index and np.isfinite(plant["capacity"]):
        capacity = (
            f"<br>capacity {_fmt(plant['capacity'])} {unit}, utilisation "
            f"<b>{plant['utilisation']:.0%}</b>"
        )
    return (
        f"<br><b>{html.escape(a.model)} plant</b>: serves {int(plant['n_served'])} {what}, "
        f"{plant['served_weight']:.1f} {unit}{capacity}<br>transport "
        f"{_fmt(plant['weight_x_km'])} "
        f"{theme.transport_unit(result.scenario, spec.demand, spec.weight_field)} "
        f"({theme.haul_km(result.scenario)} km)"
        f"<ul style='margin:2px 0;padding-left:16px'>{items}</ul>"
    )


def _lines(result: Result, layer: str, name: str) -> folium.GeoJson:
    """A line layer (rail, roads) by class, in the theme's styles (the most important class
    boldest, as in QGIS)."""
    gdf = result.layers[layer]
    palette = theme.LINES.get(theme.role(result.scenario, layer))
    field = theme.CLASS_FIELD
    by_class: dict[str, theme.LineStyle] = {}
    if palette is not None and field in gdf.columns:
        ranked = theme.classes(result.scenario, layer, gdf[field].tolist())
        by_class = {value: palette.style(rank) for rank, value in enumerate(ranked)}
    plain = theme.LineStyle(DEFAULT_COLOR, 2.0, 0.4)
    if palette is not None:
        plain = palette.single if field not in gdf.columns else palette.other

    def style(feature: dict) -> dict:
        s = by_class.get(str(feature["properties"].get(field)), plain)
        return {"color": s.color, "weight": s.web_px}

    fields = [c for c in ("name", "ref", "kind") if c in gdf.columns]
    gdf, fields = caveat.with_note(result.scenario, layer, gdf, fields)
    return folium.GeoJson(
        gdf.to_crs(WGS84),
        name=caveat.layer_name(result.scenario, layer, name),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields) if fields else None,
    )


def _points(
    gdf: gpd.GeoDataFrame,
    name: str,
    size_field: str | None,
    color_of,
    label,
    show: bool = True,
    scale: float = 2.5,
) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=name, show=show)
    wgs = gdf.to_crs(WGS84)
    sizes = (
        wgs[size_field].to_numpy(dtype=float) if size_field in wgs.columns else np.ones(len(wgs))
    )
    sizes = np.clip(np.nan_to_num(sizes, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
    features = []
    for (_, row), size in zip(wgs.iterrows(), sizes, strict=True):
        point = row.geometry.representative_point()
        features.append(
            elements.circle(
                point.y,
                point.x,
                3 + scale * np.sqrt(size),
                color_of(row),
                tooltip=label(row),
            )
        )
    elements.Vectors(group, features)
    return group


def _polygons(
    gdf: gpd.GeoDataFrame,
    name: str,
    color: str,
    show: bool,
    fields: list[str],
    opacity: float = 0.25,
    dash: str | None = None,
    scenario: Any = None,
    layer: str = "",
) -> folium.GeoJson:
    fields = [f for f in fields if f in gdf.columns]
    if scenario is not None:  # an input layer: its exactness when it is schematic
        gdf, fields = caveat.with_note(scenario, layer, gdf, fields)
        name = caveat.layer_name(scenario, layer, name)
    return folium.GeoJson(
        gdf.to_crs(WGS84),
        name=name,
        show=show,
        style_function=lambda _: {
            "color": color,
            "weight": 1,
            "fillOpacity": opacity,
            "dashArray": dash,
        },
        tooltip=folium.GeoJsonTooltip(fields) if fields else None,
    )


def _no_site_notes(result: Result) -> list[str]:
    notes = []
    for name, p in result.scenario.profiles.items():
        if not (result.sites["profile"] == name).any():
            notes.append(
                f"No site proposed for {p.title}: no patch of the best "
                f"{100 * (1 - p.candidate_quantile):g} % of eligible land reaches "
                f"{p.min_area_ha:g} ha."
            )
    return notes


def add_result(fmap: folium.Map | folium.Figure, result: Result, controls: bool = True) -> dict:
    """Draw a run's layers onto ``fmap``; returns the overlay groups {group: [layers]}."""
    layers = result.layers
    groups: dict[str, list] = {
        PROPOSALS_GROUP: [],
        COVERING_GROUP: [],
        SUITABILITY_GROUP: [],
        CRITERIA_GROUP: [],
        CONSTRAINTS_GROUP: [],
        INPUTS_GROUP: [],
    }

    def add(group: str, layer) -> None:
        layer.add_to(fmap)
        groups[group].append(layer)

    area = gpd.GeoSeries([result.study_area], crs=result.scenario.crs).to_crs(WGS84)
    add(
        INPUTS_GROUP,
        folium.GeoJson(
            area.__geo_interface__,
            name="Study area",
            style_function=lambda _: {"color": STUDY_AREA_COLOR, "weight": 2, "fill": False},
        ),
    )
    for i, surface in enumerate(result.surfaces.values()):
        uri, bounds = cached_overlay(surface.suitability, vmin=0.0, vmax=1.0)
        add(
            SUITABILITY_GROUP,
            elements.ImageOverlay(
                uri, bounds, name=f"Suitability: {surface.profile.title}", show=i == 0
            ),
        )
    for name, raster in result.criteria.items():
        uri, bounds = cached_overlay(raster, cmap=CRITERION_CMAP)
        label = f"Criterion: {name}" + (f" ({raster.units})" if raster.units else "")
        add(CRITERIA_GROUP, elements.ImageOverlay(uri, bounds, name=label, show=False))
    for surface in result.surfaces.values():
        if len(surface.exclusions):
            add(
                CONSTRAINTS_GROUP,
                _polygons(
                    surface.exclusions,
                    f"Exclusions: {surface.profile.title}",
                    EXCLUSION_COLOR,
                    False,
                    ["reason"],
                    opacity=0.3,
                    dash="4 4",
                ),
            )
    if "protected_areas" in layers:
        add(
            CONSTRAINTS_GROUP,
            _polygons(
                layers["protected_areas"],
                "Protected areas",
                PROTECTED_COLOR,
                True,
                ["name", "kind", "area_km2"],
                opacity=0.2,
                scenario=result.scenario,
                layer="protected_areas",
            ),
        )
    if "water" in layers:
        add(
            CONSTRAINTS_GROUP,
            _polygons(
                layers["water"],
                "Lakes and reservoirs",
                WATER_COLOR,
                True,
                ["name", "kind"],
                opacity=0.5,
                scenario=result.scenario,
                layer="water",
            ),
        )
    if "rivers" in layers:
        rivers, fields = caveat.with_note(
            result.scenario,
            "rivers",
            layers["rivers"],
            [c for c in ("name", "width_m") if c in layers["rivers"].columns],
        )
        add(
            CONSTRAINTS_GROUP,
            folium.GeoJson(
                rivers.to_crs(WGS84),
                name=caveat.layer_name(result.scenario, "rivers", "Rivers"),
                style_function=lambda _: {"color": RIVER_COLOR, "weight": 1.5},
                tooltip=folium.GeoJsonTooltip(fields),
            ),
        )
    for layer, title in (("roads", "Roads"), ("rail", "Rail")):
        if layer in layers:
            add(INPUTS_GROUP, _lines(result, layer, title))
    if "settlements" in layers and "population" in layers["settlements"].columns:
        add(
            INPUTS_GROUP,
            _points(
                layers["settlements"],
                "Settlements (size = population)",
                "population",
                lambda _: SETTLEMENT_COLOR,
                lambda r: f"{r.get('name', '')}: {int(r['population']):,}",
                show=False,
                scale=0.012,
            ),
        )
    poles = result.scenario.clusters
    if result.clusters is not None and len(result.clusters) and poles is not None:
        add(
            INPUTS_GROUP,
            _polygons(
                result.clusters,
                "Growth poles (mine clusters)",
                CLUSTER_COLOR,
                True,
                [
                    "cluster",
                    "n_members",
                    "total_weight",
                    *(["total_capacity"] if poles.capacity_field else []),
                    "stability",
                    "members",
                ],
                opacity=0.08,
            ),
        )
        add(INPUTS_GROUP, _weber_points(result))
    if "mines" in layers:
        output = theme.weight_unit(result.scenario, "mines", "output")
        add(
            INPUTS_GROUP,
            _points(
                layers["mines"],
                "Mines (size = output, colour = status)",
                "output",
                lambda r: STATUS_COLORS.get(str(r.get("status", "")), DEFAULT_COLOR),
                lambda r: (
                    f"{r.get('name', '')}: {float(r.get('output', np.nan)):.1f} {output}, "
                    f"{r.get('status', '')}, {r.get('mine_type', '')}"
                ),
            ),
        )
    if result.allocation is not None and "status" in result.allocation.plants.columns:
        # Expand-or-build: the existing plants kept open (new plants are proposed sites).
        plants, spec = _allocation(result)
        built = plants.plants[plants.plants["status"] != "new"]
        unit = theme.weight_unit(result.scenario, spec.demand, spec.weight_field)
        add(
            PROPOSALS_GROUP,
            _points(
                built,
                "Existing plants (size = capacity; red: expanded)",
                "capacity",
                lambda r: "#d62728" if r["status"] == "expanded" else "#7f7f7f",
                lambda r: (
                    f"{r['site_id']}: {r['status']}, {r['existing_capacity']:.1f} → "
                    f"{r['capacity']:.1f} {unit}, serves {r['served_weight']:.1f} {unit}"
                    + robustness.tooltip_part(result, r["site_id"])
                ),
            ),
        )
    if result.allocation is not None:
        allocation, spec = _allocation(result)
        lines = allocation.lines.to_crs(WGS84)
        top = float(lines["weight"].max()) or 1.0
        unit = theme.weight_unit(result.scenario, spec.demand, spec.weight_field)
        per_km = theme.transport_unit(result.scenario, spec.demand, spec.weight_field)
        haul = folium.FeatureGroup(name="Haul routes: mine → plant (width = output)")
        routes = []
        km_kind = theme.haul_km(result.scenario)
        for _, row in lines.iterrows():
            share = f" ({row['share']:.0%} of it)" if row["share"] < 1 - 1e-6 else ""
            how = f"{row['route_km']:.1f} km of least-cost route"
            if "km_rail" in row:  # [haul] mode = "network": the route by mode
                how = (
                    f"{row['km_rail']:.1f} km rail + {row['km_road']:.1f} km road + "
                    f"{row['km_offroad']:.1f} km off-network, {row['cost_rub_t']:,.0f} RUB/t"
                )
            routes.append(
                elements.line(
                    [(y, x) for x, y in row.geometry.coords],
                    DEFAULT_COLOR,
                    1 + 6 * row["weight"] / top,
                    opacity=0.7,
                    tooltip=f"{row['demand']} → {row['site_id']}: {row['weight']:.2f} "
                    f"{unit}{share}, {row['km']:.1f} km {km_kind} cost over {how}, "
                    f"{row['weight_x_km']:,.1f} {per_km}",
                )
            )
        elements.Vectors(haul, routes)
        add(PROPOSALS_GROUP, haul)
    if result.chain is not None:
        add(PROPOSALS_GROUP, chain.flows(result))
    if result.robustness is not None:
        add(PROPOSALS_GROUP, robustness.rings(result))
    if result.covering is not None:
        for overlay in _covering(result):
            add(COVERING_GROUP, overlay)
    for name, surface in result.surfaces.items():
        profile = surface.profile
        sites = result.sites[result.sites["profile"] == name].to_crs(WGS84)
        group = folium.FeatureGroup(name=f"Sites: {profile.title}")
        markers = [
            elements.circle(
                row.geometry.y,
                row.geometry.x,
                9,
                "white",
                weight=2,
                fill_color=profile.color,
                fill_opacity=0.95,
                popup=_site_popup(row, result),
                popup_width=460,
                tooltip=f"{profile.title} #{row['rank']}: {row.get('near', '')} "
                f"(score {row['score']:.2f})",
            )
            for _, row in sites.iterrows()
        ]
        elements.Vectors(group, markers)
        add(PROPOSALS_GROUP, group)
    return {group: layers for group, layers in groups.items() if layers}


def _weber_name(result: Result) -> str:
    spec = result.scenario.clusters
    if spec is not None and spec.snap_profile is not None:
        return "Growth-pole Weber points (★ snapped to eligible land)"
    return "Growth-pole Weber points"


def _weber_points(result: Result) -> folium.FeatureGroup:
    """Each growth pole's Weber point (small ring) and, with a snap profile, the nearest eligible
    cell it was moved to (star), joined by a dashed line."""
    spec, clusters = result.scenario.clusters, result.clusters
    if clusters is None:
        raise ValueError("the run has no growth poles")
    snap = spec.snap_profile if spec is not None else None
    title = result.scenario.profiles[snap].title if snap in result.scenario.profiles else snap
    group = folium.FeatureGroup(name=_weber_name(result))
    exact = gpd.GeoSeries(
        gpd.points_from_xy(clusters["weber_x"], clusters["weber_y"]), crs=result.scenario.crs
    ).to_crs(WGS84)
    has_snap = snap is not None and "weber_snap_x" in clusters.columns
    moved = (
        gpd.GeoSeries(
            gpd.points_from_xy(clusters["weber_snap_x"], clusters["weber_snap_y"]),
            crs=result.scenario.crs,
        ).to_crs(WGS84)
        if has_snap
        else exact
    )
    features = []
    for k, (_, c) in enumerate(clusters.iterrows()):
        a, b = exact.iloc[k], moved.iloc[k]
        text = f"Pole {c['cluster']}: Weber point (least output-weighted distance to its mines)"
        if has_snap:
            text = (
                f"Pole {c['cluster']}: Weber point moved {c['snap_m'] / 1000:.1f} km to the "
                f"nearest eligible {title} cell"
            )
            features.append(elements.line([(a.y, a.x), (b.y, b.x)], CLUSTER_COLOR, 1.5, dash="4 4"))
        features.append(
            elements.circle(a.y, a.x, 4, CLUSTER_COLOR, weight=2, fill=False, tooltip=text)
        )
        if has_snap:
            features.append(elements.glyph(b.y, b.x, "★", CLUSTER_COLOR, 20, tooltip=text))
    elements.Vectors(group, features)
    return group


def covering_names(result: Result) -> dict[str, str]:
    """The covering group's layer names: existing sites, new sites, demand."""
    c, _ = _covering_of(result)
    return {
        "existing": "Technoparks kept open (existing, ★)",
        "new": "Technoparks new (maximal covering, ◆)",
        "demand": f"Demand reached within {c.max_minutes:g} min (green) or not (red)",
    }


def _covering_popup(row: gpd.GeoSeries, result: Result) -> str:
    c, spec = _covering_of(result)
    weight = spec.weight_field or "demand"
    n = int(row["n_covered"])
    what = "settlement" if spec.demand == "settlements" else f"{spec.demand} feature"
    what += "" if n == 1 else "s"
    head = f"<div class='covering-popup'><b>{html.escape(str(row['name']))}</b> " + (
        "(existing, kept open)"
        if row["status"] == "existing"
        else f"(new: <code>{html.escape(str(row['site_id']))}</code>, score {row['score']:.3f})"
    )
    return (
        f"{head}<br>covers {_fmt(row['covered_weight'], 0)} {html.escape(weight)} in {n} "
        f"{html.escape(what)} within {c.max_minutes:g} min (those nearest to it among the open "
        "sites)</div>"
    )


def _covering(result: Result) -> list[folium.FeatureGroup]:
    """The maximal covering: existing sites (★), new sites (◆) and the demand points, green
    where an open site is within the time limit, red where none is."""
    c, spec = _covering_of(result)
    names = covering_names(result)
    profile = result.scenario.profiles.get(c.profile)
    new_color = profile.color if profile is not None else NEW_SITE_COLOR
    sites = c.sites.to_crs(WGS84)
    out = []
    for status, glyph, color in (("existing", "★", EXISTING_COLOR), ("new", "◆", new_color)):
        chosen = sites[sites["status"] == status]
        if chosen.empty:  # no existing facility named in the scenario
            continue
        group = folium.FeatureGroup(name=names[status])
        markers = [
            elements.glyph(
                row.geometry.y,
                row.geometry.x,
                glyph,
                color,
                24,
                popup=_covering_popup(row, result),
                popup_width=360,
                tooltip=f"{row['name']} ({status}): covers {_fmt(row['covered_weight'], 0)} "
                f"{spec.weight_field or 'demand'}",
            )
            for _, row in chosen.iterrows()
        ]
        elements.Vectors(group, markers)
        out.append(group)
    demand = c.demand.to_crs(WGS84)
    top = float(demand["weight"].max()) if len(demand) else 1.0
    group = folium.FeatureGroup(name=names["demand"])
    points = []
    for _, row in demand.iterrows():
        covered = bool(row["covered"])
        minutes = float(row["minutes"])
        reach = (
            f"{minutes:.1f} min to {row['served_by']}"
            if covered
            else (
                f"{minutes:.1f} min to the nearest open site"
                if np.isfinite(minutes)
                else "no open site reachable"
            )
        )
        weight = float(row["weight"]) if np.isfinite(row["weight"]) else 0.0
        points.append(
            elements.circle(
                row.geometry.y,
                row.geometry.x,
                3 + 9 * np.sqrt(max(weight, 0.0) / (top or 1.0)),
                COVERED_COLORS[covered],
                tooltip=f"{row['name']}: {_fmt(row['weight'], 0)} "
                f"{spec.weight_field or 'demand'}, {reach} "
                f"({'covered' if covered else 'not covered'})",
            )
        )
    elements.Vectors(group, points)
    out.append(group)
    return out


def covering_note(result: Result) -> str:
    """One line on the covering result for the map's title box ('' without covering)."""
    c, spec = result.covering, result.scenario.covering
    if c is None or spec is None or not c.total:
        return ""
    return (
        f"Technoparks: {c.p} new + {int((c.sites['status'] == 'existing').sum())} existing reach "
        f"{c.coverage / c.total:.1%} of {spec.weight_field or 'demand'} "
        f"within {c.max_minutes:g} min (existing alone {c.baseline / c.total:.1%})."
    )


def _legend() -> branca.colormap.LinearColormap:
    return branca.colormap.LinearColormap(
        [
            matplotlib.colors.rgb2hex(matplotlib.colormaps[SUITABILITY_CMAP](v))
            for v in (0.0, 0.5, 1.0)
        ],
        vmin=0,
        vmax=1,
        caption="Suitability (0 worst – 1 best)",
    )


def _basemaps(fmap: folium.Map) -> None:
    for i, (provider, name) in enumerate(BASEMAPS):
        folium.TileLayer(provider, name=name, show=i == 0).add_to(fmap)


def build(result: Result) -> folium.Map:
    """The folium map of a run."""
    s = result.scenario
    area = gpd.GeoSeries([result.study_area], crs=s.crs).to_crs(WGS84)
    minx, miny, maxx, maxy = area.total_bounds
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=7,
        tiles=None,
        control_scale=True,
    )
    _basemaps(fmap)
    groups = add_result(fmap, result)
    _legend().add_to(fmap)
    robustness.add_legend(fmap, result)
    folium.LayerControl(position="topright", collapsed=True).add_to(fmap)
    folium.plugins.GroupedLayerControl(
        groups, exclusive_groups=False, collapsed=False, position="topright"
    ).add_to(fmap)
    folium.plugins.Fullscreen(position="topleft").add_to(fmap)
    folium.plugins.MeasureControl(
        position="topleft",
        primary_length_unit="kilometers",
        secondary_length_unit="meters",
        primary_area_unit="hectares",
    ).add_to(fmap)
    folium.plugins.MiniMap(
        tile_layer=folium.TileLayer(xyz.OpenStreetMap.Mapnik),
        position="bottomleft",
        toggle_display=True,
    ).add_to(fmap)
    notes = "".join(
        f"<br><span class='no-sites'>{html.escape(n)}</span>" for n in _no_site_notes(result)
    )
    if covering_note(result):
        notes += f"<br><span class='covering'>{html.escape(covering_note(result))}</span>"
    elements.page_of(fmap).html.add_child(
        folium.Element(
            TITLE.format(
                title=html.escape(s.title),
                name=html.escape(s.name),
                res=result.grid.res,
                n_sites=len(result.sites),
                notes=notes,
                caveat=caveat.box(s),
            )
        )
    )
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def build_comparison(
    a: Result, b: Result, labels: tuple[str, str] | None = None
) -> folium.plugins.DualMap:
    """Two runs side by side, panning and zooming together (for what-if comparisons)."""
    labels = labels or (a.scenario.title, b.scenario.title)
    area = gpd.GeoSeries([a.study_area], crs=a.scenario.crs).to_crs(WGS84)
    minx, miny, maxx, maxy = area.total_bounds
    dual = folium.plugins.DualMap(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=7,
        tiles=None,
        layout="horizontal",
    )
    for side, result, label in ((dual.m1, a, labels[0]), (dual.m2, b, labels[1])):
        for i, (provider, name) in enumerate(BASEMAPS):
            folium.TileLayer(provider, name=name, show=i == 0).add_to(side)
        groups = add_result(side, result)
        folium.plugins.GroupedLayerControl(groups, exclusive_groups=False, collapsed=True).add_to(
            side
        )
        elements.page_of(side).html.add_child(
            folium.Element(
                f"<div class='compare-label' style='display:none'>{html.escape(label)}</div>"
            )
        )
    head = (
        f"<div style='position:fixed;top:8px;left:50%;transform:translateX(-50%);"
        f"z-index:1000;background:white;padding:4px 10px;border-radius:4px;"
        f"font:13px sans-serif'><b>{html.escape(labels[0])}</b> ⟷ "
        f"<b>{html.escape(labels[1])}</b></div>"
    )
    elements.page_of(dual).html.add_child(folium.Element(head))
    dual.fit_bounds([[miny, minx], [maxy, maxx]])
    return dual


def write(result: Result, path: Path, offline: bool = True) -> Path:
    """Write ``map.html`` (self-contained when ``offline``)."""
    page = render(build(result))
    path.write_text(inline_assets(page) if offline else page, encoding="utf-8")
    return path


def render(fmap: folium.Map | folium.plugins.DualMap) -> str:
    """The HTML page of ``fmap`` (``fmap.get_root().render()``).

    branca compiles the rendered script of each element as a Jinja template once more while the
    page renders, at a cost that grows with the text; the bulky layers (markers, lines, raster
    overlays) are therefore elements of :mod:`siting.exports.webmap.elements`, whose data reach
    the page as they are.
    """
    return fmap.get_root().render()


def write_comparison(
    a: Result, b: Result, path: Path, offline: bool = True, labels: tuple[str, str] | None = None
) -> Path:
    """Write a side-by-side comparison map of two runs."""
    page = render(build_comparison(a, b, labels))
    path.write_text(inline_assets(page) if offline else page, encoding="utf-8")
    return path
