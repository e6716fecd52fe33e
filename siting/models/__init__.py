"""Location models, as scikit-learn estimators: growth poles, the Weber point, p-median,
capacitated facility location, maximal covering and p-center."""

from siting.models.facility import (
    CapacitatedFacilityLocation,
    GrowthPoles,
    MaximalCovering,
    PCenter,
    PMedian,
    weber_point,
)

__all__ = [
    "CapacitatedFacilityLocation",
    "GrowthPoles",
    "MaximalCovering",
    "PCenter",
    "PMedian",
    "weber_point",
]
