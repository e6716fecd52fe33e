"""The transportation problem of :mod:`siting.models.cflp_solver` (clients to a fixed set of open
sites, with expansion) as a min-cost flow, solved by successive shortest paths.

Network: a source feeds each client its demand ``w_i``; client → site arcs cost ``c_ij`` per unit
and are uncapacitated; each site reaches the sink by a free arc of its base capacity and a second
arc of its expansion room at ``u_j`` per unit. Each augmentation follows a shortest path in the
residual network (Dijkstra on reduced costs with node potentials; Ahuja, Magnanti & Orlin 1993,
ch. 9), so the flow stays optimal for the demand routed so far and is optimal once all of it is.
Dense O(V²) Dijkstra: for the small open sets of the branch-and-bound it is much cheaper than
building and solving an LP.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def min_cost_flow(
    cost: np.ndarray, w: np.ndarray, base: np.ndarray, room: np.ndarray, unit: np.ndarray
) -> tuple[int, float, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Route every client's demand to the sites at least cost.

    Parameters
    ----------
    cost
        Unit costs, clients × sites (n × k), finite and >= 0.
    w
        Demand of each client, > 0.
    base, room, unit
        Per site: free capacity, extra capacity, cost per unit of extra capacity.

    Returns
    -------
    status, value, flow, extra, price
        ``status`` 0: optimal; 1: the demand does not fit; 2: gave up (round-off kept the paths
        from shrinking the demand left; the caller then solves the LP instead). ``value``:
        Σ cost × flow + Σ unit × extra. ``flow``: n × k, in demand units. ``extra``: the
        expansion used per site. ``price``: each client's marginal unit cost (its dual, from
        the final potentials).
    """
    n, k = cost.shape
    total = w.sum()
    eps = 1e-12 * max(total, 1.0)
    flow = np.zeros((n, k))
    used = np.zeros(k)
    extra = np.zeros(k)
    left = w.copy()
    pot = np.zeros(n + k + 1)  # clients, sites, sink
    sink = n + k
    dist = np.empty(n + k + 1)
    pred = np.empty(n + k + 1, dtype=np.int64)
    done = np.empty(n + k + 1, dtype=np.bool_)
    # Each client's demand first goes to its cheapest site while that site has base capacity
    # left. With client potentials −min_j c_ij (sites and sink 0) every residual arc keeps a
    # reduced cost >= 0 and the flow only uses arcs of reduced cost 0, so this pseudo-flow is
    # optimal for what it routes and the shortest paths below only finish the rest: far fewer
    # augmentations than routing every client by a path.
    remaining = total
    for i in range(n):
        j = 0
        for t in range(1, k):
            if cost[i, t] < cost[i, j]:
                j = t
        pot[i] = -cost[i, j]
        amount = min(left[i], base[j] - used[j])
        if amount > 0.0:
            flow[i, j] += amount
            used[j] += amount
            left[i] -= amount
            remaining -= amount
    rounds = 0
    while remaining > eps:
        rounds += 1
        if rounds > 20 * (n + k) + 100:
            return 2, np.inf, flow, extra, np.zeros(n)
        dist[:] = np.inf
        pred[:] = -1
        done[:] = False
        for i in range(n):
            if left[i] > eps:
                dist[i] = -pot[i]  # reduced cost of the source arc (source potential 0)
        while True:
            u = -1
            best = np.inf
            for node in range(n + k + 1):
                if not done[node] and dist[node] < best:
                    best, u = dist[node], node
            if u < 0 or u == sink:
                break
            done[u] = True
            if u < n:
                for j in range(k):
                    nd = best + cost[u, j] + pot[u] - pot[n + j]
                    if nd < dist[n + j] and not done[n + j]:
                        dist[n + j], pred[n + j] = nd, u
            else:
                j = u - n
                for i in range(n):
                    if flow[i, j] > eps and not done[i]:
                        nd = best - cost[i, j] + pot[u] - pot[i]
                        if nd < dist[i]:
                            dist[i], pred[i] = nd, u
                if used[j] < base[j] - eps:
                    nd = best + pot[u] - pot[sink]
                elif extra[j] < room[j] - eps:
                    nd = best + unit[j] + pot[u] - pot[sink]
                else:
                    nd = np.inf
                if nd < dist[sink]:
                    dist[sink], pred[sink] = nd, u
        if dist[sink] == np.inf:
            return 1, np.inf, flow, extra, np.zeros(n)
        reach = dist[sink]
        for node in range(n + k + 1):
            pot[node] += min(dist[node], reach)
        # The bottleneck along the path: sink arc, reverse arcs, the first client's supply.
        j = pred[sink] - n
        delta = base[j] - used[j] if used[j] < base[j] - eps else room[j] - extra[j]
        node = pred[sink]
        while True:
            i = pred[node]
            if pred[i] < 0:
                delta = min(delta, left[i])
                break
            delta = min(delta, flow[i, pred[i] - n])
            node = pred[i]
        if used[j] < base[j] - eps:
            used[j] += delta
        else:
            extra[j] += delta
        node = pred[sink]
        while True:
            i = pred[node]
            flow[i, node - n] += delta
            if pred[i] < 0:
                left[i] -= delta
                break
            back = pred[i]
            flow[i, back - n] = max(0.0, flow[i, back - n] - delta)
            node = back
        remaining -= delta
    value = 0.0
    for i in range(n):
        for j in range(k):
            value += cost[i, j] * flow[i, j]
    for j in range(k):
        value += unit[j] * extra[j]
    price = pot[sink] - pot[:n]
    return 0, value, flow, extra, price
