"""SLD 1.1.0: the same styles for other GIS (GeoServer, MapServer, QGIS's SLD import).

:func:`document` writes a vector layer's ``StyledLayerDescriptor`` from its
:class:`~siting.exports.qgis.symbols.Spec` with simple symbolizers (sizes in pixels at 96 dpi; no
data-defined sizes); the other public functions are the pieces the raster styles build theirs from.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from siting.exports.qgis.symbols import Class, Fill, Label, Line, Marker, Spec, Symbol, num

PX_PER_MM = 96 / 25.4  # SLD sizes are in pixels (at 96 dpi)

SLD_NS = "http://www.opengis.net/sld"
SE_NS = "http://www.opengis.net/se"
OGC_NS = "http://www.opengis.net/ogc"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SLD_NS)
ET.register_namespace("se", SE_NS)
ET.register_namespace("ogc", OGC_NS)
ET.register_namespace("xsi", XSI_NS)
ET.register_namespace("xlink", XLINK_NS)

_SLD_MARKS = {  # QGIS marker → SLD well-known name
    "circle": "circle",
    "square": "square",
    "star": "star",
    "triangle": "triangle",
    "diamond": "square",  # rotated below
    "cross": "cross",
}


def se(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    """A child element of the Symbology Encoding namespace, with its text."""
    node = ET.SubElement(parent, f"{{{SE_NS}}}{tag}", attrib)
    if text is not None:
        node.text = text
    return node


def ogc(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    """A child element of the OGC filter namespace, with its text."""
    node = ET.SubElement(parent, f"{{{OGC_NS}}}{tag}")
    if text is not None:
        node.text = text
    return node


def svg(parent: ET.Element, name: str, value: str) -> None:
    """An ``<SvgParameter name=…>`` (fill, stroke …) with its value."""
    se(parent, "SvgParameter", value, name=name)


def px(mm: float) -> str:
    """A size in mm as SLD pixels at 96 dpi."""
    return num(round(mm * PX_PER_MM, 2))


def _stroke(parent: ET.Element, color: str, width: float, style: str, opacity: float) -> None:
    stroke = se(parent, "Stroke")
    svg(stroke, "stroke", color)
    svg(stroke, "stroke-width", px(width))
    if opacity < 1:
        svg(stroke, "stroke-opacity", num(opacity))
    svg(stroke, "stroke-linejoin", "round")
    svg(stroke, "stroke-linecap", "round")
    if style == "dash":
        svg(stroke, "stroke-dasharray", f"{px(2 * width + 1.5)} {px(width + 1)}")
    elif style == "dot":
        svg(stroke, "stroke-dasharray", f"{px(width)} {px(width + 1)}")


def _symbolizers(rule: ET.Element, symbol: Symbol) -> None:
    for layer in symbol.layers:
        if isinstance(layer, Marker):
            graphic = se(se(rule, "PointSymbolizer"), "Graphic")
            mark = se(graphic, "Mark")
            se(mark, "WellKnownName", _SLD_MARKS.get(layer.shape, "circle"))
            fill = se(mark, "Fill")
            svg(fill, "fill", layer.fill)
            if symbol.opacity < 1:
                svg(fill, "fill-opacity", num(symbol.opacity))
            if layer.stroke_width > 0:
                _stroke(mark, layer.stroke, layer.stroke_width, "solid", 1.0)
            se(graphic, "Size", px(layer.size))
            if layer.shape == "diamond":
                se(graphic, "Rotation", "45")
        elif isinstance(layer, Line):
            _stroke(
                se(rule, "LineSymbolizer"), layer.color, layer.width, layer.style, symbol.opacity
            )
        elif isinstance(layer, Fill):
            poly = se(rule, "PolygonSymbolizer")
            if layer.color:
                fill = se(poly, "Fill")
                svg(fill, "fill", layer.color)
                svg(fill, "fill-opacity", num(layer.fill_alpha * symbol.opacity))
            if layer.stroke:
                _stroke(poly, layer.stroke, layer.stroke_width, layer.stroke_style, symbol.opacity)
        else:
            fill = se(se(rule, "PolygonSymbolizer"), "Fill")
            graphic = se(se(fill, "GraphicFill"), "Graphic")
            mark = se(graphic, "Mark")
            # The nearest of SE's four hatch marks (angles counter-clockwise from east, as QGIS).
            angle = layer.angle % 180
            name = ("horline", "slash", "vertline", "backslash")[round(angle / 45) % 4]
            se(mark, "WellKnownName", f"shape://{name}")
            _stroke(mark, layer.color, layer.width, "solid", symbol.opacity)
            se(graphic, "Size", px(layer.distance))


def _filter(rule: ET.Element, attr: str, c: Class) -> None:
    flt = ogc(rule, "Filter")
    if c.value is not None:
        equal = ogc(flt, "PropertyIsEqualTo")
        ogc(equal, "PropertyName", attr)
        ogc(equal, "Literal", c.value)
        return
    both = ogc(flt, "And")
    low = ogc(both, "PropertyIsGreaterThanOrEqualTo")
    ogc(low, "PropertyName", attr)
    ogc(low, "Literal", repr(c.lower))
    high = ogc(both, "PropertyIsLessThanOrEqualTo")
    ogc(high, "PropertyName", attr)
    ogc(high, "Literal", repr(c.upper))


def styled_layer(name: str, title: str, abstract: str) -> tuple[ET.Element, ET.Element]:
    """The ``StyledLayerDescriptor`` of one layer and its ``FeatureTypeStyle`` to add rules to."""
    root = ET.Element(
        f"{{{SLD_NS}}}StyledLayerDescriptor",
        {
            "version": "1.1.0",
            f"{{{XSI_NS}}}schemaLocation": (
                "http://www.opengis.net/sld "
                "http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd"
            ),
        },
    )
    layer = ET.SubElement(root, f"{{{SLD_NS}}}NamedLayer")
    se(layer, "Name", name)
    style = ET.SubElement(layer, f"{{{SLD_NS}}}UserStyle")
    se(style, "Name", name)
    description = se(style, "Description")
    se(description, "Title", title)
    se(description, "Abstract", abstract)
    return root, se(style, "FeatureTypeStyle")


def _text(rule: ET.Element, label: Label) -> None:
    text = se(rule, "TextSymbolizer")
    ogc(se(text, "Label"), "PropertyName", label.sld_field or label.text)
    font = se(text, "Font")
    svg(font, "font-family", "sans-serif")
    svg(font, "font-size", num(round(label.size * 96 / 72, 1)))
    if label.bold:
        svg(font, "font-weight", "bold")
    placement = se(text, "LabelPlacement")
    if label.placement == "line":
        se(placement, "LinePlacement")
    else:
        point = se(placement, "PointPlacement")
        anchor = se(point, "AnchorPoint")
        se(anchor, "AnchorPointX", "0" if label.placement == "point" else "0.5")
        se(anchor, "AnchorPointY", "0" if label.placement == "point" else "0.5")
        if label.placement == "point":
            displacement = se(point, "Displacement")
            se(displacement, "DisplacementX", px(1.5))
            se(displacement, "DisplacementY", px(1.5))
    if label.buffer > 0:
        halo = se(text, "Halo")
        se(halo, "Radius", px(label.buffer))
        svg(se(halo, "Fill"), "fill", "#ffffff")
    svg(se(text, "Fill"), "fill", label.color)


def document(spec: Spec, name: str, title: str, abstract: str) -> str:
    root, fts = styled_layer(name, title, abstract)
    for c in spec.classes:
        rule = se(fts, "Rule")
        se(rule, "Name", c.label)
        se(se(rule, "Description"), "Title", c.label)
        if spec.renderer != "singleSymbol" and spec.attr:
            _filter(rule, spec.attr, c)
        _symbolizers(rule, c.symbol)
    if spec.label is not None:
        rule = se(fts, "Rule")
        se(rule, "Name", "Labels")
        if spec.label.sld_filter is not None:
            attr, _, value = spec.label.sld_filter
            greater = ogc(ogc(rule, "Filter"), "PropertyIsGreaterThanOrEqualTo")
            ogc(greater, "PropertyName", attr)
            ogc(greater, "Literal", num(value))
        _text(rule, spec.label)
    return serialize(root)


def serialize(root: ET.Element) -> str:
    """The SLD document of ``root``, indented, with its XML declaration."""
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
