"""The exact solver behind :class:`siting.models.CapacitatedFacilityLocation` (``method="exact"``):
Lagrangian bound, Lagrangian heuristic, reduction tests and branch-and-bound.

The problem, with ``y_j`` = site ``j`` open, ``x_ij`` = share of client ``i`` served by ``j``,
``e_j`` = capacity added to an existing plant, ``W`` = total demand and ``Q_j`` = a site's
largest capacity:

    min  Σ_j f_j y_j + Σ_ij w_i c_ij x_ij + Σ_j u_j e_j
    s.t. Σ_j x_ij = 1,   Σ_i w_i x_ij ≤ b_j y_j + e_j,   0 ≤ x_ij ≤ y_j,   0 ≤ e_j ≤ r_j,
         Σ_j Q_j y_j ≥ W  (or Σ_j y_j = p),   y binary (1 at existing plants).

**Bound.** Relaxing the demand rows Σ_j x_ij = 1 with multipliers λ_i (free: they are equalities)
leaves, for fixed λ,

    L(λ) = Σ_i λ_i + min_y Σ_j v_j y_j,
    v_j  = f_j + min { Σ_i (w_i c_ij − λ_i) x_ij + u_j e_j : Σ_i w_i x_ij ≤ b_j + e_j, ... }.

Each ``v_j`` is one continuous knapsack per facility: items (clients) of weight ``w_i`` and
value ``λ_i − w_i c_ij``, capacity ``b_j`` for free and up to ``r_j`` more at ``u_j`` a unit, so
taking the items by increasing unit cost ``c_ij − λ_i / w_i`` while it is negative (and, beyond
``b_j``, while it stays below ``−u_j``) is optimal — a sort per facility (Cornuéjols, Sridharan
& Thizy 1991; Beasley 1988). The y-part is a selection: with ``p`` the ``p`` smallest ``v_j``
(exact); with fixed charges, min Σ v_j y_j over Σ Q_j y_j ≥ W, a covering knapsack of which
:func:`select` solves the **LP relaxation** (every ``v_j ≤ 0``, then the rest by ``v_j / Q_j``,
the last one fractional). A relaxation of a relaxation stays below the optimum, so every
``L(λ)`` is a valid lower bound; single sourcing only restricts ``x`` further, so the same
bound holds there. λ is improved by subgradient steps (Polyak step towards the incumbent).

**Upper bounds.** Given the open set the rest is a transportation problem (with expansion),
solved exactly as a min-cost flow (:mod:`siting.models.cflp_flow`) or, for large ones, as an LP
by HiGHS with column generation; its duals are the starting λ. Each new
Lagrangian open set (completed to enough capacity) is evaluated so, and close/open/swap moves
ranked by the bound are tried at the root.

**Reduction and branching.** With λ fixed, forcing a free site open or closed and re-solving
the selection gives a valid bound for that branch (:func:`probe`): sites whose branch cannot beat
the incumbent are fixed. A best-first branch-and-bound on the remaining sites (the open node of
least bound next, so that the proven bound rises with every node and a timeout reports it;
branching on the site whose weaker branch bound is largest, i.e. strong branching on the probes)
bounds each node with ``L(λ)`` warm-started from its parent's multipliers, offering its
Lagrangian open set to the transportation LP with a back-off while those bring nothing; a node
with every site fixed is solved exactly by the transportation LP.

Single sourcing: the root bound and heuristic above, a single-sourced assignment of the
heuristic's open set (a small HiGHS MILP), then the full MILP by HiGHS (both in
:mod:`siting.models.cflp_highs`); the better of the two solutions is kept and the lower bound
is the larger of the two bounds.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy.optimize import linprog

from siting.models.cflp_flow import min_cost_flow

OPEN, FREE, CLOSED = 1, 0, -1
# Largest network (clients + open sites) for the O(V³) min-cost flow; beyond, HiGHS is faster.
FLOW_NODES = 120
# Subgradient: a new best bound resets the stall count only when it gains this share of the gap
# to the incumbent, and the ascent stops once the step factor falls below MIN_STEP (a longer
# tail of tiny gains costs more than the nodes it would save).
GAIN = 0.002
MIN_STEP = 1e-2


@dataclass
class Problem:
    """A capacitated facility location instance (clients with positive demand only)."""

    cost: np.ndarray  # n × m unit costs, finite
    w: np.ndarray  # demand, > 0
    fixed: np.ndarray  # opening cost (0 at existing plants)
    base: np.ndarray  # capacity when open without expansion
    room: np.ndarray  # capacity an existing plant may add
    unit: np.ndarray  # cost per unit added (0 where room is 0)
    existing: np.ndarray  # bool
    p: int | None
    whole: np.ndarray = field(init=False)  # m × n: cost of a client's whole demand, per site
    # Computed once: the solver reads them at every node and every heuristic move.
    largest: np.ndarray = field(init=False)  # base + room: a site's largest capacity
    demand: float = field(init=False)  # total demand

    def __post_init__(self) -> None:
        self.whole = np.ascontiguousarray((self.w[:, None] * self.cost).T)
        self.largest = self.base + self.room
        self.demand = float(self.w.sum())


@dataclass
class Solution:
    """An open set with its optimal (multi-sourced) assignment and expansion."""

    open_: np.ndarray  # bool, length m
    value: float
    x: np.ndarray  # n × m shares
    e: np.ndarray  # capacity added, length m
    duals: np.ndarray | None = None


@dataclass
class Bound:
    """A Lagrangian lower bound with its multipliers, facility values and selection."""

    value: float
    lam: np.ndarray
    v: np.ndarray
    y: np.ndarray


@njit(cache=True, nogil=True)
def knapsacks(
    whole: np.ndarray,
    w: np.ndarray,
    lam: np.ndarray,
    fixed: np.ndarray,
    base: np.ndarray,
    room: np.ndarray,
    unit: np.ndarray,
    closed: np.ndarray,
    pick: np.ndarray,
    share: np.ndarray,
    count: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Facility values ``v_j`` of the Lagrangian for multipliers ``lam``; writes each
    facility's knapsack solution sparsely: its ``count[j]`` clients ``pick[j, :count[j]]``
    served in shares ``share[j, :count[j]]`` (no dense m × n array to clear at every step)."""
    m, n = whole.shape
    v = np.full(m, np.inf)
    ratio = np.empty(n)
    idx = np.empty(n, dtype=np.int64)
    for j in range(m):
        count[j] = 0
        if closed[j]:
            continue
        k = 0
        load = 0.0
        total = fixed[j]
        for i in range(n):
            reduced = whole[j, i] - lam[i]
            if reduced < 0.0:
                idx[k] = i
                ratio[k] = reduced / w[i]
                k += 1
                load += w[i]
                total += reduced
        if load <= base[j]:
            for t in range(k):
                pick[j, t] = idx[t]
                share[j, t] = 1.0
            count[j] = k
            v[j] = total
            continue
        # Stable insertion sort of the few attractive clients: no allocation at every step.
        for t in range(1, k):
            r, i = ratio[t], idx[t]
            s = t - 1
            while s >= 0 and ratio[s] > r:
                ratio[s + 1], idx[s + 1] = ratio[s], idx[s]
                s -= 1
            ratio[s + 1], idx[s + 1] = r, i
        free_cap = base[j]
        extra = room[j]
        total = fixed[j]
        for t in range(k):
            i = idx[t]
            r = ratio[t]
            amount = w[i]
            used = min(amount, free_cap)
            total += r * used
            free_cap -= used
            left = amount - used
            if left > 0.0 and extra > 0.0 and r + unit[j] < 0.0:
                more = min(left, extra)
                total += (r + unit[j]) * more
                extra -= more
                left -= more
            pick[j, t] = i
            share[j, t] = (amount - left) / amount
            count[j] = t + 1
            if free_cap <= 0.0 and (extra <= 0.0 or r + unit[j] >= 0.0):
                break
        v[j] = total
    return v


