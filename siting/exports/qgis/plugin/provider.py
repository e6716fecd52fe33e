"""The plugin object and its Processing provider (the "siting" group of the Toolbox)."""

from qgis.core import QgsApplication, QgsProcessingProvider

from .algorithms import CompareRuns, RunScenario, Sensitivity


class SitingProvider(QgsProcessingProvider):
    """siting's algorithms, each a call of the ``siting`` command."""

    def id(self):
        return "siting"

    def name(self):
        return "siting"

    def longName(self):
        return "siting: sites for coal-processing plants"

    def loadAlgorithms(self):
        for alg in (RunScenario(), CompareRuns(), Sensitivity()):
            self.addAlgorithm(alg)


class SitingPlugin:
    """What ``classFactory`` returns: it registers the provider, with or without a GUI."""

    def __init__(self, iface):
        self.iface = iface
        self.provider = None

    def initProcessing(self):
        if self.provider is None:
            self.provider = SitingProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
