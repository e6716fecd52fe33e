"""Travel time criteria: road lines as a road network, network time plus the off-network leg
rasterised onto the grid; checked against hand-computed times and networkx."""

import dataclasses
import itertools
import math

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
import shapely
from scipy.sparse import csgraph

import siting as siting_pkg
from siting.config import scenario as scenario_mod
from siting.config.scenario import CoveringModel
from siting.errors import LayerError
from siting.inputs.layers import read_layer
from siting.network import traveltime
from siting.network.crossings import box_pairs, crossings
from siting.network.graph import travel_times
from siting.network.traveltime import TravelTimes, network_from_lines, pieces, road_network
from siting.raster.grid import Grid, Raster

from clitools import assert_nothing_written, assert_user_error, edit, siting

CRS = "EPSG:32645"
ROAD_KMH = 60.0
OFF_KMH = 15.0


def lines(*coords):
    return gpd.GeoDataFrame(geometry=[shapely.LineString(c) for c in coords], crs=CRS)


def xy(network) -> list[tuple[float, float]]:
    return list(zip(network.x.tolist(), network.y.tolist(), strict=True))


def test_lines_become_a_two_way_network_split_at_crossings():
    roads = lines([(0, 0), (10_000, 0)], [(5_000, -3_000), (5_000, 4_000)])
    network = network_from_lines(roads, np.array([60.0, 40.0]))
    assert xy(network) == [(0, 0), (5_000, -3_000), (5_000, 0), (5_000, 4_000), (10_000, 0)]
    assert list(network.nodes) == [0, 1, 2, 3, 4] and network.crs == CRS
    coo = network.matrix.tocoo()
    assert coo.nnz == 8  # four pieces, both ways
    for u, v, seconds in zip(coo.row, coo.col, coo.data, strict=True):
        length = math.dist(xy(network)[u], xy(network)[v])
        speed = 60.0 if network.y[u] == network.y[v] == 0 else 40.0
        assert seconds == pytest.approx(length / (speed / 3.6), rel=1e-12)
        assert network.matrix[v, u] == seconds
    # From the crossing: 5 km each way at 60 km/h (300 s), 3 and 4 km at 40 km/h (270, 360 s).
    times, _ = travel_times(network, [2])
    assert times.tolist() == pytest.approx([300.0, 270.0, 0.0, 360.0, 300.0], rel=1e-12)


def test_ends_within_snap_distance_are_joined_and_long_edges_split():
    roads = lines([(0, 0), (10_000, 0)], [(4_000, 300), (4_000, 5_000)])  # stops 300 m short
    apart = network_from_lines(roads, np.full(2, 60.0))
    assert csgraph.connected_components(apart.matrix, connection="weak")[0] == 2
    network = network_from_lines(roads, np.full(2, 60.0), snap_m=500, max_edge_m=1_000)
    assert csgraph.connected_components(network.matrix, connection="weak")[0] == 1
    cut = pieces(roads, np.full(2, 60.0), snap_m=500, max_edge_m=1_000)
    assert cut.length_m.max() <= 1_000 + 1e-9 and cut.length_m.sum() == pytest.approx(15_000)
    a = xy(network).index((0, 0))
    b = xy(network).index((4_000, 5_000))
    seconds = travel_times(network, [a])[0].iloc[b]
    assert seconds == pytest.approx((4_000 + 300 + 4_700) / (60 / 3.6), rel=1e-12)
    alone = network_from_lines(roads.iloc[:1], np.array([60.0]), snap_m=500)  # nothing to join
    assert xy(alone) == [(0, 0), (10_000, 0)] and alone.matrix.nnz == 2


def test_lines_are_cut_where_they_meet_other_than_end_to_end():
    roads = lines(
        [(0, 0), (4_000, 0), (10_000, 0)],  # through a vertex of its own at (4,000, 0)
        [(5_000, 0), (5_000, 3_000)],  # ends on the first, between its vertices
        [(2_000, -1_000), (2_000, 1_000)],  # crosses it
        [(4_000, 0), (4_000, -2_000)],  # ends at its vertex: nothing to cut
        [(10_000, 0), (10_000, 5_000), (0, 5_000)],  # end to end
        [(6_000, 5_000), (6_000, 7_000)],  # ends on the last one
        [(0, 5_000), (0, 3_000)],  # end to end
        [(0, 3_000), (0, 4_000)],  # along the last one from its end: they overlap
    )
    network = network_from_lines(roads, np.full(8, 36.0))  # 10 m/s
    assert sorted(xy(network)) == sorted(
        [
            (0, 0), (2_000, -1_000), (2_000, 0), (2_000, 1_000), (4_000, 0), (4_000, -2_000),
            (5_000, 0), (5_000, 3_000), (10_000, 0), (10_000, 5_000), (6_000, 5_000),
            (6_000, 7_000), (0, 5_000), (0, 3_000), (0, 4_000),
        ]
    )  # fmt: skip
    assert network.matrix.nnz == 2 * 14  # the overlap once
    seconds = travel_times(network, [xy(network).index((0, 0))])[0]
    times = dict(zip(xy(network), seconds, strict=True))
    assert times[2_000, 1_000] == pytest.approx(300.0)  # 2 km along, 1 km up the crossing
    assert times[5_000, 3_000] == pytest.approx(800.0)
    assert times[6_000, 7_000] == pytest.approx(2_100.0)  # 10 + 5 + 4 + 2 km
    assert times[0, 4_000] == pytest.approx(2_600.0)  # round by the far end: 10 + 5 + 10 + 1
    assert times[0, 3_000] == pytest.approx(2_700.0)


