"""QGIS 3.22 styles (QML) and SLD 1.1.0 equivalents for the GeoPackage tables and GeoTIFFs.

:func:`vector_style` styles one table of :func:`siting.exports.gpkg.layers_of` (proposed sites by
profile with ranks as labels, hatched exclusions, mines by status sized by output, rail and roads
by class, candidate patches graduated by score …); :func:`raster_style` styles one GeoTIFF of
:mod:`siting.exports.rasters` (a continuous pseudocolour ramp, or a colour table). Colours,
classes, units and aliases come from :mod:`siting.exports.theme`, as on the web map.

A QML written beside a file with the same stem (``suitability_technopark.qml`` next to
``suitability_technopark.tif``) is applied by QGIS when the file is added; for a GeoPackage the
styles can be stored in its ``layer_styles`` table. Each :class:`Style` also carries a one-paragraph
``abstract`` for the layer's metadata (it is embedded in the QML as the custom property
``siting/abstract`` and in the SLD as the style's ``Abstract``).

The work is split by job: :mod:`~siting.exports.qgis.symbols` describes a style (symbols, classes,
labels), :mod:`~siting.exports.qgis.qml` and :mod:`~siting.exports.qgis.sld` write that
description, so the QML and the SLD say the same thing, and
:mod:`~siting.exports.qgis.vector_styles` and :mod:`~siting.exports.qgis.raster_styles` decide
each layer's style. ``tests/qgis_style_probe.py`` loads every QML into QGIS itself.
"""

from __future__ import annotations

from siting.exports.qgis.raster_styles import raster_style
from siting.exports.qgis.symbols import Style
from siting.exports.qgis.vector_styles import field_aliases, vector_style

__all__ = ["Style", "field_aliases", "raster_style", "vector_style"]
