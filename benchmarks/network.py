"""Time multi-source network travel time: siting.network.graph.travel_times against networkx.

Usage: python benchmarks/network.py [NODES]   (default: 200000)

The graph is road-like and synthetic: a square grid with 100 m spacing, node positions jittered by
up to ±30 m, 10 % of the street segments deleted at random, every remaining segment drivable both
ways (two directed edges, as in an osmnx ``MultiDiGraph``) with ``travel_time`` in seconds:
length at 60 km/h on every tenth row and column (arterials), 30 km/h elsewhere. A random
parallel edge is added on 1 % of the segments (slower, as osmnx graphs have them). Nodes are
numbered 0..n-1, which ``graph_arrays`` takes as row numbers directly; osmnx's OSM ids are looked
up in a hash table instead, about 0.02 s more conversion time at this size.

With 10 random sources, both sides compute the time from the nearest source to every node, in
one process: ``travel_times(G, ...)`` end to end (networkx graph → CSR matrix → one
``csgraph.dijkstra`` call), the search alone on a reused ``graph_arrays`` result, and networkx's
``multi_source_dijkstra_path_length``. The end-to-end call is the process's first conversion, so
it includes compiling the reader of CPython's dicts (``siting.network.dictread``, about 0.04 s); the
conversion timed alone is the second, and says which reader read the graph. The last line
compares end-to-end time with networkx and the largest absolute difference (seconds) over all
nodes; both must agree on which are unreached.
"""

from __future__ import annotations

import math
import sys
import time

import networkx as nx
import numpy as np

from siting.network import graph as network
from siting.network.graph import graph_arrays, travel_times

SPACING_M = 100.0


def road_grid(n_nodes: int, seed: int = 0) -> nx.MultiDiGraph:
    """A jittered grid of about ``n_nodes`` nodes with random deletions; see the module doc."""
    rng = np.random.default_rng(seed)
    side = round(math.sqrt(n_nodes))
    ids = np.arange(side * side).reshape(side, side)
    xy = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1) * SPACING_M
    xy = (xy + rng.uniform(-30, 30, xy.shape)).reshape(-1, 2)
    # Horizontal then vertical segments, with the row/column index that makes them arterials.
    a = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    b = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    line = np.concatenate(
        [np.repeat(np.arange(side), side - 1), np.tile(np.arange(side), side - 1)]
    )
    keep = rng.random(len(a)) >= 0.10
    a, b, line = a[keep], b[keep], line[keep]
    speed_ms = np.where(line % 10 == 0, 60.0, 30.0) / 3.6
    length = np.hypot(*(xy[a] - xy[b]).T)
    t = length / speed_ms
    G = nx.MultiDiGraph()
    G.add_nodes_from(range(side * side))
    fwd = list(zip(a.tolist(), b.tolist(), t.tolist(), strict=True))
    G.add_edges_from((u, v, {"travel_time": w}) for u, v, w in fwd)
    G.add_edges_from((v, u, {"travel_time": w}) for u, v, w in fwd)  # both ways
    slow = rng.random(len(a)) < 0.01
    G.add_edges_from(
        (u, v, {"travel_time": w * 1.5})
        for u, v, w in zip(a[slow].tolist(), b[slow].tolist(), t[slow].tolist(), strict=True)
    )
    return G


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 200_000
    start = time.perf_counter()
    G = road_grid(n)
    print(
        f"graph: {len(G):,} nodes, {G.number_of_edges():,} directed edges "
        f"(built in {time.perf_counter() - start:.1f} s)"
    )
    rng = np.random.default_rng(1)
    sources = rng.choice(len(G), 10, replace=False).tolist()

    start = time.perf_counter()
    times, _ = travel_times(G, sources)
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    arrays = graph_arrays(G)
    convert_s = time.perf_counter() - start
    start = time.perf_counter()
    again, _ = travel_times(arrays, sources)
    search_s = time.perf_counter() - start

    start = time.perf_counter()
    expected = nx.multi_source_dijkstra_path_length(G, set(sources), weight="travel_time")
    networkx_s = time.perf_counter() - start

    want = np.full(len(G), np.inf)
    want[list(expected)] = list(expected.values())  # node ids are 0..n-1, in graph order
    got = times.to_numpy()
    assert np.array_equal(np.isinf(got), np.isinf(want)), "reached sets differ"
    assert np.array_equal(got, again.to_numpy())
    finite = np.isfinite(want)
    max_abs_diff = float(np.max(np.abs(got[finite] - want[finite])))

    print(f"siting travel_times end to end: {ours_s:.3f} s")
    reader = "compiled" if network._read_compiled(G, "travel_time") is not None else "Python"
    print(
        f"  graph_arrays alone (networkx → CSR, {reader} reader), timed separately: "
        f"{convert_s:.3f} s"
    )
    print(
        f"  search alone on reused arrays: {search_s:.3f} s "
        f"({networkx_s / search_s:.1f}x faster than networkx)"
    )
    print(f"networkx multi_source_dijkstra_path_length: {networkx_s:.3f} s")
    speedup = networkx_s / ours_s
    print(
        f"network nodes={len(G)} speedup_vs_networkx={speedup:.2f} max_abs_diff={max_abs_diff:.3g}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
