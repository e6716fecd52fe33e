"""Network travel times (siting.network.graph) against networkx on real OpenStreetMap extracts."""

from __future__ import annotations

import math
from collections import Counter

import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest

from siting.errors import LayerError, SitingError
from siting.network.graph import (
    RoadNetwork,
    access_times,
    network_from_graph,
    od_matrix,
    snap,
    travel_times,
)

from conftest import SHARED

OSM = SHARED / "osm"
FILES = ["aguascalientes.osm.bz2", "West-Oakland.osm.bz2"]
SPEEDS_FIX = "call osmnx.routing.add_edge_speeds and add_edge_travel_times first"


def load(name: str) -> nx.MultiDiGraph:
    """A drivable-ish graph with osmnx travel times: ways without a ``highway`` tag (railways,
    leisure outlines) are dropped, and highway types without a known maxspeed get 30 km/h."""
    G = ox.graph_from_xml(OSM / name, simplify=True)
    G.remove_edges_from(
        [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if "highway" not in d]
    )
    G = ox.routing.add_edge_speeds(G, fallback=30)
    return ox.routing.add_edge_travel_times(G)


@pytest.fixture(scope="module", params=FILES)
def graph(request) -> nx.MultiDiGraph:
    path = OSM / request.param
    if not path.exists():
        pytest.skip(f"{path} not available")
    return load(request.param)


@pytest.fixture(scope="module")
def aguascalientes() -> nx.MultiDiGraph:
    if not (OSM / "aguascalientes.osm.bz2").exists():
        pytest.skip("aguascalientes.osm.bz2 not available")
    return load("aguascalientes.osm.bz2")


def some_nodes(G: nx.MultiDiGraph, k: int, seed: int = 0) -> list:
    nodes = list(G.nodes)
    picks = np.random.default_rng(seed).choice(len(nodes), min(k, len(nodes)), replace=False)
    return [nodes[i] for i in picks]


def dense(matrix) -> np.ndarray:
    """The matrix with ``inf`` where there is no edge (explicit zeros stay 0)."""
    out = np.full(matrix.shape, np.inf)
    coo = matrix.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


def networkx_matrix(G, weight: str = "travel_time") -> np.ndarray:
    """networkx's own matrix of minimum edge weights in ``G.nodes`` order, self-loops dropped."""
    out = nx.to_numpy_array(G, weight=weight, multigraph_weight=min, nonedge=np.inf)
    np.fill_diagonal(out, np.inf)
    return out


def test_real_graphs_load_with_parallel_edges(aguascalientes):
    assert len(aguascalientes) > 1000
    pairs = Counter((u, v) for u, v, _ in aguascalientes.edges(keys=True))
    assert sum(c > 1 for c in pairs.values()) > 0  # the parallel-edge test below is not vacuous


def test_travel_times_match_networkx_multi_source(graph):
    sources = some_nodes(graph, 5)
    times, nearest = travel_times(graph, sources)
    expected = nx.multi_source_dijkstra_path_length(graph, set(sources), weight="travel_time")
    assert list(times.index) == list(graph.nodes)
    assert set(times.index[np.isfinite(times.to_numpy())]) == set(expected)
    for node, t in times.items():
        if node in expected:
            assert t == pytest.approx(expected[node], rel=1e-9, abs=1e-12)
        else:
            assert t == math.inf and nearest[node] == -1
    assert (times[sources] == 0).all()
    assert [nearest[s] for s in sources] == list(range(len(sources)))


