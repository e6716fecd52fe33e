"""Our exact p-median solver against PySAL spopt on the OR-Library instances, side by side.

Usage: python benchmarks/orlib_pmedian.py DIR [--spopt-budget SECONDS] [--spopt-max-n N]
                                              [--no-spopt] [--only pmed1,pmed6,...]

DIR holds Beasley's ``pmed*.txt`` files and ``optima.csv`` (columns instance, n, p, optimal),
e.g. /work/shared/data/orlib. Each instance is read as its all-pairs shortest-path cost matrix
(every node a client of weight 1 and a candidate site) and solved with
``siting.models.PMedian(method="exact")``; one line per instance gives our objective, the
published optimum, our gap to it (%), the solver's proven gap (%) and our wall time.

Then, in the same process and on the same cost matrices, spopt's ``PMedian`` (PuLP model solved
by HiGHS, ``--spopt-budget`` seconds, default 60) is timed, model building included. It counts as
finished if it returned within the budget with a proven optimum; for those instances its
objective, its time, ours and the ratio are printed. HiGHS gets what is left of the budget after
PuLP has built the model. Instances with more than ``--spopt-max-n`` nodes (default 300) are not
given to spopt: building the PuLP model alone outlasts the budget there (measured here: pmed16,
n = 400, returned after 299 s with a 60 s budget). ``--no-spopt`` skips this part.

The last line sums up: instances proven optimal, instances at the published optimum, the largest
gap to it, our total seconds and spopt's total seconds over ours on the instances spopt finished.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _highs import quiet_highs_banner

from siting.inputs.sources.orlib import read_pmed
from siting.models import PMedian

from _report import record

METHOD = "exact"


@dataclass
class Result:
    """Our solve of one instance."""

    name: str
    cost: np.ndarray
    p: int
    optimum: float
    objective: float
    proven_gap: float
    seconds: float

    @property
    def gap_pct(self) -> float:
        """Gap of our objective to the published optimum, in %."""
        return (self.objective - self.optimum) / self.optimum * 100


def natural_key(name: str) -> list[int | str]:
    """Sort key that puts ``pmed2`` before ``pmed10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def read_optima(path: Path) -> dict[str, tuple[int, int, float]]:
    """Read ``optima.csv``.

    Returns
    -------
    dict
        Instance name → (n, p, published optimal objective).
    """
    with path.open(newline="") as f:
        return {
            row["instance"]: (int(row["n"]), int(row["p"]), float(row["optimal"]))
            for row in csv.DictReader(f)
        }


def solve_ours(name: str, path: Path, optimum: tuple[int, int, float]) -> Result:
    """Read one instance and solve it with our exact p-median solver.

    Parameters
    ----------
    name
        Instance name (``pmed1`` …).
    path
        Its ``pmed*.txt`` file.
    optimum
        (n, p, optimal objective) from ``optima.csv``; n and p are checked against the file.
    """
    cost, p = read_pmed(path)
    n_ref, p_ref, opt = optimum
    if (len(cost), p) != (n_ref, p_ref):
        raise ValueError(
            f"{name}: file has n={len(cost)} p={p}, optima.csv says n={n_ref} p={p_ref}"
        )
    start = time.perf_counter()
    model = PMedian(p=p, method=METHOD, seed=0).fit(cost)
    seconds = time.perf_counter() - start
    return Result(name, cost, p, opt, model.objective_, model.gap_, seconds)


