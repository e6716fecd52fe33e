"""``map.html``: an interactive folium map of a run."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import branca.colormap
import folium
import geopandas as gpd
import matplotlib
import matplotlib.image
import numpy as np
from rasterio.warp import Resampling, calculate_default_transform, reproject

from siting.grid import Raster

if TYPE_CHECKING:
    from siting.pipeline import Result

WGS84 = "EPSG:4326"
MAX_PIXELS = 1200
TITLE = (
    "<div style='position:fixed;top:10px;left:60px;z-index:1000;background:white;"
    "padding:6px 10px;border-radius:4px;box-shadow:0 1px 4px #0004;font:13px sans-serif'>"
    "<b>{title}</b><br>scenario <code>{name}</code> · grid {res:g} m · siting</div>"
)
STATUS_COLORS = {
    "operating": "#222222",
    "mothballed": "#8c6d31",
    "proposed": "#1f77b4",
    "closed": "#999999",
}


def raster_overlay(raster: Raster, cmap: str = "viridis") -> tuple[str, list[list[float]]]:
    """A raster warped to lon/lat as a PNG data URI, with its bounds for ``ImageOverlay``."""
    grid = raster.grid
    src = np.where(np.isfinite(raster.data), raster.data, np.nan).astype(np.float32)
    transform, width, height = calculate_default_transform(
        grid.crs, WGS84, grid.width, grid.height, *grid.bounds
    )
    scale = max(1.0, max(width, height) / MAX_PIXELS)
    width, height = int(width / scale), int(height / scale)
    transform = transform @ transform.scale(scale, scale)
    dst = np.full((height, width), np.nan, dtype=np.float32)
    reproject(
        src,
        dst,
        src_transform=grid.transform,
        src_crs=grid.crs,
        dst_transform=transform,
        dst_crs=WGS84,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    rgba = matplotlib.colormaps[cmap](np.nan_to_num(dst, nan=0.0))
    rgba[..., 3] = np.where(np.isfinite(dst), 0.75, 0.0)
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, rgba, format="png")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    west, north = transform @ (0, 0)
    east, south = transform @ (width, height)
    return uri, [[south, west], [north, east]]


def _popup(row: gpd.GeoSeries, criteria: list[str]) -> str:
    bars = "".join(
        f"<tr><td>{html.escape(c)}</td><td style='width:120px'>"
        f"<div style='background:#2b8cbe;height:10px;width:{max(0.0, row[f'w_{c}']) * 100:.0f}%'>"
        f"</div></td><td>{row[f'w_{c}']:.3f}</td><td>{row[f'raw_{c}']:,.0f}</td></tr>"
        for c in criteria
    )
    return (
        f"<b>{html.escape(row['site_id'])}</b><br>rank {row['rank']} · score "
        f"{row['score']:.3f}<table style='font-size:11px'><tr><th>criterion</th>"
        f"<th>contribution</th><th></th><th>raw value</th></tr>{bars}</table>"
    )


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
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(fmap)
    folium.TileLayer("OpenTopoMap", name="Terrain (OpenTopoMap)", show=False).add_to(fmap)
    fmap.get_root().html.add_child(
        folium.Element(
            TITLE.format(title=html.escape(s.title), name=html.escape(s.name), res=result.grid.res)
        )
    )
    folium.GeoJson(
        area.__geo_interface__,
        name="Study area",
        style_function=lambda _: {"color": "#333", "weight": 2, "fill": False},
    ).add_to(fmap)

    colormap = branca.colormap.LinearColormap(
        [matplotlib.colors.rgb2hex(matplotlib.colormaps["viridis"](v)) for v in (0.0, 0.5, 1.0)],
        vmin=0,
        vmax=1,
        caption="Suitability (0 worst – 1 best)",
    )
    for i, surface in enumerate(result.surfaces.values()):
        uri, bounds = raster_overlay(surface.suitability)
        folium.raster_layers.ImageOverlay(
            uri, bounds, name=f"Suitability: {surface.profile.title}", show=i == 0
        ).add_to(fmap)
        excl = surface.exclusions.to_crs(WGS84)
        if len(excl):
            folium.GeoJson(
                excl,
                name=f"Exclusions: {surface.profile.title}",
                show=False,
                style_function=lambda _: {"color": "#b2182b", "weight": 1, "fillOpacity": 0.25},
                tooltip=folium.GeoJsonTooltip(["reason"]),
            ).add_to(fmap)
    colormap.add_to(fmap)

    for layer, color, weight in (("roads", "#e6550d", 2), ("rail", "#000000", 3)):
        if layer in result.layers:
            folium.GeoJson(
                result.layers[layer].to_crs(WGS84),
                name=layer.capitalize(),
                style_function=lambda _, c=color, w=weight: {"color": c, "weight": w},
            ).add_to(fmap)
    if result.clusters is not None and len(result.clusters):
        folium.GeoJson(
            result.clusters.to_crs(WGS84),
            name="Growth poles (mine clusters)",
            style_function=lambda _: {"color": "#7b3294", "weight": 2, "fillOpacity": 0.08},
            tooltip=folium.GeoJsonTooltip(["cluster", "n_members", "total_weight"]),
        ).add_to(fmap)
    if "mines" in result.layers:
        mines = result.layers["mines"].to_crs(WGS84)
        group = folium.FeatureGroup(name="Mines (size = output)")
        out = mines["output"] if "output" in mines.columns else np.ones(len(mines))
        for (_, row), value in zip(mines.iterrows(), out, strict=True):
            point = row.geometry.representative_point()
            folium.CircleMarker(
                [point.y, point.x],
                radius=3 + 2.5 * np.sqrt(max(float(value), 0)),
                color=STATUS_COLORS.get(str(row.get("status", "")), "#222222"),
                fill=True,
                fill_opacity=0.6,
                weight=1,
                tooltip=f"{row.get('name', '')}: {float(value):.1f} Mt/yr "
                f"({row.get('status', '')})",
            ).add_to(group)
        group.add_to(fmap)
    if result.allocation is not None:
        lines = result.allocation.lines.to_crs(WGS84)
        top = float(lines["weight"].max()) or 1.0
        group = folium.FeatureGroup(name="Allocation: mine → plant")
        for _, row in lines.iterrows():
            folium.PolyLine(
                [(y, x) for x, y in row.geometry.coords],
                color="#636363",
                weight=1 + 5 * row["weight"] / top,
                opacity=0.7,
                tooltip=f"{row['demand']} → {row['site_id']}: {row['weight']:.1f}",
            ).add_to(group)
        group.add_to(fmap)
    for name, surface in result.surfaces.items():
        profile = surface.profile
        sites = result.sites[result.sites["profile"] == name].to_crs(WGS84)
        group = folium.FeatureGroup(name=f"Sites: {profile.title}")
        criteria = [c.name for c in profile.criteria]
        for _, row in sites.iterrows():
            folium.CircleMarker(
                [row.geometry.y, row.geometry.x],
                radius=9,
                color="white",
                weight=2,
                fill=True,
                fill_color=profile.color,
                fill_opacity=0.95,
                popup=folium.Popup(_popup(row, criteria), max_width=420),
                tooltip=f"{profile.title} #{row['rank']} (score {row['score']:.2f})",
            ).add_to(group)
        group.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def write(result: Result, path: Path) -> Path:
    """Write ``map.html``."""
    build(result).save(str(path))
    return path