def test_doubled_vertices_are_no_trouble_when_long_edges_are_split():
    # A road ending in a doubled vertex where another starts: GEOS noding makes a piece of no
    # length there, which shapely.segmentize refused (an error from GEOS).
    roads = lines([(0, 0), (1_000, 0), (1_000, 0)], [(1_000, 0), (1_000, 1_000)])
    network = network_from_lines(roads, np.full(2, 60.0), max_edge_m=300)
    assert sorted(xy(network)) == [
        (0, 0), (250, 0), (500, 0), (750, 0), (1_000, 0),
        (1_000, 250), (1_000, 500), (1_000, 750), (1_000, 1_000),
    ]  # fmt: skip
    times = travel_times(network, [xy(network).index((0, 0))])[0]
    assert times.max() == pytest.approx(2_000 / (60 / 3.6), rel=1e-12)
    # A line of no length at all is a node on its own, with or without splitting.
    dot = pd.concat([roads, lines([(5_000, 5_000), (5_000, 5_000)])])
    for max_edge_m in (0.0, 300.0):
        network = network_from_lines(dot, np.full(3, 60.0), max_edge_m=max_edge_m)
        assert xy(network)[-1] == (5_000, 5_000) and network.matrix[[-1]].nnz == 0


def test_nodes_thousands_of_kilometres_apart_are_numbered_by_x_then_y():
    # Too far apart in millimetres for one int64 key per point: the nodes are told apart and
    # numbered another way, with the same result.
    roads = lines(
        [(5e6, 5e6), (5e6 - 500, 5e6 + 0.0004)], [(0, 0), (0, 900)], [(5e6, 5e6), (5e6, 0)]
    )
    network = network_from_lines(roads, np.array([36.0, 36.0, 36.0]))
    assert xy(network) == [(0, 0), (0, 900), (5e6 - 500, 5e6), (5e6, 0), (5e6, 5e6)]
    times = travel_times(network, [4])[0]
    assert times.tolist() == pytest.approx([math.inf, math.inf, 50.0, 5e5, 0.0], rel=1e-12)


def test_vertices_are_numbered_by_x_then_y_once_rounded_to_the_millimetre():
    rng = np.random.default_rng(7)
    points = rng.integers(0, 400, (30_000, 2)) * 2.5e-4 + (500_000.0, 6_000_000.0)
    points[:5_000, 0] = 500_001.0  # many on one line of x: a bucket sorted and searched
    points[5_000:6_000] = points[6_000:7_000] + rng.uniform(-4e-4, 4e-4, (1_000, 2))
    x, y, node_of, last = traveltime._nodes(points)
    assert np.array_equal(x, np.round(points[:, 0], 3))
    assert np.array_equal(y, np.round(points[:, 1], 3))
    distinct, rank = np.unique(np.stack([x, y], 1), axis=0, return_inverse=True)
    assert np.array_equal(node_of, rank.ravel()) and len(last) == len(distinct)
    order = np.lexsort((np.arange(len(points)), node_of))  # by node, then place
    ends = np.r_[np.flatnonzero(np.diff(node_of[order])), len(points) - 1]
    assert np.array_equal(last, order[ends])  # the last vertex of each node


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # shapely's
def test_lines_with_coordinates_not_finite_are_user_errors():
    roads = lines([(0, 0), (1_000, 0)], [(0, 0), (0, math.nan)], [(5, 5), (math.inf, 5)])
    with pytest.raises(LayerError, match="not finite"):
        network_from_lines(roads, np.full(3, 60.0))


def test_lines_in_degrees_or_none_are_user_errors():
    roads = lines([(86.0, 54.0), (87.0, 55.0)]).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(LayerError, match="in degrees"):
        network_from_lines(roads, np.array([60.0]))
    with pytest.raises(LayerError, match="no lines"):
        network_from_lines(lines(), np.array([]))


