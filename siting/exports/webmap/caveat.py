"""The map's word on how exact its layers are: a caveat box naming the schematic layers (from
each layer's ``exactness`` and ``error_m`` in the scenario), and the exactness in a schematic
layer's name in the layer control and in its features' tooltips."""

from __future__ import annotations

import html
from typing import Any

import geopandas as gpd

from siting.exports import theme

#: The tooltip field that carries a schematic layer's exactness.
FIELD = "exactness"
BOX = (
    "<div id='siting-caveat' style='margin-top:6px;padding:4px 6px;background:#fff8c5;"
    "border-left:4px solid #d4a72c;font-size:12px'>⚠ {text}</div>"
)


def _schematic_note(scenario: Any, layer: str) -> str:
    spec = scenario.layers.get(layer)
    return theme.exactness_note(spec) if getattr(spec, "exactness", None) == "schematic" else ""


def layer_name(scenario: Any, layer: str, title: str) -> str:
    """The layer control's name of ``layer``: ``title``, with its exactness when schematic
    ("Rail (schematic, ±5 km)")."""
    note = _schematic_note(scenario, layer)
    return f"{title} ({note})" if note else title


def with_note(
    scenario: Any, layer: str, gdf: gpd.GeoDataFrame, fields: list[str]
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """``gdf`` and its tooltip ``fields``, with the :data:`FIELD` column saying the layer is
    schematic when it is (unchanged otherwise)."""
    note = _schematic_note(scenario, layer)
    if not note:
        return gdf, fields
    return gdf.assign(**{FIELD: f"{note}: position approximate"}), [*fields, FIELD]


def box(scenario: Any) -> str:
    """The caveat box's HTML ("" when no layer is schematic), with a link to the provenance
    notes copied beside the map."""
    text = theme.schematic_caveat(scenario)
    if not text:
        return ""
    head, _, _ = text.rpartition(theme.PROVENANCE_FILE)
    link = f"<a href='{theme.PROVENANCE_FILE}'>{theme.PROVENANCE_FILE}</a>"
    return BOX.format(text=html.escape(head) + link + ".")
