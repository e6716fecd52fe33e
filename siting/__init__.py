"""siting: where to build technology parks and coal-processing plants in a mining region.

Classical location theory (Weber's least transport cost, growth poles, clusters) plus ecological
limits, on GIS layers. The first region is Kuzbass, around UgleNaukoGrad in Kemerovo.

>>> import siting
>>> result = siting.run()            # the embedded Kuzbass scenario  # doctest: +SKIP
>>> result.sites.head()              # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from siting.errors import SitingError

if TYPE_CHECKING:
    from siting.config.scenario import Scenario, load
    from siting.pipeline.result import Result
    from siting.pipeline.stages import run
    from siting.whatif.batch import run_batch

__all__ = ["Result", "Scenario", "SitingError", "load", "run", "run_batch"]
__version__ = "0.1.0"

# The names above are imported on first use (PEP 562), not with the package: the command line
# (`siting.cli`) then starts in milliseconds, and a Ctrl-C during the imports of a run reaches
# its handler instead of printing a traceback.
_LAZY = {
    "Scenario": "siting.config.scenario",
    "load": "siting.config.scenario",
    "Result": "siting.pipeline.result",
    "run": "siting.pipeline.stages",
    "run_batch": "siting.whatif.batch",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif not name.startswith("_"):
        try:  # a subpackage used as an attribute, e.g. siting.exports.write after import siting
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":  # the subpackage exists, one of its imports not
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
