"""Static figures for the report: study area, criteria, suitability, the allocation's Pareto front
(PNG bytes, matplotlib Agg).

Figures are built on :class:`matplotlib.figure.Figure` objects with an Agg canvas, never through
``pyplot``, so making a report leaves no global matplotlib state behind. Rasters are drawn from
strided views (at most a few hundred pixels on the long side), never at full resolution.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import geopandas as gpd
import matplotlib.patheffects as pe
import numpy as np
import shapely
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter
from PIL import Image

from siting.pipeline.cache import Step, memo

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from siting.pipeline.result import Result
    from siting.raster.grid import Raster

DPI = 100
MAP_PX = 800  # long side of a single map's raster, in samples
PANEL_PX = 320  # long side of one small multiple's raster
PANEL_GAP_IN = 0.15  # margin between and around the small multiples
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HALO = [pe.withStroke(linewidth=2.5, foreground="white")]
# The layers drawn on the study-area map, by scenario layer kind (or name), bottom to top.
BASE_LAYERS = ("protected_areas", "water", "rivers", "roads", "rail", "settlements", "mines")


def downsample(data: np.ndarray, max_px: int = MAP_PX) -> np.ndarray:
    """A strided view of ``data`` with at most ``max_px`` samples on the long side (no copy)."""
    step = max(1, math.ceil(max(data.shape) / max_px))
    return data[::step, ::step]


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _km_axes(ax: Axes, crs: str) -> None:
    """Ticks in km of the working CRS, equal aspect, light frame."""
    km = FuncFormatter(lambda v, _: f"{v / 1000:,.0f}")
    ax.xaxis.set_major_formatter(km)
    ax.yaxis.set_major_formatter(km)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    ax.set_xlabel(f"km east ({crs})", fontsize=7)
    ax.set_ylabel(f"km north ({crs})", fontsize=7)


def _view(result: Result, margin: float = 0.03) -> tuple[float, float, float, float]:
    """The study area's bounds plus a small margin: (minx, maxx, miny, maxy)."""
    minx, miny, maxx, maxy = result.study_area.bounds
    pad = margin * max(maxx - minx, maxy - miny)
    return minx - pad, maxx + pad, miny - pad, maxy + pad


def _limit(ax: Axes, view: tuple[float, float, float, float]) -> None:
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])


def _figsize(view: tuple[float, float, float, float], long_in: float, extra_w: float = 0.0):
    w, h = view[1] - view[0], view[3] - view[2]
    scale = long_in / max(w, h)
    return (w * scale + extra_w, h * scale)


def _map_figure(
    view: tuple[float, float, float, float], long_in: float, right_in: float
) -> tuple[Figure, Axes, tuple[float, float]]:
    """A figure with one map axes laid out by hand (no layout engine: it costs a second a map),
    leaving ``right_in`` inches on the right for a legend or colorbar. Returns the figure, the
    axes and the (x, y) figure fraction of the map's top-right corner."""
    left, bottom, top = 0.75, 0.55, 0.35
    map_w, map_h = _figsize(view, long_in)
    fig_w, fig_h = left + map_w + right_in, bottom + map_h + top
    fig = Figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((left / fig_w, bottom / fig_h, map_w / fig_w, map_h / fig_h))
    return fig, ax, ((left + map_w) / fig_w, (bottom + map_h) / fig_h)


def _outline(ax: Axes, geometry: shapely.Geometry, lw: float = 1.0, zorder: float = 6) -> None:
    """Draw a polygon's rings as black lines."""
    for ring in shapely.get_parts(shapely.boundary(geometry)):
        xy = shapely.get_coordinates(ring)
        ax.plot(xy[:, 0], xy[:, 1], color="black", linewidth=lw, zorder=zorder)


def scale_bar(ax: Axes, view: tuple[float, float, float, float]) -> None:
    """A black-and-white scale bar of a round length in the lower left corner."""
    width = view[1] - view[0]
    target = width / 5
    nice = max(n for n in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000) if n * 1000 <= target)
    length = nice * 1000
    x0 = view[0] + 0.05 * width
    y0 = view[2] + 0.04 * (view[3] - view[2])
    h = 0.008 * (view[3] - view[2])
    for k in range(2):
        ax.add_patch(_rect(x0 + k * length / 2, y0, length / 2, h, "black" if k else "white"))
    ax.text(
        x0 + length / 2,
        y0 + 2 * h,
        f"{nice:g} km",
        ha="center",
        va="bottom",
        fontsize=7,
        path_effects=HALO,
    )


def _rect(x: float, y: float, w: float, h: float, color: str) -> Rectangle:
    return Rectangle((x, y), w, h, facecolor=color, edgecolor="black", linewidth=0.8, zorder=10)


