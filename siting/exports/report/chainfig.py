"""The report's flow figure of the value chain, ``[models.chain]``: a map of the chain's flows on
their road and rail routes (width by tonnes, colour by stage) with the open plants and the
markets, and below it the tonnes through each echelon, so that their conservation shows
(:mod:`siting.exports.report.chain` puts it in the report's section on the chain).

Drawn like :mod:`siting.exports.report.figures`: on a :class:`matplotlib.figure.Figure` with an
Agg canvas, laid out by hand, never through ``pyplot``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from siting.exports.report.figures import (
    HALO,
    _figsize,
    _km_axes,
    _limit,
    _outline,
    _view,
    layers_by_role,
    png,
    scale_bar,
)
from siting.exports.theme import CHAIN_STAGE_COLORS, weight_unit

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from siting.pipeline.result import Result
    from siting.valuechain import Chain

#: A colour per stage: coal, concentrate, coke.
STAGE_COLORS = CHAIN_STAGE_COLORS
#: The stages in the legend, in the order of the chain.
STAGE_LABELS = {
    "mine_prep": "coal: mine → preparation",
    "prep_coke": "concentrate: preparation → coke",
    "coke_market": "coke: coke plant → market",
}
#: The echelons of :func:`echelon_totals`, in the order of the chain, and their names.
ECHELONS = {
    "mines": "Mines",
    "prep": "Preparation plants",
    "coke": "Coke plants",
    "markets": "Markets",
}
LEAVES_COLOR = "#9e9e9e"  # product that leaves the chain at an echelon (sold there)
LOSS_COLOR = "#eeeeee"  # tonnes lost in processing (1 − yield)
MARKET_COLOR = "#ffb300"
MAX_WIDTH = 7.0  # points: the line width of the largest flow
LABELLED = 4  # plants labelled by name per echelon, the largest by input (more hide the map)


def echelon_totals(chain: Chain) -> pd.DataFrame:
    """The tonnes through each echelon of the chain, from its flows and its open plants.

    Parameters
    ----------
    chain
        The run's value chain.

    Returns
    -------
    pandas.DataFrame
        Indexed by echelon (``mines``, ``prep``, ``coke``, ``markets``), columns ``input``
        (tonnes arriving, from the flows into the echelon; for the mines, what they ship),
        ``output`` (after the yield, from the plants), ``onward`` (tonnes shipped to the next
        echelon, from the flows out of it), ``leaves`` (output that leaves the chain there, from
        the plants; at the markets, all they receive) and ``loss`` (``input − output``, lost in
        processing). Tonnage is conserved when ``input = onward + leaves + loss`` at every
        echelon and each echelon's ``onward`` is the next one's ``input``.
    """
    by_stage = chain.flows.groupby("stage")["tonnes"].sum()
    shipped = {s: float(by_stage.get(s, 0.0)) for s in STAGE_COLORS}
    opened = chain.plants[chain.plants["open"]]
    rows = {
        "mines": (shipped["mine_prep"], shipped["mine_prep"], shipped["mine_prep"], 0.0),
        "markets": (shipped["coke_market"], shipped["coke_market"], 0.0, shipped["coke_market"]),
    }
    for echelon, into, out in (("prep", "mine_prep", "prep_coke"), ("coke", "prep_coke", None)):
        own = opened[opened["echelon"] == echelon]
        onward = shipped["coke_market"] if out is None else shipped[out]
        rows[echelon] = (
            shipped[into],
            float(own["output"].sum()),
            onward,
            float(own["leaves"].sum()),
        )
    table = pd.DataFrame.from_dict(
        rows, orient="index", columns=["input", "output", "onward", "leaves"]
    ).loc[list(ECHELONS)]
    table["loss"] = table["input"] - table["output"]
    table.index.name = "echelon"
    return table


def inputs(result: Result) -> tuple:
    """What :func:`flows` draws from: the figure's cache key (``Figure.inputs``)."""
    chain, spec = result.chain, result.scenario.chain
    if chain is None or spec is None:
        raise ValueError("the chain's flow figure needs a run with [models.chain]")
    rail = layers_by_role(result).get("rail")
    unit = weight_unit(result.scenario, spec.demand, spec.weight_field)
    return chain, result.study_area, rail, unit, result.grid.crs, _view(result)


def flows(result: Result) -> bytes:
    """The value chain's flow figure as PNG bytes: the map of the flows, plants and markets, and
    below it the tonnes through each echelon.

    Raises
    ------
    ValueError
        If the run has no value chain.
    """
    return draw(*inputs(result))