def test_od_matrix_matches_networkx(graph):
    sources = some_nodes(graph, 4, seed=1)
    targets = some_nodes(graph, 60, seed=2)
    od = od_matrix(graph, sources, targets)
    assert od.shape == (4, len(targets))
    for s in sources:
        expected = nx.single_source_dijkstra_path_length(graph, s, weight="travel_time")
        for t in targets:
            want = expected.get(t, math.inf)
            assert od.loc[s, t] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_nearest_source_is_consistent_with_od_matrix(graph):
    network = network_from_graph(graph)
    sources = some_nodes(graph, 6, seed=3)
    times, nearest = travel_times(network, sources)
    od = od_matrix(network, sources, list(graph.nodes))
    reached = np.isfinite(times.to_numpy())
    assert (nearest.to_numpy()[reached] >= 0).all()
    assert (nearest.to_numpy()[~reached] == -1).all()
    for node in times.index[reached]:
        t = od.loc[sources[nearest[node]], node]
        assert t == pytest.approx(times[node], rel=1e-9, abs=1e-12)
        assert od[node].min() == pytest.approx(times[node], rel=1e-9, abs=1e-12)


def test_graph_is_read_as_networkx_reads_it(graph):
    network = network_from_graph(graph)
    assert list(network.nodes) == list(graph.nodes) and network.nodes.dtype == np.int64  # OSM ids
    assert network.matrix.has_sorted_indices  # canonical CSR, whatever the adjacency order
    assert np.array_equal(dense(network.matrix), networkx_matrix(graph))
    assert network.x.tolist() == [d["x"] for _, d in graph.nodes(data=True)]
    assert network.y.tolist() == [d["y"] for _, d in graph.nodes(data=True)]
    assert network.crs == graph.graph["crs"]


def test_parallel_edges_take_the_minimum(aguascalientes):
    network = network_from_graph(aguascalientes)
    index = {n: i for i, n in enumerate(network.nodes)}
    pairs = Counter((u, v) for u, v, _ in aguascalientes.edges(keys=True) if u != v)
    assert network.matrix.nnz == len(pairs)  # one entry per (u, v), self-loops dropped
    assert max(pairs.values()) > 1
    for (u, v), count in pairs.items():
        weights = [d["travel_time"] for d in aguascalientes.get_edge_data(u, v).values()]
        assert len(weights) == count
        assert network.matrix[index[u], index[v]] == min(weights)


def test_node_ids_do_not_change_the_matrix(aguascalientes):
    # OSM ids (int64), ids 0..n-1 and str ids (read as objects) give the same matrix and times.
    network = network_from_graph(aguascalientes)
    sources = some_nodes(aguascalientes, 3, seed=7)
    times, nearest = travel_times(network, sources)
    row = {node: i for i, node in enumerate(aguascalientes.nodes)}
    for relabel in (row.__getitem__, str):
        H = nx.relabel_nodes(aguascalientes, relabel)
        other = network_from_graph(H)
        assert list(other.nodes) == [relabel(n) for n in aguascalientes.nodes]
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(other.matrix, part), getattr(network.matrix, part))
        again, again_nearest = travel_times(other, [relabel(s) for s in sources])
        assert np.array_equal(again.to_numpy(), times.to_numpy())
        assert np.array_equal(again_nearest.to_numpy(), nearest.to_numpy())


def test_reusing_the_network_and_limit(aguascalientes):
    sources = some_nodes(aguascalientes, 3, seed=4)
    network = network_from_graph(aguascalientes)
    times, nearest = travel_times(aguascalientes, sources)
    again, again_nearest = travel_times(network, sources)
    assert np.array_equal(times.to_numpy(), again.to_numpy())
    assert np.array_equal(nearest.to_numpy(), again_nearest.to_numpy())
    limit = float(np.median(times[np.isfinite(times.to_numpy())]))
    capped, capped_nearest = travel_times(network, sources, limit=limit)
    within = (times <= limit).to_numpy()
    assert np.array_equal(capped.to_numpy()[within], times.to_numpy()[within])
    assert np.isinf(capped.to_numpy()[~within]).all()
    assert (capped_nearest.to_numpy()[~within] == -1).all()