@njit(cache=True, nogil=True)
def select(
    v: np.ndarray, q: np.ndarray, demand: float, status: np.ndarray, p: int, y: np.ndarray
) -> float:  # pragma: no cover - compiled
    """The y-part of the Lagrangian: ``p`` smallest ``v`` (``p >= 0``) or the LP relaxation of
    the covering knapsack Σ q y ≥ demand (``p < 0``); forced sites in, closed out. Writes ``y``
    and returns Σ v y (inf when the node is infeasible)."""
    m = len(v)
    y[:] = 0.0
    value = 0.0
    covered = 0.0
    count = 0
    for j in range(m):
        if status[j] == 1:
            y[j] = 1.0
            value += v[j]
            covered += q[j]
            count += 1
    if p >= 0:
        k = p - count
        if k < 0:
            return np.inf
        free = np.flatnonzero(status == 0)
        if len(free) < k:
            return np.inf
        if k == 0:
            return value
        order = np.argsort(v[free], kind="mergesort")
        for t in range(k):
            j = free[order[t]]
            y[j] = 1.0
            value += v[j]
        return value
    for j in range(m):
        if status[j] == 0 and v[j] <= 0.0:
            y[j] = 1.0
            value += v[j]
            covered += q[j]
    need = demand - covered
    if need <= 1e-12 * demand:
        return value
    # The rest by v / q, by a stable insertion sort: no allocation at every subgradient step.
    rest = np.empty(m, dtype=np.int64)
    key = np.empty(m)
    k = 0
    for j in range(m):
        if status[j] == 0 and v[j] > 0.0 and q[j] > 0.0:
            r = v[j] / q[j]
            s = k - 1
            while s >= 0 and key[s] > r:
                key[s + 1], rest[s + 1] = key[s], rest[s]
                s -= 1
            key[s + 1], rest[s + 1] = r, j
            k += 1
    for t in range(k):
        j = rest[t]
        share = min(1.0, need / q[j])
        y[j] = share
        value += share * v[j]
        need -= share * q[j]
        if need <= 1e-12 * demand:
            return value
    return np.inf


