"""The web map's word on how robust the plan is (``[sensitivity]``, :mod:`siting.robustness`):
a line in each site's popup (and each existing plant's tooltip) saying in how many of the draws
it stays in the plan, a ring around each site of the plan (solid: robust, dashed: moderate,
dotted red: fragile) in a layer of its own, and a legend stating the classes' thresholds and the
number of draws. A run without draws (``draws = 0``) gets none of them
(:mod:`siting.exports.webmap.page` adds them)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from siting.exports.theme import ROBUSTNESS_COLORS
from siting.exports.webmap import elements
from siting.exports.webmap.overlay import WGS84

if TYPE_CHECKING:
    from siting.pipeline.result import Result
    from siting.robustness import Robustness

#: The ring of each class: colour, line width (px) and dash pattern (None: solid).
RINGS: dict[str, tuple[str, float, str | None]] = {
    "robust": (ROBUSTNESS_COLORS["robust"], 3.5, None),
    "moderate": (ROBUSTNESS_COLORS["moderate"], 2.5, "7 4"),
    "fragile": (ROBUSTNESS_COLORS["fragile"], 2.5, "1 5"),
}
#: The ring's radius (px): outside the site's marker (9 px), so that a click on the marker
#: still reaches it.
RADIUS = 14
NAME = "Robustness (ring: solid robust, dashed moderate, dotted fragile)"
# The legend lets clicks through (pointer-events): a site under it stays clickable.
LEGEND = (
    "<div id='siting-robustness' style='position:fixed;bottom:30px;right:10px;z-index:1000;"
    "background:white;padding:6px 10px;border-radius:4px;box-shadow:0 1px 4px #0004;"
    "font:12px sans-serif;max-width:320px;pointer-events:none'>{text}</div>"
)


def _pct(share: float) -> str:
    return f"{100 * share:.0f} %"


def _of(share: float, n: int) -> str:
    """ "19 of 20 draws (95 %)" (the shares are counts over ``n``, so the count is exact)."""
    return f"{round(share * n)} of {n} draws ({_pct(share)})"


def _row(r: Robustness, site_id: str) -> pd.Series | None:
    rows = r.sites[r.sites["site_id"].astype(str) == str(site_id)]
    return None if rows.empty else rows.iloc[0]


def _finite(value: object) -> bool:
    return isinstance(value, int | float | np.floating) and bool(np.isfinite(value))


def _expanded_in_run(result: Result, site_id: str) -> bool:
    """Whether the run expanded the existing plant ``site_id``."""
    a = result.allocation
    if a is None or "status" not in a.plants.columns:
        return False
    status = a.plants.loc[a.plants["site_id"].astype(str) == str(site_id), "status"]
    return bool((status == "expanded").any())


def text(result: Result, site_id: str) -> str:
    """The plain-text robustness of a site ("" without draws or for a site not assessed):
    "Robustness: robust — in the plan in 19 of 20 draws (95 %)"."""
    r = result.robustness
    row = None if r is None else _row(r, site_id)
    if r is None or row is None:
        return ""
    n = r.n
    if n == 0:
        return f"Robustness: not assessed (none of the {r.spec.draws} draws could take the demand)"
    klass = str(row["robustness_class"])
    head = f"Robustness: {klass} — " if klass else "Robustness: not in the plan; "
    planned, proposed = row["planned_share"], row["proposed_share"]
    if row["origin"] == "existing":
        grown = float(row["expanded_share"])
        if _expanded_in_run(result, site_id):
            return head + f"expanded in {_of(grown, n)}"
        return (
            head + f"kept without expansion in {_of(float(row['robustness']), n)}; "
            f"expanded in {_of(grown, n)}"
        )
    if _finite(planned):  # a site of the plant model
        said = ("in the plan in " if row["in_plan"] else "opened in ") + _of(float(planned), n)
        if _finite(proposed):
            said += f"; proposed again in {_of(float(proposed), n)}"
        return head + said
    if _finite(proposed):  # a profile without a plant model: its weights propose it again
        return head + f"proposed again in {_of(float(proposed), n)}"
    return ""


def popup_line(result: Result, site_id: str) -> str:
    """:func:`text` as a line of a site's popup ("" without draws)."""
    said = text(result, site_id)
    return f"<br><span class='robustness'>{html.escape(said)}</span>" if said else ""


