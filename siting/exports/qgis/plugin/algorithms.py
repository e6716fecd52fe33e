"""The Processing algorithms: each builds a ``siting`` command line, runs it in a subprocess
(QGIS's Python cannot import siting's environment), streams its lines to the feedback, and
loads the styled outputs into the project when done."""

import os
import queue
import re
import shutil
import subprocess
import threading
from pathlib import Path

from qgis.core import (
    QgsLayerTreeGroup,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputFolder,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProject,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsVectorLayer,
)

# The environment variable that names the siting command, over the one written at install.
COMMAND_ENV = "SITING_COMMAND"
COMMAND_FILE = Path(__file__).with_name("siting_command.txt")
SCENARIO_FILTER = "Scenario (*.toml)"


def siting_command():
    """The ``siting`` executable: $SITING_COMMAND, else the one of the environment that installed
    the plugin (siting_command.txt), else ``siting`` on the PATH."""
    given = os.environ.get(COMMAND_ENV, "").strip()
    if given:
        return given
    if COMMAND_FILE.is_file():
        written = COMMAND_FILE.read_text(encoding="utf-8").strip()
        if written and Path(written).is_file():
            return written
    found = shutil.which("siting")
    if found:
        return found
    raise QgsProcessingException(
        "cannot find the siting command: run 'siting qgis-plugin install' from siting's "
        f"environment, or set {COMMAND_ENV} to the path of its 'siting' executable"
    )


def run_siting(args, feedback):
    """Run ``siting ARGS``, each output line to the feedback; its output lines.

    A reader thread takes the lines, so that a cancel is honoured while siting is silent.
    """
    cmd = [siting_command(), *args]
    feedback.pushCommandInfo(" ".join(cmd))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # lines as they come, not at the end
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
    )
    lines = queue.Queue()

    def read():
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen = []
    while True:
        if feedback.isCanceled():
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise QgsProcessingException("siting was cancelled (its previous outputs are kept)")
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if line.startswith("siting: error") or line.startswith("  fix:"):
            feedback.reportError(line)
        else:
            feedback.pushInfo(line)
    code = proc.wait()
    if code != 0:
        said = [s for s in seen if s.startswith("siting: error") or s.startswith("  fix:")]
        message = "\n".join(said or seen[-10:]) or f"siting exited with status {code}"
        raise QgsProcessingException(message)
    return seen


def written_folder(lines, pattern):
    """The output folder that siting names in its last line matching ``pattern``."""
    for line in reversed(lines):
        match = re.search(pattern, line)
        if match:
            return Path(next(g for g in match.groups() if g).strip())
    raise QgsProcessingException("siting finished but did not say where it wrote its outputs")


def load_outputs(folder, gpkg_name, rasters, project, title):
    """Add the vector layers of ``folder/gpkg_name`` (styled by the GeoPackage's layer_styles,
    their default style) and the ``rasters`` (styled by their .qml) to a group of ``project``."""
    root = project.layerTreeRoot()
    group = QgsLayerTreeGroup(title)
    gpkg = folder / gpkg_name if gpkg_name else None
    names = []
    if gpkg is not None and gpkg.is_file():
        for sub in QgsProviderRegistry.instance().querySublayers(str(gpkg)):
            if sub.name() != "layer_styles":
                names.append(sub.name())
    for name in names:
        layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
        if layer.isValid():
            project.addMapLayer(layer, False)
            group.addLayer(layer)
    for tif in rasters:
        path = folder / tif
        if path.is_file():
            layer = QgsRasterLayer(str(path), path.stem, "gdal")
            if layer.isValid():
                project.addMapLayer(layer, False)
                group.addLayer(layer)
    if group.children():
        root.insertChildNode(0, group)
    return len(group.children())


