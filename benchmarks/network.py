"""Time multi-source network travel time (siting.network) against networkx, end to end.

Usage: python benchmarks/network.py [NODES]   (default: 200000)

The roads are synthetic: a square grid with 100 m spacing, node positions jittered by up to
±30 m, 10 % of the street segments deleted at random, every remaining segment a road line driven
both ways at 60 km/h on every tenth row and column (arterials), 30 km/h elsewhere. With 10 random
sources, every side computes the time from the nearest source to every node, in one process, on
the same input, from the input:

1. Road lines, the run's path (a GeoDataFrame of LineStrings and a speed per line). siting:
   ``network_from_lines`` in its two steps, ``pieces`` (noding the lines with GEOS, cutting them
   into straight pieces, one node per distinct end) then the CSR matrix, and one
   ``csgraph.dijkstra`` call. networkx: the same pieces as a ``MultiDiGraph`` with
   ``travel_time`` on every edge, then ``multi_source_dijkstra_path_length``. The pieces are
   computed once and counted in both end-to-end times; the ratio without them is printed too.
2. An osmnx-style graph a user brings: a ``MultiDiGraph`` of the same pieces with OSM-like int64
   node ids, ``x``/``y`` on its nodes, a CRS, ``travel_time`` on its edges, and a slower parallel
   edge on 1 % of the segments. siting: ``network_from_graph`` (networkx's edge iteration into
   arrays, CSR matrix) then the search; networkx: the search on the graph as it is. Reading the
   graph costs about one networkx search: the gain comes with the second query. The reading
   and the search are also timed apart.

The last lines compare end-to-end times with networkx and give the largest absolute difference
(seconds) over all nodes; every side must agree on which nodes are unreached.
"""

from __future__ import annotations

import math
import sys
import time

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

from siting.network.graph import network_from_graph, travel_times
from siting.network.traveltime import pieces

SPACING_M = 100.0
CRS = "EPSG:32645"


def road_lines(n_nodes: int, seed: int = 0) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """A jittered grid of about ``n_nodes`` nodes with random deletions as road lines (one per
    street segment), and the speed of each in km/h; see the module doc."""
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
    speed_kmh = np.where(line % 10 == 0, 60.0, 30.0)
    geometry = shapely.linestrings(np.stack([xy[a], xy[b]], 1))
    return gpd.GeoDataFrame(geometry=geometry, crs=CRS), speed_kmh


def networkx_from_pieces(u: np.ndarray, v: np.ndarray, seconds: np.ndarray) -> nx.MultiDiGraph:
    """The pieces as a networkx graph, both ways, with ``travel_time``."""
    G = nx.MultiDiGraph()
    G.add_nodes_from(range(int(max(u.max(), v.max())) + 1))
    fwd = list(zip(u.tolist(), v.tolist(), seconds.tolist(), strict=True))
    G.add_edges_from((s, t, {"travel_time": w}) for s, t, w in fwd)
    G.add_edges_from((t, s, {"travel_time": w}) for s, t, w in fwd)
    return G


def osmnx_style(lines: gpd.GeoDataFrame, speed_kmh: np.ndarray, seed: int = 2) -> nx.MultiDiGraph:
    """The lines' pieces as the graph a user would bring from osmnx; see the module doc."""
    rng = np.random.default_rng(seed)
    cut = pieces(lines, speed_kmh)
    seconds = cut.seconds()
    osmid = 1_000_000_000 + 7 * rng.permutation(len(cut.x))  # int64 ids that are not row numbers
    G = nx.MultiDiGraph(crs=CRS)
    G.add_nodes_from(
        (i, {"x": x, "y": y})
        for i, x, y in zip(osmid.tolist(), cut.x.tolist(), cut.y.tolist(), strict=True)
    )
    u, v = osmid[cut.u].tolist(), osmid[cut.v].tolist()
    fwd = list(zip(u, v, seconds.tolist(), strict=True))
    G.add_edges_from((s, t, {"travel_time": w}) for s, t, w in fwd)
    G.add_edges_from((t, s, {"travel_time": w}) for s, t, w in fwd)
    slow = np.flatnonzero(rng.random(len(u)) < 0.01)
    G.add_edges_from((u[k], v[k], {"travel_time": float(seconds[k]) * 1.5}) for k in slow)
    return G


