"""siting: where to build technology parks and coal-processing plants in a mining region.

Classical location theory (Weber's least transport cost, growth poles, clusters) plus ecological
limits, on GIS layers. The first region is Kuzbass, around UgleNaukoGrad in Kemerovo.

>>> import siting
>>> result = siting.run()            # the embedded Kuzbass scenario  # doctest: +SKIP
>>> result.sites.head()              # doctest: +SKIP
"""

from siting.config.scenario import Scenario, load
from siting.errors import SitingError
from siting.pipeline.result import Result
from siting.pipeline.stages import run
from siting.whatif.batch import run_batch

__all__ = ["Result", "Scenario", "SitingError", "load", "run", "run_batch"]
__version__ = "0.1.0"