class SitingAlgorithm(QgsProcessingAlgorithm):
    """What the three share: the command, the output folder and the loading of the outputs."""

    OUTPUT_DIR = "OUTPUT_DIR"
    LOAD = "LOAD"
    FOLDER = "FOLDER"
    # set by processAlgorithm (worker thread), used by postProcessAlgorithm (main thread)
    _folder = None
    _load = True

    def group(self):
        return ""

    def groupId(self):
        return ""

    def createInstance(self):
        return type(self)()

    def flags(self):
        # A subprocess needs no thread of QGIS's own, and it may be cancelled
        return super().flags() | QgsProcessingAlgorithm.FlagCanCancel

    def add_output_parameters(self):
        self.addParameter(
            QgsProcessingParameterFolderDestination(
                self.OUTPUT_DIR, "Output folder (siting's --output-dir)"
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.LOAD, "Load the outputs into the project", defaultValue=True
            )
        )
        self.addOutput(QgsProcessingOutputFolder(self.FOLDER, "Folder written by siting"))

    def optional_number(self, parameters, name, context, flag, cast):
        """``[flag, value]`` when the parameter is set (optional numbers are None when not)."""
        if parameters.get(name) is None:
            return []
        value = (
            self.parameterAsInt(parameters, name, context)
            if cast is int
            else self.parameterAsDouble(parameters, name, context)
        )
        return [flag, str(value)]

    def finish(self, folder, parameters, context, extra=None):
        self._folder = folder
        self._load = self.parameterAsBoolean(parameters, self.LOAD, context)
        return {self.FOLDER: str(folder), **(extra or {})}

    def postProcessAlgorithm(self, context, feedback):
        # The main thread (in the GUI as well as headless): adding layers to a project is safe
        if self._load and self._folder is not None:
            project = context.project() or QgsProject.instance()
            n = self.load(self._folder, project)
            feedback.pushInfo(f"loaded {n} layers of {self._folder} into the project")
        return {}

    def load(self, folder, project):
        raise NotImplementedError


class RunScenario(SitingAlgorithm):
    """``siting run``."""

    SCENARIO = "SCENARIO"
    RESOLUTION = "RESOLUTION"
    NAME = "NAME"
    GPKG = "GPKG"

    def name(self):
        return "run"

    def displayName(self):
        return "Run scenario"

    def shortHelpString(self):
        return (
            "Runs 'siting run': suitability, proposed sites and the location models of a "
            "scenario (empty: the embedded Kuzbass scenario). Writes <output folder>/<name>/ "
            "(siting.gpkg, siting.qgz, rasters, map.html, report) and loads its styled layers."
        )

    def initAlgorithm(self, config=None):
        self.addParameter(
            QgsProcessingParameterFile(
                self.SCENARIO,
                "Scenario file (empty: the embedded Kuzbass scenario)",
                behavior=QgsProcessingParameterFile.File,
                fileFilter=SCENARIO_FILTER,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.RESOLUTION,
                "Grid resolution in metres (empty: the scenario's)",
                type=QgsProcessingParameterNumber.Double,
                minValue=1.0,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.NAME, "Run name, the output sub-folder (empty: the scenario's)", optional=True
            )
        )
        self.add_output_parameters()
        self.addOutput(QgsProcessingOutputFile(self.GPKG, "siting.gpkg of the run"))

    def processAlgorithm(self, parameters, context, feedback):
        args = ["run"]
        scenario = self.parameterAsFile(parameters, self.SCENARIO, context)
        if scenario:
            args.append(scenario)
        args += self.optional_number(parameters, self.RESOLUTION, context, "--resolution", float)
        name = self.parameterAsString(parameters, self.NAME, context)
        if name:
            args += ["--name", name]
        out = self.parameterAsString(parameters, self.OUTPUT_DIR, context)
        args += ["--output-dir", out]
        lines = run_siting(args, feedback)
        folder = written_folder(lines, r"outputs in (.+)\):$|; written to (.+)$")
        return self.finish(folder, parameters, context, {self.GPKG: str(folder / "siting.gpkg")})

    def load(self, folder, project):
        return load_outputs(folder, "siting.gpkg", [], project, f"siting: {folder.name}")


