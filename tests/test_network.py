"""Network travel times (siting.network.graph) against networkx on real OpenStreetMap extracts."""

from __future__ import annotations

import gc
import math
from collections import Counter

import networkx as nx
import numpy as np
import osmnx as ox
import pytest

from siting.errors import LayerError, SitingError
from siting.network import dictread
from siting.network import graph as network
from siting.network.graph import (
    access_times,
    graph_arrays,
    od_matrix,
    snap,
    travel_times,
)

from conftest import SHARED

OSM = SHARED / "osm"
FILES = ["aguascalientes.osm.bz2", "West-Oakland.osm.bz2"]


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
    return load("aguascalientes.osm.bz2")


def some_nodes(G: nx.MultiDiGraph, k: int, seed: int = 0) -> list:
    nodes = list(G.nodes)
    picks = np.random.default_rng(seed).choice(len(nodes), min(k, len(nodes)), replace=False)
    return [nodes[i] for i in picks]


def test_real_graphs_load_with_parallel_edges(aguascalientes):
    assert len(aguascalientes) > 1000
    pairs = Counter((u, v) for u, v, _ in aguascalientes.edges(keys=True))
    assert sum(c > 1 for c in pairs.values()) > 0  # the parallel-edge test below is not vacuous


def test_travel_times_match_networkx_multi_source(graph):
    sources = some_nodes(graph, 5)
    times, nearest = travel_times(graph, sources)
    expected = nx.multi_source_dijkstra_path_length(graph, set(sources), weight="travel_time")
    assert set(times.index) == set(graph.nodes)
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
    sources = some_nodes(graph, 6, seed=3)
    times, nearest = travel_times(graph, sources)
    od = od_matrix(graph, sources, list(graph.nodes))
    reached = np.isfinite(times.to_numpy())
    assert (nearest.to_numpy()[reached] >= 0).all()
    assert (nearest.to_numpy()[~reached] == -1).all()
    for node in times.index[reached]:
        t = od.loc[sources[nearest[node]], node]
        assert t == pytest.approx(times[node], rel=1e-9, abs=1e-12)
        assert od[node].min() == pytest.approx(times[node], rel=1e-9, abs=1e-12)


def test_parallel_edges_take_the_minimum(aguascalientes):
    matrix, nodes = graph_arrays(aguascalientes)
    assert list(nodes) == list(aguascalientes.nodes) and nodes.dtype == np.int64  # OSM ids
    assert matrix.has_sorted_indices  # canonical CSR, whatever the adjacency order
    index = {n: i for i, n in enumerate(nodes)}
    pairs = Counter((u, v) for u, v, _ in aguascalientes.edges(keys=True) if u != v)
    assert matrix.nnz == len(pairs)  # one entry per (u, v), self-loops dropped
    for (u, v), count in pairs.items():
        weights = [d["travel_time"] for d in aguascalientes.get_edge_data(u, v).values()]
        assert len(weights) == count
        assert matrix[index[u], index[v]] == min(weights)


def test_renumbered_nodes_give_the_same_matrix(aguascalientes):
    # Node ids 0..n-1 in order take a fast path (each id is its own row, no lookup): it must give
    # exactly the matrix and the times of the OSM graph, whose ids are looked up.
    matrix, _ = graph_arrays(aguascalientes)
    renumbered = nx.convert_node_labels_to_integers(aguascalientes)
    got, nodes = graph_arrays(renumbered)
    assert list(nodes) == list(range(len(aguascalientes)))
    assert np.array_equal(got.indptr, matrix.indptr)
    assert np.array_equal(got.indices, matrix.indices)
    assert np.array_equal(got.data, matrix.data)
    sources = some_nodes(aguascalientes, 3, seed=7)
    times, nearest = travel_times(aguascalientes, sources)
    row = {node: i for i, node in enumerate(aguascalientes.nodes)}
    again, again_nearest = travel_times(renumbered, [row[s] for s in sources])
    assert np.array_equal(again.to_numpy(), times.to_numpy())
    assert np.array_equal(again_nearest.to_numpy(), nearest.to_numpy())


