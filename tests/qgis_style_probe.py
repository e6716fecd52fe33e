"""Load siting's QML styles into real QGIS and report what QGIS made of them, as JSON.

Run with the system Python that has QGIS's bindings (Debian: ``python3-qgis``), not the project's
venv::

    /usr/bin/python3 tests/qgis_style_probe.py items.json report.json

``items.json`` lists the layers to check, each ``{"kind": "vector", "path": "x.gpkg", "table": "t",
"qml": "t.qml", "sld": "t.sld", "renderer": "categorizedSymbol"}`` or ``{"kind": "raster",
"path": "x.tif", "qml": "x.qml", "sld": "x.sld", "renderer": "singlebandpseudocolor"}`` (an
optional ``"png"`` saves the rendered layer). For each, the report says whether the layer opened,
whether ``loadNamedStyle`` succeeded (and its message), the renderer type QGIS built (None for a
table without geometry), its classes with their colours and symbol layer types, the colour each
feature gets, data-defined properties and whether their expressions parse and evaluate on the
layer's features, labelling, field aliases, the embedded abstract, whether the SLD parses (and
whether QGIS loads it), and how many pixels a render of the layer drew. The test
(``tests/test_qgis_styles.py``) asserts on that report; this script asserts nothing itself.
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsExpression,
    QgsExpressionContext,
    QgsExpressionContextUtils,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProperty,
    QgsRasterLayer,
    QgsRenderContext,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def _expressions(layer: QgsVectorLayer, expressions: list[str]) -> dict[str, dict]:
    """Whether each expression parses, and the error (if any) evaluating it on the features."""
    context = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
    out = {}
    for text in expressions:
        expression = QgsExpression(text)
        report = {
            "parses": not expression.hasParserError(),
            "error": expression.parserErrorString(),
        }
        expression.prepare(context)
        values = []
        for feature in layer.getFeatures():
            context.setFeature(feature)
            values.append(expression.evaluate(context))
            if expression.hasEvalError():
                report["error"] = expression.evalErrorString()
                break
        report["evaluated"] = len(values)
        report["sample"] = [v if isinstance(v, (int, float, str)) else None for v in values[:5]]
        out[text] = report
    return out


def _symbol(symbol) -> dict:
    layers = []
    for i in range(symbol.symbolLayerCount()):
        sl = symbol.symbolLayer(i)
        props = sl.dataDefinedProperties()
        dd = {}
        for key in props.propertyKeys():
            prop = props.property(key)
            if prop.isActive() and prop.propertyType() == QgsProperty.ExpressionBasedProperty:
                name = sl.propertyDefinitions()[key].name()
                dd[name] = prop.expressionString()
        sub = sl.subSymbol()
        layers.append(
            {
                "type": sl.layerType(),
                "color": sl.color().name(),
                "stroke": sl.strokeColor().name() if hasattr(sl, "strokeColor") else None,
                "dd": dd,
                "sub": _symbol(sub) if sub is not None else None,
            }
        )
    return {
        "type": ["marker", "line", "fill", "hybrid"][int(symbol.type())],
        "color": symbol.color().name(),
        "opacity": round(symbol.opacity(), 3),
        "layers": layers,
    }


def _all_dd(summary: dict) -> list[str]:
    found = []
    for layer in summary["layers"]:
        found += list(layer["dd"].values())
        if layer["sub"]:
            found += _all_dd(layer["sub"])
    return found


def _feature_colours(layer: QgsVectorLayer) -> list:
    """The colour the renderer gives each feature, in feature order (None: not drawn)."""
    renderer = layer.renderer().clone()
    context = QgsRenderContext()
    context.expressionContext().appendScopes(
        QgsExpressionContextUtils.globalProjectLayerScopes(layer)
    )
    renderer.startRender(context, layer.fields())
    colours = []
    for feature in layer.getFeatures():
        context.expressionContext().setFeature(feature)
        symbol = renderer.symbolForFeature(feature, context)
        colours.append(symbol.color().name() if symbol is not None else None)
    renderer.stopRender(context)
    return colours


def _render(layer, png: str | None) -> int:
    """Render the layer alone (400 px wide) and count the pixels it drew."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    extent = layer.extent()
    extent.scale(1.05)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(400, 400))
    settings.setBackgroundColor(QColor(255, 255, 255, 0))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    if png:
        image.save(png)
    drawn = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            if QColor(image.pixel(x, y)).alpha() > 0 and image.pixelColor(x, y).alpha() > 0:
                drawn += 1
    return drawn


def _sld(path: str) -> dict:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as error:
        return {"parses": False, "error": str(error)}
    return {"parses": True, "root": root.tag, "version": root.get("version")}