def test_missing_weight_is_a_user_error(aguascalientes):
    raw = ox.graph_from_xml(OSM / "aguascalientes.osm.bz2", simplify=True)
    with pytest.raises(LayerError) as err:
        network_from_graph(raw)
    assert isinstance(err.value, SitingError)
    assert "'travel_time'" in err.value.message
    assert err.value.fix == SPEEDS_FIX
    G = aguascalientes.copy()
    u, v, k = next(iter(G.edges(keys=True)))
    del G.edges[u, v, k]["travel_time"]
    with pytest.raises(LayerError, match="has no 'travel_time' attribute"):
        travel_times(G, [u])
    with pytest.raises(LayerError, match="'speed' attribute"):
        od_matrix(aguascalientes, [u], [v], weight="speed")


def test_bad_weights_and_unknown_nodes():
    G = nx.MultiDiGraph()
    G.add_edge("a", "b", travel_time=float("nan"))
    with pytest.raises(LayerError, match="not a non-negative number"):
        network_from_graph(G)
    G.edges["a", "b", 0]["travel_time"] = 1.0
    with pytest.raises(LayerError, match="source node 'z' is not in the road graph"):
        travel_times(G, ["z"])
    with pytest.raises(LayerError, match="target node 'z'"):
        od_matrix(G, ["a"], ["z"])
    with pytest.raises(LayerError, match="no source nodes"):
        travel_times(G, [])


def test_graph_views_match_networkx(aguascalientes):
    # Views wrap networkx's dicts in filtering mappings: they are read like graphs.
    nodes = list(aguascalientes.nodes)
    induced = aguascalientes.subgraph(nodes[: len(nodes) // 2])
    first_keys = nx.subgraph_view(aguascalientes, filter_edge=lambda u, v, k: k == 0)
    assert first_keys.number_of_edges() < aguascalientes.number_of_edges()  # drops parallels
    for view in (induced, first_keys):
        sources = some_nodes(view, 3, seed=6)
        times, _ = travel_times(view, sources)
        expected = nx.multi_source_dijkstra_path_length(view, set(sources), weight="travel_time")
        assert list(times.index) == list(view.nodes)
        assert set(times.index[np.isfinite(times.to_numpy())]) == set(expected)
        for node, t in expected.items():
            assert times[node] == pytest.approx(t, rel=1e-9, abs=1e-12)


def awkward_multidigraph() -> nx.MultiDiGraph:
    """Integer ids of every size and sign, parallel edges, str edge keys, removed edges and
    nodes, a self-loop, zero, int and numpy weights."""
    G = nx.MultiDiGraph()
    G.add_nodes_from([10, -3, 2**40, 0, 7, 2**62 + 5, 99, 555])
    G.add_edge(10, -3, travel_time=2.5)
    G.add_edge(10, -3, travel_time=1.5)  # a faster parallel edge
    G.add_edge(10, -3, key="slow", travel_time=9.0)  # a str edge key among int ones
    G.add_edge(7, -3, key="only", travel_time=3.0)
    G.add_edge(-3, 2**40, travel_time=4.0)
    G.add_edge(2**40, 0, travel_time=3)  # an int weight
    G.add_edge(0, 7, travel_time=np.float64(0.25))
    G.add_edge(7, 7, travel_time=1.0)  # a self-loop
    G.add_edge(7, 10, travel_time=0.0)  # zero cost: an explicit entry
    G.add_edge(2**62 + 5, 7, travel_time=-0.0)
    G.add_edge(99, 0, travel_time=1)
    G.add_edge(99, -3, travel_time=np.float32(2.0))
    G.add_edge(0, 99, travel_time=1.0)
    G.add_edge(0, 99, travel_time=2.0)
    G.remove_edge(0, 99, key=0)  # the faster one is gone
    G.add_edge(10, 0, travel_time=1.0)
    G.remove_edge(10, 0)
    G.add_edge(555, 10, travel_time=1.0)
    G.remove_node(555)
    G.add_edge(2**40, -(2**62), travel_time=0.5)
    return G


def test_awkward_graphs_give_networkx_matrix():
    G = awkward_multidigraph()
    network = network_from_graph(G)
    assert list(network.nodes) == list(G.nodes)
    assert np.array_equal(dense(network.matrix), networkx_matrix(G))
    rows = {n: i for i, n in enumerate(G.nodes)}
    assert network.matrix[rows[10], rows[-3]] == 1.5
    assert network.matrix[rows[0], rows[99]] == 2.0
    assert network.matrix[rows[7], rows[10]] == 0.0 and network.matrix.nnz == 11
    for kind in (nx.DiGraph, nx.Graph, nx.MultiGraph):  # attribute dicts, undirected graphs
        H = kind(G)
        assert np.array_equal(dense(network_from_graph(H).matrix), networkx_matrix(H))
    # Edits are seen: nothing is cached.
    G.edges[10, -3, 1]["travel_time"] = 0.5
    G.add_edge(7, 2**40, travel_time=7.0)
    assert np.array_equal(dense(network_from_graph(G).matrix), networkx_matrix(G))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "edge ('c', 'd') has no 'travel_time' attribute"),
        (float("nan"), "edge ('c', 'd') has 'travel_time' = nan, not a non-negative number"),
        (-1, "edge ('c', 'd') has 'travel_time' = -1.0, not a non-negative number"),
        (np.float32(-2), "edge ('c', 'd') has 'travel_time' = -2.0, not a non-negative number"),
        ("fast", "edge ('c', 'd') has 'travel_time' = 'fast', not a non-negative number"),
    ],
)
def test_bad_weight_names_the_first_bad_edge(value, message):
    G = nx.MultiDiGraph()
    G.add_edge("a", "b", travel_time=1.0)
    # The bad edge is parallel to a good, faster one: taking the minimum must not hide it.
    G.add_edge("c", "d", travel_time=0.5)
    G.add_edge("c", "d", travel_time=value)
    G.add_edge("d", "a", travel_time=-5.0)  # also bad, but after ('c', 'd') in adjacency order
    with pytest.raises(LayerError) as err:
        network_from_graph(G)
    assert message in err.value.message
    assert err.value.fix == SPEEDS_FIX
    G.remove_edge("c", "d", key=1)
    with pytest.raises(LayerError, match=r"edge \('d', 'a'\) has 'travel_time' = -5.0"):
        network_from_graph(G)
    # Integer ids are read as int64 rather than as objects: the same errors.
    G.add_edge("c", "d", travel_time=value)
    G = nx.relabel_nodes(G, {"a": 1, "b": 2, "c": 3, "d": 4})
    with pytest.raises(LayerError) as err:
        network_from_graph(G)
    assert message.replace("('c', 'd')", "(3, 4)") in err.value.message


