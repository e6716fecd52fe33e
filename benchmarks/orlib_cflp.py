"""Our capacitated facility location solver on Beasley's OR-Library instances, against HiGHS.

Usage: python benchmarks/orlib_cflp.py [DIR] [--generate N M SEED] [--time-limit S] [--docs]

DIR holds Beasley's capacitated warehouse location files ``cap*.txt`` and ``optima.csv``
(columns instance, m, n, capacity, optimal; ``capacity`` is the value to put in place of the
word "capacity" in cap101–134 and capa/b/c, empty for the files that give their own), e.g.
../shared/data/orlib-cap. Each instance with a published optimum is solved with
``siting.models.CapacitatedFacilityLocation`` with split sourcing (each customer's demand may be
divided between warehouses, as in Beasley 1988), ``method="exact"`` when the installed siting
has that parameter (the output says which ran), a time limit of ``--time-limit`` seconds (60)
and a relative tolerance of 1e-9; the cost matrix is the file's cost per unit of demand.

Then, in the same process, the textbook strong formulation is handed to HiGHS directly through
``highspy`` (this file's own model, not siting's): open y_j binary, share x_ij in [0, 1],
minimise Σ f_j y_j + Σ c_ij x_ij subject to Σ_j x_ij = 1 (each customer served),
Σ_i d_i x_ij ≤ Q_j y_j (capacity) and x_ij ≤ y_j (the linking rows that make it strong), with
``mip_rel_gap`` 1e-9 and the same time limit; its time includes building the model.

One line per instance: m, n, both times, both objectives, the published optimum, our gap to it
(%) and whether we reached it (relative difference ≤ 1e-6). The last line sums up: instances we
proved optimal (proven gap ≤ 1e-6), instances at the published optimum, the largest gap, our
total seconds and HiGHS's total seconds over ours.

``--generate N M SEED`` also solves a real-scale instance of N mines and M candidate sites drawn
by ``benchmarks/cflp_instances.py`` (clustered mines with lognormal outputs, a grid of sites,
capacities that bind), with both solvers and the same time limit, and prints the objective, the
proven gap and the time of each and our objective's gap to the best lower bound either proved.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import highspy
import numpy as np
import scipy.sparse as sp
from _highs import quiet_highs_banner
from cflp_instances import generate

from siting.inputs.sources.orlib import CapInstance, read_cap
from siting.models import CapacitatedFacilityLocation

from _report import record

#: Relative tolerance asked of both solvers, and the one that counts as "proven optimal".
TOL, PROVEN = 1e-9, 1e-6
#: Whether the installed CapacitatedFacilityLocation has the ``method`` parameter (added by
#: another change): the benchmark then asks for the exact method, else runs the default.
HAS_METHOD = "method" in inspect.signature(CapacitatedFacilityLocation).parameters


@dataclass
class Solve:
    """One solver's answer on one instance."""

    objective: float
    gap: float
    seconds: float
    bound: float


def natural_key(name: str) -> list[int | str]:
    """Sort key that puts ``cap62`` before ``cap101``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def read_optima(path: Path) -> dict[str, tuple[int, int, float | None, float]]:
    """Read ``optima.csv``.

    Returns
    -------
    dict
        Instance name → (m, n, capacity to substitute or None, published optimal objective).
    """
    with path.open(newline="") as f:
        return {
            row["instance"]: (
                int(row["m"]),
                int(row["n"]),
                float(row["capacity"]) if row.get("capacity") else None,
                float(row["optimal"]),
            )
            for row in csv.DictReader(f)
        }


def load(path: Path, capacity: float | None) -> CapInstance:
    """Read a ``cap*.txt``; the capacity of optima.csv is used only where the file has the word."""
    tokens = path.read_text().split(maxsplit=3)
    has_word = len(tokens) > 2 and tokens[2].lower() == "capacity"
    return read_cap(path, capacity if has_word else None)


def solve_ours(instance: CapInstance, time_limit: float) -> Solve:
    """Solve with siting's CapacitatedFacilityLocation (split sourcing)."""
    extra = {"method": "exact"} if HAS_METHOD else {}
    start = time.perf_counter()
    model = CapacitatedFacilityLocation(
        instance.capacity,
        instance.fixed_cost,
        single_sourcing=False,
        time_limit=time_limit,
        tol=TOL,
        **extra,
    ).fit(instance.unit_cost, sample_weight=instance.demand)
    seconds = time.perf_counter() - start
    gap = float(getattr(model, "gap_", math.nan))
    objective = float(model.objective_)
    return Solve(objective, gap, seconds, objective * (1 - gap))