def layers_by_role(result: Result) -> dict[str, gpd.GeoDataFrame]:
    """The input layers to draw, keyed by role (the layer kind, else the layer name)."""
    out: dict[str, gpd.GeoDataFrame] = {}
    for role in BASE_LAYERS:
        for name, spec in result.scenario.layers.items():
            if name in result.layers and (spec.kind == role or name == role):
                gdf = result.layers[name]
                if len(gdf):
                    out[role] = gdf
                    break
    return out


def _simplified(gdf: gpd.GeoDataFrame, tolerance: float) -> gpd.GeoSeries:
    return gdf.geometry.simplify(tolerance, preserve_topology=False)


def _sites(ax: Axes, result: Result, profiles: list[str] | None = None) -> list:
    """Draw the proposed sites (colour = profile colour, label = rank); return legend handles."""
    handles = []
    names = list(result.scenario.profiles) if profiles is None else profiles
    for k, name in enumerate(list(result.scenario.profiles)):
        if name not in names:
            continue
        profile = result.scenario.profiles[name]
        marker = MARKERS[k % len(MARKERS)]
        sites = result.sites[result.sites["profile"] == name]
        handles.append(
            Line2D(
                [],
                [],
                marker=marker,
                color=profile.color,
                markeredgecolor="black",
                linestyle="",
                markersize=7,
                label=f"Sites: {profile.title} ({len(sites)})",
            )
        )
        if sites.empty:
            continue
        ax.scatter(
            sites["x"],
            sites["y"],
            s=46,
            marker=marker,
            c=profile.color,
            edgecolors="black",
            linewidths=0.7,
            zorder=20,
        )
        for x, y, rank in zip(sites["x"], sites["y"], sites["rank"], strict=True):
            ax.annotate(
                str(rank),
                (x, y),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=7,
                fontweight="bold",
                color=profile.color,
                path_effects=HALO,
                zorder=21,
            )
    return handles


def study_area(result: Result) -> bytes:
    """The study area with its main layers and every profile's proposed sites."""
    view = _view(result)
    fig, ax, corner = _map_figure(view, 7.6, right_in=2.5)
    tolerance = max(view[1] - view[0], view[3] - view[2]) / 2000
    layers = layers_by_role(result)
    handles: list = []
    ax.set_facecolor("#ecebe4")  # outside the study area
    gpd.GeoSeries([result.study_area]).plot(ax=ax, color="white", zorder=0.5)
    if "protected_areas" in layers:
        _simplified(layers["protected_areas"], tolerance).plot(
            ax=ax, facecolor="#b8e0b0", edgecolor="#2e7d32", linewidth=0.6, hatch="///", zorder=1
        )
        handles.append(
            Patch(facecolor="#b8e0b0", edgecolor="#2e7d32", hatch="///", label="Protected areas")
        )
    if "water" in layers:
        _simplified(layers["water"], tolerance).plot(
            ax=ax, facecolor="#9ecae1", edgecolor="#3182bd", linewidth=0.5, zorder=2
        )
        handles.append(Patch(facecolor="#9ecae1", edgecolor="#3182bd", label="Water"))
    if "rivers" in layers:
        _simplified(layers["rivers"], tolerance).plot(
            ax=ax, color="#3182bd", linewidth=0.9, zorder=3
        )
        handles.append(Line2D([], [], color="#3182bd", linewidth=1.2, label="Rivers"))
    if "roads" in layers:
        _simplified(layers["roads"], tolerance).plot(
            ax=ax, color="#e6550d", linewidth=0.8, alpha=0.8, zorder=4
        )
        handles.append(Line2D([], [], color="#e6550d", linewidth=1.2, label="Roads"))
    if "rail" in layers:
        rail = _simplified(layers["rail"], tolerance)
        rail.plot(ax=ax, color="black", linewidth=1.6, zorder=5)
        rail.plot(ax=ax, color="white", linewidth=0.7, linestyle=(0, (4, 4)), zorder=5.1)
        handles.append(Line2D([], [], color="black", linewidth=1.6, label="Rail"))
    _outline(ax, result.study_area, lw=1.4, zorder=6)
    handles.insert(0, Line2D([], [], color="black", linewidth=1.4, label="Study area"))
    if "settlements" in layers:
        towns = layers["settlements"]
        pts = towns.geometry.representative_point()
        ax.scatter(pts.x, pts.y, s=14, c="#636363", edgecolors="white", linewidths=0.5, zorder=7)
        handles.append(
            Line2D(
                [], [], marker="o", color="#636363", linestyle="", markersize=5, label="Settlements"
            )
        )
        if "name" in towns.columns:
            order = (
                towns["population"].fillna(0).to_numpy().argsort()[::-1]
                if "population" in towns.columns
                else np.arange(len(towns))
            )
            inside = shapely.contains_xy(result.study_area, pts.x.to_numpy(), pts.y.to_numpy())
            labelled = [i for i in order if inside[i]][:12]
            for i in labelled:
                ax.annotate(
                    str(towns["name"].iloc[i]),
                    (pts.x.iloc[i], pts.y.iloc[i]),
                    xytext=(3, -8),
                    textcoords="offset points",
                    fontsize=6.5,
                    color="#333333",
                    path_effects=HALO,
                    zorder=8,
                )
    if "mines" in layers:
        mines = layers["mines"]
        pts = mines.geometry.representative_point()
        size = np.full(len(mines), 18.0)
        label = "Mines"
        if "output" in mines.columns:
            out = mines["output"].astype(float).fillna(0).clip(lower=0).to_numpy()
            if out.max() > 0:
                size = 6 + 120 * np.sqrt(out / out.max())
                label = "Mines (area ∝ output)"
        ax.scatter(
            pts.x,
            pts.y,
            s=size,
            c="#54278f",
            alpha=0.55,
            edgecolors="#3f007d",
            linewidths=0.5,
            zorder=9,
        )
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                color="#54278f",
                alpha=0.6,
                linestyle="",
                markersize=6,
                label=label,
            )
        )
    handles += _sites(ax, result)
    _limit(ax, view)
    _km_axes(ax, result.grid.crs)
    scale_bar(ax, view)
    ax.set_title("Study area, main layers and proposed sites", fontsize=9, loc="left")
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(corner[0] + 0.01, corner[1]),
        fontsize=7.5,
        frameon=False,
    )
    return png(fig)


