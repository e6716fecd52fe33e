"""The plant model of a tiled run: the costs by windowed per-candidate searches
(:mod:`siting.scale.windowed`) on the chunked friction, the model itself single-node.

The same ``[models.allocation]`` as one process solves — p-median, or capacitated facility
location with opening costs — on the same candidates (the profile's proposed sites), the same
demand (:func:`siting.demand.is_demand`, :func:`siting.demand.weights_of`) and costs equal to the
single-process cost fields to their float32 rounding, so the plan and its objective are the same.
What a tiled run does not have, it refuses: the haul over the road and rail network
(``[haul] mode = "network"``), existing plants and Weber points as candidates (they need the
growth poles and the facilities layers of the single-process run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import dask.array as da
import geopandas as gpd
import numpy as np
import shapely

from siting.allocation import solve_plan
from siting.config.scenario import Scenario
from siting.demand import is_demand, weights_of
from siting.errors import InfeasibleError, ScenarioError
from siting.raster.grid import Grid
from siting.scale.windowed import cost_matrix

if TYPE_CHECKING:
    from distributed import Client


@dataclass
class TiledPlan:
    """The plant model's answer in a tiled run.

    Attributes
    ----------
    plants
        The site ids opened, in the order of the candidates.
    objective, gap, lower_bound
        As the single-process model reports them.
    km
        Demand × candidates haul costs (road-equivalent km), ``inf`` beyond the windows' bound.
    weights
        The demand's weights.
    """

    plants: list[str]
    objective: float
    gap: float
    lower_bound: float
    km: np.ndarray
    weights: np.ndarray


def check(scenario: Scenario) -> None:
    """Refuse, before any computation, a ``[models.allocation]`` a tiled run cannot solve as one
    process would."""
    spec = scenario.allocation
    if spec is None:
        return
    problems = []
    if scenario.haul.mode == "network":
        problems.append('[haul] mode = "network" (routes on the road and rail graph)')
    if spec.existing is not None:
        problems.append("models.allocation.existing (existing plants as candidates)")
    if spec.weber_candidates and scenario.clusters is not None:
        problems.append("models.allocation.weber_candidates with [models.clusters]")
    if problems:
        raise ScenarioError(
            f"a tiled run solves [models.allocation] only over the friction surface with the "
            f"proposed sites as candidates; this scenario has {'; '.join(problems)}",
            'run it in one process (without --tiles), or set haul mode = "friction", leave '
            "out existing and set weber_candidates = false",
        )


def allocate_tiled(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    area: shapely.Geometry,
    sites: gpd.GeoDataFrame,
    friction: da.Array,
    friction_grid: Grid,
    client: Client | None,
    radius_m: float | None = None,
) -> TiledPlan | None:
    """Solve ``[models.allocation]`` on a tiled run's sites (None without one).

    ``radius_m`` bounds each candidate's search window (:func:`~siting.scale.windowed.cost_matrix`);
    None: the whole friction grid, exact for every pair.

    Raises
    ------
    InfeasibleError
        When the profile proposed fewer sites than ``p``, or a demand feature is beyond every
        candidate's window.
    """
    spec = scenario.allocation
    if spec is None:
        return None
    check(scenario)
    layer = layers[spec.demand]
    demand = layer[is_demand(scenario, layer, area)].reset_index(drop=True)
    weights = weights_of(demand, spec.weight_field, "models.allocation.weight_field", spec.demand)
    candidates = sites[sites["profile"] == spec.profile].reset_index(drop=True)
    if len(candidates) < (spec.p or 1):
        raise InfeasibleError(
            f"models.allocation: p = {spec.p} but profile {spec.profile!r} proposed only "
            f"{len(candidates)} site(s)",
            f"lower models.allocation.p, or relax profiles.{spec.profile}",
        )
    radius = radius_m if radius_m is not None else friction_grid.res * max(friction_grid.shape)
    xy = candidates[["x", "y"]].to_numpy(float)
    found = cost_matrix(friction, friction_grid, demand.geometry.values, xy, radius, client)
    km = found.cost / 1000.0
    cut_off = ~np.isfinite(km).any(axis=1)
    if cut_off.any():
        raise InfeasibleError(
            f"models.allocation: {int(cut_off.sum())} feature(s) of {spec.demand!r} lie beyond "
            f"every candidate's window of {radius:g} m",
            "widen the haul radius or leave it out (the whole grid)",
        )
    suitability = candidates["score"].to_numpy(dtype=float)
    s = solve_plan(spec, km, weights, suitability, spec.suitability_weight)
    ids = candidates["site_id"].astype(str).to_numpy()
    return TiledPlan(
        [str(ids[j]) for j in s.facilities], s.objective, s.gap, s.lower_bound, km, weights
    )