def draw(
    chain: Chain,
    study_area: shapely.Geometry,
    rail: gpd.GeoDataFrame | None,
    unit: str,
    crs: str,
    view: tuple[float, float, float, float],
) -> bytes:
    """The flow figure from its :func:`inputs` (see :func:`flows`)."""
    map_w, map_h = _figsize(view, 6.4)
    left, gap, legend_w, top = 0.75, 0.55, 2.7, 0.35
    bars_h, bars_bottom = 0.3 * len(ECHELONS) + 0.4, 0.5
    fig_w = left + map_w + legend_w
    fig_h = bars_bottom + bars_h + gap + map_h + top
    fig = Figure(figsize=(fig_w, fig_h))
    map_bottom = bars_bottom + bars_h + gap
    ax = fig.add_axes((left / fig_w, map_bottom / fig_h, map_w / fig_w, map_h / fig_h))
    handles = _map(ax, chain, study_area, rail, unit)
    _limit(ax, view)
    _km_axes(ax, crs)
    scale_bar(ax, view)
    ax.set_title(f"Value chain: flows by stage, line width ∝ {unit}", fontsize=9, loc="left")
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=((left + map_w + 0.1) / fig_w, (map_bottom + map_h) / fig_h),
        fontsize=7.5,
        frameon=False,
    )
    bars = fig.add_axes(
        (1.45 / fig_w, bars_bottom / fig_h, (fig_w - 1.45 - 0.3) / fig_w, bars_h / fig_h)
    )
    totals = echelon_totals(chain)
    # Without markets the coke leaves the chain at the coke plants: no empty bar for them.
    _bars(bars, totals[(totals.index != "markets") | (totals["input"] > 0)], unit)
    return png(fig)


def _width(tonnes: float, most: float) -> float:
    """Line width in points, proportional to tonnes (thin flows stay visible)."""
    return max(0.4, MAX_WIDTH * tonnes / most) if most > 0 else 1.0


def _nice(value: float) -> float:
    """``value`` rounded down to one significant figure (a legend's round tonnage)."""
    if value <= 0:
        return 0.0
    magnitude = 10 ** np.floor(np.log10(value))
    return float(np.floor(value / magnitude) * magnitude)


def _map(
    ax: Axes,
    chain: Chain,
    study_area: shapely.Geometry,
    rail: gpd.GeoDataFrame | None,
    unit: str,
) -> list:
    """Draw the study area, rail, flows, plants and markets; return the legend's handles."""
    ax.set_facecolor("#ecebe4")  # outside the study area
    gpd.GeoSeries([study_area]).plot(ax=ax, color="white", zorder=0.5)
    handles: list = [Line2D([], [], color="black", linewidth=1.2, label="Study area")]
    if rail is not None:
        rail.geometry.plot(ax=ax, color="#b0b0b0", linewidth=1.0, zorder=1)
        handles.append(Line2D([], [], color="#b0b0b0", linewidth=1.0, label="Rail"))
    _outline(ax, study_area, lw=1.2, zorder=2)
    # One line per pair of ends: the coal types of a mine → plant arc share one route.
    arcs = _arcs(chain.flows)
    most = float(arcs["tonnes"].max()) if len(arcs) else 0.0
    for zorder, (stage, color) in enumerate(STAGE_COLORS.items(), start=3):
        own = arcs[arcs["stage"] == stage].sort_values("tonnes", ascending=False)
        if own.empty:
            continue
        for line, tonnes in zip(own.geometry, own["tonnes"], strict=True):
            for part in shapely.get_parts(line):
                xy = shapely.get_coordinates(part)
                ax.plot(
                    xy[:, 0],
                    xy[:, 1],
                    color=color,
                    linewidth=_width(float(tonnes), most),
                    alpha=0.8,
                    solid_capstyle="round",
                    solid_joinstyle="round",
                    zorder=zorder,
                )
        total = float(own["tonnes"].sum())
        label = f"{STAGE_LABELS[stage]} ({_tonnes(total)} {unit})"
        handles.append(Line2D([], [], color=color, linewidth=2.5, label=label))
    for value in sorted({_nice(most), _nice(most / 4)}, reverse=True):
        if value > 0:
            handles.append(
                Line2D(
                    [],
                    [],
                    color="#616161",
                    linewidth=_width(value, most),
                    label=f"width: {_tonnes(value)} {unit}",
                )
            )
    handles += _mines(ax, arcs)
    handles += _plants(ax, chain.plants)
    handles += _markets(ax, arcs)
    return handles


