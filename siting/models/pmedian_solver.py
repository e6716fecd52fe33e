"""The p-median solver behind :class:`siting.models.PMedian`: greedy construction, vectorised
fast interchange, Lagrangian bound and branch-and-bound.

The interchange evaluates every swap (open facility ``i``, close ``r``) at once. With ``d1``/``d2``
the costs of each client's nearest and second-nearest open facility and ``c1`` the nearest's
index, the saving of a swap is

    gain(i) − loss(i, r),
    gain(i)    = Σ_j w_j · max(0, d1_j − c_ji)
    loss(i, r) = Σ_{j: c1_j = r} w_j · (clip(c_ji, d1_j, d2_j) − d1_j)

(Whitaker 1983; Resende & Werneck 2003), an ``n × m`` product per step instead of ``p·m`` full
re-evaluations. Random perturbations of the best solution followed by the interchange
(a variable-neighbourhood search, seeded) escape local optima.

The exact solver proves optimality with the Lagrangian relaxation of the assignment constraints
(Cornuéjols, Fisher & Nemhauser 1977; Beasley 1993). For multipliers ``λ`` the bound is

    L(λ) = Σ_i λ_i + (sum of the p smallest ρ_j),   ρ_j = Σ_i min(0, c_ij − λ_i),

maximised by subgradient steps. With the heuristic's objective ``U`` as upper bound, reduced-cost
tests remove every site and every client–site pair that cannot be part of a solution cheaper than
``U`` (:func:`reduce`); what is left, usually a few dozen sites, is searched by a depth-first
branch-and-bound on sites with the same bound at each node (:func:`branch_and_bound`), or handed
to HiGHS as a radius formulation (:func:`solve_milp`; García, Labbé & Marín 2011).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp


def objective(cost: np.ndarray, weights: np.ndarray, open_: np.ndarray) -> float:
    """Σ weight × cost to the nearest open facility."""
    return float((weights * cost[:, open_].min(axis=1)).sum())


def greedy(cost: np.ndarray, weights: np.ndarray, p: int) -> np.ndarray:
    """Open ``p`` facilities one at a time, each time the one that lowers the objective most."""
    nearest = np.full(len(cost), np.inf)
    open_: list[int] = []
    for _ in range(p):
        # Total weighted cost if each facility were added (the first step: its column sum).
        with np.errstate(invalid="ignore"):
            total = (weights[:, None] * np.minimum(cost, nearest[:, None])).sum(axis=0)
        total[open_] = np.inf
        best = int(np.argmin(total))
        open_.append(best)
        nearest = np.minimum(nearest, cost[:, best])
    return np.sort(np.array(open_))


def _nearest_two(cost: np.ndarray, open_: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sub = cost[:, open_]
    if len(open_) == 1:
        return sub[:, 0], np.full(len(cost), open_[0]), np.full(len(cost), np.inf)
    order = np.argpartition(sub, 1, axis=1)[:, :2]
    rows = np.arange(len(cost))
    a, b = sub[rows, order[:, 0]], sub[rows, order[:, 1]]
    first = np.where(a <= b, order[:, 0], order[:, 1])
    return np.minimum(a, b), open_[first], np.maximum(a, b)


def interchange(
    cost: np.ndarray, weights: np.ndarray, open_: np.ndarray, max_iter: int = 10_000
) -> tuple[np.ndarray, int]:
    """Best-improvement swaps until none lowers the objective.

    Returns
    -------
    open_, n_iter
        The locally optimal set (sorted) and the number of swaps made.
    """
    n = len(cost)
    open_ = np.sort(np.asarray(open_, dtype=int))  # searchsorted below needs it sorted
    rows = np.arange(n)
    for iteration in range(max_iter):
        d1, c1, d2 = _nearest_two(cost, open_)
        gain = weights @ np.maximum(0.0, d1[:, None] - cost)
        extra = weights[:, None] * (np.clip(cost, d1[:, None], d2[:, None]) - d1[:, None])
        # Σ over the clients of each open facility r, as one sparse product.
        slot = np.searchsorted(open_, c1)
        owner = sp.csr_matrix((np.ones(n), (rows, slot)), shape=(n, len(open_)))
        loss = (owner.T @ extra).T  # m × p
        saving = gain[:, None] - loss
        saving[open_] = -np.inf
        i, r = np.unravel_index(int(np.argmax(saving)), saving.shape)
        # Stop when the best swap saves nothing beyond round-off of the objective.
        if saving[i, r] <= 1e-9 * max(1.0, float(weights @ d1)):
            return np.sort(open_), iteration
        open_[r] = i
        open_ = np.sort(open_)
    return np.sort(open_), max_iter


def solve(
    cost: np.ndarray, weights: np.ndarray, p: int, restarts: int = 20, seed: int = 0
) -> tuple[np.ndarray, float, int]:
    """Greedy + interchange, then ``restarts`` seeded perturbations of the best set (each closes
    ``k`` random facilities, opens ``k`` random others and re-runs the interchange, with ``k``
    growing while it finds nothing better).

    Returns
    -------
    open_, objective, n_iter
    """
    rng = np.random.default_rng(seed)
    m = cost.shape[1]
    best, iters = interchange(cost, weights, greedy(cost, weights, p))
    best_value = objective(cost, weights, best)
    k = 1
    for _ in range(restarts):
        if p == m:
            break
        trial = best.copy()
        k_now = min(k, p, m - p)
        out = rng.choice(p, size=k_now, replace=False)
        closed = np.setdiff1d(np.arange(m), best)
        trial[out] = rng.choice(closed, size=k_now, replace=False)
        trial, n = interchange(cost, weights, trial)
        iters += n
        value = objective(cost, weights, trial)
        if value < best_value - 1e-9 * max(1.0, best_value):
            best, best_value, k = trial, value, 1
        else:
            k = k % 3 + 1
    return best, best_value, iters


@dataclass
class Pairs:
    """The client–site pairs still in play, each client's sorted by cost.

    ``cost`` and ``site`` are ``n × K`` (``K`` = most pairs of any client), rows ascending, padded
    with ``inf``; ``cost`` is already multiplied by the client's weight.
    """

    cost: np.ndarray
    site: np.ndarray
    m: int

    @classmethod
    def dense(cls, cost: np.ndarray) -> Pairs:
        order = np.argsort(cost, axis=1, kind="stable")
        return cls(np.take_along_axis(cost, order, axis=1), order, cost.shape[1])

    def subset(self, keep: np.ndarray) -> Pairs:
        """The pairs where ``keep`` (same shape as ``cost``) is true, still sorted per client."""
        order = np.argsort(~keep, axis=1, kind="stable")  # kept entries first, order preserved
        width = max(1, int(keep.sum(axis=1).max()))
        order = order[:, :width]
        kept = np.take_along_axis(keep, order, axis=1)
        cost = np.where(kept, np.take_along_axis(self.cost, order, axis=1), np.inf)
        return Pairs(cost, np.take_along_axis(self.site, order, axis=1), self.m)


@dataclass
class Incumbent:
    """The best solution found so far (the upper bound)."""

    sites: np.ndarray
    value: float

    def offer(self, cost: np.ndarray, sites: np.ndarray) -> None:
        value = objective(cost, np.ones(len(cost)), sites)
        if value < self.value:
            self.sites, self.value = np.sort(sites), value


@dataclass
class Bound:
    """A Lagrangian lower bound and what the reduction tests need from it."""

    value: float
    lam: np.ndarray
    rho: np.ndarray
    chosen: np.ndarray  # sites of the Lagrangian solution (bool, length m)


def lagrangian(
    pairs: Pairs,
    lam: np.ndarray,
    p: int,
    incumbent: Incumbent,
    closed: np.ndarray,
    opened: np.ndarray,
    iters: int,
    tol: float,
    step: float = 2.0,
    patience: int = 30,
    polish: np.ndarray | None = None,
) -> Bound:
    """Subgradient ascent of the Lagrangian bound with ``opened`` sites forced in and ``closed``
    ones forced out, stopping once the bound reaches ``incumbent.value - tol`` (nothing better
    exists) or the step has shrunk to nothing.

    ``polish`` is the full weighted cost matrix: every 50th new Lagrangian solution seeds the
    interchange heuristic (a Lagrangian heuristic), which often finds the optimum the plain
    heuristic missed.
    """
    free = ~(opened | closed)
    k = p - int(opened.sum())
    best: Bound | None = None
    stall = 0
    # Rows are sorted, so a client's pairs below λ_i form a prefix: work on a window of leading
    # columns, widened (and copied contiguous once) when its last column is not above every λ.
    full = pairs.cost.shape[1]
    width = min(full, 8)
    cost, site = pairs.cost[:, :width].copy(), pairs.site[:, :width].copy()
    tried: set[bytes] = set()
    for it in range(iters):
        while width < full and (cost[:, -1] < lam).any():
            width = min(full, 2 * width)
            cost, site = pairs.cost[:, :width].copy(), pairs.site[:, :width].copy()
        reduced = np.minimum(cost - lam[:, None], 0.0)  # inf padding gives 0 too
        rho = np.bincount(site.ravel(), reduced.ravel(), minlength=pairs.m)
        chosen = opened.copy()
        if k > 0:
            chosen[np.argpartition(np.where(free, rho, np.inf), k - 1)[:k]] = True
        value = float(lam.sum() + rho[chosen].sum())
        if polish is not None and it % 50 == 0 and chosen.tobytes() not in tried:
            tried.add(chosen.tobytes())
            sites, _ = interchange(polish, np.ones(len(polish)), np.flatnonzero(chosen))
            incumbent.offer(polish, sites)
        if best is None or value > best.value + 1e-12 * abs(value):
            best, stall = Bound(value, lam, rho, chosen), 0
        else:
            stall += 1
            if stall >= patience:
                step, stall = step / 2, 0
        if best.value >= incumbent.value - tol or step < 1e-3:
            break
        g = 1.0 - ((reduced < 0) & chosen[site]).sum(axis=1)
        norm = float(g @ g)
        if norm == 0:  # the Lagrangian solution is feasible, hence optimal for the relaxation
            break
        lam = lam + step * (incumbent.value - value) / norm * g
    assert best is not None
    return best


def reduce(
    pairs: Pairs,
    bound: Bound,
    p: int,
    upper: float,
    tol: float,
    closed: np.ndarray,
    opened: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduced-cost tests: which sites must stay closed, which must open and which pairs stay in
    any solution cheaper than ``upper - tol``.

    Forcing a free site ``j`` open costs ``ρ_j − ρ_(k)`` in the bound if the Lagrangian solution
    left it out (``ρ_(k)``: the last free site it took); forcing client ``i`` onto ``j`` adds
    ``max(0, c_ij − λ_i)`` more. Forcing a chosen site closed costs ``ρ_(k+1) − ρ_j``.

    Returns
    -------
    closed, opened, keep
        Site masks (length m) and the pair mask (shape of ``pairs.cost``).
    """
    free = ~(opened | closed)
    k = p - int(opened.sum())
    rho = np.where(free, bound.rho, np.inf)
    order = np.argsort(rho)
    kth = rho[order[k - 1]] if k > 0 else -np.inf
    following = rho[order[k]] if k < free.sum() else np.inf
    extra = np.where(bound.chosen, 0.0, rho - kth)
    site_bound = np.where(closed, np.inf, bound.value + np.where(opened, 0.0, extra))
    closed = closed | (free & (site_bound >= upper - tol))
    forced = free & bound.chosen & (bound.value + following - bound.rho >= upper - tol)
    pair_bound = site_bound[pairs.site] + np.maximum(0.0, pairs.cost - bound.lam[:, None])
    keep = np.isfinite(pairs.cost) & (pair_bound < upper - tol)
    return closed, opened | forced, keep


