"""Robustness of a run's plan to its assumptions: the default sensitivity, ``[sensitivity]``.

Weights, capacities, costs and tariffs are judgements. A planner signing a site needs to know
whether it survives other reasonable ones. Each run draws ``draws`` sets of assumptions
(:class:`~siting.config.sensitivity.Sensitivity`), all from one seed:

- each profile's **criterion weights** around the chosen ones (Dirichlet, or for AHP profiles
  every pairwise judgement perturbed: :func:`siting.mcda.weights.weight_draws`); the suitability
  is recomputed from the run's standardised scores and the sites proposed again, exactly as in
  the run (best patches, greedy separation);
- a factor on a **new plant's capacity** (and an existing plant's room to expand), one on the
  **opening and expansion costs**, and one on **each haul tariff** (truck, rail, off-road,
  transfer), uniform in their ranges.

For each draw the location-allocation is solved again, to the draw's ``tol`` within its
``time_limit`` (with ``split_flows``, the default, a mine's coal may split between plants:
a draw asks which plants open, which that model answers in a fraction of the time), on the
draw's candidates: the existing plants, the growth poles' Weber points
and the sites the draw's weights proposed. The haul to a site the run did not propose is
computed once for all draws. With ``[haul] mode = "network"`` a draw's tariffs price again the
kilometres by mode of the scenario's least-cost routes; a route that another tariff would make
cheaper by another way is not searched, so the draw's costs are upper bounds.

A site **stays in the plan** in a draw when:

- a processing plant of the run (a proposed site): the draw opens a proposed site within half
  the profile's ``min_separation_m`` of it;
- a Weber point: the draw opens that point;
- an existing plant (always open): the draw takes the run's decision on it, expanded or not;
- a site of another profile (no plant model re-solved for it): the draw's weights propose a site
  within half the profile's separation of it.

Its **robustness** is the share of draws in which it stays in the plan; a site of the plan is
*robust* from ``robust`` up, *fragile* below ``fragile``, *moderate* between. Draws whose
capacities cannot take the demand are left out of the shares and counted. The covering of
technoparks and the value chain are not solved again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting.allocation import Allocation, haul_matrix, solve_plan
from siting.config.scenario import Profile, Scenario, Sensitivity
from siting.demand import is_demand, weights_of
from siting.existing import EXISTING, capacities
from siting.mcda.sites import candidate_labels, select_sites
from siting.mcda.suitability import Surface
from siting.mcda.weights import ahp_matrix_of, weight_draws
from siting.network.multimodal import HaulMatrix
from siting.raster.cost import CORES, CostField, cost_field
from siting.raster.grid import Raster

log = logging.getLogger("siting")

#: The robustness classes of a site of the plan, from the most to the least robust.
CLASSES = ("robust", "moderate", "fragile")

#: ``haul_to(x, y)``: the haul from every demand feature to the points, as the run prices it
#: (a :class:`HaulMatrix` on the network, else road-equivalent km, demand × points).
HaulTo = Callable[[np.ndarray, np.ndarray], "HaulMatrix | np.ndarray"]


@dataclass
class Robustness:
    """What the default sensitivity found (:func:`assess`).

    Attributes
    ----------
    spec
        The ``[sensitivity]`` table the draws followed.
    sites
        One row per site of the run (every profile's proposed sites, the Weber points and the
        existing plants of the plant model): ``site_id``, ``profile``, ``origin``, ``in_plan``
        (an opened plant of the run; every proposed site of a profile without a plant model),
        ``proposed_share`` (share of draws whose weights propose it again; NaN for Weber points
        and existing plants, which no weight moves), ``planned_share`` (share of draws opening
        it; NaN outside the plant model), ``expanded_share`` (existing plants: share of draws
        expanding it), ``robustness`` (the share that defines its class: ``planned_share`` in
        the plant model, else ``proposed_share``; for an existing plant, the share of draws
        taking the run's decision on it, expanded or not) and ``robustness_class`` (``robust``,
        ``moderate`` or ``fragile``; empty for a site not in the plan).
    draws
        One row per draw: its factors, the plants it opened (``n_plants``, ``plants``), its
        ``transport`` and ``objective`` (truck- or road-km units of the run), ``gap`` and
        ``feasible``; then each profile's drawn weights (``w_<profile>_<criterion>``).
    """

    spec: Sensitivity
    sites: pd.DataFrame
    draws: pd.DataFrame

    @property
    def n(self) -> int:
        """Draws that counted (feasible)."""
        return int(self.draws["feasible"].sum()) if len(self.draws) else 0

    def annotate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (sites or plants, by ``site_id``) with the ``robustness`` and
        ``robustness_class`` of its sites (NaN and empty for a site not assessed)."""
        by_id = self.sites.drop_duplicates("site_id").set_index("site_id")
        ids = frame["site_id"]
        out = frame.copy()
        out["robustness"] = ids.map(by_id["robustness"]).astype(float).to_numpy()
        out["robustness_class"] = ids.map(by_id["robustness_class"]).fillna("").to_numpy()
        return out

    def summary(self) -> dict[str, object]:
        """For ``run.json``: the draws, the ranges, the class counts and each planned site."""
        plan = self.sites[self.sites["in_plan"]]
        return {
            "draws": int(self.spec.draws),
            "feasible_draws": self.n,
            "seed": int(self.spec.seed),
            "factors": {k: list(v) for k, v in self.spec.factors().items()},
            "robust_from": self.spec.robust,
            "fragile_below": self.spec.fragile,
            "counts": self.counts(),
            "sites": [
                {
                    "site_id": str(r.site_id),
                    "profile": str(r.profile),
                    "robustness": round(float(r.robustness), 4),
                    "class": str(r.robustness_class),
                }
                for r in plan.itertuples()
            ],
        }

    def counts(self) -> dict[str, int]:
        """How many sites of the plan are robust, moderate and fragile."""
        plan = self.sites[self.sites["in_plan"]]
        return {c: int((plan["robustness_class"] == c).sum()) for c in CLASSES}