def solve_spopt(cost: np.ndarray, p: int, budget: float) -> tuple[bool, float, float, str]:
    """Build and solve spopt's p-median model of ``cost`` with HiGHS through PuLP.

    Returns
    -------
    finished, objective, seconds, status
        ``finished`` is true if the solve returned within ``budget`` seconds (model building
        included) with a proven optimum. PuLP reports a HiGHS time-out that has a feasible
        solution as status "Optimal", so the solution status must say "Optimal Solution Found"
        too. ``objective`` is NaN when there is no solution.
    """
    import pulp
    from spopt.locate import PMedian as SpoptPMedian

    start = time.perf_counter()
    model = SpoptPMedian.from_cost_matrix(cost, weights=np.ones(len(cost)), p_facilities=p)
    left = max(1.0, budget - (time.perf_counter() - start))
    # spopt raises RuntimeError unless PuLP's status is Optimal (e.g. no solution in time).
    with contextlib.suppress(RuntimeError):
        model.solve(pulp.HiGHS(msg=False, timeLimit=left))
    seconds = time.perf_counter() - start
    problem = model.problem
    status = f"{pulp.LpStatus[problem.status]} / {pulp.LpSolution[problem.sol_status]}"
    proven = problem.status == pulp.LpStatusOptimal and problem.sol_status == pulp.LpSolutionOptimal
    value = problem.objective.value() if problem.sol_status > 0 else None
    objective = float("nan") if value is None else float(value)
    return proven and seconds <= budget, objective, seconds, status


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("dir", type=Path, help="folder with pmed*.txt and optima.csv")
    parser.add_argument(
        "--spopt-budget", type=float, default=60.0, help="seconds per spopt solve (default 60)"
    )
    parser.add_argument(
        "--spopt-max-n", type=int, default=300, help="largest n given to spopt (default 300)"
    )
    parser.add_argument("--no-spopt", action="store_true", help="skip the spopt comparison")
    parser.add_argument("--only", help="comma-separated instances, e.g. pmed1,pmed6")
    parser.add_argument(
        "--docs", action="store_true",
        help="also write what it prints to docs/performance/orlib_pmedian.md",
    )  # fmt: skip
    args = parser.parse_args(argv)
    printed: list[str] = []

    def say(text: str = "") -> None:
        """Print a line now (the run is long) and keep it for ``--docs``."""
        printed.extend(text.split("\n"))
        print(text, flush=True)

    optima = read_optima(args.dir / "optima.csv")
    files = {f.stem: f for f in args.dir.glob("pmed*.txt")}
    names = sorted(files, key=natural_key)
    if args.only:
        names = [s.strip() for s in args.only.split(",") if s.strip()]
        missing = [s for s in names if s not in files]
        if missing:
            parser.error(f"no {', '.join(f + '.txt' for f in missing)} in {args.dir}")
        names = sorted(set(names), key=natural_key)
    missing = [s for s in names if s not in optima]
    if missing:
        parser.error(f"no optimum for {', '.join(missing)} in {args.dir / 'optima.csv'}")

    say(
        f"{'instance':<9} {'n':>4} {'p':>4} {'objective':>11} {'optimum':>11} "
        f"{'gap_%':>8} {'proven_%':>9} {'seconds':>8}"
    )
    results: list[Result] = []
    for name in names:
        r = solve_ours(name, files[name], optima[name])
        results.append(r)
        say(
            f"{r.name:<9} {len(r.cost):>4} {r.p:>4} {r.objective:>11.1f} {r.optimum:>11.1f} "
            f"{r.gap_pct:>8.3f} {r.proven_gap * 100:>9.3f} {r.seconds:>8.2f}"
        )

    spopt_s = our_s = 0.0
    if not args.no_spopt and results:
        quiet_highs_banner()
        say(f"\nspopt 0.7 PMedian, PuLP + HiGHS, budget {args.spopt_budget:g} s per instance")
        say(f"{'instance':<9} {'spopt_obj':>11} {'spopt_s':>8} {'our_s':>8} {'ratio':>7}")
        for r in results:
            if len(r.cost) > args.spopt_max_n:
                say(f"{r.name:<9} not given to spopt (n = {len(r.cost)} > {args.spopt_max_n})")
                continue
            done, obj, secs, status = solve_spopt(r.cost, r.p, args.spopt_budget)
            if done:
                spopt_s += secs
                our_s += r.seconds
                say(
                    f"{r.name:<9} {obj:>11.1f} {secs:>8.2f} {r.seconds:>8.2f} "
                    f"{secs / r.seconds:>7.1f}"
                )
            else:
                say(
                    f"{r.name:<9} did not finish within {args.spopt_budget:g} s "
                    f"(returned after {secs:.1f} s, {status})"
                )

    solved = sum(r.proven_gap <= 1e-9 for r in results)
    at_optimum = sum(abs(r.objective - r.optimum) < 1e-6 for r in results)
    max_gap = max((r.gap_pct for r in results), default=math.nan)
    total = sum(r.seconds for r in results)
    speedup = spopt_s / our_s if our_s > 0 else math.nan
    say(
        f"orlib solved={solved}/{len(results)} at_optimum={at_optimum} max_gap_pct={max_gap:.3f} "
        f"total_s={total:.1f} speedup_vs_spopt={speedup:.2f}"
    )
    if args.docs:
        record(
            "orlib_pmedian",
            printed,
            notes=(
                'Each OR-Library instance solved by `PMedian(method="exact")` and, in the same '
                "process on the same cost matrices, by spopt's PMedian (PuLP + HiGHS); the last "
                "line sums up. Target: every instance proven optimal at the published optimum."
            ),
        )


if __name__ == "__main__":
    main(sys.argv[1:])
