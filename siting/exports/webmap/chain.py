"""The web map's value-chain layer (``[models.chain]``): every flow on its road and rail route,
coloured by stage, its width by tonnes (:mod:`siting.exports.webmap.page` adds it)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import folium

from siting.exports.theme import CHAIN_STAGE_COLORS
from siting.exports.webmap import elements
from siting.exports.webmap.overlay import WGS84

if TYPE_CHECKING:
    from siting.pipeline.result import Result

#: A colour per stage: coal, concentrate, coke.
STAGE_COLORS = CHAIN_STAGE_COLORS
STAGE_NAMES = {
    "mine_prep": "coal to preparation",
    "prep_coke": "concentrate to coke",
    "coke_market": "coke to market",
}
NAME = "Value chain: mine → preparation → coke → market (width = tonnes)"


def flows(result: Result) -> folium.FeatureGroup:
    """The chain's flows as one layer (for a run that has a chain)."""
    chain = result.chain
    if chain is None:
        raise ValueError("the run has no value chain")
    group = folium.FeatureGroup(name=NAME, show=True)
    lines = chain.flows.to_crs(WGS84)
    top = float(lines["tonnes"].max()) if len(lines) else 1.0
    drawn = []
    for _, row in lines.iterrows():
        if row.geometry is None or row.geometry.is_empty:
            continue
        kind = f" {row['coal_type']}" if row["coal_type"] else ""
        tip = (
            f"{row['from']} → {row['to']}: {row['tonnes']:.2f}{kind} "
            f"({STAGE_NAMES.get(row['stage'], row['stage'])}), {row['km']:.1f} truck-km/t"
        )
        drawn.append(
            elements.line(
                [(y, x) for x, y in row.geometry.coords],
                STAGE_COLORS.get(row["stage"], "#555555"),
                1 + 6 * row["tonnes"] / (top or 1.0),
                opacity=0.75,
                tooltip=html.escape(tip),
            )
        )
    elements.Vectors(group, drawn)
    return group