def _raster(ax: Axes, raster: Raster, max_px: int, **kw):
    data = downsample(raster.data, max_px)
    return ax.imshow(data, extent=raster.extent, interpolation="nearest", origin="upper", **kw)


def _finite_range(data: np.ndarray) -> tuple[float, float]:
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _in_area(study_area: shapely.Geometry, raster: Raster, max_px: int) -> np.ndarray:
    """Which samples of ``downsample(raster.data, max_px)`` lie inside the study area."""
    step = max(1, math.ceil(max(raster.data.shape) / max_px))
    rows = np.arange(0, raster.grid.height, step)
    cols = np.arange(0, raster.grid.width, step)
    x, y = raster.grid.xy(rows[:, None], cols[None, :])
    x, y = np.broadcast_arrays(x, y)
    return shapely.contains_xy(study_area, x, y)


def criteria(result: Result) -> bytes:
    """Small multiples of the raw criteria (inside the study area), each with its units on a
    colorbar.

    Each criterion is drawn as its own panel, cached under the criterion raster's key (a what-if
    that changes two criteria redraws two panels), and the panels are laid side by side, four to
    a row, into one image.
    """
    names = list(result.criteria)
    ncols = min(4, max(1, len(names)))
    nrows = max(1, math.ceil(len(names) / ncols))
    view = _view(result)
    panels = [
        memo(
            PANEL,
            f"criteria panel {name}",
            raster=result.criteria[name],
            study_area=result.study_area,
            view=view,
        )
        for name in names
    ]
    gap = round(PANEL_GAP_IN * DPI)
    height = max((p.shape[0] for p in panels), default=0) + gap
    width = max((p.shape[1] for p in panels), default=0) + gap
    canvas = np.full((nrows * height + gap, ncols * width + gap, 3), 255, dtype=np.uint8)
    for k, panel in enumerate(panels):
        row, col = divmod(k, ncols)
        top, left = gap + row * height, gap + col * width
        canvas[top : top + panel.shape[0], left : left + panel.shape[1]] = panel
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="png")
    return buffer.getvalue()


