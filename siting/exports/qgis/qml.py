"""QML: a layer style as QGIS 3.22 writes it (``<!DOCTYPE qgis …>``).

:func:`document` writes a vector layer's QML from its :class:`~siting.exports.qgis.symbols.Spec`
(renderer, symbols, labels, field aliases, abstract); the other public functions are the pieces the
raster styles (:mod:`siting.exports.qgis.raster_styles`) build theirs from.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from siting.exports.qgis.symbols import (
    Fill,
    Label,
    Line,
    Marker,
    Spec,
    Symbol,
    SymbolLayer,
    num,
    rgba,
)

QGIS_VERSION = "3.22.16-Białowieża"
DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"


def sub(parent: ET.Element, tag: str, attrib: dict[str, str] | None = None, **kw) -> ET.Element:
    """A child element ``tag`` of ``parent`` with the attributes given."""
    return ET.SubElement(parent, tag, {**(attrib or {}), **kw})


def option_map(parent: ET.Element, values: dict[str, str], name: str | None = None) -> ET.Element:
    """An ``<Option type="Map">`` of string options (named ``name`` when given)."""
    node = sub(parent, "Option", {"name": name} if name else None, type="Map")
    for key, value in values.items():
        sub(node, "Option", name=key, type="QString", value=value)
    return node


def data_defined(parent: ET.Element, tag: str, expressions: dict[str, str]) -> None:
    """``<data_defined_properties>``: each QGIS property key → an active expression."""
    box = sub(sub(parent, tag), "Option", type="Map")
    sub(box, "Option", name="name", type="QString", value="")
    if expressions:
        props = sub(box, "Option", name="properties", type="Map")
        for key, expression in expressions.items():
            prop = sub(props, "Option", name=key, type="Map")
            sub(prop, "Option", name="active", type="bool", value="true")
            sub(prop, "Option", name="expression", type="QString", value=expression)
            sub(prop, "Option", name="type", type="int", value="3")
    else:
        sub(box, "Option", name="properties")
    sub(box, "Option", name="type", type="QString", value="collection")


_UNIT_SCALE = "3x:0,0,0,0,0,0"


def _symbol_layer(parent: ET.Element, layer: SymbolLayer, name: str) -> None:
    if isinstance(layer, Marker):
        node = sub(parent, "layer", {"class": "SimpleMarker"}, enabled="1", locked="0", pass_="0")
        props = {
            "angle": "0",
            "color": rgba(layer.fill),
            "horizontal_anchor_point": "1",
            "joinstyle": "bevel",
            "name": layer.shape,
            "offset": "0,0",
            "offset_map_unit_scale": _UNIT_SCALE,
            "offset_unit": "MM",
            "outline_color": rgba(layer.stroke),
            "outline_style": "solid" if layer.stroke_width > 0 else "no",
            "outline_width": num(layer.stroke_width),
            "outline_width_map_unit_scale": _UNIT_SCALE,
            "outline_width_unit": "MM",
            "scale_method": "diameter",
            "size": num(layer.size),
            "size_map_unit_scale": _UNIT_SCALE,
            "size_unit": "MM",
            "vertical_anchor_point": "1",
        }
        option_map(node, props)
        data_defined(
            node, "data_defined_properties", {"size": layer.size_expr} if layer.size_expr else {}
        )
    elif isinstance(layer, Line):
        node = sub(parent, "layer", {"class": "SimpleLine"}, enabled="1", locked="0", pass_="0")
        props = {
            "capstyle": "round",
            "customdash": "5;2",
            "customdash_unit": "MM",
            "draw_inside_polygon": "0",
            "joinstyle": "round",
            "line_color": rgba(layer.color),
            "line_style": layer.style,
            "line_width": num(layer.width),
            "line_width_unit": "MM",
            "offset": "0",
            "offset_unit": "MM",
            "use_custom_dash": "0",
            "width_map_unit_scale": _UNIT_SCALE,
        }
        option_map(node, props)
        dd = {"outlineWidth": layer.width_expr} if layer.width_expr else {}
        data_defined(node, "data_defined_properties", dd)
    elif isinstance(layer, Fill):
        node = sub(parent, "layer", {"class": "SimpleFill"}, enabled="1", locked="0", pass_="0")
        props = {
            "border_width_map_unit_scale": _UNIT_SCALE,
            "color": rgba(layer.color or "#ffffff", layer.fill_alpha if layer.color else 0.0),
            "joinstyle": "bevel",
            "offset": "0,0",
            "offset_unit": "MM",
            "outline_color": rgba(layer.stroke or "#000000"),
            "outline_style": layer.stroke_style if layer.stroke else "no",
            "outline_width": num(layer.stroke_width),
            "outline_width_unit": "MM",
            "style": "solid" if layer.color else "no",
        }
        option_map(node, props)
        data_defined(node, "data_defined_properties", {})
    else:
        node = sub(
            parent, "layer", {"class": "LinePatternFill"}, enabled="1", locked="0", pass_="0"
        )
        props = {
            "angle": num(layer.angle),
            "color": rgba(layer.color),
            "distance": num(layer.distance),
            "distance_map_unit_scale": _UNIT_SCALE,
            "distance_unit": "MM",
            "line_width": num(layer.width),
            "line_width_map_unit_scale": _UNIT_SCALE,
            "line_width_unit": "MM",
            "offset": "0",
            "offset_map_unit_scale": _UNIT_SCALE,
            "offset_unit": "MM",
            "outline_width_map_unit_scale": _UNIT_SCALE,
            "outline_width_unit": "MM",
        }
        option_map(node, props)
        data_defined(node, "data_defined_properties", {})
        hatch_line = Symbol("line", (Line(layer.color, layer.width),))
        _symbol(node, hatch_line, f"@{name}@0")


def _symbol(parent: ET.Element, symbol: Symbol, name: str) -> None:
    node = sub(
        parent,
        "symbol",
        name=name,
        type=symbol.kind,
        alpha=num(symbol.opacity),
        clip_to_extent="1",
        force_rhr="0",
    )
    data_defined(node, "data_defined_properties", {})
    for layer in symbol.layers:
        _symbol_layer(node, layer, name)


def ramp(parent: ET.Element, colors: Sequence[str], name: str = "[source]") -> None:
    """A gradient ``<colorramp>`` through ``colors``, evenly spaced."""
    node = sub(parent, "colorramp", name=name, type="gradient")
    n = len(colors)
    stops = ":".join(f"{num(i / (n - 1))};{rgba(c)}" for i, c in enumerate(colors[1:-1], 1))
    option_map(
        node,
        {
            "color1": rgba(colors[0]),
            "color2": rgba(colors[-1]),
            "discrete": "0",
            "rampType": "gradient",
            "stops": stops,
        },
    )


def _renderer(parent: ET.Element, spec: Spec) -> None:
    attrib = {
        "type": spec.renderer,
        "symbollevels": "0",
        "forceraster": "0",
        "enableorderby": "1" if spec.order_by else "0",
        "referencescale": "-1",
    }
    if spec.attr:
        attrib["attr"] = spec.attr
    if spec.renderer == "graduatedSymbol":
        attrib["graduatedMethod"] = "GraduatedColor"
    node = sub(parent, "renderer-v2", attrib)
    if spec.renderer == "categorizedSymbol":
        box = sub(node, "categories")
        for i, c in enumerate(spec.classes):
            sub(box, "category", render="true", symbol=str(i), value=c.value or "", label=c.label)
    elif spec.renderer == "graduatedSymbol":
        box = sub(node, "ranges")
        for i, c in enumerate(spec.classes):
            sub(
                box,
                "range",
                render="true",
                symbol=str(i),
                lower=f"{c.lower:.15f}",
                upper=f"{c.upper:.15f}",
                label=c.label,
            )
    symbols = sub(node, "symbols")
    for i, c in enumerate(spec.classes):
        _symbol(symbols, c.symbol, str(i))
    if spec.renderer in ("categorizedSymbol", "graduatedSymbol"):
        source = sub(node, "source-symbol")
        _symbol(source, spec.classes[0].symbol, "0")
    if spec.renderer == "graduatedSymbol":
        ramp(node, spec.ramp)
        method = sub(node, "classificationMethod", id=spec.method)
        sub(method, "symmetricMode", enabled="0", symmetrypoint="0", astride="0")
        sub(method, "labelFormat", format="%1 – %2", labelprecision="2", trimtrailingzeroes="0")
        sub(sub(method, "parameters"), "Option")
        sub(method, "extraInformation")
    if spec.order_by:
        expression, ascending = spec.order_by
        order = sub(node, "orderby")
        clause = sub(order, "orderByClause", asc="1" if ascending else "0", nullsFirst="0")
        clause.text = expression
    sub(node, "rotation")
    sub(node, "sizescale")


_PLACEMENT = {  # QgsPalLayerSettings::Placement
    "point": ("6", "1"),  # ordered positions around the point, 1 mm away
    "line": ("2", "0"),  # parallel to the line
    "polygon": ("1", "0"),  # over the centroid
}


def _labeling(parent: ET.Element, label: Label) -> None:
    settings = sub(sub(parent, "labeling", type="simple"), "settings", calloutType="simple")
    style = sub(
        settings,
        "text-style",
        fieldName=label.text,
        isExpression="1" if label.expression else "0",
        fontSize=num(label.size),
        fontSizeUnit="Point",
        fontWeight="75" if label.bold else "50",
        fontItalic="0",
        textColor=rgba(label.color),
        textOpacity="1",
        namedStyle="Bold" if label.bold else "Regular",
        multilineHeight="1",
        blendMode="0",
        allowHtml="0",
        useSubstitutions="0",
        capitalization="0",
        previewBkgrdColor="255,255,255,255",
        legendString="Aa",
        textOrientation="horizontal",
    )
    sub(
        style,
        "text-buffer",
        bufferDraw="1" if label.buffer > 0 else "0",
        bufferSize=num(label.buffer),
        bufferSizeUnits="MM",
        bufferSizeMapUnitScale=_UNIT_SCALE,
        bufferColor="255,255,255,255",
        bufferOpacity="0.85",
        bufferNoFill="1",
        bufferJoinStyle="128",
        bufferBlendMode="0",
    )
    sub(style, "background", shapeDraw="0")
    sub(style, "shadow", shadowDraw="0")
    sub(
        settings,
        "text-format",
        wrapChar="",
        multilineAlign="3",
        formatNumbers="0",
        decimals="3",
        plussign="0",
        addDirectionSymbol="0",
        autoWrapLength="0",
    )
    placement, dist = _PLACEMENT[label.placement]
    sub(
        settings,
        "placement",
        placement=placement,
        dist=dist,
        distUnits="MM",
        placementFlags="10",
        polygonPlacementFlags="2",
        quadOffset="4",
        priority="5",
        predefinedPositionOrder="TR,TL,BR,BL,R,L,TSR,BSR",
        offsetType="0",
        xOffset="0",
        yOffset="0",
        offsetUnits="MM",
        centroidInside="1",
        centroidWhole="0",
        fitInPolygonOnly="0",
        repeatDistance="0",
    )
    sub(
        settings,
        "rendering",
        drawLabels="1",
        obstacle="1",
        obstacleFactor="1",
        obstacleType="1",
        displayAll="0",
        upsidedownLabels="0",
        labelPerPart="0",
        mergeLines="0",
        scaleVisibility="0",
        scaleMin="0",
        scaleMax="0",
        limitNumLabels="0",
        maxNumLabels="2000",
        minFeatureSize="0",
        fontLimitPixelSize="0",
        fontMinPixelSize="3",
        fontMaxPixelSize="10000",
        zIndex="0",
        unplacedVisibility="0",
    )
    data_defined(settings, "dd_properties", {})


_GEOMETRY_CODE = {"marker": "0", "line": "1", "fill": "2"}


def qgis_element(labels: bool | None = None) -> ET.Element:
    """The ``<qgis>`` root of a style; ``labels`` sets a vector layer's flags (None: raster)."""
    root = ET.Element(
        "qgis",
        version=QGIS_VERSION,
        styleCategories="AllStyleCategories",
        hasScaleBasedVisibilityFlag="0",
        minScale="100000000",
        maxScale="0",
    )
    if labels is not None:
        root.set("labelsEnabled", "1" if labels else "0")
        root.set("simplifyDrawingHints", "1")
        root.set("simplifyAlgorithm", "0")
        root.set("simplifyDrawingTol", "1")
        root.set("simplifyLocal", "1")
        root.set("simplifyMaxScale", "1")
        root.set("readOnly", "0")
    flags = sub(root, "flags")
    for flag, value in (("Identifiable", "1"), ("Removable", "1"), ("Searchable", "1")):
        sub(flags, flag).text = value
    return root


