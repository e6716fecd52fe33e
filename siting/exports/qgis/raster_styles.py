"""QGIS styles (QML) and SLD of the GeoTIFFs of :mod:`siting.exports.rasters`.

A continuous raster gets an interpolated colour ramp (viridis for suitability and scores, magma_r
for distances, costs and other criteria, as on the web map); a categorical one a colour table.
The files' no-data value is drawn transparent.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np

from siting.exports.qgis import qml, sld
from siting.exports.qgis.symbols import Style, num, ramp_colors
from siting.exports.rasters import NODATA
from siting.exports.theme import CRITERION_CMAP, SUITABILITY_CMAP
from siting.raster.grid import Raster


def _is_score(raster: Raster) -> bool:
    text = f"{raster.name} {raster.units}".lower()
    return bool(re.search(r"suitab|score|0[–-]1", text))


def _raster_abstract(raster: Raster) -> str:
    grid = raster.grid
    what = raster.description or raster.name
    units = f"Units: {raster.units}." if raster.units else "Unitless."
    return (
        f"Raster '{raster.name}': {what}. {units} Float32 GeoTIFF on a {grid.res:g} m grid "
        f"({grid.width} × {grid.height} cells) in {grid.crs}; no data ({num(NODATA)}) where "
        "excluded, outside the study area or not computed. Written by siting."
    )


def _raster_root(abstract: str) -> tuple[ET.Element, ET.Element]:
    root = qml.qgis_element()
    qml.option_map(
        qml.sub(root, "customproperties"), {"identify/format": "Value", "siting/abstract": abstract}
    )
    qml.data_defined(root, "pipe-data-defined-properties", {})
    pipe = qml.sub(root, "pipe")
    qml.sub(
        qml.sub(pipe, "provider"),
        "resampling",
        enabled="false",
        maxOversampling="2",
        zoomedInResamplingMethod="nearestNeighbour",
        zoomedOutResamplingMethod="nearestNeighbour",
    )
    return root, pipe


def _raster_tail(root: ET.Element, pipe: ET.Element, renderer: ET.Element) -> None:
    # -9999 is the files' nodata value (QGIS honours it from the file too); listing it as fully
    # transparent keeps the no-data cells clear even when a copy lost the nodata tag.
    transparency = qml.sub(renderer, "rasterTransparency")
    qml.sub(
        qml.sub(transparency, "singleValuePixelList"),
        "pixelListEntry",
        min=num(NODATA),
        max=num(NODATA),
        percentTransparent="100",
    )
    origin = qml.sub(renderer, "minMaxOrigin")
    for tag, text in (
        ("limits", "None"),
        ("extent", "WholeRaster"),
        ("statAccuracy", "Exact"),
        ("cumulativeCutLower", "0.02"),
        ("cumulativeCutUpper", "0.98"),
        ("stdDevFactor", "2"),
    ):
        qml.sub(origin, tag).text = text
    # QGIS expects rasterTransparency and minMaxOrigin first; move them before the shader.
    for child in (origin, transparency):
        renderer.remove(child)
        renderer.insert(0, child)
    qml.sub(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    qml.sub(
        pipe,
        "huesaturation",
        saturation="0",
        grayscaleMode="0",
        invertColors="0",
        colorizeOn="0",
        colorizeRed="255",
        colorizeGreen="128",
        colorizeBlue="128",
        colorizeStrength="100",
    )
    qml.sub(pipe, "rasterresampler", maxOversampling="2")
    qml.sub(pipe, "resamplingStage").text = "resamplingFilter"
    qml.sub(root, "blendMode").text = "0"


def _raster_continuous(raster: Raster, abstract: str) -> tuple[str, str]:
    values = raster.data[np.isfinite(raster.data) & (raster.data != NODATA)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    cmap = SUITABILITY_CMAP if _is_score(raster) else CRITERION_CMAP
    precision = min(4, max(0, 2 - math.floor(math.log10(hi - lo))))
    unit = f" {raster.units}" if raster.units else ""
    root, pipe = _raster_root(abstract)
    renderer = qml.sub(
        pipe,
        "rasterrenderer",
        type="singlebandpseudocolor",
        band="1",
        opacity="1",
        alphaBand="-1",
        classificationMin=repr(lo),
        classificationMax=repr(hi),
        nodataColor="",
    )
    shader = qml.sub(
        qml.sub(renderer, "rastershader"),
        "colorrampshader",
        colorRampType="INTERPOLATED",
        classificationMode="1",
        clip="0",
        minimumValue=repr(lo),
        maximumValue=repr(hi),
        labelPrecision=str(precision),
    )
    qml.ramp(shader, ramp_colors(cmap, 17))
    items = ramp_colors(cmap, 9)
    stops = np.linspace(lo, hi, len(items))
    for value, color in zip(stops, items, strict=True):
        qml.sub(
            shader,
            "item",
            value=repr(float(value)),
            color=color,
            alpha="255",
            label=f"{value:,.{precision}f}{unit}",
        )
    legend = qml.sub(
        shader,
        "rampLegendSettings",
        useContinuousLegend="1",
        prefix="",
        suffix=unit,
        minimumLabel="",
        maximumLabel="",
        direction="0",
        orientation="2",
    )
    fmt = qml.sub(legend, "numericFormat", id="basic")
    box = qml.sub(fmt, "Option", type="Map")
    qml.sub(box, "Option", name="decimals", type="int", value=str(precision))
    qml.sub(box, "Option", name="show_thousand_separator", type="bool", value="true")
    qml.sub(box, "Option", name="show_trailing_zeros", type="bool", value="false")
    _raster_tail(root, pipe, renderer)
    qml_text = qml.serialize(root)

    sld_root, fts = sld.styled_layer(raster.name, raster.description or raster.name, abstract)
    symbolizer = sld.se(sld.se(fts, "Rule"), "RasterSymbolizer")
    sld.se(symbolizer, "Opacity", "1")
    interpolate = sld.se(sld.se(symbolizer, "ColorMap"), "Interpolate", fallbackValue="#00000000")
    sld.se(interpolate, "LookupValue", "Rasterdata")
    for value, color in zip(stops, items, strict=True):
        point = sld.se(interpolate, "InterpolationPoint")
        sld.se(point, "Data", repr(float(value)))
        sld.se(point, "Value", color)
    return qml_text, sld.serialize(sld_root)


def _raster_paletted(raster: Raster, abstract: str) -> tuple[str, str]:
    data = raster.data[np.isfinite(raster.data) & (raster.data != NODATA)]
    values = np.unique(data)[:256]
    import matplotlib

    table = matplotlib.colormaps["tab10" if len(values) <= 10 else "tab20"]
    colors = [matplotlib.colors.to_hex(table(i % table.N)) for i in range(len(values))]
    unit = f" {raster.units}" if raster.units else ""
    root, pipe = _raster_root(abstract)
    renderer = qml.sub(
        pipe,
        "rasterrenderer",
        type="paletted",
        band="1",
        opacity="1",
        alphaBand="-1",
        nodataColor="",
    )
    palette = qml.sub(renderer, "colorPalette")
    for value, color in zip(values, colors, strict=False):
        qml.sub(
            palette,
            "paletteEntry",
            value=num(float(value)),
            color=color,
            alpha="255",
            label=f"{num(float(value))}{unit}",
        )
    _raster_tail(root, pipe, renderer)
    qml_text = qml.serialize(root)

    sld_root, fts = sld.styled_layer(raster.name, raster.description or raster.name, abstract)
    symbolizer = sld.se(sld.se(fts, "Rule"), "RasterSymbolizer")
    sld.se(symbolizer, "Opacity", "1")
    categorize = sld.se(sld.se(symbolizer, "ColorMap"), "Categorize", fallbackValue="#00000000")
    sld.se(categorize, "LookupValue", "Rasterdata")
    for i, (value, color) in enumerate(zip(values, colors, strict=False)):
        if i:
            sld.se(categorize, "Threshold", num((float(values[i - 1]) + float(value)) / 2))
        sld.se(categorize, "Value", color)
    return qml_text, sld.serialize(sld_root)


def raster_style(raster: Raster, kind: str = "continuous") -> Style:
    """The QML sidecar (and SLD) of one GeoTIFF written by :mod:`siting.exports.rasters`.

    Parameters
    ----------
    raster
        The raster as written (its finite values give the colour ramp's range; its name and units
        choose the ramp and label the legend).
    kind
        ``"continuous"``: a ``singlebandpseudocolor`` renderer with an interpolated ramp, viridis
        for suitability and scores, magma_r (dark = far / costly) for distances, costs and other
        criteria. ``"categorical"``: a ``paletted`` renderer with one colour per distinct value.

    Returns
    -------
    Style
        QML, SLD, renderer type and abstract. The -9999 no-data value is drawn transparent.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    abstract = _raster_abstract(raster)
    if kind == "continuous":
        qml_text, sld_text = _raster_continuous(raster, abstract)
        return Style(qml_text, sld_text, "singlebandpseudocolor", abstract)
    if kind == "categorical":
        qml_text, sld_text = _raster_paletted(raster, abstract)
        return Style(qml_text, sld_text, "paletted", abstract)
    raise ValueError(f"raster_style: kind must be 'continuous' or 'categorical', not {kind!r}")