def _criterion_panel(
    raster: Raster, study_area: shapely.Geometry, view: tuple[float, float, float, float]
) -> np.ndarray:
    """One criterion's map, title and colorbar as an RGB image (rows × columns × 3, uint8). Laid
    out by hand: the layout engine would cost a second a panel."""
    name = raster.name
    map_w, map_h = _figsize(view, 2.8)
    bar_w, title_h = 1.0, 0.3  # inches: colorbar with its labels, title
    fig = Figure(figsize=(map_w + bar_w, map_h + title_h), dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    fig_w, fig_h = fig.get_size_inches()
    ax = fig.add_axes((0, 0, map_w / fig_w, map_h / fig_h))
    cax = fig.add_axes(
        ((map_w + 0.08) / fig_w, 0.1 * map_h / fig_h, 0.12 / fig_w, 0.8 * map_h / fig_h)
    )
    cmap = colormaps["cividis"].with_extremes(bad=(0, 0, 0, 0))
    inside = _in_area(study_area, raster, PANEL_PX)
    data = np.where(inside, downsample(raster.data, PANEL_PX), np.nan)
    vmin, vmax = _finite_range(data)
    im = ax.imshow(
        data, extent=raster.extent, interpolation="nearest", cmap=cmap, vmin=vmin, vmax=vmax
    )
    _outline(ax, study_area, lw=0.6)
    _limit(ax, view)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(name, fontsize=8.5)
    bar = fig.colorbar(im, cax=cax, format=FuncFormatter(_short))
    bar.set_label(raster.units or "value", fontsize=7)
    bar.ax.tick_params(labelsize=6.5)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


#: One criterion's panel of the report's small multiples: a what-if that changes two criteria
#: redraws two panels.
PANEL = Step("figure_panel", _criterion_panel)


def _short(value: float, _pos: object = None) -> str:
    a = abs(value)
    if a >= 1e6:
        return f"{value / 1e6:g} M"
    if a >= 1e4:
        return f"{value / 1e3:g} k"
    return f"{value:g}"


def suitability(result: Result, profile: str) -> bytes:
    """One profile's suitability (blank where excluded) with its proposed sites."""
    p = result.scenario.profiles[profile]
    raster = result.suitability(profile)
    view = _view(result)
    fig, ax, _ = _map_figure(view, 6.6, right_in=1.0)
    cmap = colormaps["viridis"].with_extremes(bad=(0, 0, 0, 0))
    im = _raster(ax, raster, MAP_PX, cmap=cmap, vmin=0.0, vmax=1.0)
    _outline(ax, result.study_area, lw=1.0)
    handles = _sites(ax, result, [profile])
    handles.append(Patch(facecolor="white", edgecolor="#999999", label="Excluded (blank)"))
    _limit(ax, view)
    _km_axes(ax, result.grid.crs)
    scale_bar(ax, view)
    n = int((result.sites["profile"] == profile).sum())
    title = f"Suitability: {p.title}" + ("" if n else " (no site proposed)")
    ax.set_title(title, fontsize=9, loc="left")
    ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.85)
    box, width = ax.get_position(), fig.get_size_inches()[0]
    cax = fig.add_axes(
        (box.x1 + 0.15 / width, box.y0 + 0.15 * box.height, 0.15 / width, 0.7 * box.height)
    )
    bar = fig.colorbar(im, cax=cax)
    bar.set_label("suitability (0 worst, 1 best)", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    return png(fig)


def pareto(result: Result) -> bytes:
    """The allocation's Pareto sweep: transport (x) against the demand-weighted mean suitability
    of the plants (y), one point per suitability weight α (labelled), the Pareto-optimal ones in
    red and joined, the run's own solution ringed."""
    from siting.exports.theme import transport_unit

    a, spec = result.allocation, result.scenario.allocation
    if a is None or a.pareto is None or spec is None:
        raise ValueError("pareto: the run's location-allocation swept no Pareto front")
    table = a.pareto.sort_values("transport")
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_axes((0.13, 0.14, 0.83, 0.76))
    optimal = table[table["pareto_optimal"].astype(bool)]
    dominated = table[~table["pareto_optimal"].astype(bool)]
    ax.plot(
        optimal["transport"],
        optimal["mean_suitability"],
        color="#d62728",
        linewidth=1.2,
        zorder=2,
    )
    ax.scatter(
        optimal["transport"],
        optimal["mean_suitability"],
        s=46,
        c="#d62728",
        edgecolors="black",
        linewidths=0.6,
        zorder=3,
        label=f"Pareto-optimal ({len(optimal)})",
    )
    if len(dominated):
        ax.scatter(
            dominated["transport"],
            dominated["mean_suitability"],
            s=40,
            c="#bdbdbd",
            edgecolors="#636363",
            linewidths=0.6,
            zorder=3,
            label=f"dominated ({len(dominated)})",
        )
    ax.scatter(
        [a.transport],
        [a.mean_suitability],
        s=190,
        facecolors="none",
        edgecolors="#1f77b4",
        linewidths=1.6,
        zorder=4,
        label=f"this run (α = {spec.suitability_weight:g})",
    )
    for _, row in table.iterrows():
        ax.annotate(
            f"α = {row['suitability_weight']:g}",
            (row["transport"], row["mean_suitability"]),
            xytext=(6, -10),
            textcoords="offset points",
            fontsize=7.5,
            path_effects=HALO,
            zorder=5,
        )
    ax.margins(x=0.12, y=0.15)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    per_km = transport_unit(result.scenario, spec.demand, spec.weight_field)
    ax.set_xlabel(f"transport, Σ weight × km ({per_km})", fontsize=8)
    ax.set_ylabel("mean suitability of the plants (demand-weighted)", fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.grid(alpha=0.3, linewidth=0.5)
    ax.set_title(
        f"Pareto front: {a.model} plants, transport against site suitability",
        fontsize=9,
        loc="left",
    )
    ax.legend(fontsize=7.5, loc="lower right", framealpha=0.9)
    return png(fig)