def branch_and_bound(
    pairs: Pairs,
    cost: np.ndarray,
    p: int,
    incumbent: Incumbent,
    root: Bound,
    closed: np.ndarray,
    opened: np.ndarray,
    tol: float,
    deadline: float,
    iters: int = 100,
) -> tuple[float, int]:
    """Depth-first search on sites (open first), each node bounded by :func:`lagrangian` warm
    started from its parent's multipliers and shrunk by :func:`reduce`. Improves ``incumbent``
    in place.

    Returns
    -------
    lower, nodes
        The proven lower bound (``incumbent.value - tol`` once the search is complete) and the
        number of nodes searched.
    """
    stack = [(opened, closed, root.lam, root.value)]
    nodes = 0
    while stack:
        if time.perf_counter() > deadline:
            return min(min(s[3] for s in stack), incumbent.value - tol), nodes
        opened, closed, lam, parent = stack.pop()
        if opened.sum() > p or (~closed).sum() < p:
            continue
        nodes += 1
        bound = lagrangian(pairs, lam, p, incumbent, closed, opened, iters, tol, 1.0, 10)
        incumbent.offer(cost, np.flatnonzero(bound.chosen))
        lower = max(bound.value, parent)
        if lower >= incumbent.value - tol:
            continue
        closed, opened, _ = reduce(pairs, bound, p, incumbent.value, tol, closed, opened)
        if opened.sum() >= p or (~closed).sum() <= p:
            # Every site is decided: the only solution left is the open (or non-closed) set.
            decided = np.flatnonzero(opened if opened.sum() >= p else ~closed)
            if len(decided) == p:
                incumbent.offer(cost, decided)
            continue
        free = ~(opened | closed)
        candidates = np.flatnonzero(free & bound.chosen)
        if len(candidates) == 0:
            candidates = np.flatnonzero(free)
        # Branch on the chosen site the relaxation likes most: opening it first finds good
        # solutions early, closing it moves the bound most.
        j = candidates[np.argmin(bound.rho[candidates])]
        without, with_ = closed.copy(), opened.copy()
        without[j] = with_[j] = True
        stack.append((opened, without, bound.lam, lower))
        stack.append((with_, closed, bound.lam, lower))
    return incumbent.value - tol, nodes