def tooltip_part(result: Result, site_id: str) -> str:
    """:func:`text` to append to a tooltip ("" without draws)."""
    said = text(result, site_id)
    return f"; {html.escape(said)}" if said else ""


def _plan(result: Result) -> gpd.GeoDataFrame:
    """The sites of the plan with a class, in WGS 84."""
    r = result.robustness
    if r is None:
        raise ValueError("the run has no robustness")
    plan = r.sites[r.sites["in_plan"].astype(bool) & r.sites["robustness_class"].isin(RINGS)]
    return gpd.GeoDataFrame(
        plan.reset_index(drop=True),
        geometry=gpd.points_from_xy(plan["x"], plan["y"]),
        crs=result.scenario.crs,
    ).to_crs(WGS84)


def rings(result: Result) -> folium.FeatureGroup:
    """A ring around each site of the plan by its class, as one layer (for a run with draws)."""
    group = folium.FeatureGroup(name=NAME, show=True)
    features = []
    for _, row in _plan(result).iterrows():
        color, width, dash = RINGS[str(row["robustness_class"])]
        ring = elements.circle(
            row.geometry.y,
            row.geometry.x,
            RADIUS,
            color,
            weight=width,
            fill=False,
            tooltip=html.escape(f"{row['site_id']}: {text(result, str(row['site_id']))}"),
        )
        if dash is not None:
            ring["style"]["dashArray"] = dash
        features.append(ring)
    elements.Vectors(group, features)
    return group


def _swatch(klass: str) -> str:
    color, width, dash = RINGS[klass]
    dashed = f" stroke-dasharray='{dash}'" if dash else ""
    return (
        "<svg width='22' height='22' style='vertical-align:middle'><circle cx='11' cy='11' "
        f"r='8' fill='none' stroke='{color}' stroke-width='{width}'{dashed}/></svg>"
    )


def legend(result: Result) -> str:
    """The legend's HTML: the classes with their thresholds, the draws and the count of sites
    of the plan in each class ("" without draws)."""
    r = result.robustness
    if r is None:
        return ""
    spec, n = r.spec, r.n
    if n == 0:
        body = (
            f"none of the {spec.draws} draws could take the demand: the plan's robustness "
            "is not assessed"
        )
        return LEGEND.format(text=f"<b>Robustness of the plan</b><br>{html.escape(body)}")
    counts = r.counts()
    lines = {
        "robust": f"robust: in the plan in ≥ {_pct(spec.robust)} of {n} draws",
        "moderate": f"moderate: {_pct(spec.fragile)} to {_pct(spec.robust)}",
        "fragile": f"fragile: < {_pct(spec.fragile)}",
    }
    items = "".join(
        f"<br>{_swatch(k)} {html.escape(said)} ({counts[k]} site{'' if counts[k] == 1 else 's'})"
        for k, said in lines.items()
    )
    excluded = spec.draws - n
    note = (
        f"<br><small>{excluded} draw{'' if excluded == 1 else 's'} whose capacities could not "
        "take the demand left out</small>"
        if excluded
        else ""
    )
    head = (
        "<b>Robustness of the plan</b><br><small>share of draws of weights, capacities, costs "
        "and tariffs in which a site stays in the plan</small>"
    )
    return LEGEND.format(text=head + items + note)


def add_legend(fmap: folium.Map, result: Result) -> None:
    """Put :func:`legend` on the map's page (nothing without draws)."""
    box = legend(result)
    if box:
        elements.page_of(fmap).html.add_child(folium.Element(box))
