"""Existing plants in ``[models.allocation]``: expand-or-build.

The features of the ``existing`` layer that ``existing_where`` selects join the candidate plants
(:func:`with_existing`, first, ``origin = "existing"``) with their existing capacity: the
capacitated model (:class:`~siting.models.CapacitatedFacilityLocation`) keeps them open at no
opening cost and, with an ``expansion_cost``, lets each grow by up to a new plant's
``capacity`` at that cost per unit added; new sites pay the opening cost. The haul to them comes
from the same haul matrix as to the proposed sites (their ``x``, ``y``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.config.scenario import AllocationModel
from siting.inputs.layers import capacity_values, selected
from siting.mcda.suitability import Surface

EXISTING = "existing"
"""The ``origin`` of an existing plant among the candidates."""


def existing_plants(spec: AllocationModel, layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The existing plants of ``[models.allocation]``: the features of its ``existing`` layer
    that ``existing_where`` selects, each with its ``existing_capacity`` (from
    ``existing_capacity_field``; an empty value, or no field, takes ``existing_capacity``, else
    the new-plant ``capacity``).

    Raises
    ------
    ScenarioError
        When ``existing_where`` selects nothing, or the capacity field is missing.
    LayerError
        When a capacity is not a number, negative or infinite.
    """
    assert spec.existing is not None and spec.capacity is not None
    plants = selected(layer, spec.existing_where, "models.allocation.existing_where", spec.existing)
    held = capacity_values(
        plants,
        spec.existing_capacity_field,
        spec.existing_capacity or spec.capacity,
        "models.allocation.existing_capacity_field",
        spec.existing,
        "models.allocation.existing_capacity",
    )
    out = plants.reset_index(drop=True).copy()
    out["existing_capacity"] = held
    return out


def with_existing(
    spec: AllocationModel,
    layers: Mapping[str, gpd.GeoDataFrame],
    candidates: gpd.GeoDataFrame,
    score: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> gpd.GeoDataFrame:
    """The candidate plants with ``spec``'s existing plants (:func:`existing_plants`) put
    first, as sites of the profile with ``origin = "existing"``, ``site_id`` their name,
    ``existing_capacity`` and ``score`` (``score(x, y)``, e.g. the profile's weighted criteria
    at their cells: an existing plant's land is not excluded, it is built; 0 without);
    ``candidates`` unchanged when the model has no ``existing`` layer."""
    if spec.existing is None:
        return candidates
    plants = existing_plants(spec, layers[spec.existing])
    points = plants.geometry.representative_point()
    x, y = points.x.to_numpy(), points.y.to_numpy()
    names = (
        plants["name"].astype(str).to_numpy()
        if "name" in plants.columns
        else np.array([f"existing {k + 1}" for k in range(len(plants))], dtype=object)
    )
    rows = gpd.GeoDataFrame(
        {
            "site_id": names,
            "profile": spec.profile,
            # Not ranked among the proposed sites (0), and from no candidate patch.
            "rank": 0,
            "patch_id": 0,
            "score": np.zeros(len(plants)) if score is None else score(x, y),
            "x": x,
            "y": y,
            "origin": EXISTING,
            "existing_capacity": plants["existing_capacity"].to_numpy(dtype=float),
        },
        geometry=gpd.points_from_xy(x, y),
        crs=candidates.crs,
    )
    return gpd.GeoDataFrame(pd.concat([rows, candidates], ignore_index=True), crs=candidates.crs)


def capacities(
    spec: AllocationModel, candidates: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Existing capacity (0 for a new site) and the most capacity of each candidate: a new
    plant's ``capacity``; an existing plant's own, plus up to ``capacity`` with an
    ``expansion_cost``."""
    assert spec.capacity is not None
    m = len(candidates)
    if "existing_capacity" not in candidates.columns:
        return np.zeros(m), np.full(m, spec.capacity)
    held = np.nan_to_num(candidates["existing_capacity"].to_numpy(dtype=float))
    grow = spec.capacity if spec.expansion_cost is not None else 0.0
    return held, np.where(held > 0, held + grow, spec.capacity)


def land_score(surface: Surface) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``score(x, y)``: the profile's weighted criteria at the cells of points ``(x, y)``, the
    suitability without its exclusions (an existing plant is built: its land is not a choice
    any more, but its place still scores for rail, roads, water…); 0 off the grid."""
    profile = surface.profile
    grid = surface.suitability.grid

    def score(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        rows, cols = grid.index(x, y)
        inside = grid.contains(rows, cols)
        r, c = np.where(inside, rows, 0), np.where(inside, cols, 0)
        total = np.zeros(len(rows))
        for criterion, weight in zip(profile.criteria, profile.weights, strict=True):
            total += weight * np.nan_to_num(surface.scores[criterion.name].data[r, c])
        return np.where(inside, total, 0.0)

    return score