def test_node_ids_of_any_kind():
    # Integer ids are read as int64; others (beyond int64, strings, tuples, mixed) as objects.
    huge = 2**70
    for a, b, c in [(7, 3, 11), (huge, 1, 2), ("x", 5, (1, 2))]:
        for kind in (nx.DiGraph, nx.MultiDiGraph, nx.Graph):
            G = kind()
            G.add_edge(a, b, travel_time=2.0)
            G.add_edge(b, c, travel_time=3.0)
            G.add_node(99)
            times, nearest = travel_times(G, [a])
            assert list(times.index) == [a, b, c, 99]
            assert times.tolist() == [0.0, 2.0, 5.0, math.inf]
            assert nearest.tolist() == [0, 0, 0, -1]
            back = 5.0 if kind is nx.Graph else math.inf  # only undirected edges lead back
            assert travel_times(G, [c])[0][a] == back
    G = nx.MultiDiGraph()
    G.add_edge(10, 20, travel_time=1.5)
    G.add_edge(20, 30, travel_time=1.0)
    times, _ = travel_times(G, [np.int64(10)])
    assert times.index.dtype == np.int64 and times.to_dict() == {10: 0.0, 20: 1.5, 30: 2.5}
    assert travel_times(G, [10.0])[0].to_dict() == {10: 0.0, 20: 1.5, 30: 2.5}  # 10.0 == 10
    with pytest.raises(LayerError, match="source node 40 is not in the road graph"):
        travel_times(G, [10, 40])
    with pytest.raises(LayerError, match="target node 'z' is not in the road graph"):
        od_matrix(G, [10], [30, "z"])