@njit(cache=True, nogil=True)
def ascent(
    whole: np.ndarray,
    w: np.ndarray,
    fixed: np.ndarray,
    base: np.ndarray,
    room: np.ndarray,
    unit: np.ndarray,
    q: np.ndarray,
    demand: float,
    status: np.ndarray,
    p: int,
    lam: np.ndarray,
    upper: float,
    tol: float,
    step: float,
    stall: int,
    patience: int,
    iters: int,
    pick: np.ndarray,
    share: np.ndarray,
    count: np.ndarray,
) -> tuple[
    float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, int, bool
]:  # pragma: no cover - compiled
    """``iters`` subgradient steps from ``lam`` (Polyak step towards ``upper``; the step factor
    halves after ``patience`` steps without a better bound, or with only small gains: see
    ``GAIN``).

    Returns
    -------
    value, lam_best, v, y, lam, step, stall, stop
        The best bound of these steps with its multipliers, facility values and selection; the
        multipliers, step and stall count to continue from; whether to stop (bound proves
        ``upper``, step vanished, or the relaxation's solution is feasible). ``value`` is
        +inf when the node is infeasible.
    """
    closed = status == -1
    m, n = whole.shape
    y = np.zeros(m)
    best = -np.inf
    best_lam, best_v, best_y = lam.copy(), np.zeros(m), np.zeros(m)
    g = np.empty(n)
    lam = lam.copy()  # updated in place below; the caller's multipliers stay as they were
    for _ in range(iters):
        v = knapsacks(whole, w, lam, fixed, base, room, unit, closed, pick, share, count)
        value = select(v, q, demand, status, p, y)
        if value == np.inf:
            return np.inf, lam, v, y, lam, step, stall, True
        value += lam.sum()
        if value > best + 1e-12 * abs(value):
            # Only a gain of a fair share of the gap resets the stall count (see GAIN).
            if best == -np.inf or upper == np.inf or value > best + GAIN * (upper - best):
                stall = 0
            else:
                stall += 1
            best = value
            best_lam[:] = lam
            best_v[:] = v
            best_y[:] = y
        else:
            stall += 1
        if stall >= patience:
            step, stall = step / 2, 0
        if best >= upper - tol or step < MIN_STEP:
            return best, best_lam, best_v, best_y, lam, step, stall, True
        g[:] = 1.0
        for j in range(m):
            if y[j] > 0.0:
                for t in range(count[j]):
                    g[pick[j, t]] -= y[j] * share[j, t]
        norm = g @ g
        if norm < 1e-18:
            return best, best_lam, best_v, best_y, lam, step, stall, True
        target = upper if upper < np.inf else abs(value) * 1.1 + 1.0
        coef = step * max(target - value, 1e-9 * abs(target)) / norm
        for i in range(n):
            lam[i] += coef * g[i]
    return best, best_lam, best_v, best_y, lam, step, stall, False