def compare(got: np.ndarray, expected: dict, order: list) -> float:
    """Largest absolute difference between ``got`` (in ``order``) and networkx's times."""
    want = np.array([expected.get(node, np.inf) for node in order])
    assert np.array_equal(np.isinf(got), np.isinf(want)), "reached sets differ"
    finite = np.isfinite(want)
    return float(np.max(np.abs(got[finite] - want[finite])))


def lines_path(lines: gpd.GeoDataFrame, speed_kmh: np.ndarray, n_sources: int) -> None:
    # network_from_lines(lines, speed_kmh) in its two steps, so that networkx gets the same pieces.
    start = time.perf_counter()
    cut = pieces(lines, speed_kmh)
    pieces_s = time.perf_counter() - start
    start = time.perf_counter()
    network = cut.network()
    matrix_s = time.perf_counter() - start
    sources = np.random.default_rng(1).choice(len(network.nodes), n_sources, replace=False)
    start = time.perf_counter()
    times, _ = travel_times(network, sources.tolist())
    search_s = time.perf_counter() - start

    start = time.perf_counter()
    G = networkx_from_pieces(cut.u, cut.v, cut.seconds())
    graph_s = time.perf_counter() - start
    start = time.perf_counter()
    expected = nx.multi_source_dijkstra_path_length(G, set(sources.tolist()), weight="travel_time")
    networkx_search_s = time.perf_counter() - start
    diff = compare(times.to_numpy(), expected, list(range(len(network.nodes))))

    ours_s = pieces_s + matrix_s + search_s
    networkx_s = pieces_s + graph_s + networkx_search_s
    print(
        f"1. road lines: {len(lines):,} lines -> {len(network.nodes):,} nodes, "
        f"{network.matrix.nnz:,} directed edges; pieces (shared) {pieces_s:.3f} s"
    )
    print(
        f"  siting: pieces + CSR matrix {matrix_s:.3f} s + travel_times {search_s:.3f} s "
        f"= {ours_s:.3f} s"
    )
    print(
        f"  networkx: pieces + MultiDiGraph {graph_s:.3f} s "
        f"+ multi_source_dijkstra_path_length {networkx_search_s:.3f} s = {networkx_s:.3f} s"
    )
    after = (graph_s + networkx_search_s) / (matrix_s + search_s)
    print(
        f"network lines nodes={len(network.nodes)} speedup_vs_networkx={networkx_s / ours_s:.2f} "
        f"without_pieces={after:.2f} max_abs_diff={diff:.3g}"
    )


def graph_path(G: nx.MultiDiGraph, n_sources: int) -> None:
    nodes = list(G.nodes)
    picks = np.random.default_rng(1).choice(len(nodes), n_sources, replace=False)
    sources = [nodes[i] for i in picks]

    start = time.perf_counter()
    times, _ = travel_times(G, sources)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    network = network_from_graph(G)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    again, _ = travel_times(network, sources)
    search_s = time.perf_counter() - start

    start = time.perf_counter()
    expected = nx.multi_source_dijkstra_path_length(G, set(sources), weight="travel_time")
    networkx_s = time.perf_counter() - start
    assert np.array_equal(times.to_numpy(), again.to_numpy())
    diff = compare(times.to_numpy(), expected, nodes)

    print(f"2. osmnx-style graph: {len(G):,} nodes, {G.number_of_edges():,} directed edges")
    print(f"  siting travel_times(G, ...) end to end: {ours_s:.3f} s")
    print(
        f"    network_from_graph alone {read_s:.3f} s, then the search alone {search_s:.3f} s "
        f"({networkx_s / search_s:.1f}x faster than networkx)"
    )
    print(f"  networkx multi_source_dijkstra_path_length: {networkx_s:.3f} s")
    print(
        f"network graph nodes={len(G)} speedup_vs_networkx={networkx_s / ours_s:.2f} "
        f"max_abs_diff={diff:.3g}"
    )


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 200_000
    lines, speed_kmh = road_lines(n)
    lines_path(lines, speed_kmh, 10)
    graph_path(osmnx_style(lines, speed_kmh), 10)


if __name__ == "__main__":
    main(sys.argv[1:])