def test_graphs_without_edges():
    G = nx.MultiDiGraph()
    G.add_nodes_from([4, 2])
    network = network_from_graph(G)
    assert network.matrix.shape == (2, 2) and network.matrix.nnz == 0
    assert list(network.nodes) == [4, 2]
    assert travel_times(G, [2])[0].to_dict() == {4: math.inf, 2: 0.0}
    network = network_from_graph(nx.MultiDiGraph())
    assert network.matrix.shape == (0, 0) and len(network.nodes) == 0


def test_hand_built_multidigraph():
    #   a --(10, 4 parallel)--> b --2--> c      one-way chain, with a parallel a→b edge
    #   c --1--> a,  d --0--> c (zero-cost),  e isolated,  s2 --7--> c
    G = nx.MultiDiGraph()
    G.add_edge("a", "b", travel_time=10.0)
    G.add_edge("a", "b", travel_time=4.0)
    G.add_edge("b", "c", travel_time=2.0)
    G.add_edge("c", "a", travel_time=1.0)
    G.add_edge("d", "c", travel_time=0.0)
    G.add_edge("c", "c", travel_time=0.5)  # self-loop: ignored
    G.add_edge("s2", "c", travel_time=7.0)
    G.add_node("e")
    network = network_from_graph(G)
    assert list(network.nodes) == ["a", "b", "c", "d", "s2", "e"]
    assert network.matrix.nnz == 5
    assert network.matrix[0, 1] == 4.0 and network.matrix[3, 2] == 0.0

    times, nearest = travel_times(G, ["a"])
    assert times.to_dict() == {"a": 0, "b": 4, "c": 6, "d": math.inf, "s2": math.inf, "e": math.inf}
    assert nearest.to_dict() == {"a": 0, "b": 0, "c": 0, "d": -1, "s2": -1, "e": -1}

    # From d (zero-cost edge into c) and s2: c is 0 from d, a 1, b 5; s2 is its own source.
    times, nearest = travel_times(G, ["s2", "d"])
    assert times.to_dict() == {"a": 1, "b": 5, "c": 0, "d": 0, "s2": 0, "e": math.inf}
    assert nearest.to_dict() == {"a": 1, "b": 1, "c": 1, "d": 1, "s2": 0, "e": -1}

    od = od_matrix(G, ["a", "b", "e"], ["c", "a", "e"])
    assert od.to_numpy().tolist() == [
        [6.0, 0.0, math.inf],
        [2.0, 3.0, math.inf],
        [math.inf, math.inf, 0.0],
    ]

    # An undirected graph is travelled both ways.
    U = nx.Graph()
    U.add_edge(1, 2, travel_time=3.0)
    U.add_edge(2, 3, travel_time=4.0)
    assert travel_times(U, [3])[0].to_dict() == {1: 7.0, 2: 4.0, 3: 0.0}