def osmnx_graph_from_lines(
    roads: gpd.GeoDataFrame, speed_kmh: np.ndarray, snap_m: float, max_edge_m: float
) -> nx.MultiDiGraph:
    """The road lines as an osmnx graph, the way siting built them before issue #17: a link per
    loose end, one at a time; noded pieces as GeoDataFrames through osmnx's graph_from_gdfs and
    add_edge_travel_times."""
    parts = roads.geometry.reset_index(drop=True).explode(index_parts=False)
    geoms = parts.to_numpy()
    speeds = np.asarray(speed_kmh, dtype=float)[parts.index.to_numpy()]
    tree = shapely.STRtree(geoms)
    links, link_speeds = [], []
    for k, geom in enumerate(geoms):
        for end in shapely.get_coordinates(geom)[[0, -1]]:
            point = shapely.Point(end)
            near = [i for i in tree.query(point, "dwithin", snap_m) if i != k] if snap_m else []
            if near and min(geoms[i].distance(point) for i in near) > 1e-6:
                other = min(near, key=lambda i: geoms[i].distance(point))
                links.append(shapely.shortest_line(point, geoms[other]))
                link_speeds.append(min(speeds[k], speeds[other]))
    every = np.concatenate([geoms, np.array(links, dtype=object)])
    every_speed = np.concatenate([speeds, link_speeds])
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(every)))
    if max_edge_m > 0:
        noded = shapely.segmentize(noded, max_edge_m)
    owner = shapely.STRtree(every).nearest(
        shapely.line_interpolate_point(noded, 0.5, normalized=True)
    )
    node_of: dict[tuple[float, ...], int] = {}
    rows = []
    for line, speed in zip(noded, every_speed[owner], strict=True):
        coords = [tuple(c) for c in np.round(shapely.get_coordinates(line), 3).tolist()]
        for a, b in itertools.pairwise(coords):
            u, v = (node_of.setdefault(c, len(node_of)) for c in (a, b))
            if u != v:
                for s, t, p, q in ((u, v, a, b), (v, u, b, a)):
                    rows.append((s, t, shapely.LineString([p, q]), speed))
    nodes = gpd.GeoDataFrame(
        {"x": [c[0] for c in node_of], "y": [c[1] for c in node_of]},
        geometry=[shapely.Point(c) for c in node_of],
        crs=roads.crs,
        index=pd.Index(range(len(node_of)), name="osmid"),
    )
    edges = gpd.GeoDataFrame(rows, columns=["u", "v", "geometry", "speed_kph"], crs=roads.crs)
    edges["key"] = edges.groupby(["u", "v"]).cumcount()
    edges["length"] = edges.length
    graph = ox.convert.graph_from_gdfs(nodes, edges.set_index(["u", "v", "key"]))
    return ox.routing.add_edge_travel_times(graph)


def assert_same_times(roads, speeds, snap_m, max_edge_m, n_sources=3):
    """The network from the lines and the osmnx graph of the same lines have the same nodes, the
    same edges taking the same times (computed apart: 1e-12), and give the same time from a few
    nodes to every node (Dijkstra adds the same edge times in another order: 1e-9)."""
    network = network_from_lines(roads, speeds, snap_m, max_edge_m)
    G = osmnx_graph_from_lines(roads, speeds, snap_m, max_edge_m)
    row = {c: i for i, c in enumerate(xy(network))}
    assert sorted(row) == sorted((d["x"], d["y"]) for _, d in G.nodes(data=True))
    row_of = {n: row[d["x"], d["y"]] for n, d in G.nodes(data=True)}
    fastest: dict[tuple[int, int], float] = {}
    for u, v, seconds in G.edges(data="travel_time"):
        key = row_of[u], row_of[v]
        fastest[key] = min(seconds, fastest.get(key, math.inf))
    coo = network.matrix.tocoo()
    assert sorted(zip(coo.row.tolist(), coo.col.tolist(), strict=True)) == sorted(fastest)
    np.testing.assert_allclose(
        coo.data, [fastest[k] for k in zip(coo.row, coo.col, strict=True)], rtol=1e-12, atol=0
    )
    picks = np.random.default_rng(0).choice(len(G), n_sources, replace=False).tolist()
    for sources in ([picks[0]], picks):
        times, _ = travel_times(network, [row_of[s] for s in sources])
        want = np.full(len(G), np.inf)
        for node, t in nx.multi_source_dijkstra_path_length(
            G, set(sources), weight="travel_time"
        ).items():
            want[row_of[node]] = t
        assert np.array_equal(np.isinf(times.to_numpy()), np.isinf(want))
        reached = np.isfinite(want)
        assert reached.sum() > 1
        np.testing.assert_allclose(times.to_numpy()[reached], want[reached], rtol=1e-9, atol=0)