class CompareRuns(SitingAlgorithm):
    """``siting compare``."""

    A = "A"
    B = "B"
    RESOLUTION = "RESOLUTION"
    MATCH_M = "MATCH_M"

    def name(self):
        return "compare"

    def displayName(self):
        return "Compare runs"

    def shortHelpString(self):
        return (
            "Runs 'siting compare A B': which sites are kept, moved, new or dropped between a "
            "'before' and an 'after' (a what-if). Each is a scenario .toml (run first) or the "
            "run.json of an existing output folder. Writes <output folder>/compare_<A>__<B>/ "
            "and loads comparison.gpkg."
        )

    def initAlgorithm(self, config=None):
        for key, what in ((self.A, "Before"), (self.B, "After")):
            self.addParameter(
                QgsProcessingParameterFile(
                    key,
                    f"{what}: a scenario .toml, or the run.json of an output folder",
                    behavior=QgsProcessingParameterFile.File,
                    fileFilter="Scenario or run (*.toml run.json)",
                )
            )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.RESOLUTION,
                "Grid resolution for .toml runs, metres (empty: the scenarios')",
                type=QgsProcessingParameterNumber.Double,
                minValue=1.0,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.MATCH_M,
                "Sites this close are the same site (metres)",
                type=QgsProcessingParameterNumber.Double,
                minValue=0.0,
                defaultValue=5000.0,
            )
        )
        self.add_output_parameters()

    def processAlgorithm(self, parameters, context, feedback):
        args = ["compare"]
        for key in (self.A, self.B):
            given = Path(self.parameterAsFile(parameters, key, context))
            # siting compare takes an output folder: its run.json stands for it in a file picker
            args.append(str(given.parent if given.name == "run.json" else given))
        args += self.optional_number(parameters, self.RESOLUTION, context, "--resolution", float)
        args += ["--match-m", str(self.parameterAsDouble(parameters, self.MATCH_M, context))]
        args += ["--output-dir", self.parameterAsString(parameters, self.OUTPUT_DIR, context)]
        lines = run_siting(args, feedback)
        folder = written_folder(lines, r"Comparison written to (.+) \(map\.html")
        return self.finish(folder, parameters, context)

    def load(self, folder, project):
        return load_outputs(folder, "comparison.gpkg", [], project, folder.name)


class Sensitivity(SitingAlgorithm):
    """``siting sensitivity --profile P``: Monte Carlo over a profile's weights."""

    SCENARIO = "SCENARIO"
    PROFILE = "PROFILE"
    DRAWS = "DRAWS"
    RESOLUTION = "RESOLUTION"
    SEED = "SEED"

    def name(self):
        return "sensitivity"

    def displayName(self):
        return "Sensitivity"

    def shortHelpString(self):
        return (
            "Runs 'siting sensitivity --profile P': how often each proposed site of a profile "
            "survives random draws of its weights, and the share of draws keeping each cell in "
            "the best land. Writes <output folder>/<name>_sensitivity_<profile>/ (sites.csv, "
            "weights.csv, robustness.tif) and loads robustness.tif."
        )

    def initAlgorithm(self, config=None):
        self.addParameter(
            QgsProcessingParameterFile(
                self.SCENARIO,
                "Scenario file (empty: the embedded Kuzbass scenario)",
                behavior=QgsProcessingParameterFile.File,
                fileFilter=SCENARIO_FILTER,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(self.PROFILE, "Profile whose weights are varied")
        )
        self.addParameter(
            QgsProcessingParameterNumber(self.DRAWS, "Weight draws", minValue=1, defaultValue=200)
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.RESOLUTION,
                "Grid resolution in metres (empty: the scenario's)",
                type=QgsProcessingParameterNumber.Double,
                minValue=1.0,
                optional=True,
            )
        )
        self.addParameter(QgsProcessingParameterNumber(self.SEED, "Random seed", defaultValue=0))
        self.add_output_parameters()

    def processAlgorithm(self, parameters, context, feedback):
        args = ["sensitivity"]
        scenario = self.parameterAsFile(parameters, self.SCENARIO, context)
        if scenario:
            args.append(scenario)
        args += ["--profile", self.parameterAsString(parameters, self.PROFILE, context)]
        args += ["--draws", str(self.parameterAsInt(parameters, self.DRAWS, context))]
        args += ["--seed", str(self.parameterAsInt(parameters, self.SEED, context))]
        args += self.optional_number(parameters, self.RESOLUTION, context, "--resolution", float)
        args += ["--output-dir", self.parameterAsString(parameters, self.OUTPUT_DIR, context)]
        lines = run_siting(args, feedback)
        folder = written_folder(lines, r"written to (.+) \(sites\.csv")
        return self.finish(folder, parameters, context)

    def load(self, folder, project):
        return load_outputs(folder, None, ["robustness.tif"], project, folder.name)