def test_network_from_edges():
    # 0 → 1 twice (5, then 2: the faster kept), 1 → 2 at no cost, 2 → 2 a self-loop (dropped),
    # 2 → 0 at 1; the rows are sorted whatever order the edges come in.
    network = RoadNetwork.from_edges(
        np.array([2, 0, 1, 2, 0]),
        np.array([2, 1, 2, 0, 1]),
        np.array([9.0, 5.0, 0.0, 1.0, 2.0]),
        np.zeros(3),
        np.arange(3.0),
    )
    assert list(network.nodes) == [0, 1, 2] and network.nodes.name == "node"
    assert network.matrix.indptr.tolist() == [0, 1, 2, 3]
    assert network.matrix.indices.tolist() == [1, 2, 0]
    assert network.matrix.data.tolist() == [2.0, 0.0, 1.0]
    assert network.matrix.indices.dtype == network.matrix.indptr.dtype == np.int32
    assert travel_times(network, [0])[0].tolist() == [0.0, 2.0, 2.0]
    for u, v, cost, message in [
        ([0], [1], [-1.0], "non-negative"),
        ([0], [1], [np.nan], "non-negative"),
        ([0], [3], [1.0], "row numbers"),
        ([0, 1], [1], [1.0], "differ in shape"),
    ]:
        with pytest.raises(ValueError, match=message):
            RoadNetwork.from_edges(
                np.array(u), np.array(v), np.array(cost), np.zeros(3), np.zeros(3)
            )
    with pytest.raises(ValueError, match="3 nodes need"):
        RoadNetwork(network.matrix, network.nodes, np.zeros(2), np.zeros(3))


def test_snap_is_the_nearest_node_and_the_off_network_leg(aguascalientes):
    with pytest.raises(LayerError, match="not a projected CRS"):
        snap(network_from_graph(aguascalientes), [0.0], [0.0])
    P = ox.projection.project_graph(aguascalientes)
    network = network_from_graph(P)
    # The k-d tree against brute force over every node, for random points across the graph.
    rng = np.random.default_rng(8)
    x = rng.uniform(network.x.min() - 500, network.x.max() + 500, 300)
    y = rng.uniform(network.y.min() - 500, network.y.max() + 500, 300)
    snapped = snap(network, x, y)
    dist = np.hypot(x[:, None] - network.x[None, :], y[:, None] - network.y[None, :])
    assert snapped["node_dist_m"].to_numpy() == pytest.approx(dist.min(axis=1), rel=1e-12)
    at_node = dist[np.arange(len(x)), network.nodes.get_indexer(snapped["node"])]
    assert at_node == pytest.approx(dist.min(axis=1), rel=1e-12)
    # And osmnx's own nearest node.
    assert snapped["node"].tolist() == ox.distance.nearest_nodes(P, x, y).tolist()

    sources = some_nodes(P, 3, seed=5)
    times, _ = travel_times(network, sources)
    reached = times.index[np.isfinite(times.to_numpy()) & (times.to_numpy() > 0)]
    node = reached[0]
    x0, y0 = P.nodes[node]["x"], P.nodes[node]["y"]
    # A point exactly on a node, and one 5 m east of it (closer to that node than to any other).
    gap = min(math.hypot(P.nodes[n]["x"] - x0, P.nodes[n]["y"] - y0) for n in P.nodes if n != node)
    assert gap > 10
    snapped = snap(network, [x0, x0 + 5.0], [y0, y0])
    assert list(snapped["node"]) == [node, node]
    assert snapped["node_dist_m"].tolist() == pytest.approx([0.0, 5.0])
    got = access_times(times, snapped, off_speed_kmh=18.0)  # 18 km/h = 5 m/s: 5 m takes 1 s
    assert got.tolist() == pytest.approx([times[node], times[node] + 1.0])
    with pytest.raises(LayerError, match="off_speed_kmh"):
        access_times(times, snapped, off_speed_kmh=0)


def test_snap_needs_coordinates():
    G = nx.MultiDiGraph(crs="EPSG:32645")
    G.add_edge(1, 2, travel_time=1.0)
    with pytest.raises(LayerError, match="nodes without x and y"):
        snap(network_from_graph(G), [0.0], [0.0])
    G.nodes[1].update(x=0.0, y=0.0)
    G.nodes[2].update(x=100.0, y=0.0)
    snapped = snap(network_from_graph(G), 70.0, 1.0)  # a scalar point too
    assert snapped["node"].tolist() == [2] and isinstance(snapped, pd.DataFrame)
    assert snapped["node_dist_m"].tolist() == pytest.approx([math.hypot(30, 1)])
