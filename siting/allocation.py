"""Location-allocation in a run: which proposed sites to build and what each one serves.

Processing plants ([models.allocation]): the demand layer (mines weighted by output) is allocated
to a profile's proposed sites over the cost-distance surface, by p-median or by capacitated
facility location with opening costs (:mod:`siting.models`). The friction is cost per metre
relative to a road, so costs here are road-equivalent kilometres and the transport objective is
weight × km (Mt·km per year for mines weighted by Mt/yr). With ``[haul] mode = "network"`` the
haul is instead the least-cost route on road and rail (:mod:`siting.network.multimodal`, one
cached step: :func:`haul_matrix`), priced in RUB/t and given to the models in truck-km
equivalents (RUB/t ÷ the truck tariff), so the objective and the opening cost keep their unit;
each haul line then also records its km by rail, road and off the network, its transfers and its
cost, and its geometry follows the lines.

Trade-off between transport and site quality: with ``α = suitability_weight`` each unit of demand
served by site ``j`` costs

    (1 − α) · km_ij / km_max + α · (1 − suitability_j),

so α = 0 is Weber's least transport cost and α = 1 sends every tonne to the best land (with
transport weighted 0.001 there, to break ties). Solving a
sweep of α gives the Pareto front of total transport against the tonnage-weighted suitability of
the sites used.

Technoparks ([models.covering]): maximal covering of demand (settlements weighted by population)
within a travel time, keeping existing institutions (UgleNaukoGrad) open. Travel time is door
to door over the road network ([network], :mod:`siting.network.traveltime`) when the scenario
has one,
else the cost-distance at ``speed_kmh`` on roads. Among the selections that cover the most, the
covering opens the fewest new sites, then the most suitable: a site that would add no coverage is
not chosen (:meth:`Covering.note` says so).

Demand ([models] ``demand``): the layers are read over the study area padded by the largest
buffer or search distance, so that features just beyond the border still shape distances,
criteria and exclusions; by default (``"inside"``) only the features in the study area itself are
demand for the models (:func:`is_demand`), ``"padded"`` takes those of the padding too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting.config.scenario import AllocationModel, Scenario
from siting.demand import is_demand, weights_of
from siting.errors import InfeasibleError
from siting.existing import capacities
from siting.inputs.layers import selected
from siting.models import CapacitatedFacilityLocation, MaximalCovering, PMedian
from siting.network import multimodal
from siting.network.multimodal import HaulMatrix
from siting.network.traveltime import TravelTimes
from siting.raster.cost import CORES, CostField, cost_distance, cost_field, start_cells
from siting.raster.grid import Raster

log = logging.getLogger("siting")

# The Pareto sweep's points aim at 0.1 % within `pareto_time_limit` seconds each (each row
# reports the gap it proved): enough to draw the front; the mixes near α = 1 are degenerate and
# would otherwise hold HiGHS at its time limit for most of the run.
SWEEP_TOL = 1e-3

METHODS = {
    "exact": "exact: heuristic, Lagrangian bound and branch-and-bound",
    "milp": "exact: heuristic, Lagrangian reduction and HiGHS MILP",
    "heuristic": "heuristic: greedy, fast interchange and perturbations (no proof)",
}


@dataclass
class Allocation:
    """Which plants the location-allocation opens and what each one serves.

    Attributes
    ----------
    plants
        The opened sites with the demand (``served_weight``) and number of demand features
        (``n_served``) they serve, and their transport (``weight_x_km``).
    lines
        The haul routes: one least-cost route over the friction surface per demand feature and
        plant serving it (``weight`` shipped, cost-distance ``km`` in road-equivalent km,
        ``weight_x_km``, the route's length ``route_km``); with multi-sourcing a feature may
        have several. On the network (``[haul] mode = "network"``) the route runs along the road
        and rail lines, ``km`` is in truck-km equivalents, and ``km_rail``, ``km_road``,
        ``km_offroad``, ``transfers`` and ``cost_rub_t`` (RUB/t) say how it goes.
    objective
        The objective minimised (weight × km, plus opening costs for the capacitated model;
        unitless when ``suitability_weight`` > 0).
    transport
        Σ weight × km of the solution.
    mean_suitability
        Suitability of the plants, weighted by the demand they serve.
    gap, lower_bound
        Proven relative optimality gap and lower bound on the objective.
    seconds
        Solver time.
    p
        Number of plants opened.
    profile, model, method
        The profile whose sites compete; ``"p-median"`` or ``"capacitated"``; the solver.
    pareto
        The Pareto sweep (or None): one row per suitability weight.
    """

    plants: gpd.GeoDataFrame
    lines: gpd.GeoDataFrame
    objective: float
    transport: float
    mean_suitability: float
    gap: float
    lower_bound: float
    seconds: float
    p: int
    profile: str
    model: str
    method: str
    pareto: pd.DataFrame | None = None


@dataclass
class Covering:
    """Technoparks chosen by maximal covering, with the existing facilities kept open.

    Attributes
    ----------
    sites
        Existing facilities (``status = "existing"``) and chosen new sites (``"new"``), each
        with the demand it is nearest to within the time limit (``covered_weight``). Only new
        sites that add coverage are chosen: fewer than ``p`` when no other would add any.
    demand
        Demand features with their travel time to the nearest open facility (``minutes``),
        whether that is within the limit (``covered``) and which facility it is (``served_by``).
    coverage, baseline, total
        Demand covered with the new sites, with the existing facilities alone, and in all.
    gap, seconds, p, profile, max_minutes
        Solver gap and time, new sites asked for, their profile, and the time limit.
    travel
        How travel times were measured: ``"network"`` (door to door over the ``[network]``
        roads) or ``"cost-distance"`` (over the friction surface at ``speed_kmh``).
    """

    sites: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    coverage: float
    baseline: float
    total: float
    gap: float
    seconds: float
    p: int
    profile: str
    max_minutes: float
    travel: str = "cost-distance"

    @property
    def n_new(self) -> int:
        """New sites chosen: ``p``, or fewer when the others would add no coverage."""
        return int((self.sites["status"] == "new").sum())

    def note(self) -> str | None:
        """The warning when fewer than ``p`` new sites add coverage, else None."""
        if self.n_new >= self.p:
            return None
        if self.n_new == 0:
            what = f"no new {self.profile} site adds coverage: none is chosen"
        else:
            verb = "adds" if self.n_new == 1 else "add"
            what = (
                f"only {self.n_new} of the p = {self.p} new {self.profile} sites {verb} "
                f"coverage: {self.n_new} chosen"
            )
        return (
            f"models.covering: {what}; no other proposed site reaches demand within "
            f"{self.max_minutes:g} min that the open sites do not already reach"
        )


@dataclass
class _Solution:
    facilities: np.ndarray
    shares: np.ndarray  # demand × sites, the share of each feature each site serves
    objective: float
    gap: float
    lower_bound: float
    seconds: float
    expansion: np.ndarray | None = None  # capacity added per site (capacitated model)


def allocate(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    sites: gpd.GeoDataFrame,
    cost_fields: dict[str, CostField],
    friction: Raster | None,
    area: shapely.Geometry | None = None,
    haul: HaulMatrix | None = None,
) -> Allocation | None:
    """Run [models.allocation] on the proposed sites (None when the scenario has none); the
    demand is the features of the demand layer :func:`is_demand` keeps (those in the study area
    ``area`` unless the scenario's ``demand`` is ``"padded"``).

    With ``[haul] mode = "network"`` the haul costs are ``haul``'s (:func:`haul_matrix`, demand
    features × the profile's sites, in truck-km equivalents), else the cost-distance over
    ``friction``.

    Raises
    ------
    InfeasibleError
        When the profile proposed fewer sites than ``p``, or the capacities cannot take the
        demand.
    """
    spec = scenario.allocation
    if spec is None:
        return None
    layer = layers[spec.demand]
    keep = is_demand(scenario, layer, area)
    demand = layer[keep].reset_index(drop=True)
    weights = weights_of(demand, spec.weight_field, "models.allocation.weight_field", spec.demand)
    candidates = sites[sites["profile"] == spec.profile].reset_index(drop=True)
    needed = spec.p or 1
    if len(candidates) < needed:
        wanted = f"p = {spec.p} plant(s)" if spec.p else "at least one plant"
        raise InfeasibleError(
            f"models.allocation: {wanted} but profile {spec.profile!r} proposed only "
            f"{len(candidates)} site(s)",
            f"lower models.allocation.p, or relax profiles.{spec.profile} (min_separation_m, "
            "min_area_ha, candidate_quantile)",
        )
    held = None
    if spec.capacity is not None:
        held, most = capacities(spec, candidates)
        plants_max = spec.p or len(candidates)
        if held.any() and spec.p is None and weights.sum() > most.sum() + 1e-9:
            raise InfeasibleError(
                f"models.allocation: total {spec.weight_field or 'demand'} of {spec.demand!r} "
                f"({weights.sum():g}) exceeds the {int((held > 0).sum())} existing plant(s) "
                f"(with their expansion) and {int((held == 0).sum())} new site(s) "
                f"× capacity {spec.capacity:g} ({most.sum():g})",
                "raise models.allocation.capacity or expansion_cost's room, or propose more "
                "sites (n_sites)",
            )
        if not held.any() and weights.sum() > spec.capacity * plants_max + 1e-9:
            raise InfeasibleError(
                f"models.allocation: total {spec.weight_field or 'demand'} of {spec.demand!r} "
                f"({weights.sum():g}) exceeds {plants_max} plant(s) × capacity {spec.capacity:g}",
                "raise models.allocation.capacity or p, or propose more sites (n_sites)",
            )
    if scenario.haul.mode == "network":
        if haul is None or haul.cost.shape != (len(demand), len(candidates)):
            raise ValueError("the network haul needs haul_matrix of the demand and the sites")
        km = haul.km
        _reachable(km, demand, spec.demand)
    else:
        assert friction is not None  # the run builds the friction whenever allocation is on
        # The whole layer's field, shared with the criteria that measure from it; its demand
        # rows.
        field = cost_field(cost_fields, friction, spec.demand, None, layer.geometry.values)
        km = field.sample(candidates["x"].to_numpy(), candidates["y"].to_numpy())[keep] / 1000.0
    suitability = candidates["score"].to_numpy(dtype=float)
    # HiGHS releases the GIL, so the sweep's solves run in threads beside the main one.
    with ThreadPoolExecutor(max_workers=CORES) as pool:
        main = pool.submit(
            solve_plan, spec, km, weights, suitability, spec.suitability_weight, held=held
        )
        pareto = None
        if spec.pareto_steps:
            ids = candidates["site_id"].to_numpy()
            pareto = pareto_front(
                spec,
                km,
                weights,
                suitability,
                ids,
                spec.pareto_steps,
                map_=pool.map,
                solved={spec.suitability_weight: main.result},
                held=held,
            )
        solution = main.result()
    allocation = _allocation(
        spec, demand, candidates, km, weights, suitability, solution, scenario.crs, friction, haul
    )
    allocation.pareto = pareto
    log.info(
        "      %s: %d plants, transport %.4g, gap %.2g, %.2f s",
        spec.model,
        allocation.p,
        allocation.transport,
        allocation.gap,
        allocation.seconds,
    )
    return allocation


def mixed_cost(km: np.ndarray, suitability: np.ndarray, alpha: float) -> np.ndarray:
    """Cost per unit of demand mixing transport and site unsuitability (see the module text);
    plain km when ``alpha`` is 0, so the objective keeps its units."""
    if alpha == 0:
        return km
    return _km_weight(alpha) * km * _km_scale(km) + alpha * (1 - suitability)[None, :]


def _km_weight(alpha: float) -> float:
    # At α = 1 transport still breaks ties between equally suitable assignments; without it the
    # capacitated model is massively degenerate and HiGHS runs to its time limit.
    return max(1 - alpha, 1e-3)


def _km_scale(km: np.ndarray) -> float:
    finite = km[np.isfinite(km)]
    return 1.0 / finite.max() if len(finite) and finite.max() > 0 else 1.0


def pareto_front(
    spec: AllocationModel,
    km: np.ndarray,
    weights: np.ndarray,
    suitability: np.ndarray,
    site_ids: np.ndarray,
    steps: int,
    map_: Callable[..., Iterable[Any]] = map,
    solved: Mapping[float, Callable[[], _Solution]] | None = None,
    held: np.ndarray | None = None,
) -> pd.DataFrame:
    """Solve the allocation for ``steps`` suitability weights from 0 to 1 (one solve per weight,
    through ``map_``: e.g. a thread pool's ``map``).

    ``solved`` gives, by weight, the solution of a weight already being solved elsewhere (the run's
    own solve, to a tighter gap): that row takes it instead of solving the same problem again.
    ``held`` is each site's existing capacity (capacitated model: > 0 an existing plant).

    Returns
    -------
    DataFrame
        One row per weight: ``suitability_weight``, ``transport`` (weight × km),
        ``mean_suitability``, ``plants`` (site ids), ``gap`` and ``pareto_optimal`` (no other
        row has less transport and better suitability, one of them strictly).
    """
    rows = []
    alphas = [float(a) for a in np.linspace(0.0, 1.0, steps)]
    solved = solved or {}
    solve = partial(
        solve_plan,
        spec,
        km,
        weights,
        suitability,
        tol=SWEEP_TOL,
        held=held,
        time_limit=spec.pareto_time_limit,
    )
    todo = [a for a in alphas if a not in solved]
    # Two chains, from each end of the sweep inwards, run side by side: along a chain each
    # weight starts from its neighbour's plants (a warm start of the capacitated model; the
    # plans of neighbouring weights differ by a few sites).
    half = (len(todo) + 1) // 2
    chains = [todo[:half], todo[half:][::-1]]
    found: dict[float, _Solution] = {}
    for chain in map_(partial(_sweep_chain, solve), [c for c in chains if c]):
        found.update(chain)
    for alpha in alphas:
        s = solved[alpha]() if alpha in solved else found[alpha]
        transport, mean_suit = _outcome(s.shares, km, weights, suitability)
        rows.append(
            {
                "suitability_weight": round(float(alpha), 6),
                "transport": transport,
                "mean_suitability": mean_suit,
                "n_plants": len(s.facilities),
                "plants": ", ".join(str(site_ids[j]) for j in s.facilities),
                "gap": s.gap,
                "seconds": s.seconds,
            }
        )
    table = pd.DataFrame(rows)
    t = table["transport"].to_numpy()
    q = table["mean_suitability"].to_numpy()
    eps = 1e-9 * max(1.0, float(np.abs(t).max()))
    dominated = [
        bool(np.any((t <= t[i] + eps) & (q >= q[i] - 1e-12) & ((t < t[i] - eps) | (q > q[i]))))
        for i in range(len(table))
    ]
    table["pareto_optimal"] = ~np.array(dominated)
    return table


def _sweep_chain(solve: Callable[..., _Solution], alphas: list[float]) -> dict[float, _Solution]:
    """Solve ``alphas`` in order, each from the plants of the one before."""
    out: dict[float, _Solution] = {}
    init = None
    for alpha in alphas:
        out[alpha] = solve(alpha, init=init)
        init = out[alpha].facilities
    return out


def solve_plan(
    spec: AllocationModel,
    km: np.ndarray,
    weights: np.ndarray,
    suitability: np.ndarray,
    alpha: float,
    tol: float = 1e-4,
    held: np.ndarray | None = None,
    time_limit: float | None = None,
    init: np.ndarray | None = None,
) -> _Solution:
    """Solve ``spec``'s model (p-median, or capacitated with ``held`` existing capacity) on
    costs ``km`` (demand × candidates) mixed with the candidates' ``suitability`` at weight
    ``alpha`` (:func:`mixed_cost`), to relative gap ``tol`` within ``time_limit`` seconds
    (``spec.time_limit`` by default); the capacitated model starts from the sites ``init``
    when given (a warm start: ``CapacitatedFacilityLocation``'s ``init``)."""
    limit = spec.time_limit if time_limit is None else time_limit
    cost = mixed_cost(km, suitability, alpha)
    n, m = cost.shape
    if spec.capacity is None:
        assert spec.p is not None
        model = PMedian(spec.p, time_limit=limit, method=spec.method, tol=tol)
        model.fit(cost, sample_weight=weights)
        shares = np.zeros((n, m))
        shares[np.arange(n), model.assignment_] = 1.0
        return _Solution(
            model.facilities_,
            shares,
            model.objective_,
            model.gap_,
            model.lower_bound_,
            model.seconds_,
        )
    # Opening and expansion costs are in weight × km, scaled as the km are in the mixed
    # objective.
    scale = 1.0 if alpha == 0 else _km_weight(alpha) * _km_scale(km)
    held = np.zeros(m) if held is None else held
    grow = spec.capacity if spec.expansion_cost is not None else 0.0
    cflp = CapacitatedFacilityLocation(
        np.where(held > 0, held + grow, spec.capacity),
        np.full(m, spec.opening_cost * scale),
        single_sourcing=spec.single_sourcing,
        p=spec.p,
        time_limit=limit,
        tol=tol,
        existing=held,
        expansion_cost=None if spec.expansion_cost is None else spec.expansion_cost * scale,
        init=init,
    ).fit(cost, sample_weight=weights)
    return _Solution(
        cflp.facilities_,
        cflp.assignment_,
        cflp.objective_,
        cflp.gap_,
        cflp.objective_ * (1 - cflp.gap_),
        cflp.seconds_,
        cflp.expansion_,
    )


def haul_routes(
    friction: Raster, plants_xy: np.ndarray, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Least-cost routes over the friction surface from points ``(x, y)`` to the plants
    (``plants_xy[k]`` serves point ``k``): one cost-distance run per plant, its path traced back
    to each point it serves. A route runs from the point through cell centres to the plant; its
    cost is the allocation's ``km`` (cost is symmetric on an isotropic surface)."""
    routes = np.empty(len(x), dtype=object)
    for plant in np.unique(plants_xy, axis=0):
        cells = start_cells(friction, shapely.Point(plant))
        field = cost_distance(friction.data, cells, transform=friction.grid.transform)
        for k in np.flatnonzero((plants_xy == plant).all(axis=1)):
            # To where the feature's haul starts: its cell, or the bank if a river took it.
            (row, col), *_ = start_cells(friction, shapely.Point(x[k], y[k]))
            px, py = friction.grid.xy(row, col)
            path = field.path(float(px), float(py))
            inner = [] if path is None else shapely.get_coordinates(path)[::-1].tolist()
            routes[k] = shapely.LineString([(x[k], y[k]), *inner, tuple(plant)])
    return routes


def haul_matrix(
    scenario: Scenario,
    layers: Mapping[str, gpd.GeoDataFrame],
    demand: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    friction: Raster | None,
) -> HaulMatrix:
    """The network haul (:func:`siting.network.multimodal.haul_matrix`) from the demand
    features (their representative points) to the sites (``x``, ``y``) over the ``[haul]``
    layers; ``friction``'s impassable cells are the water a road leg does not cross."""
    spec = scenario.haul
    points = demand.geometry.representative_point()
    return multimodal.haul_matrix(
        spec,
        layers[spec.roads],
        layers[spec.rail],
        layers[spec.stations] if spec.stations is not None else None,
        np.column_stack([points.x.to_numpy(), points.y.to_numpy()]),
        sites[["x", "y"]].to_numpy(dtype=float),
        friction,
    )


def _reachable(km: np.ndarray, demand: gpd.GeoDataFrame, layer: str) -> None:
    """Refuse a demand feature that no site can be reached from over the network."""
    stuck = ~np.isfinite(km).any(axis=1)
    if stuck.any():
        names = demand["name"] if "name" in demand.columns else pd.Series(demand.index)
        listed = ", ".join(map(str, names[stuck].head(10)))
        raise InfeasibleError(
            f'[haul] mode = "network": {int(stuck.sum())} feature(s) of layer {layer!r} reach '
            f"no proposed site over the road and rail lines ({listed})",
            "join the lines (raise haul.snap_m), or add the missing road or rail lines",
        )


def _outcome(
    shares: np.ndarray, km: np.ndarray, weights: np.ndarray, suitability: np.ndarray
) -> tuple[float, float]:
    shipped = weights[:, None] * shares
    transport = float(np.nansum(np.where(shipped > 0, shipped * km, 0.0)))
    served = shipped.sum(axis=0)
    mean_suit = float(served @ suitability / served.sum()) if served.sum() > 0 else float("nan")
    return transport, mean_suit


def _allocation(
    spec: AllocationModel,
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    km: np.ndarray,
    weights: np.ndarray,
    suitability: np.ndarray,
    s: _Solution,
    crs: str,
    friction: Raster | None,
    haul: HaulMatrix | None = None,
) -> Allocation:
    shipped = weights[:, None] * s.shares
    plants = candidates.iloc[s.facilities].copy()
    plants["served_weight"] = shipped[:, s.facilities].sum(axis=0)
    plants["n_served"] = (s.shares[:, s.facilities] > 1e-6).sum(axis=0)
    with np.errstate(invalid="ignore"):
        plants["weight_x_km"] = np.nansum(shipped * km, axis=0)[s.facilities]
    if spec.capacity is not None:
        held, _ = capacities(spec, candidates)
        added = np.zeros(len(candidates)) if s.expansion is None else s.expansion
        added = np.where(added > 1e-6, added, 0.0)[s.facilities]
        existing = held[s.facilities]
        if existing.any():
            plants["status"] = np.where(
                existing > 0, np.where(added > 0, "expanded", "existing"), "new"
            )
            plants["existing_capacity"] = existing
            plants["expansion"] = added
        plants["capacity"] = np.where(existing > 0, existing + added, spec.capacity)
        plants["utilisation"] = plants["served_weight"] / plants["capacity"]
    i, j = np.nonzero(s.shares > 1e-6)
    points = demand.geometry.representative_point()
    names = demand["name"].to_numpy() if "name" in demand.columns else demand.index.to_numpy()
    xy = candidates[["x", "y"]].to_numpy()
    by_mode: dict[str, np.ndarray] = {}
    if haul is not None:
        routes = haul.routes[i, j]
        by_mode = {
            "km_rail": haul.km_rail[i, j],
            "km_road": haul.km_road[i, j],
            "km_offroad": haul.km_offroad[i, j],
            "transfers": haul.transfers[i, j],
            "cost_rub_t": haul.cost[i, j],
        }
    else:
        assert friction is not None
        routes = haul_routes(friction, xy[j], points.x.to_numpy()[i], points.y.to_numpy()[i])
    lines = gpd.GeoDataFrame(
        {
            "demand": names[i],
            "site_id": candidates["site_id"].to_numpy()[j],
            "weight": shipped[i, j],
            "share": s.shares[i, j],
            "km": km[i, j],
            "weight_x_km": shipped[i, j] * km[i, j],
            "route_km": shapely.length(routes) / 1000.0,
            **by_mode,
        },
        geometry=routes,
        crs=crs,
    )
    transport, mean_suit = _outcome(s.shares, km, weights, suitability)
    return Allocation(
        plants.reset_index(drop=True),
        lines,
        s.objective,
        transport,
        mean_suit,
        s.gap,
        s.lower_bound,
        s.seconds,
        len(s.facilities),
        spec.profile,
        spec.model,
        METHODS[spec.method] if spec.capacity is None else "exact: HiGHS MILP",
    )


def cover(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    sites: gpd.GeoDataFrame,
    cost_fields: dict[str, CostField],
    friction: Raster | None,
    travel: TravelTimes | None = None,
    area: shapely.Geometry | None = None,
) -> Covering | None:
    """Run [models.covering] on the proposed sites (None when the scenario has none).

    Travel time is door to door over the road network when the run has one (``travel``), else
    the cost-distance at ``speed_kmh``. The demand is the features :func:`is_demand` keeps. Among
    the selections that cover the most, the fewest new sites are chosen, then the most suitable
    (:class:`~siting.models.MaximalCovering`'s ``preference``): a site that would add no
    coverage is left out.

    Raises
    ------
    InfeasibleError
        When the profile proposed fewer sites than ``p``.
    ScenarioError
        When ``existing_where`` selects no existing facility.
    """
    spec = scenario.covering
    if spec is None:
        return None
    assert friction is not None
    layer = layers[spec.demand]
    keep = is_demand(scenario, layer, area)
    demand = layer[keep].reset_index(drop=True)
    weights = weights_of(demand, spec.weight_field, "models.covering.weight_field", spec.demand)
    candidates = sites[sites["profile"] == spec.profile].reset_index(drop=True)
    if len(candidates) < spec.p:
        raise InfeasibleError(
            f"models.covering: p = {spec.p} new site(s) but profile {spec.profile!r} proposed "
            f"only {len(candidates)}",
            f"lower models.covering.p, or relax profiles.{spec.profile}",
        )
    existing = gpd.GeoDataFrame(geometry=[], crs=scenario.crs)
    if spec.existing is not None:
        existing = selected(
            layers[spec.existing],
            spec.existing_where,
            "models.covering.existing_where",
            spec.existing,
        )
    anchor = existing.geometry.representative_point()
    x = np.concatenate([anchor.x.to_numpy(), candidates["x"].to_numpy()])
    y = np.concatenate([anchor.y.to_numpy(), candidates["y"].to_numpy()])
    if travel is not None:
        minutes = travel.matrix(demand.geometry.values, x, y)
    else:
        field = cost_field(cost_fields, friction, spec.demand, None, layer.geometry.values)
        minutes = field.sample(x, y)[keep] / 1000.0 / spec.speed_kmh * 60.0
    n_existing = len(existing)
    fixed = np.arange(n_existing)
    suitability = np.concatenate([np.zeros(n_existing), candidates["score"].to_numpy(float)])
    model = MaximalCovering(
        n_existing + spec.p,
        spec.max_minutes,
        fixed,
        time_limit=spec.time_limit,
        preference=suitability,
    ).fit(minutes, sample_weight=weights)
    baseline = (
        float(weights[(minutes[:, fixed] <= spec.max_minutes).any(axis=1)].sum())
        if n_existing
        else 0.0
    )
    open_ = model.facilities_
    nearest = open_[np.argmin(minutes[:, open_], axis=1)]
    best = minutes[np.arange(len(demand)), nearest]
    covered = best <= spec.max_minutes
    names = (
        existing["name"].astype(str).tolist()
        if "name" in existing.columns
        else [f"existing {k + 1}" for k in range(n_existing)]
    )
    labels = np.array(names + candidates["site_id"].astype(str).tolist(), dtype=object)
    # Per column of the cost matrix (existing first): the candidate's id and score, if any.
    site_ids = np.array([""] * n_existing + candidates["site_id"].tolist(), dtype=object)
    scores = np.concatenate([np.full(n_existing, np.nan), candidates["score"].to_numpy(float)])
    covered_weight = np.bincount(nearest[covered], weights[covered], minlength=len(x))
    chosen = gpd.GeoDataFrame(
        {
            "name": labels[open_],
            "status": np.where(open_ < n_existing, "existing", "new"),
            "site_id": site_ids[open_],
            "score": scores[open_],
            "covered_weight": covered_weight[open_],
            "n_covered": np.bincount(nearest[covered], minlength=len(x))[open_],
        },
        geometry=gpd.points_from_xy(x[open_], y[open_]),
        crs=scenario.crs,
    )
    demand_names = (
        demand["name"].to_numpy() if "name" in demand.columns else demand.index.to_numpy()
    )
    points = demand.geometry.representative_point()
    reached = gpd.GeoDataFrame(
        {
            "name": demand_names,
            "weight": weights,
            "minutes": best,
            "covered": covered,
            "served_by": np.where(covered, labels[nearest], ""),
        },
        geometry=points.values,
        crs=scenario.crs,
    )
    log.info(
        "      covering: %d new + %d existing site(s) reach %.0f of %.0f (%.0f alone) in %g min",
        len(open_) - n_existing,
        n_existing,
        model.coverage_,
        weights.sum(),
        baseline,
        spec.max_minutes,
    )
    return Covering(
        chosen,
        reached,
        model.coverage_,
        baseline,
        float(weights.sum()),
        model.gap_,
        model.seconds_,
        spec.p,
        spec.profile,
        spec.max_minutes,
        "network" if travel is not None else "cost-distance",
    )