@dataclass
class Exact:
    """What :func:`solve_exact` found and proved."""

    sites: np.ndarray
    value: float
    lower: float
    nodes: int
    root_bound: float


def solve_exact(
    cost: np.ndarray,
    p: int,
    time_limit: float = 60.0,
    rel_tol: float = 1e-4,
    restarts: int = 10,
    seed: int = 0,
    engine: str = "bnb",
) -> Exact:
    """Solve the p-median on a weighted ``cost`` matrix to proven optimality (within ``rel_tol``).

    Heuristic (:func:`solve`) → Lagrangian bound with Lagrangian heuristic → reduction →
    branch-and-bound (``engine="bnb"``) or HiGHS on the reduced radius formulation
    (``engine="highs"``). When every weighted cost is an integer, any better solution is at least
    1 cheaper, so a bound within 1 of the incumbent proves it optimal.
    """
    deadline = time.perf_counter() + time_limit
    m = cost.shape[1]
    sites, value, _ = solve(cost, np.ones(len(cost)), p, restarts, seed)
    incumbent = Incumbent(sites, value)
    integral = bool(np.all(cost == np.round(cost)))
    tol = max(rel_tol * value, (1 - 1e-6) if integral else 0.0)
    pairs = Pairs.dense(cost)
    none = np.zeros(m, dtype=bool)
    # Start each client's multiplier at its cost in the heuristic solution.
    lam = cost[np.arange(len(cost)), sites[np.argmin(cost[:, sites], axis=1)]]
    root = lagrangian(pairs, lam, p, incumbent, none, none, 3000, tol, polish=cost)
    # Below the optimum, the root bound keeps the proven gap within rel_tol of the final value.
    tol = max(rel_tol * max(root.value, 0.0), (1 - 1e-6) if integral else 0.0)
    closed, opened, keep = reduce(pairs, root, p, incumbent.value, tol, none, none)
    if root.value >= incumbent.value - tol or (~closed).sum() < p or not keep.any(axis=1).all():
        lower, nodes = max(root.value, incumbent.value - tol), 0
    elif engine == "highs":
        lower, nodes = solve_milp(
            pairs.subset(keep), cost, p, incumbent, closed, opened, tol, deadline
        )
    else:
        lower, nodes = branch_and_bound(
            pairs.subset(keep), cost, p, incumbent, root, closed, opened, tol, deadline
        )
    if integral:
        lower = float(np.ceil(lower - 1e-9))
    return Exact(incumbent.sites, incumbent.value, min(lower, incumbent.value), nodes, root.value)