def test_reusing_arrays_and_limit(aguascalientes):
    sources = some_nodes(aguascalientes, 3, seed=4)
    arrays = graph_arrays(aguascalientes)
    times, nearest = travel_times(aguascalientes, sources)
    again, again_nearest = travel_times(arrays, sources)
    assert np.array_equal(times.to_numpy(), again.to_numpy())
    assert np.array_equal(nearest.to_numpy(), again_nearest.to_numpy())
    limit = float(np.median(times[np.isfinite(times.to_numpy())]))
    capped, capped_nearest = travel_times(arrays, sources, limit=limit)
    within = (times <= limit).to_numpy()
    assert np.array_equal(capped.to_numpy()[within], times.to_numpy()[within])
    assert np.isinf(capped.to_numpy()[~within]).all()
    assert (capped_nearest.to_numpy()[~within] == -1).all()


def test_missing_weight_is_a_user_error(aguascalientes):
    raw = ox.graph_from_xml(OSM / "aguascalientes.osm.bz2", simplify=True)
    with pytest.raises(LayerError) as err:
        graph_arrays(raw)
    assert isinstance(err.value, SitingError)
    assert "'travel_time'" in err.value.message
    assert err.value.fix == "call osmnx.routing.add_edge_speeds and add_edge_travel_times first"
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
        graph_arrays(G)
    G.edges["a", "b", 0]["travel_time"] = 1.0
    with pytest.raises(LayerError, match="source node 'z' is not in the road graph"):
        travel_times(G, ["z"])
    with pytest.raises(LayerError, match="target node 'z'"):
        od_matrix(G, ["a"], ["z"])
    with pytest.raises(LayerError, match="no source nodes"):
        travel_times(G, [])


def test_graph_views_match_networkx(aguascalientes):
    # Views wrap networkx's dicts in filtering mappings: the conversion must read those too.
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


class TaggedDict(dict):
    """A dict subclass, so not read through ``gc.get_referents`` like a plain dict."""


class TaggedGraph(nx.MultiDiGraph):
    edge_key_dict_factory = TaggedDict


def python_reader_only(monkeypatch) -> None:
    """Make graph_arrays read every graph with its pure-Python reader."""
    monkeypatch.setattr(network, "_read_compiled", lambda G, weight: None)


def same_matrix(a, b) -> bool:
    return all(
        np.array_equal(getattr(a, part), getattr(b, part)) for part in ("indptr", "indices", "data")
    )


def test_every_kind_of_adjacency_dict_gives_the_same_matrix(aguascalientes, monkeypatch):
    # The pure-Python reader (the compiled one is turned off here, see the tests below): plain
    # dicts are listed by gc.get_referents; dicts with str keys (which it lists without their
    # keys), dict subclasses and views are iterated. The level of neighbours and that of
    # parallel edges each take either way.
    python_reader_only(monkeypatch)
    calls = []
    listed = gc.get_referents
    monkeypatch.setattr(gc, "get_referents", lambda *objs: calls.append(objs) or listed(*objs))
    G = aguascalientes
    matrix, nodes = graph_arrays(G)
    assert calls  # the plain graph's dicts were listed by gc.get_referents
    edges = list(G.edges(keys=True, data=True))
    string_keys, shifted_keys = nx.MultiDiGraph(), nx.MultiDiGraph()
    for H, key in ((string_keys, lambda k: f"key {k}"), (shifted_keys, lambda k: k + 5)):
        H.add_nodes_from(G.nodes(data=True))
        H.add_edges_from((u, v, key(k), d) for u, v, k, d in edges)
    tagged = TaggedGraph(G)
    string_nodes = nx.relabel_nodes(G, str)
    for other in (shifted_keys, string_keys, tagged, string_nodes, G.subgraph(G.nodes)):
        got, got_nodes = graph_arrays(other)
        assert same_matrix(got, matrix)
        assert len(got_nodes) == len(nodes)
    assert list(got_nodes) == list(nodes)  # the view keeps the OSM ids
    neighbours = next(nbrs for _, nbrs in tagged.adjacency() if nbrs)
    assert {type(parallel) for parallel in neighbours.values()} == {TaggedDict}


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
        graph_arrays(G)
    assert message in err.value.message
    assert err.value.fix == "call osmnx.routing.add_edge_speeds and add_edge_travel_times first"
    G.remove_edge("c", "d", key=1)
    with pytest.raises(LayerError, match=r"edge \('d', 'a'\) has 'travel_time' = -5.0"):
        graph_arrays(G)
    # Integer ids take the other way of listing the adjacency dicts (see above): same errors.
    G.add_edge("c", "d", travel_time=value)
    G = nx.relabel_nodes(G, {"a": 1, "b": 2, "c": 3, "d": 4})
    with pytest.raises(LayerError) as err:
        graph_arrays(G)
    assert message.replace("('c', 'd')", "(3, 4)") in err.value.message


