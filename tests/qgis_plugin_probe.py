"""Load siting's QGIS plugin from a plugins folder into real (headless) QGIS, as QGIS does,
list its Processing algorithms, run "Run scenario" and report what QGIS saw, as JSON.

Run with Debian's Python, which has PyQGIS:
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_plugin_probe.py PLUGINS OUT BAD.toml
"""

import configparser
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)

PLUGIN = "siting_processing"


class Lines(QgsProcessingFeedback):
    """Keeps what an algorithm pushes, as the Processing dialog's log would show it."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def pushInfo(self, info):
        self.lines.append(info)

    def reportError(self, error, fatalError=False):
        self.lines.append(f"ERROR {error}")


class CancelAtStart(Lines):
    """Presses Cancel as soon as siting says it started."""

    def pushInfo(self, info):
        super().pushInfo(info)
        if info.startswith("[1/8]"):
            self.cancel()


def main(plugins: str, out: str, bad: str) -> dict:
    app = QgsApplication([], False)
    app.setPrefixPath("/usr", True)
    app.initQgis()
    sys.path.append("/usr/share/qgis/python/plugins")  # Processing, QGIS's core plugin
    import processing
    from processing.core.Processing import Processing
    from qgis import utils

    Processing.initialize()
    # As QGIS does at start: the plugins folder on sys.path, the package imported, then
    # classFactory() and initProcessing() (the metadata says hasProcessingProvider=yes)
    sys.path.insert(0, plugins)
    metadata = configparser.ConfigParser()
    metadata.read(os.path.join(plugins, PLUGIN, "metadata.txt"))
    loaded = utils.loadPlugin(PLUGIN) and utils.startProcessingPlugin(PLUGIN)
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("siting")
    report = {
        "metadata": dict(metadata["general"]),
        "loaded": bool(loaded),
        "plugin_file": sys.modules[PLUGIN].__file__,
        "algorithms": {},
    }
    for alg in provider.algorithms():
        report["algorithms"][alg.id()] = {
            "name": alg.displayName(),
            "parameters": {
                p.name(): {"type": p.type(), "optional": bool(p.flags() & p.FlagOptional)}
                for p in alg.parameterDefinitions()
            },
            "outputs": [o.name() for o in alg.outputDefinitions()],
        }
    feedback = Lines()
    params = {"RESOLUTION": 2000, "NAME": "plugin_2km", "OUTPUT_DIR": out}
    results = processing.run("siting:run", params, feedback=feedback)
    report["results"] = {k: str(v) for k, v in results.items()}
    report["lines"] = feedback.lines
    report["layers"] = {}
    project = QgsProject.instance()
    for node in project.layerTreeRoot().children():
        for layer_node in node.findLayers():
            layer = layer_node.layer()
            entry = {"group": node.name(), "valid": layer.isValid(), "source": layer.source()}
            if isinstance(layer, QgsVectorLayer):
                entry["features"] = layer.featureCount()
                entry["renderer"] = layer.renderer().type() if layer.renderer() else None
            report["layers"][layer.name()] = entry
    failing = Lines()
    try:
        processing.run(
            "siting:run", {"SCENARIO": bad, "OUTPUT_DIR": out, "LOAD": False}, feedback=failing
        )
        report["bad"] = None
    except QgsProcessingException as exc:
        report["bad"] = str(exc)
    report["bad_lines"] = failing.lines
    cancelling = CancelAtStart()
    params = {"RESOLUTION": 2000, "NAME": "cancelled", "OUTPUT_DIR": out, "LOAD": False}
    try:
        processing.run("siting:run", params, feedback=cancelling)
        report["cancelled"] = None
    except QgsProcessingException as exc:
        report["cancelled"] = str(exc)
    report["cancelled_lines"] = cancelling.lines
    app.exitQgis()
    return report


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