def solve_milp(
    pairs: Pairs,
    cost: np.ndarray,
    p: int,
    incumbent: Incumbent,
    closed: np.ndarray,
    opened: np.ndarray,
    tol: float,
    deadline: float,
) -> tuple[float, int]:
    """Solve the reduced problem with HiGHS (:func:`scipy.optimize.milp`) in the radius
    formulation: per client, ``z_l = 1`` when no open site is within its ``l``-th smallest
    distinct cost ``D_l``; its cost is ``D_0 + Σ_l (D_{l+1} − D_l) z_l`` and, per level,
    ``z_l ≥ z_{l−1} − Σ_{sites at level l} y``. The incumbent enters as a cutoff row
    (objective ≤ incumbent − tol), so HiGHS only looks for better solutions.

    Returns
    -------
    lower, nodes
    """
    cost, site = pairs.cost, pairs.site
    valid = np.isfinite(cost)
    n, width = cost.shape
    new_level = valid.copy()
    new_level[:, 1:] &= cost[:, 1:] != cost[:, :-1]
    level = np.cumsum(new_level, axis=1) - 1  # level of each pair within its client
    levels = new_level.sum(axis=1)  # G_i
    row0 = np.concatenate([[0], np.cumsum(levels)[:-1]])  # first constraint row of each client
    col0 = pairs.m + np.concatenate([[0], np.cumsum(levels - 1)[:-1]])  # first z
    n_rows, n_cols = int(levels.sum()), pairs.m + int((levels - 1).sum())
    i, k = np.nonzero(valid)
    rows = [row0[i] + level[i, k]]
    cols = [site[i, k]]
    vals = [np.ones(len(i))]
    # z_l (+1) in row l for l < G-1, and z_{l-1} (−1) in row l for l ≥ 1.
    ci = np.repeat(np.arange(n), levels - 1)
    cl = np.arange(len(ci)) - np.repeat(col0 - pairs.m, levels - 1)
    rows += [row0[ci] + cl, row0[ci] + cl + 1]
    cols += [col0[ci] + cl, col0[ci] + cl]
    vals += [np.ones(len(ci)), -np.ones(len(ci))]
    a = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_cols),
    )
    distinct = np.where(new_level, cost, np.nan)
    d = np.sort(distinct, axis=1)  # each client's distinct costs first, NaN after
    constant = float(np.nansum(d[:, 0]))
    steps = np.diff(d, axis=1)
    z_cost = steps[np.arange(width - 1)[None, :] < (levels - 1)[:, None]]
    c = np.concatenate([np.zeros(pairs.m), z_cost])
    first_row = np.zeros(n_rows)
    first_row[row0] = 1.0  # z_0 + Σ y ≥ 1; later rows ≥ 0
    lower_bounds = np.zeros(n_cols)
    lower_bounds[: pairs.m][opened] = 1.0
    upper_bounds = np.ones(n_cols)
    upper_bounds[: pairs.m][closed] = 0.0
    count = sp.csr_matrix(np.concatenate([np.ones(pairs.m), np.zeros(n_cols - pairs.m)]))
    res = milp(
        c,
        constraints=[
            LinearConstraint(a, first_row, np.inf),
            LinearConstraint(count, p, p),
            LinearConstraint(sp.csr_matrix(c), -np.inf, incumbent.value - tol - constant),
        ],
        integrality=np.concatenate([np.ones(pairs.m), np.zeros(n_cols - pairs.m)]),
        bounds=Bounds(lower_bounds, upper_bounds),
        options={
            "time_limit": max(1.0, deadline - time.perf_counter()),
            "mip_rel_gap": tol / incumbent.value / 2,
        },
    )
    nodes = int(getattr(res, "mip_node_count", 0) or 0)
    if res.status == 2:  # infeasible: nothing beats the incumbent
        return incumbent.value - tol, nodes
    if res.x is not None:
        incumbent.offer(cost, np.flatnonzero(res.x[: pairs.m] > 0.5))
    bound = getattr(res, "mip_dual_bound", None)
    if res.status == 0:
        return incumbent.value - tol, nodes
    return (float(bound) + constant if bound is not None else -np.inf), nodes
