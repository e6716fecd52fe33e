"""Location models as scikit-learn estimators, one module per job.

- :mod:`~siting.models.growth_poles`: :class:`GrowthPoles`, clusters of enterprises;
- :mod:`~siting.models.weber`: :func:`weber_point`, the weighted geometric median;
- :mod:`~siting.models.pmedian`: :class:`PMedian`, solved by
  :mod:`~siting.models.pmedian_solver` (heuristic, Lagrangian bound, branch-and-bound);
- :mod:`~siting.models.facility`: :class:`CapacitatedFacilityLocation`;
- :mod:`~siting.models.covering`: :class:`MaximalCovering` and :class:`PCenter`;
- :mod:`~siting.models.chain`: :class:`ValueChainLocation`, mines → preparation → coke plants →
  markets as one multi-echelon model;
- :mod:`~siting.models.validation` and :mod:`~siting.models.milp`: the input checks and the
  HiGHS call they share.

Each estimator stores its parameters in ``__init__`` (``get_params``, ``clone``, repr), checks
them in ``fit(X, y=None, sample_weight=None)`` and learns attributes ending in ``_``. For the
location-allocation models ``X`` is the clients × sites cost matrix.
"""

from siting.models.chain import ValueChainLocation
from siting.models.covering import MaximalCovering, PCenter
from siting.models.facility import CapacitatedFacilityLocation
from siting.models.growth_poles import GrowthPoles
from siting.models.pmedian import PMedian
from siting.models.weber import weber_point

__all__ = [
    "CapacitatedFacilityLocation",
    "GrowthPoles",
    "MaximalCovering",
    "PCenter",
    "PMedian",
    "ValueChainLocation",
    "weber_point",
]