def test_node_ids_of_any_kind():
    # Integer ids take a fast array path; others (beyond int64, strings, tuples, mixed) a dict.
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
    matrix, nodes = graph_arrays(G)
    assert matrix.shape == (2, 2) and matrix.nnz == 0 and list(nodes) == [4, 2]
    assert travel_times(G, [2])[0].to_dict() == {4: math.inf, 2: 0.0}
    matrix, nodes = graph_arrays(nx.MultiDiGraph())
    assert matrix.shape == (0, 0) and len(nodes) == 0


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
    matrix, nodes = graph_arrays(G)
    assert list(nodes) == ["a", "b", "c", "d", "s2", "e"] and nodes.dtype == object
    assert matrix.nnz == 5 and matrix[0, 1] == 4.0 and matrix[3, 2] == 0.0

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

    # Integer ids (plain dicts listed at C speed, not iterated) give the same matrix.
    same, _ = graph_arrays(nx.convert_node_labels_to_integers(G))
    assert same_matrix(same, matrix)

    # An undirected graph is travelled both ways.
    U = nx.Graph()
    U.add_edge(1, 2, travel_time=3.0)
    U.add_edge(2, 3, travel_time=4.0)
    assert travel_times(U, [3])[0].to_dict() == {1: 7.0, 2: 4.0, 3: 0.0}


def test_snap_and_off_network_leg(aguascalientes):
    with pytest.raises(LayerError, match="not a projected CRS"):
        snap(aguascalientes, [0.0], [0.0])
    P = ox.projection.project_graph(aguascalientes)
    sources = some_nodes(P, 3, seed=5)
    times, _ = travel_times(P, sources)
    reached = times.index[np.isfinite(times.to_numpy()) & (times.to_numpy() > 0)]
    node = reached[0]
    x0, y0 = P.nodes[node]["x"], P.nodes[node]["y"]
    # A point exactly on a node, and one 5 m east of it (closer to that node than to any other).
    gap = min(math.hypot(P.nodes[n]["x"] - x0, P.nodes[n]["y"] - y0) for n in P.nodes if n != node)
    assert gap > 10
    snapped = snap(P, [x0, x0 + 5.0], [y0, y0])
    assert list(snapped["node"]) == [node, node]
    assert snapped["node_dist_m"].tolist() == pytest.approx([0.0, 5.0])
    assert (snapped["edge_dist_m"] <= snapped["node_dist_m"] + 1e-9).all()
    for u, v, k in snapped[["u", "v", "key"]].itertuples(index=False):
        assert P.has_edge(u, v, k)
    got = access_times(times, snapped, off_speed_kmh=18.0)  # 18 km/h = 5 m/s: 5 m takes 1 s
    assert got.tolist() == pytest.approx([times[node], times[node] + 1.0])
    with pytest.raises(LayerError, match="off_speed_kmh"):
        access_times(times, snapped, off_speed_kmh=0)


# The compiled reader (siting.network.dictread) reads CPython 3.11's dicts directly; anything it
# does not
# know falls back to the pure-Python reader. Both must give exactly the same arrays.

needs_compiled_reader = pytest.mark.skipif(
    not dictread.supported(), reason="the compiled reader runs on CPython 3.11 only"
)


