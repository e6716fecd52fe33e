"""siting: where to build technology parks and coal-processing plants in a mining region.

Classical location theory (Weber's least transport cost, growth poles, clusters) plus ecological
limits, on GIS layers. The first region is Kuzbass, around UgleNaukoGrad in Kemerovo.

>>> import siting
>>> result = siting.run()            # the embedded Kuzbass scenario  # doctest: +SKIP
>>> result.sites.head()              # doctest: +SKIP
"""

from siting.batch import run_batch
from siting.errors import SitingError
from siting.pipeline import Result, run
from siting.scenario import Scenario, load

__all__ = ["Result", "Scenario", "SitingError", "load", "run", "run_batch"]
__version__ = "0.1.0"
