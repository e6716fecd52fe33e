"""Open a siting QGIS project in real (headless) QGIS and report what QGIS sees, as JSON.

Run with Debian's Python, which has PyQGIS:
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_project_probe.py PROJECT.qgz OUT.png
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRasterBandStats,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def main(project_path: str, png: str) -> dict:
    app = QgsApplication([], False)
    app.setPrefixPath("/usr", True)
    app.initQgis()
    project = QgsProject.instance()
    ok = project.read(project_path)
    out = {
        "read": ok,
        "crs": project.crs().authid(),
        "title": project.metadata().title(),
        "abstract": project.metadata().abstract(),
        "layers": {},
        "groups": [],
    }
    root = project.layerTreeRoot()
    out["groups"] = [g.name() for g in root.children() if hasattr(g, "findLayers")]
    out["tree"] = {
        g.name(): [n.name() for n in g.findLayers()]
        for g in root.children()
        if hasattr(g, "findLayers")
    }
    out["order"] = [n.layer().source() if n.layer() else None for n in root.findLayers()]
    for layer in project.mapLayers().values():
        entry = {
            "name": layer.name(),
            "valid": layer.isValid(),
            "crs": layer.crs().authid(),
            "source": layer.source(),
            "abstract": layer.metadata().abstract(),
            "type": "vector" if isinstance(layer, QgsVectorLayer) else "raster",
        }
        if isinstance(layer, QgsVectorLayer):
            entry["features"] = layer.featureCount()
            entry["spatial"] = layer.isSpatial()
            entry["fields"] = layer.fields().names()
            entry["renderer"] = layer.renderer().type() if layer.renderer() else None
            entry["labels"] = bool(layer.labelsEnabled())
        else:
            stats = layer.dataProvider().bandStatistics(1, QgsRasterBandStats.All)
            entry["min"], entry["max"], entry["mean"] = (
                stats.minimumValue,
                stats.maximumValue,
                stats.mean,
            )
            entry["renderer"] = layer.renderer().type() if layer.renderer() else None
        out["layers"][layer.source().split("|layername=")[-1].split("/")[-1]] = entry
    settings = QgsMapSettings()
    settings.setLayers(root.checkedLayers())
    settings.setDestinationCrs(project.crs())
    canvas = project.viewSettings().defaultViewExtent()
    extent = canvas if not canvas.isEmpty() else QgsRectangle()
    if extent.isEmpty():
        for layer in root.checkedLayers():
            extent.combineExtentWith(layer.extent())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(1000, 1200))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(png)
    colours, painted = set(), 0
    for x in range(0, image.width(), 10):
        for y in range(0, image.height(), 10):
            rgb = image.pixel(x, y) & 0xFFFFFF
            colours.add(rgb)
            painted += rgb != 0xFFFFFF
    out["render"] = {
        "colours": len(colours),
        "painted_share": painted / ((image.width() // 10 + 1) * (image.height() // 10 + 1)),
        "png": png,
    }
    app.exitQgis()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