def assert_same_reading(G, weight: str = "travel_time") -> None:
    """The compiled reader takes ``G`` and reads exactly the arrays the pure-Python reader reads
    (graph_arrays then builds the same matrix from either)."""
    got = network._read_compiled(G, weight)
    assert got is not None, "the compiled reader fell back to Python"
    nodes, degree, cols, costs, cols_are_ids = got
    want_nodes, want_degree, want_cols, want_costs, want_ids = network._read_python(G, weight)
    assert cols_are_ids and want_ids  # integer ids: both give neighbours as ids
    assert nodes.dtype == want_nodes.dtype == np.int64
    assert np.array_equal(nodes, want_nodes)
    assert np.array_equal(degree, want_degree)
    assert np.array_equal(cols, want_cols)
    assert costs.dtype == want_costs.dtype and np.array_equal(costs, want_costs)


def dense(matrix) -> np.ndarray:
    """The matrix with ``inf`` where there is no edge (explicit zeros stay 0)."""
    out = np.full(matrix.shape, np.inf)
    coo = matrix.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


def networkx_matrix(G, weight: str = "travel_time") -> np.ndarray:
    """networkx's own matrix of minimum edge weights, self-loops dropped."""
    out = nx.to_numpy_array(G, weight=weight, multigraph_weight=min, nonedge=np.inf)
    np.fill_diagonal(out, np.inf)
    return out


def scipy_matrix(G, weight: str = "travel_time") -> np.ndarray:
    """``networkx.to_scipy_sparse_array`` of a graph without parallel edges (it would add them
    up), self-loops dropped, as :func:`dense` gives it."""
    coo = nx.to_scipy_sparse_array(G, weight=weight, format="coo")
    off_diagonal = coo.row != coo.col
    out = np.full(coo.shape, np.inf)
    out[coo.row[off_diagonal], coo.col[off_diagonal]] = coo.data[off_diagonal]
    return out


class StrKey(str):
    """An attribute name equal to ``travel_time`` but not an exact str."""


def awkward_multidigraph() -> nx.MultiDiGraph:
    """Integer ids of every size and sign, parallel edges, str edge keys, deleted entries at every
    level, a self-loop, zero, int and numpy weights, and attribute names that are not the
    interned literal."""
    G = nx.MultiDiGraph()
    G.add_nodes_from([10, -3, 2**40, 0, 7, 2**62 + 5, 99, 555])
    name = "".join(["travel", "_time"])  # equal to the literal, but another object
    G.add_edge(10, -3, travel_time=2.5)
    G.add_edge(10, -3, travel_time=1.5)  # a faster parallel edge
    G.add_edge(10, -3, key="slow", travel_time=9.0)  # a str edge key among int ones
    G.add_edge(7, -3, key="only", travel_time=3.0)  # str keys only: a str-only table
    G.add_edge(-3, 2**40, **{name: 4.0})
    G.add_edge(2**40, 0, travel_time=3)  # an int weight
    G.add_edge(0, 7, travel_time=np.float64(0.25))
    G.add_edge(7, 7, travel_time=1.0)  # a self-loop
    G.add_edge(7, 10, travel_time=0.0)  # zero cost: an explicit entry
    G.add_edge(2**62 + 5, 7, travel_time=-0.0)
    G.add_edge(99, 0, travel_time=1)
    G.edges[99, 0, 0][12] = "an int attribute name: a general, not a str-only, table"
    G.add_edge(99, -3, travel_time=2.0)
    G.edges[99, -3, 0].update({(1, 2): "a tuple name", name: 6.0})  # found by hash, then chars
    attrs = {"tmp": 1, "travel_time": 8.0, "other": "x"}
    del attrs["tmp"]  # a deleted attribute before the weight
    G.add_edge(-3, 99, **attrs)
    G.edges[-3, 99, 0].pop("travel_time")
    G.edges[-3, 99, 0]["travel_time"] = 8.5  # deleted then added again: now last
    G.add_edge(0, 99, travel_time=1.0)
    G.add_edge(0, 99, travel_time=2.0)
    G.remove_edge(0, 99, key=0)  # a deleted entry first among parallel edges
    G.add_edge(10, 0, travel_time=1.0)
    G.remove_edge(10, 0)  # a deleted neighbour
    G.add_edge(555, 10, travel_time=1.0)
    G.remove_node(555)  # a deleted node
    G.add_edge(2**40, -(2**62), travel_time=0.5)
    return G


