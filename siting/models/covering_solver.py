"""The solvers behind :class:`siting.models.MaximalCovering` and :class:`siting.models.PCenter`
(``method="exact"``): a heuristic start, a proven bound, and HiGHS only where the gap stays open.

Maximal covering (Church & ReVelle 1974) is reduced first: the clients the fixed sites already
cover, and those no free site reaches, leave the problem, and clients reached by the same free
sites are merged (their weights summed). A greedy construction followed by a best-improvement
1-opt interchange gives the incumbent. Relaxing the coverage constraints
``z_i <= Σ_j a_ij y_j`` with multipliers ``u_i >= 0`` gives the Lagrangian bound

    L(u) = Σ_i max(0, w_i − u_i) + (sum of the k largest v_j),   v_j = Σ_i u_i a_ij,

(``k`` the free sites to open) minimised by subgradient steps (Galvão & ReVelle 1996), whose
relaxed selections are also tried as solutions. When the incumbent meets the bound (up to
round-off, or within 1 when the weights are integers) the search stops. Otherwise the bound's
reduced-cost tests fix the sites that cannot be in (or out of) a better selection, and HiGHS
solves what is left with the incumbent's value as a cut. The proven gap combines both.

The p-center starts from a greedy construction (each step opens the site that lowers the
largest cost most) and a best-improvement interchange. Its lower bound is the smallest cost
value ``r`` whose set-covering LP (every client within ``r`` of an open site, at most ``p``
sites) is feasible, found by bisection over the distinct costs. The same bisection with the
set-covering MILP (HiGHS) then closes the gap (Daskin 2000; Ilhan & Pinar 2001).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, linprog, milp

#: Relative optimality tolerance of HiGHS, as in :func:`siting.models.milp.solve`.
TOL = 1e-4
#: Relative gap at which the bound alone ends the maximal-covering search: round-off, so that
#: the result is an optimum (as HiGHS finds) whenever HiGHS is not needed.
BOUND_TOL = 1e-9


@dataclass
class Coverage:
    """A maximal-covering solution with its proof."""

    sites: np.ndarray
    """Open sites (the fixed ones included), sorted."""
    value: float
    """Client weight they cover."""
    bound: float
    """Proven upper bound on the weight any selection covers."""
    lagrangian: float
    """The Lagrangian bound alone (before HiGHS)."""
    iterations: int
    """Subgradient iterations."""


def covered_weight(reach: np.ndarray, w: np.ndarray, sites: np.ndarray) -> float:
    """Client weight covered by ``sites`` (``reach``: clients × sites, True where in reach)."""
    return float(w[reach[:, sites].any(axis=1)].sum())


def _columns(a: sp.csc_matrix, j: int) -> np.ndarray:
    return a.indices[a.indptr[j] : a.indptr[j + 1]]


def greedy_cover(a: sp.csc_matrix, w: np.ndarray, k: int) -> np.ndarray:
    """Open ``k`` sites one at a time, each the one covering the most weight still uncovered."""
    count = np.zeros(a.shape[0])
    chosen: list[int] = []
    at = a.T.tocsr()
    for _ in range(k):
        gain = at @ (w * (count == 0))
        gain[chosen] = -1.0
        j = int(np.argmax(gain))
        chosen.append(j)
        count[_columns(a, j)] += 1
    return np.array(chosen, dtype=int)


def swap_cover(
    a: sp.csc_matrix, w: np.ndarray, open_: np.ndarray, deadline: float = np.inf
) -> np.ndarray:
    """Best-improvement swaps (open one site, close another) until none covers more.

    With ``count`` the open sites covering each client, closing ``r`` loses the weight only
    ``r`` covers, and opening ``j`` in its place gains what is uncovered plus what only ``r``
    covered of ``j``'s clients: every swap is valued at once by two sparse products.
    """
    open_ = np.array(open_, dtype=int)
    at = a.T.tocsr()
    count = np.asarray(a[:, open_].sum(axis=1)).ravel()
    eps = 1e-12 * max(1.0, float(w.sum()))
    while time.perf_counter() < deadline:
        sole = sp.csc_matrix(a[:, open_].multiply((w * (count == 1))[:, None]))
        loss = np.asarray(sole.sum(axis=0)).ravel()
        gain = at @ (w * (count == 0))
        value = gain[:, None] + (at @ sole).toarray() - loss[None, :]
        value[open_, :] = -np.inf
        j, r = np.unravel_index(int(np.argmax(value)), value.shape)
        if value[j, r] <= eps:
            break
        count[_columns(a, int(open_[r]))] -= 1
        count[_columns(a, int(j))] += 1
        open_[r] = j
    return open_


def _lagrangian(
    a: sp.csr_matrix,
    w: np.ndarray,
    k: int,
    best: np.ndarray,
    deadline: float,
    done: Callable[[float, float], bool],
) -> tuple[float, np.ndarray, np.ndarray, int]:
    """Subgradient minimisation of L(u); returns the bound, its multipliers, the best selection
    seen (``best`` or a relaxed selection that covers more) and the iterations."""
    at = a.T.tocsr()
    u = w.copy()
    lower = float(w[(a @ _indicator(a.shape[1], best)) > 0].sum())
    bound, best_u = np.inf, u
    step, stall, iteration = 2.0, 0, 0
    checkpoint = np.inf
    while iteration < 1000:
        iteration += 1
        if iteration % 100 == 0:
            # Stop when the last 100 steps closed under a tenth of the gap: the rest is the
            # LP's own gap, for HiGHS to close.
            if checkpoint - bound < 0.1 * (bound - lower):
                break
            checkpoint = bound
        v = at @ u
        top = np.argpartition(-v, k - 1)[:k]
        z = w - u > 0
        value = float((w - u)[z].sum() + v[top].sum())
        if value < bound - 1e-12 * abs(bound if np.isfinite(bound) else value):
            bound, best_u, stall = value, u.copy(), 0
        else:
            stall += 1
            if stall >= 20:
                step, stall = step / 2, 0
        count = a @ _indicator(a.shape[1], top)
        covered = float(w[count > 0].sum())
        if covered > lower:
            lower, best = covered, top
        s = z - count
        norm = float(s @ s)
        if norm == 0 or step < 1e-3 or done(lower, bound) or time.perf_counter() > deadline:
            break
        u = np.clip(u + step * max(value - lower, 0.0) / norm * s, 0.0, w)
    return bound, best_u, best, iteration


def _indicator(m: int, sites: np.ndarray) -> np.ndarray:
    y = np.zeros(m)
    y[sites] = 1.0
    return y


def max_cover(
    reach: np.ndarray,
    w: np.ndarray,
    p: int,
    fixed: np.ndarray,
    time_limit: float,
    tol: float = BOUND_TOL,
) -> Coverage:
    """Open ``p`` sites (``fixed`` included) covering the most weight, with a proven bound.

    Parameters
    ----------
    reach
        Boolean, clients × sites: whether the site covers the client.
    w
        Client weights (>= 0).
    p
        Sites to open, ``len(fixed) <= p <= reach.shape[1]``.
    fixed
        Sites kept open.
    time_limit
        Seconds for the whole search; on timeout the best selection found is returned with the
        bound proven so far.
    tol
        Relative gap at which the bound alone ends the search (HiGHS, if needed, stops at
        :data:`TOL`, as ``method="milp"`` does). When every weight is an integer a selection
        within 1 of the bound is proven optimal whatever ``tol``.
    """
    deadline = time.perf_counter() + time_limit
    m = reach.shape[1]
    fixed = np.asarray(fixed, dtype=int)
    free = np.setdiff1d(np.arange(m), fixed)
    k = p - len(fixed)
    base_covered = reach[:, fixed].any(axis=1)
    base = float(w[base_covered].sum())
    rows = np.flatnonzero(~base_covered & (w > 0))
    sub = reach[np.ix_(rows, free)]
    rows, sub = rows[sub.any(axis=1)], sub[sub.any(axis=1)]
    if k == 0 or len(rows) == 0 or k >= len(free):
        # Nothing to choose, or every choice covers the same.
        sites = np.sort(np.concatenate([fixed, free[:k]]))
        value = covered_weight(reach, w, sites)
        return Coverage(sites, value, value, value, 0)
    # Clients reached by the same free sites are one client of their summed weight.
    _, first, inverse = np.unique(
        np.packbits(sub, axis=1), axis=0, return_index=True, return_inverse=True
    )
    weights = np.bincount(inverse.reshape(-1), w[rows])
    a = sp.csr_matrix(sub[first], dtype=float)
    integral = bool(np.all(w == np.round(w)))

    def proven(upper: float) -> float:
        """The bound on the reduced problem, rounded down when weights are integers (after a
        margin above the round-off of its sums, so that the rounding never cuts the optimum)."""
        return float(np.floor(upper + 1e-9 * max(1.0, abs(upper)))) if integral else upper

    def done(lower: float, upper: float) -> bool:
        upper = proven(upper)
        total = base + upper
        return upper - lower <= tol * total or (integral and upper - lower < 1 - 1e-9)

    ac = a.tocsc()
    start = swap_cover(ac, weights, greedy_cover(ac, weights, k), deadline)
    lag, u, best, iterations = _lagrangian(a, weights, k, start, deadline, done)
    if not np.array_equal(np.sort(best), np.sort(start)):
        best = swap_cover(ac, weights, best, deadline)
    lower = float(weights[(a @ _indicator(a.shape[1], best)) > 0].sum())
    lagrangian = proven(lag)
    upper = lagrangian
    if not done(lower, upper) and time.perf_counter() < deadline:
        best, lower, upper = _finish(a, weights, k, best, lower, upper, u, deadline, tol, integral)
        upper = proven(upper)
    sites = np.sort(np.concatenate([fixed, free[best]]))
    value = covered_weight(reach, w, sites)
    return Coverage(sites, value, base + max(upper, lower), base + lagrangian, iterations)


def _finish(
    a: sp.csr_matrix,
    w: np.ndarray,
    k: int,
    best: np.ndarray,
    lower: float,
    upper: float,
    u: np.ndarray,
    deadline: float,
    tol: float,
    integral: bool,
) -> tuple[np.ndarray, float, float]:
    """Fix the sites the Lagrangian bound settles, solve the rest with HiGHS; returns the best
    selection, its covered weight and the proven bound (all on the reduced problem)."""
    m = a.shape[1]
    v = a.T.tocsr() @ u
    order = np.argsort(-v, kind="stable")
    vk = v[order[k - 1]]
    vk1 = v[order[k]] if k < m else 0.0
    z = w - u > 0
    lag = float((w - u)[z].sum() + v[order[:k]].sum())
    inside = np.zeros(m, dtype=bool)
    inside[order[:k]] = True
    # The bound with site j forced in (if out of the relaxed selection) or out (if in it).
    forced = np.where(inside, lag - v + vk1, lag - vk + v)
    # A selection that improves on `lower` covers at least `need`; the others, at most `kept`.
    if integral:
        need, kept = lower + 0.5, lower
    else:
        need = kept = lower + tol * lower
    settled = forced < need
    # What the settled sites' alternatives could reach at most: part of the proven bound.
    excluded = float(forced[settled].max()) if settled.any() else -np.inf
    sites = np.flatnonzero(~(settled & ~inside))
    sub = a[:, sites]
    rows = np.flatnonzero(np.asarray(sub.sum(axis=1)).ravel() > 0)
    sub = sub[rows]
    ms, ns = len(sites), len(rows)
    low = np.zeros(ms + ns)
    low[:ms][settled[sites] & inside[sites]] = 1
    cover = sp.hstack([-sub, sp.eye(ns)])
    count = sp.hstack([sp.csr_matrix(np.ones((1, ms))), sp.csr_matrix((1, ns))])
    # The incumbent's value as a cut (scipy's HiGHS takes no starting solution): HiGHS looks only
    # for better selections, and often proves at once that there is none.
    # Weights scaled to a total of 1e6, whatever the unit of the demand: HiGHS's feasibility
    # tolerances are absolute.
    scale = 1e6 / float(w.sum())
    share = w[rows] * scale
    better = sp.hstack([sp.csr_matrix((1, ms)), sp.csr_matrix(share[None, :])])
    res = _highs(
        np.concatenate([np.zeros(ms), -share]),
        [
            LinearConstraint(cover, -np.inf, 0),
            LinearConstraint(count, k, k),
            LinearConstraint(better, need * scale, np.inf),
        ],
        # z integer too (it changes no optimum): with z continuous, the HiGHS inside scipy
        # prints a debug line on stdout when the cut leaves a solution borderline.
        np.ones(ms + ns),
        Bounds(low, 1),
        deadline,
        TOL,
    )
    if res.status == 2:
        # No selection within the fixings and the cut: none improves on `lower`.
        return best, lower, min(upper, max(kept, excluded))
    if res.x is not None:
        found = sites[res.x[:ms] > 0.5]
        value = float(w[(a @ _indicator(m, found)) > 0].sum())
        if len(found) == k and value > lower:
            best, lower = found, value
    dual = getattr(res, "mip_dual_bound", None)
    if dual is not None and np.isfinite(dual):
        upper = min(upper, max(lower, kept, excluded, -float(dual) / scale))
    return best, lower, upper


def _highs(
    objective: np.ndarray,
    constraints: list[LinearConstraint],
    integrality: np.ndarray,
    bounds: Bounds,
    deadline: float,
    tol: float,
) -> OptimizeResult:
    """:func:`scipy.optimize.milp` with the time left; an infeasible model is a result (status
    2), not an error."""
    return milp(
        objective,
        constraints=constraints,
        integrality=integrality,
        bounds=bounds,
        options={"time_limit": max(deadline - time.perf_counter(), 0.01), "mip_rel_gap": tol},
    )


@dataclass
class Center:
    """A p-center solution with its proof."""

    sites: np.ndarray
    """Open sites, sorted."""
    value: float
    """Largest client cost to its nearest open site."""
    lower: float
    """Proven lower bound on that largest cost."""
    lp_bound: float
    """The set-covering LP bound alone (before the MILPs)."""


def center_value(cost: np.ndarray, sites: np.ndarray) -> float:
    """Largest client cost to the nearest of ``sites``."""
    return float(cost[:, sites].min(axis=1).max())


def greedy_center(cost: np.ndarray, p: int) -> np.ndarray:
    """Open ``p`` sites one at a time, each the one lowering the largest cost most (ties: the
    total cost)."""
    nearest = np.full(len(cost), np.inf)
    chosen: list[int] = []
    for _ in range(p):
        trial = np.minimum(cost, nearest[:, None])
        worst, total = trial.max(axis=0), trial.sum(axis=0)
        worst[chosen] = np.inf
        j = int(np.lexsort((total, worst))[0])
        chosen.append(j)
        nearest = trial[:, j]
    return np.array(chosen, dtype=int)


def swap_center(cost: np.ndarray, open_: np.ndarray, deadline: float = np.inf) -> np.ndarray:
    """Best-improvement swaps until none lowers (largest cost, total cost) lexicographically."""
    open_ = np.array(open_, dtype=int)
    if len(open_) == cost.shape[1]:
        return open_
    while time.perf_counter() < deadline:
        sub = cost[:, open_]
        now = sub.min(axis=1)
        current = (float(now.max()), float(now.sum()))
        if len(open_) > 1:
            part = np.partition(sub, 1, axis=1)
            second, first = part[:, 1], np.argmin(sub, axis=1)
        else:
            second, first = np.full(len(cost), np.inf), np.zeros(len(cost), dtype=int)
        best: tuple[float, float, int, int] | None = None
        for r in range(len(open_)):
            without = np.where(first == r, second, now)
            trial = np.minimum(cost, without[:, None])
            worst, total = trial.max(axis=0), trial.sum(axis=0)
            worst[open_] = np.inf
            j = int(np.lexsort((total, worst))[0])
            if best is None or (worst[j], total[j]) < best[:2]:
                best = (float(worst[j]), float(total[j]), j, r)
        assert best is not None
        if (best[0], best[1]) >= (current[0], current[1] - 1e-9 * max(1.0, current[1])):
            break
        open_[best[3]] = best[2]
    return open_


def _set_cover_lp(cost: np.ndarray, radius: float, p: int) -> bool:
    """Whether the LP relaxation of "cover every client within ``radius`` by at most ``p``
    sites" is feasible (if not, the p-center optimum exceeds ``radius``)."""
    a = sp.csr_matrix(cost <= radius, dtype=float)
    res = linprog(
        np.ones(cost.shape[1]), A_ub=-a, b_ub=-np.ones(len(cost)), bounds=(0, 1), method="highs"
    )
    # The margin is above the LP's round-off: a radius wrongly refused would cut the optimum.
    return bool(res.status == 0 and res.fun <= p + 1e-6 * max(1.0, p))


