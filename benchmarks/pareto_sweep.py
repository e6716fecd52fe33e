"""Warm starts along the Pareto sweep of the capacitated plant model: cold solves against a chain
in which each suitability weight starts from the plants of the weight before.

Usage: python benchmarks/pareto_sweep.py [--generate N M SEED] [--steps K] [--time-limit S]
       [--single-sourcing] [--docs]

The instance is one of ``benchmarks/cflp_instances.py`` (N mines, M sites on a grid, default
300 × 150, seed 1) with one capacity and one opening cost for every site (the generator's means,
as ``[models.allocation]`` gives them) and a suitability per site drawn from the same seed. Each
of the K weights 0, 1/(K-1), …, 1 is solved by :func:`siting.allocation.solve_plan` to the
sweep's tolerance, first cold, then along one chain from weight 0 upwards with ``init`` = the
previous weight's plants. Both are sequential in this process, so the times compare like for
like. The last line: ``pareto_sweep points=<K> cold_s=<t> warm_s=<t> speedup=<x>
max_gap_pct_cold=<g> max_gap_pct_warm=<g> same_objective=<k>/<K>``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from cflp_instances import CAPACITY_RATIO, SIDE_KM, generate

from siting.allocation import SWEEP_TOL, solve_plan
from siting.config.scenario import AllocationModel

from _report import record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generate", nargs=3, type=int, default=(300, 150, 1))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--single-sourcing", action="store_true")
    parser.add_argument("--docs", action="store_true", help="write docs/performance/")
    args = parser.parse_args()
    n, m, seed = args.generate
    inst = generate(n, m, seed)
    output = np.asarray(inst.demand)
    km = np.asarray(inst.cost) / output[:, None]
    capacity = CAPACITY_RATIO * output.sum() / m
    spec = AllocationModel(
        "plants",
        capacity=float(capacity),
        opening_cost=float(capacity * SIDE_KM / math.sqrt(m)),
        single_sourcing=args.single_sourcing,
        time_limit=args.time_limit,
    )
    suitability = np.random.default_rng(seed).uniform(0.0, 1.0, m)
    alphas = [float(a) for a in np.linspace(0.0, 1.0, args.steps)]
    lines = [
        f"instance: {n} mines, {m} sites, seed {seed}; capacity {capacity:.3f} each; "
        f"{'single' if args.single_sourcing else 'split'} sourcing; tol {SWEEP_TOL:g}, "
        f"time limit {args.time_limit:g} s a point",
        f"{'weight':>6} {'cold_obj':>12} {'cold_s':>7} {'cold_gap%':>9} "
        f"{'warm_obj':>12} {'warm_s':>7} {'warm_gap%':>9}",
    ]
    print("\n".join(lines), flush=True)
    cold_s = warm_s = 0.0
    gaps_cold, gaps_warm, same = [], [], 0
    init = None
    for alpha in alphas:
        t = time.perf_counter()
        cold = solve_plan(spec, km, output, suitability, alpha, tol=SWEEP_TOL)
        cold_t = time.perf_counter() - t
        t = time.perf_counter()
        warm = solve_plan(spec, km, output, suitability, alpha, tol=SWEEP_TOL, init=init)
        warm_t = time.perf_counter() - t
        init = warm.facilities
        cold_s, warm_s = cold_s + cold_t, warm_s + warm_t
        gaps_cold.append(100 * cold.gap)
        gaps_warm.append(100 * warm.gap)
        # Both within the sweep's tolerance of the optimum: equal to within twice it.
        same += abs(cold.objective - warm.objective) <= 2 * SWEEP_TOL * abs(cold.objective)
        line = (
            f"{alpha:>6.3f} {cold.objective:>12.4f} {cold_t:>7.2f} {100 * cold.gap:>9.4f} "
            f"{warm.objective:>12.4f} {warm_t:>7.2f} {100 * warm.gap:>9.4f}"
        )
        print(line, flush=True)
        lines.append(line)
    summary = (
        f"pareto_sweep points={len(alphas)} cold_s={cold_s:.2f} warm_s={warm_s:.2f} "
        f"speedup={cold_s / warm_s:.2f} max_gap_pct_cold={max(gaps_cold):.4f} "
        f"max_gap_pct_warm={max(gaps_warm):.4f} same_objective={same}/{len(alphas)}"
    )
    print(summary)
    lines.append(summary)
    if args.docs:
        record(
            "pareto_sweep",
            lines,
            notes="Cold solves and a warm-started chain (each weight from the previous weight's "
            "plants, `CapacitatedFacilityLocation(init=...)`) of the capacitated plant model's "
            "Pareto sweep, one after the other in one process.",
        )


if __name__ == "__main__":
    main()