@needs_compiled_reader
def test_compiled_reader_matches_python_on_awkward_graphs():
    G = awkward_multidigraph()
    assert_same_reading(G)
    matrix, nodes = graph_arrays(G)
    assert list(nodes) == list(G.nodes)
    assert np.array_equal(dense(matrix), networkx_matrix(G))
    assert matrix[list(nodes).index(10), list(nodes).index(-3)] == 1.5
    for kind in (nx.DiGraph, nx.Graph, nx.MultiGraph):  # attribute dicts, undirected graphs
        H = kind(G)
        assert_same_reading(H)
        assert np.array_equal(dense(graph_arrays(H)[0]), networkx_matrix(H))
        if not H.is_multigraph():
            assert np.array_equal(dense(graph_arrays(H)[0]), scipy_matrix(H))
    # Edits are seen: nothing is cached.
    G.edges[10, -3, 1]["travel_time"] = 0.5
    G.add_edge(7, 2**40, travel_time=7.0)
    assert_same_reading(G)
    assert np.array_equal(dense(graph_arrays(G)[0]), networkx_matrix(G))


@needs_compiled_reader
def test_compiled_reader_on_renumbered_and_dense_graphs():
    # Ids 0..n-1 are rows as they are; more neighbours or parallel edges than the first guess of
    # the arrays' sizes make the kernel ask for larger ones.
    G = nx.convert_node_labels_to_integers(awkward_multidigraph())
    assert_same_reading(G)
    complete = nx.complete_graph(40, create_using=nx.MultiDiGraph)
    for u, v, k in complete.edges(keys=True):
        complete.edges[u, v, k]["travel_time"] = float((u * 7 + v) % 11)
    assert_same_reading(complete)
    parallel = nx.MultiDiGraph()
    for i in range(200):
        parallel.add_edge(1, 2, travel_time=200.0 - i)
        parallel.add_edge(i + 3, 1, travel_time=float(i))
    assert_same_reading(parallel)
    assert graph_arrays(parallel)[0][0, 1] == 1.0
    for H in (complete, parallel):
        assert np.array_equal(dense(graph_arrays(H)[0]), networkx_matrix(H))
    no_edges = nx.MultiDiGraph()
    no_edges.add_nodes_from([3, 1])
    assert_same_reading(no_edges)


@needs_compiled_reader
def test_compiled_reader_reads_the_osm_graphs_as_python_does(graph):
    assert_same_reading(graph)
    edges = list(graph.edges(keys=True, data=True))
    for key in (lambda k: f"key {k}", lambda k: k + 2**40):  # str-only tables, 2-digit ints
        H = nx.MultiDiGraph()
        H.add_nodes_from(graph.nodes(data=True))
        H.add_edges_from((u, v, key(k), d) for u, v, k, d in edges)
        assert_same_reading(H)
    for H in (nx.DiGraph(graph), nx.Graph(graph), nx.MultiGraph(graph)):
        assert_same_reading(H)
    simple = nx.DiGraph(graph)
    assert np.array_equal(dense(graph_arrays(simple)[0]), scipy_matrix(simple))


class SplitTable:
    """Its instances' ``__dict__`` is a split table (keys shared by the class)."""

    def __init__(self) -> None:
        self.travel_time = 1.0
        self.other = 2.0