def test_network_from_lines_equals_the_osmnx_graph_route():
    roads = gpd.GeoDataFrame(
        geometry=[
            shapely.LineString([(0, 0), (10_000, 0)]),  # crossed by the next two
            shapely.LineString([(3_000, -2_000), (3_000, 6_000), (8_000, 6_000)]),
            shapely.LineString([(7_000, -1_000), (7_000, 5_600)]),  # 400 m short of the bend
            shapely.MultiLineString(
                [[(10_000, 0), (12_000, 3_000)], [(12_200, 3_100), (15_000, 3_000)]]
            ),
            shapely.LineString([(2_000, 0), (6_000, 0)]),  # along the first, faster
            shapely.LineString([(20_000, 0), (21_000, 0)]),  # out of reach: its own component
        ],
        crs=CRS,
    )
    speeds = np.array([60.0, 40.0, 30.0, 80.0, 90.0, 50.0])
    for snap_m, max_edge_m in ((0.0, 0.0), (500.0, 0.0), (500.0, 700.0)):
        assert_same_times(roads, speeds, snap_m, max_edge_m)


def test_lines_mostly_cut_at_their_junctions_give_the_osmnx_graph_route_times():
    # A jittered street grid, one line per street segment (left uncut), with long roads laid
    # across it (noded by GEOS, with their neighbours) and streets stopping short of others.
    rng = np.random.default_rng(3)
    side = 14
    ij = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1)
    grid = (ij * 100.0 + rng.uniform(-30, 30, ij.shape)).reshape(-1, 2)
    ids = np.arange(side * side).reshape(side, side)
    a = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    b = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    keep = rng.random(len(a)) >= 0.1
    streets = np.stack([grid[a[keep]], grid[b[keep]]], 1)
    short = rng.random(len(streets)) < 0.05
    streets[short, 1] -= 0.2 * (streets[short, 1] - streets[short, 0])  # 20 % short
    across = rng.uniform(-50, 100 * side, (6, 3, 2))
    roads = gpd.GeoDataFrame(geometry=[shapely.LineString(c) for c in [*streets, *across]], crs=CRS)
    speeds = rng.choice([30.0, 50.0, 70.0], len(roads))
    for snap_m, max_edge_m in ((0.0, 0.0), (40.0, 0.0), (40.0, 60.0)):
        assert_same_times(roads, speeds, snap_m, max_edge_m)


def test_lines_met_by_noded_lines_are_noded_as_when_every_line_is():
    # GEOS cuts the first line where the second crosses it, at a vertex; the third merely ends at
    # another vertex of the first, yet noding every line would cut the first there too, which
    # decides the speed of its pieces (looked up at a noded line's middle: that vertex).
    roads = lines(
        [(0, 0), (1_000, 0), (2_000, 0), (3_000, 0)],
        [(2_000, -100), (2_000, 100)],
        [(1_000, 0), (1_000, -500)],
    )
    network = network_from_lines(roads, np.array([30.0, 90.0, 90.0]))
    times = travel_times(network, [xy(network).index((0, 0))])[0]
    assert times.iloc[xy(network).index((2_000, 0))] == pytest.approx(2_000 / (30 / 3.6))
    assert times.iloc[xy(network).index((1_000, -500))] == pytest.approx(120 + 500 / 25)
    # A snapping link's end lies a hair off a line that GEOS cuts nearby: the cut pieces meet it
    # as they do when every line is noded.
    roads = lines(
        [(500, 1_000), (300, 1_100)],
        [(442.4293521817432, 999.2513663180505), (1_000, 1_100)],
        [(700, 1_000), (200, 1_100), (500, 0)],
    )
    assert_same_times(roads, np.array([30.0, 60.0, 30.0]), 150.0, 0.0, n_sources=2)


def test_kuzbass_roads_give_the_osmnx_graph_route_times():
    scenario = scenario_mod.load(scenario_mod.DEFAULT_SCENARIO)
    spec = scenario.network
    assert spec is not None
    roads = read_layer(scenario.layers[spec.layer], scenario.crs)
    speeds = roads[spec.class_field].map(dict(spec.speeds)).fillna(spec.default_kmh).to_numpy()
    assert len(set(speeds)) > 1
    network = road_network(spec, roads, 1_000.0)
    assert np.array_equal(
        network.matrix.data, network_from_lines(roads, speeds, spec.snap_m, 1_000.0).matrix.data
    )
    assert_same_times(roads, speeds, spec.snap_m, 1_000.0, n_sources=5)


