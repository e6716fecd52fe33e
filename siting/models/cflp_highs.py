"""HiGHS for the single-sourced capacitated facility location of
:mod:`siting.models.cflp_solver`: the generalised assignment of clients to a given open set, and
the full MILP kept against a heuristic start.

scipy's HiGHS (:func:`scipy.optimize.milp`), not highspy: highspy prints its banner on stdout
whatever its options (ERGO-Code/HiGHS#2749), and stdout is the user's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from siting.models.cflp_solver import Problem


def single_sourced(
    prob: Problem, open_: np.ndarray, time_limit: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """A single-sourced assignment of the clients to an open set (with expansion), by HiGHS
    on the small generalised assignment MILP. Returns ``(x, e)`` or None if none was found."""
    sites = np.flatnonzero(open_)
    n, k = len(prob.w), len(sites)
    c = np.concatenate([prob.whole[sites].T.ravel(), prob.unit[sites]])
    one = sp.hstack([sp.kron(sp.eye(n), np.ones((1, k))), sp.csr_matrix((n, k))])
    cap = sp.hstack([sp.kron(prob.w[None, :], sp.eye(k)), -sp.eye(k)])
    res = milp(
        c,
        constraints=[LinearConstraint(one, 1, 1), LinearConstraint(cap, -np.inf, prob.base[sites])],
        integrality=np.concatenate([np.ones(n * k), np.zeros(k)]),
        bounds=Bounds(0, np.concatenate([np.ones(n * k), prob.room[sites]])),
        options={"time_limit": max(0.1, time_limit)},
    )
    if res.x is None:
        return None
    x = np.zeros((n, len(open_)))
    x[:, sites] = np.round(res.x[: n * k].reshape(n, k))
    e = np.zeros(len(open_))
    e[sites] = res.x[n * k :].clip(0, prob.room[sites])
    return x, e


@dataclass
class HighsResult:
    """What HiGHS returned for the full MILP."""

    x: np.ndarray | None
    value: float
    bound: float


def solve_highs(
    objective: np.ndarray,
    matrix: sp.csr_matrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    integrality: np.ndarray,
    bounds: Bounds,
    start: np.ndarray | None,
    time_limit: float,
    rel_tol: float,
) -> HighsResult:
    """Solve a MILP with HiGHS (:func:`scipy.optimize.milp`) and keep the better of its
    solution and ``start`` (a feasible point, or None).

    scipy's HiGHS takes no starting point; highspy's would (``setSolution``), but highspy prints
    its banner on stdout whatever its options (ERGO-Code/HiGHS#2749), and stdout is the user's.
    """
    res = milp(
        objective,
        constraints=[LinearConstraint(matrix, row_lower, row_upper)],
        integrality=integrality,
        bounds=bounds,
        options={"time_limit": max(0.1, float(time_limit)), "mip_rel_gap": float(rel_tol)},
    )
    bound = float(getattr(res, "mip_dual_bound", -np.inf) or -np.inf)
    found = None if res.x is None else np.asarray(res.x, dtype=float)
    value = np.inf if found is None else float(res.fun)
    if start is not None:
        at_start = float(np.dot(objective, start))
        if at_start < value:
            found, value = np.asarray(start, dtype=float), at_start
    return HighsResult(found, value, bound)