def falling_back() -> dict:
    """Graphs the compiled reader must hand to the pure-Python reader, by what makes them so."""

    def multigraph(*edges, **attrs):
        G = nx.MultiDiGraph()
        for u, v, w in edges:
            G.add_edge(u, v, travel_time=w, **attrs)
        return G

    base = [(1, 2, 3.0), (2, 3, 1.5), (3, 1, 2.0)]
    float_neighbour = multigraph(*base)
    float_neighbour.add_edge(1, 3.0, travel_time=4.0)  # the key of neighbour 3 is the float 3.0
    numpy_ids = multigraph(*[(np.int64(u), np.int64(v), w) for u, v, w in base])
    split = multigraph(*base)
    split._succ[1][2][0] = SplitTable().__dict__
    renamed = multigraph(*base)
    for _, _, data in renamed.edges(data=True):
        data[StrKey("travel_time")] = data.pop("travel_time")
    empty_parallel = multigraph(*base)
    empty_parallel._succ[3][2] = {}  # no networkx call leaves an empty dict of parallel edges
    graphs = {
        "str ids": multigraph(("a", "b", 1.0), ("b", "c", 2.0)),
        "bool id": multigraph((True, 5, 1.0), (5, 7, 2.0)),
        "float neighbour key": float_neighbour,
        "numpy ids": numpy_ids,
        "ids beyond int64": multigraph((2**63, 1, 1.0), (1, 2**70, 2.0)),
        "int64's minimum": multigraph((-(2**63), 1, 1.0)),
        "dict subclass": TaggedGraph(multigraph(*base)),
        "split table": split,
        "str subclass name": renamed,
        "empty parallel edges": empty_parallel,
        "view": multigraph(*base).subgraph([1, 2]),
    }
    for label, value in [
        ("str weight", "1.5"),
        ("float32 weight", np.float32(1.5)),
        ("bool weight", True),
        ("large int weight", 2**40),
        ("missing weight", None),
        ("nan weight", math.nan),
        ("negative weight", -1.0),
        ("negative int weight", -5),
    ]:
        G = multigraph(*base)
        if value is None:
            del G.edges[2, 3, 0]["travel_time"]
        else:
            G.edges[2, 3, 0]["travel_time"] = value
        graphs[label] = G
    return graphs


@pytest.mark.parametrize("label", list(falling_back()))
def test_what_the_compiled_reader_does_not_read_falls_back(label, monkeypatch):
    G = falling_back()[label]
    assert network._read_compiled(G, "travel_time") is None
    outcomes = []
    for python_only in (False, True):
        if python_only:
            python_reader_only(monkeypatch)
        try:
            matrix, nodes = graph_arrays(G)
            outcomes.append((dense(matrix).tolist(), list(nodes), nodes.dtype))
        except (LayerError, ValueError) as error:  # ValueError: scipy's, on the empty dict
            outcomes.append((type(error), getattr(error, "message", str(error))))
    assert outcomes[0] == outcomes[1]
    if label in ("missing weight", "nan weight", "negative weight", "negative int weight"):
        assert outcomes[0][0] is LayerError and "edge (2, 3)" in outcomes[0][1]


def test_non_ascii_weight_names():
    # The kernel compares only ASCII names character by character: others are found when they
    # are the very object given, and read by Python otherwise.
    weight = "durée"
    G = nx.MultiDiGraph()
    G.add_edge(1, 2, **{weight: 2.0})
    G.add_edge(2, 1, **{weight: 3.0})
    if dictread.supported():
        assert_same_reading(G, weight)
    other = "".join(["dur", "ée"])
    assert network._read_compiled(G, other) is None
    assert np.array_equal(dense(graph_arrays(G, other)[0]), [[np.inf, 2.0], [3.0, np.inf]])


def test_other_interpreters_use_the_python_reader(monkeypatch):
    monkeypatch.setattr(dictread, "supported", lambda: False)
    monkeypatch.setattr(dictread, "_state", {})
    G = awkward_multidigraph()
    assert dictread.read_adjacency(G._adj, True, "travel_time") is None
    assert network._read_compiled(G, "travel_time") is None
    assert np.array_equal(dense(graph_arrays(G)[0]), networkx_matrix(G))


@needs_compiled_reader
def test_compiled_reader_passes_its_probe():
    assert dictread._kernel() is not None
    assert dictread._probe_passes()
