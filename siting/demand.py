"""Demand: which features of a layer the location models serve, and their weights.

Shared by the allocation, covering and value-chain models, the robustness draws and the run's
record, so that they all count the same features.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import shapely

from siting.config.scenario import Scenario
from siting.errors import ScenarioError
from siting.inputs.layers import attribute


def demand_layers(scenario: Scenario) -> dict[str, str]:
    """The layers the models take as demand, each with the first key that names it."""
    named = [
        ("models.clusters.layer", scenario.clusters and scenario.clusters.layer),
        ("models.allocation.demand", scenario.allocation and scenario.allocation.demand),
        ("models.covering.demand", scenario.covering and scenario.covering.demand),
    ]
    out: dict[str, str] = {}
    for key, layer in named:
        if layer:
            out.setdefault(layer, key)
    return out


def is_demand(
    scenario: Scenario, layer: gpd.GeoDataFrame, area: shapely.Geometry | None
) -> np.ndarray:
    """Which features of a demand layer the models take as demand: with ``demand = "inside"``
    (the default) those that touch the study area ``area``; all of them with ``"padded"`` or
    without an area."""
    if scenario.demand == "padded" or area is None:
        return np.ones(len(layer), dtype=bool)
    return np.asarray(layer.intersects(area), dtype=bool)


def outside_demand(
    scenario: Scenario, layers: Mapping[str, gpd.GeoDataFrame], area: shapely.Geometry
) -> dict[str, int]:
    """Per demand layer (:func:`demand_layers`), how many of its features (as read, over the
    padded study area) lie outside the study area: left out of the demand with ``demand =
    "inside"``, counted with ``"padded"``.

    Raises
    ------
    ScenarioError
        With ``demand = "inside"``, when a demand layer has no feature in the study area.
    """
    counts = {}
    for name, key in demand_layers(scenario).items():
        inside = np.asarray(layers[name].intersects(area), dtype=bool)
        counts[name] = int((~inside).sum())
        if scenario.demand == "inside" and not inside.any():
            raise ScenarioError(
                f"{key} = {name!r}: none of the {len(inside)} feature(s) of layer {name!r} "
                f"read around the study area lies in it, and the models take as demand only "
                'those inside ([models] demand = "inside")',
                'set demand = "padded" in [models] to take the features around the study area '
                "as demand, or check the layer and the study area",
            )
    return counts


def weights_of(gdf: gpd.GeoDataFrame, field: str | None, key: str, layer: str) -> np.ndarray:
    """A layer's demand weights from ``field`` (1 each when None), checked positive."""
    if field is None:
        return np.ones(len(gdf))
    values = attribute(gdf, field, key, layer).to_numpy(dtype=float)
    if np.any(values < 0) or values.sum() <= 0:
        raise ScenarioError(
            f"{key} = {field!r}: layer {layer!r} needs positive values",
            "fix the field's values or choose another weight field",
        )
    return values
