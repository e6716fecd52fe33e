"""Structural sensitivity: whole runs under drawn assumptions, on a Dask cluster or here.

The default sensitivity of every run (:mod:`siting.robustness`) re-weighs the run's own
surfaces and re-solves its plant model, which is fast but keeps everything else fixed. A
*structural* draw instead runs the whole scenario again with its assumptions changed at once —
every profile's criterion weights (as ``[sensitivity]`` draws them: Dirichlet around direct
weights, log-normal AHP judgements), the plant capacity, the opening and expansion costs and the
haul tariffs (factors uniform in the ``[sensitivity]`` ranges) — so that the sites, the plants'
candidates and the routes all follow. Each draw is one independent task (:func:`run_draw`):
``siting sensitivity --structural --workers N`` runs them on a ``LocalCluster``, ``--scheduler``
on an existing cluster, and without either one after another here.

Draw ``k`` takes its randomness from ``numpy.random.SeedSequence(seed).spawn(n)[k]`` alone, so
its assumptions — and the result — are the same for any number of workers, in any order, and the
first ``k`` draws of a longer series are those of a shorter one.

A base site is *kept* by a draw when the draw proposes a site of the same profile within half the
profile's ``min_separation_m``; a plant of the base plan when the draw's plan opens (or, for an
existing plant, keeps) a plant within that distance.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siting.config.scenario import Scenario
from siting.config.sensitivity import Sensitivity
from siting.mcda.weights import ahp_matrix_of, weight_draws
from siting.pipeline.result import Result

#: The tariffs of ``[haul]`` each factor multiplies.
TARIFFS = {
    "truck_tariff": "truck_rub_tkm",
    "rail_tariff": "rail_rub_tkm",
    "offroad_tariff": "offroad_rub_tkm",
    "transfer_tariff": "transfer_rub_t",
}


@dataclass
class Structural:
    """What :func:`structural` found.

    Attributes
    ----------
    sites
        The base run's sites: ``site_id``, ``profile``, ``rank``, ``x``, ``y`` and
        ``kept_share`` (share of draws proposing a site of the profile within half its
        separation).
    plants
        The base plan's plants (``site_id``, ``x``, ``y``, ``existing``) with ``kept_share``;
        empty without ``[models.allocation]``.
    draws
        One row per draw: its factors, its weights per profile (``w_<profile>``, as text), the
        number of sites and plants it proposed and its seconds.
    seed, n
        The seed and the number of draws.
    """

    sites: pd.DataFrame
    plants: pd.DataFrame
    draws: pd.DataFrame
    seed: int
    n: int


def draw_assumptions(scenario: Scenario, seed: np.random.SeedSequence) -> tuple[Scenario, dict]:
    """One draw's scenario: the assumptions of ``scenario`` changed as ``[sensitivity]`` says,
    from ``seed`` alone; and the factors and weights drawn (a plain dict)."""
    spec = scenario.sensitivity
    rng = np.random.default_rng(seed)
    factors = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in spec.factors().items()}
    drawn: dict[str, Any] = dict(factors)
    profiles = {}
    for name, p in scenario.profiles.items():
        matrix = ahp_matrix_of(p)
        w = weight_draws(np.array(p.weights), 1, rng, spec.concentration, matrix, spec.judgement_sd)
        weights = tuple(float(v) for v in w[0])
        profiles[name] = dataclasses.replace(p, weights=weights)
        drawn[f"w_{name}"] = " ".join(f"{v:.4f}" for v in weights)
    changes: dict[str, Any] = {
        "profiles": profiles,
        # A draw's own run does not test itself again.
        "sensitivity": dataclasses.replace(spec, draws=0),
        "haul": dataclasses.replace(
            scenario.haul,
            **{field: getattr(scenario.haul, field) * factors[k] for k, field in TARIFFS.items()},
        ),
    }
    a = scenario.allocation
    if a is not None:
        changes["allocation"] = dataclasses.replace(
            a,
            capacity=None if a.capacity is None else a.capacity * factors["capacity"],
            opening_cost=a.opening_cost * factors["opening_cost"],
            expansion_cost=None
            if a.expansion_cost is None
            else a.expansion_cost * factors["opening_cost"],
        )
    return dataclasses.replace(scenario, **changes), drawn


def run_draw(
    scenario: Scenario, seed: np.random.SeedSequence, cache: bool | str | Path
) -> dict[str, Any]:
    """Run one structural draw (in a worker, or here); plain data back: the assumptions drawn,
    the sites (profile, x, y) and the plan's plants (x, y, existing)."""
    from siting.pipeline.stages import run

    start = time.perf_counter()
    drawn_scenario, drawn = draw_assumptions(scenario, seed)
    result = run(drawn_scenario, write=False, cache=cache)
    sites = result.sites[["profile", "x", "y"]].to_numpy(dtype=object)
    plants = _plan_of(result)
    return {
        **drawn,
        "sites": sites,
        "plants": plants[["x", "y"]].to_numpy(float),
        "n_sites": len(sites),
        "n_plants": len(plants),
        "seconds": round(time.perf_counter() - start, 2),
    }