def solve_highs(instance: CapInstance, time_limit: float) -> Solve:
    """Build the strong formulation and solve it with HiGHS through highspy.

    Columns: y (m), then x (n × m, row-major: x_ij at m + i·m + j). Rows: n demand rows, m
    capacity rows, n·m linking rows.
    """
    start = time.perf_counter()
    d, c = instance.demand, instance.cost
    n, m = c.shape
    nm = n * m
    x = m + np.arange(nm)
    y_of_x = np.tile(np.arange(m), n)
    demand_rows = sp.csr_matrix((np.ones(nm), (np.repeat(np.arange(n), m), x)), (n, m + nm))
    capacity_rows = sp.csr_matrix(
        (
            np.concatenate([-instance.capacity, np.repeat(d, m)]),
            (np.concatenate([np.arange(m), y_of_x]), np.concatenate([np.arange(m), x])),
        ),
        (m, m + nm),
    )
    link_rows = sp.csr_matrix(
        (
            np.concatenate([np.ones(nm), -np.ones(nm)]),
            (np.tile(np.arange(nm), 2), np.concatenate([x, y_of_x])),
        ),
        (nm, m + nm),
    )
    a = sp.vstack([demand_rows, capacity_rows, link_rows], format="csr")
    a.sort_indices()
    rows = n + m + nm
    row_lower = np.concatenate([np.ones(n), np.full(m + nm, -highspy.kHighsInf)])
    row_upper = np.concatenate([np.ones(n), np.zeros(m + nm)])
    cost = np.concatenate([instance.fixed_cost, c.ravel()])
    integrality = np.concatenate([np.ones(m), np.zeros(nm)]).astype(np.int32)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(
        m + nm, rows, a.nnz, int(highspy.MatrixFormat.kRowwise), int(highspy.ObjSense.kMinimize),
        0.0, cost, np.zeros(m + nm), np.ones(m + nm), row_lower, row_upper,
        a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data.astype(float), integrality,
    )  # fmt: skip
    h.setOptionValue("mip_rel_gap", TOL)
    h.setOptionValue("time_limit", max(1.0, time_limit - (time.perf_counter() - start)))
    h.run()
    seconds = time.perf_counter() - start
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    objective = float(info.objective_function_value) if has_solution else math.nan
    gap = float(info.mip_gap) if has_solution else math.inf
    return Solve(objective, gap, seconds, float(info.mip_dual_bound))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("dir", type=Path, nargs="?", help="folder with cap*.txt and optima.csv")
    parser.add_argument(
        "--generate", nargs=3, type=int, metavar=("N", "M", "SEED"),
        help="also solve a generated instance of N mines and M sites",
    )  # fmt: skip
    parser.add_argument(
        "--time-limit", type=float, default=60.0, help="seconds per solve and solver (60)"
    )
    parser.add_argument(
        "--docs", action="store_true",
        help="also write what it prints to docs/performance/orlib_cflp.md",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.dir is None and args.generate is None:
        parser.error("give DIR, --generate N M SEED or both")
    printed: list[str] = []

    def say(text: str = "") -> None:
        """Print a line now (a run can be long) and keep it for ``--docs``."""
        printed.extend(text.split("\n"))
        print(text, flush=True)

    quiet_highs_banner()
    method = 'method="exact"' if HAS_METHOD else "the default method (no method parameter)"
    say(
        f"ours: CapacitatedFacilityLocation({method}, single_sourcing=False, tol={TOL:g}, "
        f"time_limit={args.time_limit:g}); HiGHS {highspy.Highs().version()}: strong formulation "
        "through highspy, same limits"
    )
    # The first solve in a process loads numba's compiled kernels (compiles them once after an
    # install): timed apart, as the network benchmark does, so the table compares solving.
    warm = solve_ours(generate(40, 10, 0), args.time_limit)
    say(f"first solve in this process (loads the compiled kernels): {warm.seconds:.2f} s")
    if args.generate:
        n, m, seed = args.generate
        instance = generate(n, m, seed)
        ours = solve_ours(instance, args.time_limit)
        highs = solve_highs(instance, args.time_limit)
        bound = max(ours.bound, highs.bound)
        say(
            f"\ngenerated: {n} mines, {m} sites, seed {seed}; total output "
            f"{instance.demand.sum():.1f} Mt/yr, total capacity {instance.capacity.sum():.1f}"
        )
        say(f"{'solver':<6} {'objective':>12} {'proven_%':>9} {'seconds':>8}")
        for label, s in (("ours", ours), ("highs", highs)):
            say(f"{label:<6} {s.objective:>12.1f} {s.gap * 100:>9.3f} {s.seconds:>8.2f}")
        say(
            f"generated n={n} m={m} seed={seed} ours_s={ours.seconds:.1f} "
            f"ours_gap_pct={ours.gap * 100:.3f} highs_s={highs.seconds:.1f} "
            f"highs_gap_pct={highs.gap * 100:.3f} "
            f"ours_vs_best_bound_pct={(ours.objective - bound) / bound * 100:.3f}"
        )

    if args.dir is not None:
        optima = read_optima(args.dir / "optima.csv")
        files = {f.stem: f for f in args.dir.glob("cap*.txt") if f.stem in optima}
        say(
            f"\n{'instance':<9} {'m':>4} {'n':>5} {'ours_s':>7} {'highs_s':>7} {'ours_obj':>13} "
            f"{'highs_obj':>13} {'optimum':>13} {'gap_%':>8} {'at_optimum':>10}"
        )
        solved = at_optimum = 0
        max_gap = -math.inf
        our_s = highs_s = 0.0
        for name in sorted(files, key=natural_key):
            m_ref, n_ref, capacity, opt = optima[name]
            instance = load(files[name], capacity)
            n, m = instance.cost.shape
            if (m, n) != (m_ref, n_ref):
                raise ValueError(f"{name}: file has m={m} n={n}, optima.csv says {m_ref} {n_ref}")
            ours = solve_ours(instance, args.time_limit)
            highs = solve_highs(instance, args.time_limit)
            gap = (ours.objective - opt) / opt * 100
            reached = abs(ours.objective - opt) <= PROVEN * opt
            solved += ours.gap <= PROVEN
            at_optimum += reached
            max_gap = max(max_gap, gap)
            our_s += ours.seconds
            highs_s += highs.seconds
            say(
                f"{name:<9} {m:>4} {n:>5} {ours.seconds:>7.2f} {highs.seconds:>7.2f} "
                f"{ours.objective:>13.3f} {highs.objective:>13.3f} {opt:>13.3f} {gap:>8.4f} "
                f"{'yes' if reached else 'no':>10}"
            )
        speedup = highs_s / our_s if our_s > 0 else math.nan
        say(
            f"cflp solved={solved}/{len(files)} at_optimum={at_optimum} "
            f"max_gap_pct={max_gap:.3f} total_s={our_s:.1f} speedup_vs_highs={speedup:.2f}"
        )
    if args.docs:
        record(
            "orlib_cflp",
            printed,
            notes=(
                "Each OR-Library instance solved by `CapacitatedFacilityLocation` (split "
                "sourcing) and, in the same process, by HiGHS on the strong formulation built "
                "by the benchmark itself; the `generated` lines are one real-scale instance of "
                "`benchmarks/cflp_instances.py` (clustered mines, lognormal outputs, a grid of "
                "sites, binding capacities) under the same time limit. `proven_%` is each "
                "solver's own proven gap; `ours_vs_best_bound_pct` our objective over the best "
                "lower bound either solver proved."
            ),
        )


if __name__ == "__main__":
    main(sys.argv[1:])
