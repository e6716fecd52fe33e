"""Map elements whose data reach the page as they are, not compiled as templates.

When a page renders, branca turns the script of every folium element into a new element whose
template is that rendered text, and compiles it with Jinja: the cost grows with the text, and
it is most of the render time when the text is a few hundred markers or a megabyte of PNG
overlays. The elements here are built with branca's and folium's own extension points (an
element class with its own template, a subclass of a folium layer) so that their data skip that
step, without changing branca:

- :class:`Verbatim` is text placed in the page's script by its class's template
  (``{{ this.text }}``), which is compiled once, with the class.
- :class:`Vectors` draws a whole layer's circle markers, glyphs and lines (made by
  :func:`circle`, :func:`glyph`, :func:`line`) from one JSON array, written as a
  :class:`Verbatim`; folium would make an element of each marker, and one more of each tooltip
  and popup.
- :class:`ImageOverlay` is folium's image overlay with its PNG data URI written as a
  :class:`Verbatim`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import folium.raster_layers
import jinja2
from branca.element import Element, Figure, MacroElement
from folium.template import Template as FoliumTemplate

# Inside the page's <script>: "</script" or "<!--" in a name would end or confuse the script. JSON
# puts such text only inside strings, where a \u escape reads the same.
_UNSAFE = re.compile(r"<(?=/script|!--)", re.IGNORECASE)


def js(value: Any) -> str:
    """``value`` as a JavaScript literal safe inside a page's script (other text kept readable:
    names, HTML of popups)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _UNSAFE.sub(r"\\u003c", text)


def page_of(element: Element) -> Figure:
    """The page (branca :class:`~branca.element.Figure`) ``element`` is drawn on."""
    root = element.get_root()
    if not isinstance(root, Figure):
        raise TypeError(f"{element.get_name()} is not on a page (a branca Figure)")
    return root


class Verbatim(Element):
    """Text put in the page as it is (for the page's script: JavaScript)."""

    _template = jinja2.Template("{{ this.text }}")

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Verbatim"
        self.text = text


def circle(
    lat: float,
    lon: float,
    radius: float,
    color: str,
    *,
    fill_color: str | None = None,
    fill_opacity: float = 0.6,
    weight: float = 1.0,
    fill: bool = True,
    tooltip: str | None = None,
    popup: str | None = None,
    popup_width: int = 300,
) -> dict[str, Any]:
    """A circle marker of ``radius`` px (Leaflet ``L.circleMarker``); ``tooltip`` and ``popup``
    are HTML."""
    style = {
        "radius": round(float(radius), 2),
        "color": color,
        "weight": weight,
        "fill": fill,
        "fillColor": fill_color or color,
        "fillOpacity": fill_opacity,
    }
    return _feature("circle", _at(lat, lon), style, tooltip, popup, popup_width)


def line(
    coords: Sequence[tuple[float, float]],
    color: str,
    weight: float,
    *,
    opacity: float = 1.0,
    dash: str | None = None,
    tooltip: str | None = None,
) -> dict[str, Any]:
    """A polyline through (lat, lon) ``coords`` (Leaflet ``L.polyline``)."""
    style: dict[str, Any] = {"color": color, "weight": round(float(weight), 2), "opacity": opacity}
    if dash is not None:
        style["dashArray"] = dash
    return _feature("line", [_at(lat, lon) for lat, lon in coords], style, tooltip, None, 0)


def glyph(
    lat: float,
    lon: float,
    char: str,
    color: str,
    size: int,
    *,
    tooltip: str | None = None,
    popup: str | None = None,
    popup_width: int = 300,
) -> dict[str, Any]:
    """A marker drawn as one character (★, ◆) with a white halo (Leaflet ``L.divIcon``)."""
    icon = {
        "html": (
            f"<div style='font-size:{size}px;line-height:{size}px;color:{color};"
            "text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff;text-align:center'>"
            f"{char}</div>"
        ),
        "iconSize": [size, size],
        "iconAnchor": [size // 2, size // 2],
        "className": "siting-glyph",
    }
    return _feature("glyph", _at(lat, lon), icon, tooltip, popup, popup_width)


def _at(lat: float, lon: float) -> list[float]:
    # 1e-6° is about 0.1 m: finer digits only lengthen the page.
    return [round(float(lat), 6), round(float(lon), 6)]


def _feature(
    kind: str, at: list, style: dict, tooltip: str | None, popup: str | None, popup_width: int
) -> dict[str, Any]:
    feature: dict[str, Any] = {"kind": kind, "at": at, "style": style}
    if tooltip:
        feature["tooltip"] = tooltip
    if popup:
        feature["popup"] = popup
        feature["popupWidth"] = popup_width
    return feature


_DRAW = """(function (parent, features) {
    features.forEach(function (f) {
        var layer = f.kind === "circle" ? L.circleMarker(f.at, f.style)
            : f.kind === "line" ? L.polyline(f.at, f.style)
            : L.marker(f.at, {icon: L.divIcon(f.style)});
        if (f.tooltip) { layer.bindTooltip(f.tooltip, {sticky: true}); }
        if (f.popup) { layer.bindPopup(f.popup, {maxWidth: f.popupWidth}); }
        layer.addTo(parent);
    });
})(%s, %s);"""


class Vectors(MacroElement):
    """Features made by :func:`circle`, :func:`line` and :func:`glyph`, added to ``parent`` by
    one script (tooltips sticky, as folium's).

    Parameters
    ----------
    parent
        The layer the features join (a ``FeatureGroup``: toggling it in the layer control
        toggles them), or the map.
    features
        The features, drawn in order (later ones on top).
    """

    def __init__(self, parent: MacroElement, features: Sequence[dict[str, Any]]) -> None:
        super().__init__()
        self._name = "Vectors"
        self.parent_name = parent.get_name()
        self.features = list(features)
        self.add_to(parent)

    def render(self, **kwargs: Any) -> str:
        """Put the script that draws the features in the page's script (returns nothing of its
        own: "")."""
        script = _DRAW % (self.parent_name, js(self.features))
        page_of(self).script.add_child(Verbatim(script), name=self.get_name())
        return ""


class ImageOverlay(folium.raster_layers.ImageOverlay):
    """folium's :class:`~folium.raster_layers.ImageOverlay` (same arguments and layer control)
    with its image's data URI written as a :class:`Verbatim`."""

    _template = FoliumTemplate(
        """
        {% macro header(this, kwargs) %}
            {% if this.pixelated %}
                <style>
                    .leaflet-image-layer {
                        image-rendering: -webkit-optimize-contrast;
                        image-rendering: crisp-edges;
                        image-rendering: pixelated;
                        image-rendering: -moz-crisp-edges;
                        image-rendering: -o-crisp-edges;
                        -ms-interpolation-mode: nearest-neighbor;
                    }
                </style>
            {% endif %}
        {% endmacro %}

        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.imageOverlay(
                {{ this.get_name() }}_url,
                {{ this.bounds|tojson }},
                {{ this.options|tojavascript }}
            );
        {% endmacro %}
        """
    )

    def render(self, **kwargs: Any) -> str:
        """Put the image's data URI in the page's script, then the overlay as folium does
        (returns nothing of its own: "")."""
        url = Verbatim(f"var {self.get_name()}_url = {js(self.url)};")
        page_of(self).script.add_child(url, name=f"{self.get_name()}_url")
        super().render(**kwargs)
        return ""