def _plan_of(result: Result) -> pd.DataFrame:
    """The plants a run's plan opens or keeps: ``site_id``, ``x``, ``y``, ``existing``."""
    if result.allocation is None:
        return pd.DataFrame({"site_id": [], "x": [], "y": [], "existing": []})
    plants = result.allocation.plants
    out = pd.DataFrame(
        {
            "site_id": plants["site_id"].astype(str).to_numpy(),
            "x": plants.geometry.x.to_numpy(float),
            "y": plants.geometry.y.to_numpy(float),
        }
    )
    held = plants.get("existing_capacity")
    out["existing"] = (
        np.zeros(len(out), bool) if held is None else held.fillna(0).to_numpy(float) > 0
    )
    return out


def structural(
    result: Result,
    n: int = 20,
    seed: int | None = None,
    executor: Executor | None = None,
    cache: bool | str | Path = False,
) -> Structural:
    """Run ``n`` structural draws of ``result``'s scenario (module docstring) and measure how
    often each of its sites and plants is kept.

    Parameters
    ----------
    result
        The base run.
    n
        Number of draws (>= 1).
    seed
        Seed of the draws (default: the scenario's ``[sensitivity] seed``).
    executor
        Runs the draws (e.g. a Dask client's ``get_executor()``); None: here, one after another.
    cache
        The runs' cache (as :func:`siting.run`'s): the draws change weights and costs, not the
        layers, so the criteria rasters of a shared cache are computed once.
    """
    if n < 1:
        raise ValueError(f"structural sensitivity needs at least 1 draw, not {n}")
    scenario = result.scenario
    spec: Sensitivity = scenario.sensitivity
    seed = spec.seed if seed is None else seed
    seeds = np.random.SeedSequence(seed).spawn(n)
    args = ([scenario] * n, seeds, [cache] * n)
    runs = list(executor.map(run_draw, *args) if executor is not None else map(run_draw, *args))
    sites = result.sites.reset_index(drop=True)
    radius = {name: p.min_separation_m / 2 for name, p in scenario.profiles.items()}
    kept = np.zeros(len(sites))
    for r in runs:
        found = r["sites"]
        for i, row in enumerate(sites.itertuples()):
            same = found[found[:, 0] == row.profile][:, 1:].astype(float)
            if len(same):
                d = np.hypot(same[:, 0] - row.x, same[:, 1] - row.y)
                kept[i] += bool((d <= radius[row.profile]).any())
    site_table = pd.DataFrame(
        {
            "site_id": sites["site_id"].to_numpy(),
            "profile": sites["profile"].to_numpy(),
            "rank": sites["rank"].to_numpy(),
            "x": sites["x"].to_numpy(float),
            "y": sites["y"].to_numpy(float),
            "kept_share": kept / n,
        }
    )
    plants = _plan_of(result)
    if len(plants) and scenario.allocation is not None:
        within = radius.get(scenario.allocation.profile, 0.0)
        xy = plants[["x", "y"]].to_numpy(float)
        hits = np.zeros(len(plants))
        for r in runs:
            other = r["plants"]
            if len(other):
                d = np.hypot(xy[:, None, 0] - other[None, :, 0], xy[:, None, 1] - other[None, :, 1])
                hits += (d <= within).any(axis=1)
        plants["kept_share"] = hits / n
    else:
        plants["kept_share"] = []
    keep = [c for c in runs[0] if c not in ("sites", "plants")]
    draws = pd.DataFrame([{c: r[c] for c in keep} for r in runs])
    draws.insert(0, "draw", np.arange(n))
    return Structural(site_table, plants, draws, seed, n)


def write(s: Structural, folder: Path) -> list[Path]:
    """Write ``sites.csv``, ``plants.csv`` and ``draws.csv`` into ``folder`` (made if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in (("sites", s.sites), ("plants", s.plants), ("draws", s.draws)):
        path = folder / f"{name}.csv"
        table.to_csv(path, index=False)
        written.append(path)
    return written


def kept_classes(share: Sequence[float], spec: Sensitivity) -> list[str]:
    """``robust`` / ``moderate`` / ``fragile`` by the ``[sensitivity]`` thresholds."""
    return [
        "robust" if v >= spec.robust else "fragile" if v < spec.fragile else "moderate"
        for v in share
    ]