def _arcs(flows: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per pair of ends and stage, its tonnes summed over the coal types (which share
    one route), with that route."""
    arcs = flows.groupby(["stage", "from", "to"], sort=False, as_index=False).agg(
        tonnes=("tonnes", "sum"), route=("geometry", "first")
    )
    return gpd.GeoDataFrame(arcs, geometry="route", crs=flows.crs)


def _mines(ax: Axes, arcs: gpd.GeoDataFrame) -> list:
    """The mines that ship, at the start of their routes."""
    starts = arcs[arcs["stage"] == "mine_prep"].groupby("from")["route"].first()
    if starts.empty:
        return []
    xy = np.array([shapely.get_coordinates(g)[0] for g in starts])
    ax.scatter(xy[:, 0], xy[:, 1], s=14, c=STAGE_COLORS["mine_prep"], zorder=8)
    return [
        Line2D(
            [],
            [],
            marker="o",
            color=STAGE_COLORS["mine_prep"],
            linestyle="",
            markersize=4,
            label=f"Mines that ship ({len(starts)})",
        )
    ]


def _plants(ax: Axes, plants: gpd.GeoDataFrame) -> list:
    """The open plants: squares (preparation) and triangles (coke), filled when existing; the
    largest ``LABELLED`` of each echelon by input labelled with their names."""
    handles = []
    opened = plants[plants["open"]]
    labelled = set(opened.groupby("echelon")["input"].nlargest(LABELLED).index.get_level_values(1))
    for echelon, marker, color, noun in (
        ("prep", "s", STAGE_COLORS["prep_coke"], "Preparation plant"),
        ("coke", "^", STAGE_COLORS["coke_market"], "Coke plant"),
    ):
        for existing in (True, False):
            own = opened[(opened["echelon"] == echelon) & (opened["existing"] == existing)]
            if own.empty:
                continue
            face = color if existing else "white"
            pts = own.geometry.representative_point()
            ax.scatter(
                pts.x,
                pts.y,
                s=70,
                marker=marker,
                facecolors=face,
                edgecolors=color,
                linewidths=1.6,
                zorder=10,
            )
            for index, x, y, name in zip(own.index, pts.x, pts.y, own["name"], strict=True):
                if index not in labelled:
                    continue
                ax.annotate(
                    _short(name),
                    (x, y),
                    xytext=(5, 4),
                    textcoords="offset points",
                    fontsize=6.5,
                    color=color,
                    path_effects=HALO,
                    zorder=11,
                )
            kind = "existing" if existing else "new"
            handles.append(
                Line2D(
                    [],
                    [],
                    marker=marker,
                    markerfacecolor=face,
                    markeredgecolor=color,
                    markeredgewidth=1.4,
                    linestyle="",
                    markersize=7,
                    label=f"{noun}, {kind}, open ({len(own)})",
                )
            )
    return handles


def _markets(ax: Axes, arcs: gpd.GeoDataFrame) -> list:
    """The markets that receive coke, at the end of their routes, labelled."""
    ends = arcs[arcs["stage"] == "coke_market"].groupby("to")["route"].first()
    if ends.empty:
        return []
    for k, (name, line) in enumerate(ends.items()):
        x, y = shapely.get_coordinates(line)[-1]
        ax.scatter([x], [y], s=150, marker="*", c=MARKET_COLOR, edgecolors="black", zorder=12)
        ax.annotate(
            _short(name),
            (x, y),
            xytext=(6, -10 if k % 2 == 0 else 5),  # markets close together: one below, one above
            textcoords="offset points",
            fontsize=7,
            fontweight="bold",
            path_effects=HALO,
            zorder=13,
        )
    return [
        Line2D(
            [],
            [],
            marker="*",
            color=MARKET_COLOR,
            markeredgecolor="black",
            linestyle="",
            markersize=10,
            label=f"Markets ({len(ends)})",
        )
    ]


def _short(name: object, most: int = 26) -> str:
    """A label of at most ``most`` characters (the tables give the names in full)."""
    text = str(name)
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def _tonnes(value: float) -> str:
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _bars(ax: Axes, totals: pd.DataFrame, unit: str) -> None:
    """One bar per echelon: the tonnes arriving, split into what goes on to the next echelon,
    what leaves the chain there and what processing loses."""
    y = np.arange(len(totals))[::-1]  # the mines on top
    parts = (
        ("onward", "goes on to the next echelon (colour of its stage)", None),
        ("leaves", "leaves the chain here", LEAVES_COLOR),
        ("loss", "lost in processing (1 − yield)", LOSS_COLOR),
    )
    onward_colors = [
        STAGE_COLORS["mine_prep"],
        STAGE_COLORS["prep_coke"],
        STAGE_COLORS["coke_market"],
        STAGE_COLORS["coke_market"],
    ]
    start = np.zeros(len(totals))
    for column, label, color in parts:
        width = totals[column].clip(lower=0.0).to_numpy(float)
        colors = onward_colors if color is None else color
        ax.barh(
            y,
            width,
            left=start,
            height=0.6,
            color=colors,
            edgecolor="#616161",
            linewidth=0.5,
            label=label,
        )
        start += width
    top = float(totals["input"].max()) if len(totals) else 0.0
    for k, (_, row) in enumerate(totals.iterrows()):
        ax.annotate(
            f"{_tonnes(float(row['input']))} {unit}",
            (float(row["input"]), y[k]),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
    ax.set_yticks(y, [ECHELONS[e] for e in totals.index], fontsize=7.5)
    ax.set_xlim(0, 1.15 * top if top > 0 else 1.0)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.4g}"))
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel(f"tonnes arriving at each echelon ({unit})", fontsize=7.5)
    ax.grid(axis="x", alpha=0.3, linewidth=0.5)
    ax.set_axisbelow(True)
    ax.set_title(f"Tonnage through the chain ({unit})", fontsize=8.5, loc="left")
    legend = [
        Patch(facecolor=STAGE_COLORS["prep_coke"], edgecolor="#616161", label=parts[0][1]),
        Patch(facecolor=LEAVES_COLOR, edgecolor="#616161", label=parts[1][1]),
        Patch(facecolor=LOSS_COLOR, edgecolor="#616161", label=parts[2][1]),
    ]
    ax.legend(handles=legend, fontsize=6.5, loc="lower right", framealpha=0.9)