@njit(cache=True, nogil=True)
def probe(
    v: np.ndarray, q: np.ndarray, demand: float, status: np.ndarray, p: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Selection values with each free site forced open, and forced closed (inf elsewhere)."""
    m = len(v)
    opened = np.full(m, np.inf)
    closed = np.full(m, np.inf)
    y = np.empty(m)
    trial = status.copy()
    for j in range(m):
        if status[j] != 0:
            continue
        trial[j] = 1
        opened[j] = select(v, q, demand, trial, p, y)
        trial[j] = -1
        closed[j] = select(v, q, demand, trial, p, y)
        trial[j] = 0
    return opened, closed


class Search:
    """Incumbent, cache of evaluated open sets and the time budget of one solve."""

    def __init__(self, prob: Problem, deadline: float, rel_tol: float) -> None:
        self.prob = prob
        self.deadline = deadline
        self.rel_tol = rel_tol
        self.best: Solution | None = None
        self.seen: dict[bytes, float] = {}
        # Scratch space of :func:`ascent`: the sparse knapsack solutions.
        self.pick = np.zeros(prob.whole.shape, dtype=np.int64)
        self.share = np.zeros(prob.whole.shape)
        self.count = np.zeros(len(prob.base), dtype=np.int64)
        self.lps = 0

    @property
    def upper(self) -> float:
        return np.inf if self.best is None else self.best.value

    @property
    def tol(self) -> float:
        """Absolute tolerance: a bound within it of the incumbent proves the incumbent."""
        return self.rel_tol * abs(self.upper) if self.best is not None else 0.0

    def expired(self) -> bool:
        return time.perf_counter() > self.deadline

    def offer(self, open_: np.ndarray, bound: Bound | None = None) -> float:
        """Evaluate an open set by its transportation LP (cached) and keep it if better.

        With ``bound``, a set whose Lagrangian value ``Σ λ + Σ_{j open} v_j`` (a lower bound on
        its cost) cannot beat the incumbent is skipped (returns inf)."""
        key = open_.tobytes()
        if key in self.seen:
            return self.seen[key]
        if bound is not None and self.best is not None:
            floor = float(bound.lam.sum() + bound.v[open_].sum())
            if floor >= self.upper - self.tol:
                return np.inf
        sol = transport(self.prob, open_)
        self.lps += 1
        value = np.inf if sol is None else sol.value
        self.seen[key] = value
        if sol is not None and value < self.upper - 1e-12 * abs(value):
            self.best = sol
        return value

    def lagrangian(
        self,
        lam: np.ndarray,
        status: np.ndarray,
        iters: int,
        step: float = 2.0,
        patience: int = 20,
        heuristic_every: int = 0,
    ) -> Bound:
        """Subgradient ascent of ``L(λ)`` at a node (:func:`ascent`, in chunks), stopping once
        the bound proves the incumbent, the step has shrunk away, or time is up. With
        ``heuristic_every``, after every so many iterations the Lagrangian open set is offered
        as a solution."""
        prob = self.prob
        p = -1 if prob.p is None else prob.p
        chunk = heuristic_every or iters
        best: Bound | None = None
        done, stall = 0, 0
        while done < iters:
            size = min(chunk, iters - done)
            value, best_lam, v, y, lam, step, stall, stop = ascent(
                prob.whole, prob.w, prob.fixed, prob.base, prob.room, prob.unit, prob.largest,
                prob.demand, status, p, lam, self.upper, self.tol, step, stall, patience, size,
                self.pick, self.share, self.count,
            )  # fmt: skip
            done += size
            if not np.isfinite(value) and value > 0:
                return Bound(np.inf, lam, v, y)
            if best is None or value > best.value:
                best = Bound(value, best_lam, v, y)
            if heuristic_every:
                before = self.upper
                self.offer(self.complete(y, v, status), best)
                # Back off while the Lagrangian sets bring nothing: each LP costs far more
                # than a subgradient step.
                improved = self.upper < before
                chunk = heuristic_every if improved else min(2 * chunk, 32 * heuristic_every)
            if stop or best.value >= self.upper - self.tol or self.expired():
                break
        assert best is not None
        return best

    def complete(self, y: np.ndarray, v: np.ndarray, status: np.ndarray) -> np.ndarray:
        """The open set of a Lagrangian selection, completed to enough capacity (and, with
        ``p``, to exactly ``p`` sites) by adding (swapping in) the sites of best ``v / Q``."""
        prob = self.prob
        q = prob.largest
        open_ = (status == OPEN) | ((status == FREE) & (y > 1e-9))
        if prob.p is None:
            short = prob.demand - 1e-9 - q[open_].sum()
            if short <= 0:
                return open_
            # The closed-to-be-opened sites by v / Q, taken until the capacity suffices.
            rank = np.where(q > 0, v / np.maximum(q, 1e-300), np.inf)
            order = np.argsort(rank, kind="stable")
            order = order[(status[order] != CLOSED) & ~open_[order]]
            take = int(np.searchsorted(np.cumsum(q[order]), short)) + 1
            open_[order[:take]] = True
            return open_
        while q[open_].sum() < prob.demand - 1e-9:
            out = np.flatnonzero(open_ & (status == FREE))
            into = np.flatnonzero(~open_ & (status == FREE))
            if not len(out) or not len(into):
                break
            small, big = out[np.argmin(q[out])], into[np.argmax(q[into])]
            if q[big] <= q[small]:
                break
            open_[small], open_[big] = False, True
        return open_

    def improve(self, bound: Bound, rounds: int = 50, width: int = 4) -> None:
        """Close / open / swap moves around the incumbent, candidates ranked by the probe bounds
        of ``bound`` (the root's), best improving move first."""
        prob = self.prob
        p = -1 if prob.p is None else prob.p
        status = np.where(prob.existing, OPEN, FREE).astype(np.int8)
        if_open, if_closed = probe(bound.v, prob.largest, prob.demand, status, p)
        for _ in range(rounds):
            if self.best is None or self.expired():
                return
            current = self.best.open_
            free_open = np.flatnonzero(current & ~prob.existing)
            shut = np.flatnonzero(~current)
            outs = free_open[np.argsort(if_closed[free_open], kind="stable")][:width]
            ins = shut[np.argsort(if_open[shut], kind="stable")][:width]
            moves: list[tuple[int, ...]] = [(a, b) for a in outs for b in ins]
            if prob.p is None:
                moves = [(a,) for a in outs] + [(b,) for b in ins] + moves
            before = self.upper
            for move in moves:
                trial = current.copy()
                trial[list(move)] ^= True
                if prob.largest[trial].sum() >= prob.demand - 1e-9:
                    self.offer(trial, bound)
                if self.expired():
                    return
            if self.upper >= before - 1e-12 * abs(before):
                return

    def branch_and_bound(
        self, root: Bound, status: np.ndarray, iters: int = 30
    ) -> tuple[float, int]:
        """Best-first branch-and-bound on the free sites (see the module docstring).

        Returns
        -------
        lower, nodes
            The proven lower bound and the number of nodes bounded.
        """
        prob = self.prob
        p = -1 if prob.p is None else prob.p
        # The open node of least bound first: the proven bound (the least of the open nodes')
        # rises with every node bounded, and a timeout reports the best bound this search
        # could have reached. The sequence number breaks ties in creation order (deterministic).
        heap: list[tuple[float, int, np.ndarray, np.ndarray]] = [(root.value, 0, status, root.lam)]
        made = 1
        nodes = 0
        next_offer, wait = 0, 1
        while heap:
            if self.expired():
                # Pruned nodes were within tol of the incumbent; pending ones hold their bound.
                return min(heap[0][0], self.upper - self.tol), nodes
            parent, _, status, lam = heapq.heappop(heap)
            if parent >= self.upper - self.tol:
                continue
            nodes += 1
            bound = self.lagrangian(lam, status, iters, step=0.5, patience=5)
            lower = max(bound.value, parent)
            if lower >= self.upper - self.tol:
                continue
            if nodes >= next_offer:
                before = self.upper
                self.offer(self.complete(bound.y, bound.v, status), bound)
                # Back off while the nodes' open sets bring nothing: on large instances each
                # LP costs several nodes' bounds (60 % of the time on the 1000 × 500 one).
                wait = 1 if self.upper < before else min(2 * wait, 32)
                next_offer = nodes + wait
            if_open, if_closed = probe(bound.v, prob.largest, prob.demand, status, p)
            if_open += float(bound.lam.sum())
            if_closed += float(bound.lam.sum())
            cut = self.upper - self.tol
            free = status == FREE
            both = free & (if_open >= cut) & (if_closed >= cut)
            if both.any():
                continue
            status = status.copy()
            status[free & (if_open >= cut)] = CLOSED
            status[free & (if_closed >= cut)] = OPEN
            free = status == FREE
            if not free.any():
                if (status == OPEN).any():
                    self.offer(status == OPEN)
                continue
            score = np.where(free, np.minimum(if_open, if_closed), -np.inf)
            j = int(np.argmax(score))
            up, down = status.copy(), status.copy()
            up[j], down[j] = OPEN, CLOSED
            for value, child in ((if_open[j], up), (if_closed[j], down)):
                heapq.heappush(heap, (max(lower, float(value)), made, child, bound.lam))
                made += 1
        return self.upper - self.tol, nodes


def transport(prob: Problem, open_: np.ndarray, width: int = 8) -> Solution | None:
    """The cheapest assignment (and expansion) for an open set. None when the open set cannot
    take the demand.

    Small networks (``n + k <= FLOW_NODES``) go to the min-cost flow of
    :mod:`siting.models.cflp_flow`; larger ones to HiGHS as a transportation LP.

    Column generation keeps it small: each client starts with its ``width`` cheapest open
    sites, and columns of negative reduced cost (``w_i c_ij − π_i − w_i μ_j`` with the row
    duals) are added until there are none, so the result is the optimum of the full LP."""
    sites = np.flatnonzero(open_)
    n, k = len(prob.w), len(sites)
    if k == 0 or prob.largest[sites].sum() < prob.demand - 1e-9:
        return None
    if n + k <= FLOW_NODES:
        status, value, flow, added, price = min_cost_flow(
            np.ascontiguousarray(prob.cost[:, sites]),
            prob.w,
            prob.base[sites],
            prob.room[sites],
            prob.unit[sites],
        )
        if status == 1:
            return None
        if status == 0:
            x = np.zeros((n, len(open_)))
            x[:, sites] = (flow / prob.w[:, None]).clip(0, 1)
            e = np.zeros(len(open_))
            e[sites] = added.clip(0, prob.room[sites])
            value += float(prob.fixed[sites].sum())
            return Solution(open_.copy(), value, x, e, prob.w * price)
    whole = prob.whole[sites].T  # n × k
    if k <= width:
        use = np.ones((n, k), dtype=bool)
    else:
        near = np.argpartition(whole, width - 1, axis=1)[:, :width]
        use = np.zeros((n, k), dtype=bool)
        np.put_along_axis(use, near, True, axis=1)
    grow = sites[prob.room[sites] > 0]
    slack = 1e-9 * max(1.0, float(np.abs(whole).max()))
    while True:
        found = _restricted(prob, sites, grow, whole, use)
        if found is None:
            if use.all():
                return None
            use[:] = True
            continue
        value, pairs, col, duals = found
        reduced = whole - duals[:n, None] - prob.w[:, None] * duals[None, n:]
        missing = ~use & (reduced < -slack)
        if not missing.any():
            break
        use |= missing
    x = np.zeros((n, len(open_)))
    x[pairs[0], sites[pairs[1]]] = col[: len(pairs[0])].clip(0, 1)
    e = np.zeros(len(open_))
    e[grow] = col[len(pairs[0]) :].clip(0, prob.room[grow])
    return Solution(open_.copy(), float(prob.fixed[sites].sum() + value), x, e, duals[:n])


def _restricted(
    prob: Problem, sites: np.ndarray, grow: np.ndarray, whole: np.ndarray, use: np.ndarray
) -> tuple[float, tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray] | None:
    """The transportation LP on the client–site pairs in ``use`` (plus expansion columns).

    Returns
    -------
    value, pairs, col, duals
        Optimal value, the (client, open-site slot) pair of each column, the column values and
        the row duals (demand rows, then capacity rows); None if infeasible.
    """
    n, k = use.shape
    ci, cj = np.nonzero(use)
    g, c = len(grow), len(ci)
    # Column (i, j): 1 in client i's demand row, w_i in site j's capacity row; then -1 for
    # each expansion column in its site's row. scipy's HiGHS, not highspy: highspy prints its
    # banner on stdout whatever its options (ERGO-Code/HiGHS#2749), and stdout is the user's.
    cols = np.arange(c)
    demand = sp.csr_matrix((np.ones(c), (ci, cols)), shape=(n, c + g))
    capacity = sp.csr_matrix(
        (
            np.concatenate([prob.w[ci], -np.ones(g)]),
            (np.concatenate([cj, np.searchsorted(sites, grow)]), np.arange(c + g)),
        ),
        shape=(k, c + g),
    )
    res = linprog(
        np.concatenate([whole[ci, cj], prob.unit[grow]]),
        A_ub=capacity,
        b_ub=prob.base[sites],
        A_eq=demand,
        b_eq=np.ones(n),
        bounds=np.column_stack([np.zeros(c + g), np.concatenate([np.ones(c), prob.room[grow]])]),
        method="highs",
    )
    if res.status != 0:
        return None
    return (
        float(res.fun),
        (ci, cj),
        np.asarray(res.x, dtype=float),
        np.concatenate([res.eqlin.marginals, res.ineqlin.marginals]).astype(float),
    )


@dataclass
class Exact:
    """What :func:`solve_exact` found and proved."""

    solution: Solution
    lower: float
    nodes: int
    root_bound: float


def solve_exact(
    prob: Problem, time_limit: float = 60.0, rel_tol: float = 1e-4, start: np.ndarray | None = None
) -> Exact:
    """Multi-sourced capacitated facility location to proven optimality (within ``rel_tol``),
    from the open set ``start`` when given (a warm start: see :func:`root_bound`).

    Raises
    ------
    RuntimeError
        If no feasible open set was found (the caller checked that the capacity suffices, so
        this is a bug, not a user error).
    """
    search = Search(prob, time.perf_counter() + time_limit, rel_tol)
    root, status = root_bound(search, start)
    if search.best is None:
        raise RuntimeError("capacitated facility location: no feasible open set found")
    nodes = 0
    lower = root.value
    if lower < search.upper - search.tol and not search.expired():
        lower, nodes = search.branch_and_bound(root, status)
    return Exact(search.best, min(lower, search.upper), nodes, root.value)


def root_bound(search: Search, start: np.ndarray | None = None) -> tuple[Bound, np.ndarray]:
    """Initial solution, root Lagrangian bound, root heuristic and root reduction.

    ``start`` (an open set with enough capacity, or None) is evaluated beside the first
    Lagrangian set; the better of the two is the first incumbent and its transportation duals
    the starting multipliers, so that a good start (a neighbouring solve's plants) saves most
    of the ascent's early steps.

    Returns
    -------
    bound, status
        The root bound and the site statuses after the reduction tests.
    """
    prob = search.prob
    m = len(prob.base)
    status = np.where(prob.existing, OPEN, FREE).astype(np.int8)
    # Start from each client's second-cheapest cost: the first Lagrangian selection is then a
    # reasonable open set, whose transportation duals are the real start.
    order = np.sort(prob.whole, axis=0)
    lam = order[min(1, m - 1)].copy()
    first = search.lagrangian(lam, status, 1)
    search.offer(search.complete(first.y, first.v, status))
    if search.best is None:
        # The largest sites (existing first): enough capacity, as the caller checked.
        rank = np.lexsort((-prob.largest, ~prob.existing))
        fallback = np.zeros(m, dtype=bool)
        fallback[rank[: m if prob.p is None else prob.p]] = True
        search.offer(fallback)
    if search.best is not None and search.best.duals is not None:
        lam = search.best.duals.copy()
    bound = search.lagrangian(lam, status, 3000, step=1.0, heuristic_every=50)
    if start is not None:
        search.offer(start | prob.existing)
    if bound.value < search.upper - search.tol:
        search.improve(bound)
    if bound.value < search.upper - search.tol:
        # A second ascent from the best multipliers with the improved incumbent.
        bound2 = search.lagrangian(bound.lam, status, 1000, step=0.5, heuristic_every=25)
        if bound2.value > bound.value:
            bound = bound2
    p = -1 if prob.p is None else prob.p
    if_open, if_closed = probe(bound.v, prob.largest, prob.demand, status, p)
    shift = float(bound.lam.sum())
    cut = search.upper - search.tol
    free = status == FREE
    status[free & (if_open + shift >= cut)] = CLOSED
    status[free & (if_closed + shift >= cut)] = OPEN
    return bound, status