def p_center(cost: np.ndarray, p: int, time_limit: float) -> Center:
    """Open ``p`` sites minimising the largest client cost, with a proven lower bound.

    Parameters
    ----------
    cost
        Finite cost matrix, clients × sites.
    p
        Sites to open, ``<= cost.shape[1]``.
    time_limit
        Seconds for the whole search; on timeout the best selection found is returned with the
        bound proven so far.
    """
    deadline = time.perf_counter() + time_limit
    m = cost.shape[1]
    sites = swap_center(cost, greedy_center(cost, p), deadline)
    value = center_value(cost, sites)
    # The optimum is one of the costs, at least every client's nearest site.
    floor = float(cost.min(axis=1).max())
    radii = np.unique(cost[(cost >= floor) & (cost <= value)])
    lo, hi = 0, len(radii) - 1
    while lo < hi and time.perf_counter() < deadline:
        mid = (lo + hi) // 2
        if _set_cover_lp(cost, radii[mid], p):
            hi = mid
        else:
            lo = mid + 1
    lp_bound = float(radii[lo])
    # Bisection with the set-covering MILP on the radii left, the LP bound's radius first (it
    # is often the optimum). Each probe asks HiGHS only for some cover by at most p sites
    # (no objective: it stops at the first), clients with the same sites in reach as one row.
    hi = len(radii) - 1
    probe = lo
    while lo < hi and time.perf_counter() < deadline:
        within = cost <= radii[probe]
        _, first = np.unique(np.packbits(within, axis=1), axis=0, return_index=True)
        res = _highs(
            np.zeros(m),
            [
                LinearConstraint(sp.csr_matrix(within[np.sort(first)], dtype=float), 1, np.inf),
                LinearConstraint(np.ones((1, m)), 0, p),
            ],
            np.ones(m),
            Bounds(0, 1),
            deadline,
            TOL,
        )
        if res.x is not None:
            chosen = np.flatnonzero(res.x > 0.5)
            extra = np.setdiff1d(np.arange(m), chosen)[: p - len(chosen)]
            found = np.concatenate([chosen, extra])
            reached = center_value(cost, found)
            if reached > radii[probe]:
                break  # HiGHS's tolerances let a client slip: stop with the gap open
            if reached <= value:
                sites, value = found, reached
            hi = int(np.searchsorted(radii, value))
        elif res.status == 2:
            # More than p sites are needed: the optimum exceeds this radius.
            lo = probe + 1
        else:
            break  # out of time with the question open
        probe = (lo + hi) // 2
    return Center(np.sort(sites), value, float(radii[lo]), lp_bound)