def probe_vector(item: dict) -> dict:
    layer = QgsVectorLayer(f"{item['path']}|layername={item['table']}", item["table"], "ogr")
    out: dict = {"valid": layer.isValid(), "features": layer.featureCount()}
    if not layer.isValid():
        return out
    message, ok = layer.loadNamedStyle(item["qml"])
    out |= {"loaded": bool(ok), "message": message, "spatial": layer.isSpatial()}
    fields = layer.fields()
    out["aliases"] = {f.name(): layer.attributeAlias(i) for i, f in enumerate(fields)}
    out["abstract"] = layer.customProperty("siting/abstract")
    out["sld"] = _sld(item["sld"])
    renderer = layer.renderer()
    if renderer is None:  # an attributes table: nothing to draw
        out |= {"renderer": None, "labels_enabled": layer.labelsEnabled(), "expressions": {}}
        return out
    out["renderer"] = renderer.type()
    out["order_by"] = renderer.orderByEnabled()
    out["classification_attribute"] = getattr(renderer, "classAttribute", lambda: None)()
    expressions = []
    if renderer.type() == "categorizedSymbol":
        out["categories"] = [
            {"value": c.value(), "label": c.label(), "symbol": _symbol(c.symbol())}
            for c in renderer.categories()
        ]
        symbols = [c["symbol"] for c in out["categories"]]
    elif renderer.type() == "graduatedSymbol":
        out["ranges"] = [
            {
                "lower": r.lowerValue(),
                "upper": r.upperValue(),
                "label": r.label(),
                "symbol": _symbol(r.symbol()),
            }
            for r in renderer.ranges()
        ]
        symbols = [r["symbol"] for r in out["ranges"]]
    elif renderer.type() == "singleSymbol":
        out["symbol"] = _symbol(renderer.symbol())
        symbols = [out["symbol"]]
    else:
        symbols = []
    for summary in symbols:
        expressions += _all_dd(summary)
    out["labels_enabled"] = layer.labelsEnabled()
    labeling = layer.labeling()
    if labeling is not None:
        # Keep each value returned by the bindings alive: chaining getters on temporaries reads
        # freed memory (settings.format().buffer().enabled() came back False at random).
        settings = labeling.settings()
        text_format = settings.format()
        buffer = text_format.buffer()
        out["labeling"] = {
            "type": labeling.type(),
            "field": settings.fieldName,
            "is_expression": settings.isExpression,
            "buffer": buffer.enabled(),
            "buffer_size": buffer.size(),
            "size": text_format.size(),
        }
        expressions.append(
            settings.fieldName if settings.isExpression else f'"{settings.fieldName}"'
        )
    out["expressions"] = _expressions(layer, sorted(set(expressions)))
    out["feature_colours"] = _feature_colours(layer)
    out["drawn_pixels"] = _render(layer, item.get("png"))
    if out["sld"]["parses"]:
        other = QgsVectorLayer(f"{item['path']}|layername={item['table']}", "sld", "ogr")
        message_sld, ok_sld = other.loadSldStyle(item["sld"])
        out["sld"] |= {"qgis_loads": bool(ok_sld), "qgis_message": message_sld}
        out["sld"]["qgis_renderer"] = other.renderer().type() if other.renderer() else None
    return out


def probe_raster(item: dict) -> dict:
    layer = QgsRasterLayer(item["path"], os.path.basename(item["path"]))
    out: dict = {"valid": layer.isValid()}
    if not layer.isValid():
        return out
    message, ok = layer.loadNamedStyle(item["qml"])
    out |= {"loaded": bool(ok), "message": message}
    renderer = layer.renderer()
    out["renderer"] = renderer.type()
    provider = layer.dataProvider()
    out["source_nodata"] = (
        provider.sourceNoDataValue(1) if provider.sourceHasNoDataValue(1) else None
    )
    transparency = renderer.rasterTransparency()
    out["transparent_values"] = (
        [
            [p.min, p.max, p.percentTransparent]
            for p in transparency.transparentSingleValuePixelList()
        ]
        if transparency is not None
        else []
    )
    if renderer.type() == "singlebandpseudocolor":
        shader = renderer.shader().rasterShaderFunction()
        items = shader.colorRampItemList()
        out |= {
            "min": renderer.classificationMin(),
            "max": renderer.classificationMax(),
            "ramp_type": int(shader.colorRampType()),
            "items": [[i.value, i.color.name(), i.label] for i in items],
            "legend_suffix": shader.legendSettings().suffix() if shader.legendSettings() else None,
        }
    elif renderer.type() == "paletted":
        out["classes"] = [[c.value, c.color.name(), c.label] for c in renderer.classes()]
    out["abstract"] = layer.customProperty("siting/abstract")
    out["drawn_pixels"] = _render(layer, item.get("png"))
    out["sld"] = _sld(item["sld"])
    return out


def main(argv: list[str]) -> int:
    items_path, report_path = argv[1], argv[2]
    with open(items_path, encoding="utf-8") as f:
        items = json.load(f)
    app = QgsApplication([], False)
    app.setPrefixPath("/usr", True)
    app.initQgis()
    report = {"qgis_version": __import__("qgis.core").core.Qgis.QGIS_VERSION, "items": []}
    for item in items:
        try:
            result = probe_vector(item) if item["kind"] == "vector" else probe_raster(item)
        except Exception as error:  # report, don't die: the test says which layer failed
            result = {"exception": f"{type(error).__name__}: {error}"}
        report["items"].append({"item": item, "result": result})
    with open(report_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, default=str)
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