def _custom_properties(root: ET.Element, abstract: str) -> None:
    option_map(sub(root, "customproperties"), {"siting/abstract": abstract})


def serialize(root: ET.Element) -> str:
    """The complete QML document of ``root``, with its DOCTYPE."""
    ET.indent(root, "  ")
    text = ET.tostring(root, encoding="unicode")
    # ElementTree cannot take "pass" as a keyword: it is written as pass_ and renamed here.
    text = text.replace(' pass_="', ' pass="')
    return f"{DOCTYPE}\n{text}\n"


def document(
    spec: Spec | None, aliases: dict[str, str], abstract: str, fields: Sequence[str]
) -> str:
    """A layer's QML; ``spec`` None for an attributes table (no renderer, no geometry)."""
    root = qgis_element(labels=None if spec is None else spec.label is not None)
    if spec is not None:
        _renderer(root, spec)
        if spec.label is not None:
            _labeling(root, spec.label)
    _custom_properties(root, abstract)
    sub(root, "blendMode").text = "0"
    sub(root, "featureBlendMode").text = "0"
    sub(root, "layerOpacity").text = "1"
    box = sub(root, "aliases")
    sub(box, "alias", field="fid", index="0", name="Feature ID")
    for column in aliases:
        # GeoPackage layers open with the feature id as field 0.
        index = str(list(fields).index(column) + 1) if column in fields else "-1"
        sub(box, "alias", field=column, index=index, name=aliases[column])
    sub(root, "previewExpression").text = (
        '"site_id"' if "site_id" in aliases else ('"name"' if "name" in aliases else "")
    )
    sub(root, "mapTip")
    sub(root, "layerGeometryType").text = "4" if spec is None else _GEOMETRY_CODE[spec.geometry]
    return serialize(root)