def strtree_pairs(px, py, qx, qy, scale):
    """The pairs ``a < b`` of segments whose boxes a shapely STRtree pairs, boxed as siting boxed
    them before the grid of issue #17: a segment over four times the median length in pieces,
    each widened by ``1e-9 * scale``; sorted, each once."""
    length = np.hypot(qx - px, qy - py)
    piece_m = 4 * float(np.median(length))
    parts = np.ones(len(px), dtype=np.int64)
    if piece_m > 0:
        parts = np.maximum(1, np.ceil(length / piece_m)).astype(np.int64)
    whole = np.flatnonzero(parts == 1)
    boxes = list(shapely.linestrings(np.stack([px, py, qx, qy], 1)[whole].reshape(-1, 2, 2)))
    owner = list(whole)
    for k in np.flatnonzero(parts > 1):
        f = np.arange(parts[k] + 1) / parts[k]
        x, y = px[k] + (qx[k] - px[k]) * f, py[k] + (qy[k] - py[k]) * f
        pad = 1e-9 * scale
        for i in range(parts[k]):
            lo_x, hi_x = sorted((x[i], x[i + 1]))
            lo_y, hi_y = sorted((y[i], y[i + 1]))
            boxes.append(shapely.box(lo_x - pad, lo_y - pad, hi_x + pad, hi_y + pad))
            owner.append(k)
    owner = np.array(owner)
    i, j = shapely.STRtree(boxes).query(boxes)
    a, b = owner[i], owner[j]
    key = np.unique(a[a < b] * len(px) + b[a < b])
    return np.stack([key // len(px), key % len(px)], 1)


def awkward_segments(seed: int, n: int = 600) -> np.ndarray:
    """``n`` segments ``(n, 2, 2)`` that a grid finds hard to pair: short ones with long diagonals
    across them all, exact copies, segments of no length, ends on whole metres (boxes touching
    at their edges), and a cluster far away (most cells of the grid then empty)."""
    rng = np.random.default_rng(seed)
    seg = rng.uniform(0, 2_000, (n, 1, 2)) + rng.normal(0, 20, (n, 2, 2))
    seg[: n // 20] = rng.uniform(0, 2_000, (n // 20, 2, 2))  # long diagonals
    seg[n // 20 : n // 10] = seg[n // 10 : n // 10 + n // 20]  # copies
    seg[n // 10 : n // 8, 1] = seg[n // 10 : n // 8, 0]  # no length
    seg[n // 8 : n // 4] = np.round(seg[n // 8 : n // 4] / 50) * 50  # on a 50 m lattice
    if seed % 2:
        seg[-n // 10 :] += 5e6  # 5,000 km away
    return seg


@pytest.mark.parametrize("seed", range(6))
def test_segments_are_paired_as_a_strtree_pairs_their_boxes(seed):
    seg = awkward_segments(seed)
    if seed == 2:  # UTM-like coordinates, segments centimetres long: boxes widened as long
        seg = (3e6, 6e6) + seg / 1_000
    px, py, qx, qy = seg[:, 0, 0], seg[:, 0, 1], seg[:, 1, 0], seg[:, 1, 1]
    scale = max(1.0, float(np.abs(seg).max()))
    got = box_pairs(px, py, qx, qy)
    want = strtree_pairs(px, py, qx, qy, scale)
    assert len(want) > len(seg) // 2 and np.array_equal(got, want)
    # Half of them of no length: the median gives no cell size and no long segment is cut.
    seg[: len(seg) // 2, 1] = seg[: len(seg) // 2, 0]
    px, py, qx, qy = seg[:, 0, 0], seg[:, 0, 1], seg[:, 1, 0], seg[:, 1, 1]
    assert np.array_equal(box_pairs(px, py, qx, qy), strtree_pairs(px, py, qx, qy, scale))


def test_segments_too_far_apart_to_measure_are_paired_in_one_cell():
    # The extent and one length overflow to infinity: every box in one cell, still each pair.
    seg = np.array(
        [
            [(-1e308, 0), (1e308, 1)],
            [(0, -5), (0, 5)],
            [(-1e308, 0), (-1e308, 0)],
            [(1, 1), (2, 2)],
            [(1e308, 1e308), (1e308, -1e308)],
            [(3, 0), (4, 0)],
        ]
    )
    got = box_pairs(seg[:, 0, 0], seg[:, 0, 1], seg[:, 1, 0], seg[:, 1, 1])
    assert got.tolist() == [[0, 1], [0, 2], [0, 3], [0, 4], [0, 5]]


def vectorised_crossings(coords, which, vertex, n_lines):
    """The lines to node and the vertices touching them, by the vectorised tests of STRtree
    pairs that siting used before issue #17's compiled pass (the same decisions)."""
    seg = np.flatnonzero(which[:-1] == which[1:])
    line = which[seg]
    px, py, qx, qy = coords[seg, 0], coords[seg, 1], coords[seg + 1, 0], coords[seg + 1, 1]
    length = np.hypot(qx - px, qy - py)
    scale = max(1.0, float(np.abs(coords).max()))
    a, b = strtree_pairs(px, py, qx, qy, scale).T
    start, end = vertex[seg], vertex[seg + 1]
    sa, ea, sb, eb = start[a], end[a], start[b], end[b]
    sa_shared, ea_shared = (sa == sb) | (sa == eb), (ea == sb) | (ea == eb)
    doubt = sa_shared & ea_shared
    angle = np.arctan2(qy - py, qx - px)
    sb_shared = (sb == sa) | (sb == ea)
    turn = angle[a] - angle[b] + np.pi * (sb_shared.astype(np.int8) - sa_shared)
    turn = np.abs(np.remainder(turn + np.pi, 2 * np.pi) - np.pi)
    doubt |= (sa_shared ^ ea_shared) & (turn < 1e-9)
    none = np.flatnonzero(~(sa_shared | ea_shared))
    a0, b0 = a[none], b[none]

    def side(ox, oy, ax, ay, bx, by):
        left, right = (ax - ox) * (by - oy), (ay - oy) * (bx - ox)
        bound = 1e-15 * (np.abs(left) + np.abs(right))
        return (left - right > bound).astype(int) - (left - right < -bound), left - right

    p, q, r, t = (px[a0], py[a0]), (qx[a0], qy[a0]), (px[b0], py[b0]), (qx[b0], qy[b0])
    (s1, d1), (s2, d2) = side(*p, *q, *r), side(*p, *q, *t)
    (s3, d3), (s4, d4) = side(*r, *t, *p), side(*r, *t, *q)
    b_aside, a_aside = (s1 == s2) & (s1 != 0), (s3 == s4) & (s3 != 0)
    doubt[none[~(a_aside | b_aside)]] = True
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.maximum(
            np.where(b_aside, np.minimum(np.abs(d1), np.abs(d2)) / length[a0], 0.0),
            np.where(a_aside, np.minimum(np.abs(d3), np.abs(d4)) / length[b0], 0.0),
        )
    hair = (a_aside | b_aside) & (gap <= 1e-9 * scale)
    near_a, near_b = line[a0[hair]], line[b0[hair]]
    crossed = np.zeros(n_lines, dtype=bool)
    crossed[line[a[doubt]]] = crossed[line[b[doubt]]] = True
    while (grow := crossed[near_a] != crossed[near_b]).any():
        crossed[near_a[grow]] = crossed[near_b[grow]] = True
    mixed = (sa_shared | ea_shared) & (crossed[line[a]] != crossed[line[b]])
    other = seg[np.where(crossed[line[a[mixed]]], b[mixed], a[mixed])]
    return crossed, {tuple(c) for c in np.concatenate([coords[other], coords[other + 1]])}


@pytest.mark.parametrize("seed", range(8))
def test_lines_to_node_are_those_the_vectorised_tests_chose(seed):
    rng = np.random.default_rng(seed)
    if seed % 4 == 0:  # polylines, crossing here and there
        walks = np.cumsum(rng.normal(0, 40, (300, 4, 2)), 1) + rng.uniform(0, 1_500, (300, 1, 2))
        parts = list(walks)
    elif seed % 4 == 1:  # streets cut at their junctions, some from a hair off another street,
        # and a few long roads across them
        ij = np.stack(np.meshgrid(np.arange(20), np.arange(20), indexing="ij"), -1).reshape(-1, 2)
        grid = ij * 100.0 + rng.uniform(-30, 30, ij.shape)
        a = np.arange(len(grid) - 1)
        parts = list(np.stack([grid[a], grid[a + 1]], 1))
        for k in rng.choice(len(parts), 60, replace=False):
            on = parts[k][0] + rng.uniform(0.2, 0.8) * (parts[k][1] - parts[k][0])
            off = rng.normal(0, 1, 2) * 10.0 ** rng.integers(-13, -5)
            parts.append(np.array([on + off, on + rng.normal(0, 40, 2)]))
        parts += list(rng.uniform(0, 1_900, (3, 2, 2)))
    elif seed % 4 == 2:  # on a lattice: overlaps, collinear neighbours, copies, no length
        parts = list(rng.integers(0, 12, (400, 2, 2)) * 50.0)
    else:
        parts = list(awkward_segments(seed, 400))
    roads = lines(*parts)
    geoms = roads.geometry.to_numpy()
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    _, _, node_of, first = traveltime._nodes(coords)
    vertex = traveltime._exact(coords, node_of, first)
    got = crossings(coords, which, vertex, len(geoms))
    crossed, touching = vectorised_crossings(coords, which, vertex, len(geoms))
    assert crossed.any() and not crossed.all()
    assert np.array_equal(got.crossed, crossed)
    assert {tuple(c) for c in got.touching} == touching


def corridor(friction=None):
    """A 10 × 5 km grid of 100 m cells with a straight road along the row at y = 2,550."""
    grid = Grid.from_bounds((0, 0, 10_000, 5_000), 100.0, CRS)
    data = np.ones(grid.shape) if friction is None else friction(grid)
    roads = network_from_lines(lines([(50, 2_550), (9_950, 2_550)]), np.array([ROAD_KMH]), 0, 100)
    return grid, TravelTimes(roads, Raster(data, grid, "friction"), OFF_KMH)


def at(grid, values, x, y):
    rows, cols = grid.index(np.array([x]), np.array([y]))
    return values[rows[0], cols[0]]


def test_time_to_the_nearest_feature_is_network_time_plus_the_off_road_leg():
    grid, travel = corridor()
    start = np.array([shapely.Point(50, 2_550)])
    minutes = travel.to_nearest(start)
    road = ROAD_KMH / 3.6
    off = OFF_KMH / 3.6
    # On the road, 5 km from the start.
    assert at(grid, minutes, 5_050, 2_550) == pytest.approx(5_000 / road / 60, rel=1e-9)
    # 1 km north of that: the road to the node beside it, then straight off the road (on the
    # 8-connected grid a diagonal leg from an earlier node costs more: 6 s less road, 9.9 s
    # more walking per cell).
    assert at(grid, minutes, 5_050, 3_550) == pytest.approx(
        (5_000 / road + 1_000 / off) / 60, rel=1e-9
    )
    # Never slower than crossing country from the start directly, never faster than the road.
    xs, ys = grid.centers()
    straight = np.hypot(xs[None, :] - 50, ys[:, None] - 2_550)
    assert np.all(minutes <= straight * np.sqrt(2) / off / 60 + 1e-9)
    assert np.all(minutes >= straight / road / 60 - 1e-9)


def test_water_is_crossed_only_on_the_road():
    def river(grid):
        f = np.ones(grid.shape)
        f[:, 60] = np.inf  # a river at x = 6,000-6,100 m; the road bridges it
        rows, _ = grid.index(np.array([0.0]), np.array([2_550.0]))
        f[rows[0], 60] = 1.0
        return f

    grid, travel = corridor(river)
    minutes = travel.to_nearest(np.array([shapely.Point(50, 2_550)]))
    road, off = ROAD_KMH / 3.6, OFF_KMH / 3.6
    # 1 km north of the road beyond the river: over the bridge by road, then off the road.
    assert at(grid, minutes, 7_050, 3_550) == pytest.approx((7_000 / road + 1_000 / off) / 60)
    assert np.isinf(at(grid, minutes, 6_050, 3_550))  # the river cell itself


def test_population_within_minutes_counts_each_settlement_once_within_its_time():
    grid, travel = corridor()
    towns = np.array([shapely.Point(50, 2_550), shapely.Point(9_950, 2_550)])
    people = np.array([100.0, 50.0])
    # At x = 5,050 on the road: 300 s from the west town, 294 s from the east one.
    assert at(grid, travel.within(towns, people, 5.0), 5_050, 2_550) == 150.0
    assert at(grid, travel.within(towns, people, 4.95), 5_050, 2_550) == 50.0
    assert at(grid, travel.within(towns, people, 4.8), 5_050, 2_550) == 0.0


def test_kuzbass_default_uses_network_travel_time_criteria():
    scenario = scenario_mod.load(scenario_mod.DEFAULT_SCENARIO)
    kinds = {c.name: c for p in scenario.profiles.values() for c in p.criteria}
    assert kinds["uglenaukograd"].kind == "travel_time" and kinds["uglenaukograd"].minutes is None
    assert (kinds["labour"].kind, kinds["labour"].minutes) == ("travel_time", 30)
    assert (kinds["workforce"].kind, kinds["workforce"].minutes) == ("travel_time", 60)
    assert scenario.network is not None and scenario.network.layer == "roads"


def test_travel_time_criterion_in_a_run(world):
    edit(
        world,
        '[[profiles.technopark.criteria]]\nname = "uglenaukograd"\nkind = "distance"',
        '[[profiles.technopark.criteria]]\nname = "uglenaukograd"\nkind = "travel_time"',
    )
    edit(world, "[models.clusters]", '[network]\nlayer = "roads"\n\n[models.clusters]')
    scenario = scenario_mod.load(world / "scenario.toml")
    result = siting_pkg.run(scenario, write=False)
    raster = result.criteria["uglenaukograd"]
    assert raster.units == "min"
    anchor = result.layers["anchors"].query("kind == 'ugle_naukograd'").geometry.iloc[0]
    # Computed on the friction grid and resampled: least at UgleNaukoGrad, and there no more
    # than crossing one friction cell off the road (15 km/h by default).
    assert result.friction is not None
    cell = result.friction.grid.res
    assert raster.sample(np.array([anchor.x]), np.array([anchor.y]))[0] <= cell / (15 / 3.6) / 60
    row, col = np.unravel_index(np.argmin(raster.data), raster.data.shape)
    x, y = result.grid.xy(np.asarray(row), np.asarray(col))
    assert np.hypot(x - anchor.x, y - anchor.y) <= cell * np.sqrt(2)
    assert np.nanmax(raster.data) > 10.0


def test_travel_time_without_a_network_is_a_user_error(world):
    edit(
        world,
        '[[profiles.technopark.criteria]]\nname = "uglenaukograd"\nkind = "distance"',
        '[[profiles.technopark.criteria]]\nname = "uglenaukograd"\nkind = "travel_time"',
    )
    proc = siting("run", world / "scenario.toml")
    assert_user_error(proc, "'uglenaukograd'", "travel_time", "[network]")
    assert_nothing_written(world)


def test_minutes_on_another_kind_is_a_user_error(world):
    edit(world, "radius_m = 10000", "radius_m = 10000\nminutes = 30")
    proc = siting("run", world / "scenario.toml")
    assert_user_error(proc, "minutes", "travel_time")
    assert_nothing_written(world)


def test_network_class_field_missing_from_the_layer_is_a_user_error(world):
    edit(
        world,
        '[[profiles.technopark.criteria]]\nname = "uglenaukograd"\nkind = "distance"',
        '[[profiles.technopark.criteria]]\nname = "uglenaukograd"\nkind = "travel_time"',
    )
    edit(
        world,
        "[models.clusters]",
        '[network]\nlayer = "roads"\nclass_field = "highway"\nspeeds = { primary = 70 }\n\n'
        "[models.clusters]",
    )
    proc = siting("run", world / "scenario.toml")
    assert_user_error(proc, "network.class_field = 'highway'", "roads")
    assert_nothing_written(world)


def test_covering_over_the_road_network_equals_enumeration(world):
    edit(world, "[models.clusters]", '[network]\nlayer = "roads"\n\n[models.clusters]')
    spec = CoveringModel(
        "technopark", existing="anchors", existing_where="kind == 'ugle_naukograd'", p=1,
        max_minutes=20,
    )  # fmt: skip
    scenario = dataclasses.replace(scenario_mod.load(world / "scenario.toml"), covering=spec)
    result = siting_pkg.run(scenario, write=False)
    c = result.covering
    assert c is not None and scenario.network is not None and result.friction is not None
    # The door-to-door minutes, rebuilt from the run's road layer and friction surface.
    roads = road_network(scenario.network, result.layers["roads"], result.friction.grid.res)
    travel = TravelTimes(roads, result.friction, scenario.network.off_road_kmh)
    anchor = result.layers["anchors"].query("kind == 'ugle_naukograd'").geometry.iloc[0]
    sites = result.sites_of("technopark")
    x = np.concatenate([[anchor.x], sites["x"].to_numpy()])
    y = np.concatenate([[anchor.y], sites["y"].to_numpy()])
    towns = result.layers["settlements"]
    minutes = travel.matrix(towns.geometry.values, x, y)
    w = towns["population"].to_numpy(float)
    covered = {k: w[(minutes[:, [0, k]] <= 20).any(axis=1)].sum() for k in range(1, len(x))}
    assert c.coverage == pytest.approx(max(covered.values()))
    assert c.baseline == pytest.approx(w[minutes[:, 0] <= 20].sum())
    open_cols = [0] + [1 + sites.index[sites["site_id"] == s][0] for s in c.sites["site_id"] if s]
    np.testing.assert_allclose(c.demand["minutes"], minutes[:, open_cols].min(axis=1))


def test_time_from_a_polygon_starts_in_every_cell_it_touches():
    grid, travel = corridor()
    square = shapely.box(4_020, 4_020, 4_480, 4_480)  # cells 4,000-4,500 m north, off the road
    minutes = travel.to_nearest(np.array([square]))
    rows, cols = np.nonzero(grid.mask([square], all_touched=True))
    assert (minutes[rows, cols] == 0).all()
    # From its southern cells (centres at y = 4,050) straight south to the road: 1,500 m off-road
    # (the square's own way onto the network, a 1.7 km leg to its nearest node, is slower).
    assert at(grid, minutes, 4_250, 2_550) == pytest.approx(1_500 / (OFF_KMH / 3.6) / 60)