def classify(share: np.ndarray, spec: Sensitivity) -> np.ndarray:
    """``robust`` / ``moderate`` / ``fragile`` for each share (empty where NaN)."""
    share = np.asarray(share, dtype=float)
    out = np.where(
        share >= spec.robust, CLASSES[0], np.where(share < spec.fragile, CLASSES[2], CLASSES[1])
    ).astype(object)
    out[~np.isfinite(share)] = ""
    return out


def draw_factors(spec: Sensitivity, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows of factors, uniform in :meth:`Sensitivity.factors`' ranges, one column each."""
    return pd.DataFrame({k: rng.uniform(lo, hi, n) for k, (lo, hi) in spec.factors().items()})


class _Reweighted:
    """One profile's surfaces, its suitability recomputed for other weights."""

    def __init__(self, surface: Surface, raw: dict[str, Raster]) -> None:
        self.surface, self.raw = surface, raw
        names = [c.name for c in surface.profile.criteria]
        # float32 halves the memory of the stack; the sums are then float64 again.
        self.stack = np.stack(
            [np.nan_to_num(surface.scores[n].data, nan=0.0) for n in names]
        ).astype(np.float32)
        self.eligible = np.isfinite(surface.suitability.data)

    def sites(
        self, weights: np.ndarray, at: tuple[np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The sites ``weights`` propose (x, y, score; ranked) and the weighted score at the
        cells ``at`` (rows, cols; exclusions ignored: the land score of an existing plant)."""
        total = np.tensordot(weights.astype(np.float32), self.stack, axes=1)
        rows, cols = at
        at_score = total[rows, cols].astype(float) if len(rows) else np.zeros(0)
        total[~self.eligible] = np.nan
        s = self.surface
        suit = replace(s.suitability, data=total)
        profile = replace(s.profile, weights=tuple(float(v) for v in weights))
        surface = replace(s, suitability=suit, profile=profile)
        labels = candidate_labels(surface)
        if not labels.any():
            return np.zeros((0, 3)), at_score
        found = select_sites(surface, self.raw, labels)
        return found[["x", "y", "score"]].to_numpy(float), at_score


def _near(a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """For each point of ``a`` (k × 2), whether a point of ``b`` lies within ``radius``."""
    if not len(a) or not len(b):
        return np.zeros(len(a), dtype=bool)
    d = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    return np.asarray((d <= radius).any(axis=1))


@dataclass
class _Prices:
    """The haul from the demand to the run's candidates and the draws' extra sites, priced
    again by a draw's tariff factors."""

    km: np.ndarray | None  # friction: road-equivalent km (tariffs do not apply)
    haul: HaulMatrix | None  # network: kilometres by mode and transfers

    @classmethod
    def of(cls, parts: list[HaulMatrix | np.ndarray]) -> _Prices:
        if isinstance(parts[0], HaulMatrix):
            hauls = [p for p in parts if isinstance(p, HaulMatrix)]
            joined = {
                f: np.concatenate([getattr(h, f) for h in hauls], axis=1)
                for f in ("cost", "km_road", "km_rail", "km_offroad", "transfers", "routes")
            }
            return cls(None, HaulMatrix(**joined, truck_rub_tkm=hauls[0].truck_rub_tkm))
        return cls(np.concatenate([np.asarray(p, dtype=float) for p in parts], axis=1), None)

    def km_for(self, scenario: Scenario, factors: pd.Series, columns: np.ndarray) -> np.ndarray:
        """Demand × ``columns`` in the allocation's unit at the draw's tariffs."""
        if self.haul is None:
            assert self.km is not None
            return self.km[:, columns]
        h, spec = self.haul, scenario.haul
        rub = h.cost_at(
            factors["truck_tariff"] * spec.truck_rub_tkm,
            factors["rail_tariff"] * spec.rail_rub_tkm,
            factors["offroad_tariff"] * spec.offroad_rub_tkm,
            factors["transfer_tariff"] * spec.transfer_rub_t,
        )[:, columns]
        return rub / h.truck_rub_tkm


def assess(
    scenario: Scenario,
    surfaces: dict[str, Surface],
    criteria: dict[str, Raster],
    sites: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame | None,
    allocation: Allocation | None,
    weights: np.ndarray | None,
    run_haul: HaulMatrix | np.ndarray | None,
    haul_to: HaulTo | None,
) -> Robustness:
    """Draw the ``[sensitivity]`` assumptions and test the run's plan against them (module
    text).

    Parameters
    ----------
    scenario
        The scenario run; its ``sensitivity`` sets the draws.
    surfaces, criteria
        The run's surfaces by profile and raw criterion rasters by name.
    sites
        The run's sites of every profile (the Weber points among them, ``origin = "weber"``).
    candidates, allocation, weights
        The plant model's candidates (existing plants first), its result and the demand's
        weights (all None without ``[models.allocation]``).
    run_haul
        The haul from the demand to ``candidates`` as the run priced it.
    haul_to
        The same for other points (the sites that only a draw proposes).

    Returns
    -------
    Robustness
    """
    spec = scenario.sensitivity
    rng = np.random.default_rng(spec.seed)
    n = spec.draws
    factors = draw_factors(spec, n, rng)
    plan = scenario.allocation
    drawn: dict[str, np.ndarray] = {}
    for name, surface in surfaces.items():
        p = surface.profile
        matrix = ahp_matrix_of(p)
        drawn[name] = weight_draws(
            np.array(p.weights), n, rng, spec.concentration, matrix, spec.judgement_sd
        )
    fixed = candidates[candidates["origin"] != "suitability"] if candidates is not None else None
    proposed: dict[str, list[np.ndarray]] = {}
    fixed_scores: list[np.ndarray] = []
    for name, surface in surfaces.items():
        p = surface.profile
        own = {c.name: criteria[c.name] for c in p.criteria}
        engine = _Reweighted(surface, own)
        is_plant = plan is not None and name == plan.profile and fixed is not None
        at = _cells(surface, fixed) if is_plant and fixed is not None else _no_cells()
        # numpy's sums and sorts release the GIL: the draws share the cores in threads.
        with ThreadPoolExecutor(max_workers=CORES) as pool:
            done = list(pool.map(engine.sites, drawn[name], [at] * n))
        proposed[name] = [found for found, _ in done]
        if is_plant:
            fixed_scores = [at_score for _, at_score in done]
        del engine
    rows = [
        _shares(scenario, sites, name, surfaces[name].profile, proposed[name]) for name in surfaces
    ]
    table = pd.concat(rows, ignore_index=True)
    table["planned_share"] = np.nan
    table["expanded_share"] = np.nan
    draws = factors.copy()
    if plan is not None and candidates is not None and allocation is not None:
        assert weights is not None and run_haul is not None and haul_to is not None
        table, plants = _plants(
            scenario,
            table,
            candidates,
            allocation,
            weights,
            run_haul,
            haul_to,
            proposed[plan.profile],
            fixed_scores,
            factors,
        )
        draws = pd.concat([draws, plants], axis=1)
    else:
        draws["feasible"] = True
    for name, w in drawn.items():
        for j, c in enumerate(surfaces[name].profile.criteria):
            draws[f"w_{name}_{c.name}"] = w[:, j]
    draws.insert(0, "draw", np.arange(n))
    if "robustness" not in table.columns:
        table["robustness"] = np.nan
    # In the plant model a site is in the plan when opened; elsewhere when proposed.
    modelled = (table["profile"] == plan.profile).to_numpy() if plan is not None else False
    table["robustness"] = table["robustness"].where(
        table["robustness"].notna(),
        np.where(modelled, table["planned_share"], table["proposed_share"]),
    )
    table["robustness_class"] = np.where(
        table["in_plan"], classify(table["robustness"].to_numpy(float), spec), ""
    )
    result = Robustness(spec, table, draws)
    counts = result.counts()
    log.info(
        "      robustness over %d draws: %d robust, %d moderate, %d fragile site(s) of the plan",
        result.n,
        counts["robust"],
        counts["moderate"],
        counts["fragile"],
    )
    return result


def _no_cells() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=int), np.zeros(0, dtype=int)


def _cells(surface: Surface, points: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Cells of ``points`` (x, y) on the surface's grid, clipped to it."""
    grid = surface.suitability.grid
    rows, cols = grid.index(points["x"].to_numpy(float), points["y"].to_numpy(float))
    return np.clip(rows, 0, grid.height - 1), np.clip(cols, 0, grid.width - 1)


def _shares(
    scenario: Scenario,
    sites: gpd.GeoDataFrame,
    name: str,
    profile: Profile,
    proposed: list[np.ndarray],
) -> pd.DataFrame:
    """One profile's sites with the share of draws proposing them again."""
    own = sites[(sites["profile"] == name)].reset_index(drop=True)
    xy = own[["x", "y"]].to_numpy(float)
    moved = (own["origin"] == "suitability").to_numpy()
    radius = profile.min_separation_m / 2
    hits = np.zeros(len(own))
    for found in proposed:
        hits += _near(xy, found[:, :2], radius)
    share = np.where(moved, hits / max(len(proposed), 1), np.nan)
    plant_model = scenario.allocation is not None and scenario.allocation.profile == name
    return pd.DataFrame(
        {
            "site_id": own["site_id"].to_numpy(),
            "profile": name,
            "origin": own["origin"].to_numpy(),
            "x": own["x"].to_numpy(float),
            "y": own["y"].to_numpy(float),
            # Without a plant model the plan is the proposed sites themselves.
            "in_plan": np.zeros(len(own), dtype=bool) if plant_model else moved,
            "proposed_share": share,
        }
    )


def _plants(
    scenario: Scenario,
    table: pd.DataFrame,
    candidates: gpd.GeoDataFrame,
    allocation: Allocation,
    weights: np.ndarray,
    run_haul: HaulMatrix | np.ndarray,
    haul_to: HaulTo,
    proposed: list[np.ndarray],
    fixed_scores: list[np.ndarray],
    factors: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Solve the plant model once per draw; the planned shares of the model's sites."""
    plan = scenario.allocation
    spec = scenario.sensitivity
    assert plan is not None
    origin = candidates["origin"].to_numpy()
    cxy = candidates[["x", "y"]].to_numpy(float)
    fixed = np.flatnonzero(origin != "suitability")
    run_sites = np.flatnonzero(origin == "suitability")
    # The draws' proposed sites: a run site when on its cell, else an extra column.
    extra: dict[tuple[float, float], int] = {}
    columns: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    known = {(float(x), float(y)): j for j, (x, y) in enumerate(cxy)}
    for found in proposed:
        cols = []
        for x, y, _ in found:
            key = (float(x), float(y))
            if key in known:
                cols.append(known[key])
            else:
                cols.append(len(cxy) + extra.setdefault(key, len(extra)))
        columns.append(np.array(cols, dtype=int))
        scores.append(found[:, 2] if len(found) else np.zeros(0))
    extra_xy = np.array(list(extra), dtype=float).reshape(-1, 2)
    parts: list[HaulMatrix | np.ndarray] = [run_haul]
    if len(extra_xy):
        parts.append(haul_to(extra_xy[:, 0], extra_xy[:, 1]))
    prices = _Prices.of(parts)
    held_run = capacities(plan, candidates)[0] if plan.capacity is not None else np.zeros(len(cxy))
    held_all = np.concatenate([held_run, np.zeros(len(extra_xy))])

    def solve(k: int) -> dict[str, object]:
        f = factors.iloc[k]
        cols = np.unique(np.concatenate([fixed, columns[k]]))
        score = np.zeros(len(cxy) + len(extra_xy))
        score[fixed] = fixed_scores[k] if len(fixed_scores) else 0.0
        score[columns[k]] = scores[k]
        assert plan is not None
        draw_plan = replace(
            plan,
            single_sourcing=plan.single_sourcing and not spec.split_flows,
            capacity=None if plan.capacity is None else plan.capacity * f["capacity"],
            opening_cost=plan.opening_cost * f["opening_cost"],
            expansion_cost=None
            if plan.expansion_cost is None
            else plan.expansion_cost * f["opening_cost"],
        )
        held = held_all[cols]
        km = prices.km_for(scenario, f, cols)
        reachable = np.isfinite(km).any(axis=1).all()
        room = np.inf
        if draw_plan.capacity is not None:
            grow = draw_plan.capacity if draw_plan.expansion_cost is not None else 0.0
            room = float(np.where(held > 0, held + grow, draw_plan.capacity).sum())
        if not reachable or weights.sum() > room + 1e-9 or (plan.p or 1) > len(cols):
            return {"feasible": False}
        s = solve_plan(
            draw_plan,
            np.where(np.isfinite(km), km, 1e12),
            weights,
            score[cols],
            plan.suitability_weight,
            tol=spec.tol,
            held=held if draw_plan.capacity is not None else None,
            time_limit=spec.time_limit,
        )
        opened = cols[s.facilities]
        served = (weights[:, None] * s.shares).sum(axis=0)[s.facilities]
        grown = (
            np.zeros(len(opened)) if s.expansion is None else np.asarray(s.expansion)[s.facilities]
        )
        shipped = weights[:, None] * s.shares
        transport = float(np.nansum(np.where(shipped > 0, shipped * km, 0.0)))
        return {
            "feasible": True,
            "opened": opened,
            "served": served,
            "grown": grown,
            "n_plants": len(opened),
            "transport": transport,
            "objective": s.objective,
            "gap": s.gap,
        }

    with ThreadPoolExecutor(max_workers=CORES) as pool:
        outcomes = list(pool.map(solve, range(len(factors))))
    ok = [o for o in outcomes if o["feasible"]]
    # Which of the run's plan-model sites each feasible draw keeps.
    radius = plan_profile_radius(scenario)
    all_xy = np.vstack([cxy, extra_xy]) if len(extra_xy) else cxy
    moved = np.concatenate([origin == "suitability", np.ones(len(extra_xy), dtype=bool)])
    planned = np.zeros(len(cxy))
    expanded = np.zeros(len(cxy))
    for o in ok:
        opened = np.asarray(o["opened"], dtype=int)
        served = np.asarray(o["served"], dtype=float)
        grown = np.asarray(o["grown"], dtype=float)
        used = opened[served > 1e-9]
        near = _near(cxy[run_sites], all_xy[opened[moved[opened]]], radius)
        planned[run_sites] += near
        at_fixed = np.isin(fixed, used if plan.capacity is not None else opened)
        planned[fixed] += at_fixed
        expanded[fixed] += np.isin(fixed, opened[grown > 1e-6])
    if not ok:
        log.warning(
            "      sensitivity: in none of the %d draws can the plants take the demand "
            "(capacity factor %g-%g): no plant's robustness is known; widen "
            "sensitivity.capacity",
            len(outcomes),
            *spec.capacity,
        )
    count = len(ok) if ok else np.nan
    share = pd.Series(planned / count, index=candidates["site_id"].to_numpy())
    grow_share = pd.Series(expanded / count, index=candidates["site_id"].to_numpy())
    existing = origin == EXISTING
    is_plan = table["profile"] == plan.profile
    table.loc[is_plan, "planned_share"] = table.loc[is_plan, "site_id"].map(share).to_numpy()
    opened_ids = set(allocation.plants["site_id"].astype(str))
    table.loc[is_plan, "in_plan"] = table.loc[is_plan, "site_id"].astype(str).isin(opened_ids)
    rows = candidates[existing]
    if len(rows):
        ids_e = rows["site_id"].to_numpy()
        expansion = (
            allocation.plants.set_index("site_id")["expansion"]
            if "expansion" in allocation.plants.columns
            else pd.Series(dtype=float)
        )
        grew = pd.Series(ids_e).map(expansion).fillna(0.0).to_numpy(float) > 1e-6
        grown_share = grow_share[ids_e].to_numpy()
        extra_rows = pd.DataFrame(
            {
                "site_id": rows["site_id"].to_numpy(),
                "profile": plan.profile,
                "origin": EXISTING,
                "x": rows["x"].to_numpy(float),
                "y": rows["y"].to_numpy(float),
                "in_plan": rows["site_id"].astype(str).isin(opened_ids).to_numpy(),
                "proposed_share": np.nan,
                "planned_share": share[rows["site_id"].to_numpy()].to_numpy(),
                "expanded_share": grown_share,
                # An existing plant stays open; its decision is whether to expand it.
                "robustness": np.where(grew, grown_share, 1.0 - grown_share),
            }
        )
        table = pd.concat([table, extra_rows], ignore_index=True)
    ids = np.concatenate(
        [
            candidates["site_id"].astype(str).to_numpy(),
            [f"draw site {k + 1}" for k in range(len(extra_xy))],
        ]
    )
    draws = pd.DataFrame(
        {
            "feasible": [bool(o["feasible"]) for o in outcomes],
            "n_plants": [o.get("n_plants", 0) for o in outcomes],
            "plants": [
                ", ".join(ids[np.asarray(o["opened"], dtype=int)]) if o["feasible"] else ""
                for o in outcomes
            ],
            "transport": [o.get("transport", np.nan) for o in outcomes],
            "objective": [o.get("objective", np.nan) for o in outcomes],
            "gap": [o.get("gap", np.nan) for o in outcomes],
        }
    )
    return table, draws


def plan_profile_radius(scenario: Scenario) -> float:
    """Half the plant profile's separation: a draw's site this close to a run's site is it."""
    assert scenario.allocation is not None
    return scenario.profiles[scenario.allocation.profile].min_separation_m / 2


def in_run(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    surfaces: dict[str, Surface],
    criteria: dict[str, Raster],
    sites: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame | None,
    allocation: Allocation | None,
    haul: HaulMatrix | None,
    friction: Raster | None,
    cost_fields: dict[str, CostField],
    area: shapely.Geometry | None,
) -> Robustness:
    """:func:`assess` with the run's demand and haul: the plant model's demand features and
    weights as :func:`siting.allocation.allocate` takes them, and the haul to a draw's own
    sites priced as the run's (on the network, or over the friction surface)."""
    plan = scenario.allocation
    if plan is None or candidates is None or allocation is None:
        return assess(scenario, surfaces, criteria, sites, None, None, None, None, None)
    layer = layers[plan.demand]
    keep = is_demand(scenario, layer, area)
    demand = layer[keep].reset_index(drop=True)
    weights = weights_of(demand, plan.weight_field, "models.allocation.weight_field", plan.demand)

    def haul_to(x: np.ndarray, y: np.ndarray) -> HaulMatrix | np.ndarray:
        points = gpd.GeoDataFrame({"x": x, "y": y}, geometry=gpd.points_from_xy(x, y))
        if scenario.haul.mode == "network":
            return haul_matrix(scenario, layers, demand, points, friction)
        assert friction is not None
        field = cost_field(cost_fields, friction, plan.demand, None, layer.geometry.values)
        return field.sample(x, y)[keep] / 1000.0

    run_haul: HaulMatrix | np.ndarray = (
        haul
        if haul is not None
        else haul_to(candidates["x"].to_numpy(float), candidates["y"].to_numpy(float))
    )
    return assess(
        scenario, surfaces, criteria, sites, candidates, allocation, weights, run_haul, haul_to
    )
