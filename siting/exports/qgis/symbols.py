"""What a QGIS layer style says, independent of how it is written: symbols, classes, labels.

A :class:`Spec` describes one vector layer's renderer (single symbol, categories or graduated
ranges), its symbols and its labels; :mod:`siting.exports.qgis.qml` writes it as QML and
:mod:`siting.exports.qgis.sld` as SLD, so the two always say the same thing. :class:`Style` is what
the public functions return.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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
class Marker:
    shape: str  # QGIS SimpleMarker name: circle, square, star, triangle, diamond …
    fill: str
    size: float  # mm
    stroke: str = "#ffffff"
    stroke_width: float = 0.3
    size_expr: str | None = None


@dataclass(frozen=True)
class Line:
    color: str
    width: float  # mm
    style: str = "solid"  # solid, dash, dot
    width_expr: str | None = None


@dataclass(frozen=True)
class Fill:
    color: str | None  # None: no fill
    stroke: str | None
    stroke_width: float = 0.26
    stroke_style: str = "solid"
    fill_alpha: float = 1.0


@dataclass(frozen=True)
class Hatch:
    color: str
    angle: float = 45.0
    distance: float = 2.5  # mm between lines
    width: float = 0.3


SymbolLayer = Marker | Line | Fill | Hatch


@dataclass(frozen=True)
class Symbol:
    kind: str  # marker, line, fill
    layers: tuple[SymbolLayer, ...]
    opacity: float = 1.0


@dataclass(frozen=True)
class Class:
    """One legend entry: a category value, or a range (lower, upper)."""

    label: str
    symbol: Symbol
    value: str | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class Label:
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
class Spec:
    renderer: str
    geometry: str  # marker, line, fill
    classes: tuple[Class, ...]
    attr: str | None = None
    label: Label | None = None
    order_by: tuple[str, bool] | None = None  # (expression, ascending)
    ramp: tuple[str, ...] = ()  # graduated: the colour ramp's stops
    method: str = "EqualInterval"


# --- colours and small helpers -------------------------------------------------------------------


def rgba(color: str, alpha: float = 1.0) -> str:
    """``#rrggbb`` → QGIS ``r,g,b,a``."""
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * alpha)}"


def ramp_colors(cmap: str, n: int) -> list[str]:
    """``n`` evenly spaced colours of a matplotlib colour map, as ``#rrggbb``."""
    import matplotlib

    colormap = matplotlib.colormaps[cmap]
    return [matplotlib.colors.to_hex(colormap(i / max(n - 1, 1))) for i in range(n)]


def num(value: float) -> str:
    """A number for XML and expressions: short, and never in exponent notation."""
    return f"{value:.6f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"
