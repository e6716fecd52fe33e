"""The y-part of the capacitated facility location Lagrangian (:mod:`siting.models.cflp_solver`):
the covering knapsack

    min Σ_j v_j y_j   s.t.   Σ_j Q_j y_j ≥ W,   y_j ∈ {0, 1},   y_j = 1 (forced), 0 (closed),

solved exactly (:func:`cover`), with its LP relaxation (:func:`cover_lp`) as the fallback.

Sites of ``v_j ≤ 0`` are taken (they cost nothing and only help to cover). The rest is the
0-1 knapsack in its covering form: a depth-first branch-and-bound over the sites by increasing
``v_j / Q_j`` (Horowitz & Sahni 1974; Martello & Toth 1990, ch. 2), bounded at each node by the
greedy LP relaxation of the sites still undecided (Dantzig's bound). The search takes the next
site first, so its first leaf is the greedy solution, and prunes every node whose bound cannot
beat the best cover found. Whatever it returns is a valid lower bound of the Lagrangian's y-part:
the optimum when the search ends within its node budget, else the LP value (the relaxation's
own optimum, never above the integer one).

A cover counts as complete once what is left to cover is within ``1e-12 W`` (rounding of the
sums): this admits a few more sets than the exact constraint would, so the value can only be
lower, never above the true optimum.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Node budget of one exact solve; beyond it the LP value stands (a valid, weaker bound).
NODES = 20000


@njit(cache=True, nogil=True)
def _fixed_part(
    v: np.ndarray, q: np.ndarray, status: np.ndarray, y: np.ndarray
) -> tuple[float, float]:  # pragma: no cover - compiled
    """Forced sites and free sites of ``v <= 0`` into ``y``; returns their value and capacity."""
    y[:] = 0.0
    value = 0.0
    covered = 0.0
    for j in range(len(v)):
        if status[j] == 1 or (status[j] == 0 and v[j] <= 0.0):
            y[j] = 1.0
            value += v[j]
            covered += q[j]
    return value, covered


@njit(cache=True, nogil=True)
def _ranked(v: np.ndarray, q: np.ndarray, status: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Free sites of ``v > 0`` and ``Q > 0`` by increasing ``v / Q`` (stable: ties by index)."""
    m = len(v)
    rest = np.empty(m, dtype=np.int64)
    k = 0
    for j in range(m):
        if status[j] == 0 and v[j] > 0.0 and q[j] > 0.0:
            rest[k] = j
            k += 1
    rest = rest[:k]
    key = v[rest] / q[rest]
    return rest[np.argsort(key, kind="mergesort")]


@njit(cache=True, nogil=True)
def cover_lp(
    v: np.ndarray, q: np.ndarray, demand: float, status: np.ndarray, y: np.ndarray
) -> float:  # pragma: no cover - compiled
    """The LP relaxation of the covering knapsack (``0 <= y <= 1``): the sites of ``v <= 0``,
    then the rest by ``v / Q``, the last one fractional. Writes ``y``; returns Σ v y (inf
    when even every site allowed cannot cover ``demand``)."""
    value, covered = _fixed_part(v, q, status, y)
    need = demand - covered
    eps = 1e-12 * demand
    if need <= eps:
        return value
    for j in _ranked(v, q, status):
        share = min(1.0, need / q[j])
        y[j] = share
        value += share * v[j]
        need -= share * q[j]
        if need <= eps:
            return value
    return np.inf


@njit(cache=True, nogil=True)
def cover(
    v: np.ndarray, q: np.ndarray, demand: float, status: np.ndarray, y: np.ndarray
) -> float:  # pragma: no cover - compiled
    """The covering knapsack in 0-1 variables (see the module docstring). Writes ``y`` (0/1,
    or the LP solution when the node budget ran out) and returns Σ v y: the optimum, or the LP
    value if the budget ran out, or inf when the sites allowed cannot cover ``demand``."""
    value, covered = _fixed_part(v, q, status, y)
    need = demand - covered
    eps = 1e-12 * demand
    if need <= eps:
        return value
    order = _ranked(v, q, status)
    k = len(order)
    vv = v[order]
    qq = q[order]
    if qq.sum() < need - eps:
        return np.inf
    # Depth-first search; a stack entry is (level t, value so far, left to cover, choice at
    # t − 1). ``path`` holds the choices of the current node's ancestors: a node popped at
    # level t overwrites path[t − 1] only, and every node popped since its parent lies deeper.
    st_t = np.empty(2 * k + 2, dtype=np.int64)
    st_cur = np.empty(2 * k + 2)
    st_rem = np.empty(2 * k + 2)
    st_take = np.empty(2 * k + 2, dtype=np.bool_)
    path = np.zeros(k, dtype=np.bool_)
    chosen = np.zeros(k, dtype=np.bool_)
    best = np.inf
    st_t[0], st_cur[0], st_rem[0], st_take[0] = 0, 0.0, need, False
    top = 1
    nodes = 0
    while top > 0:
        top -= 1
        t, cur, rem = st_t[top], st_cur[top], st_rem[top]
        if t > 0:
            path[t - 1] = st_take[top]
        nodes += 1
        if nodes > NODES:
            return cover_lp(v, q, demand, status, y)
        if rem <= eps:
            if cur < best:
                best = cur
                chosen[:] = False
                chosen[:t] = path[:t]
            continue
        # Dantzig's bound: the undecided sites greedily, the last one fractional.
        bound = cur
        left = rem
        s = t
        while s < k and qq[s] < left:
            bound += vv[s]
            left -= qq[s]
            s += 1
        if s == k:
            continue  # the rest cannot cover what is left
        bound += left / qq[s] * vv[s]
        if bound >= best:
            continue
        # Skip t pushed first, take t on top: the greedy branch is searched first.
        if t + 1 < k:
            st_t[top], st_cur[top], st_rem[top], st_take[top] = t + 1, cur, rem, False
            top += 1
        st_t[top], st_cur[top], st_rem[top], st_take[top] = t + 1, cur + vv[t], rem - qq[t], True
        top += 1
    if best == np.inf:
        return np.inf
    for s in range(k):
        if chosen[s]:
            y[order[s]] = 1.0
    return value + best
