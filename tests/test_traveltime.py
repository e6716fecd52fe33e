"""Travel time criteria: road lines as an osmnx graph, network time plus the off-network leg
rasterised onto the grid; checked against hand-computed times and networkx."""

import dataclasses

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from test_bad_input import assert_nothing_written, assert_user_error, edit, siting

import siting as siting_pkg
from siting.config import scenario as scenario_mod
from siting.config.scenario import CoveringModel
from siting.network.traveltime import TravelTimes, graph_from_lines, road_graph
from siting.raster.grid import Grid, Raster

CRS = "EPSG:32645"
ROAD_KMH = 60.0
OFF_KMH = 15.0


def lines(*coords):
    return gpd.GeoDataFrame(geometry=[shapely.LineString(c) for c in coords], crs=CRS)


def test_lines_become_a_two_way_osmnx_graph_split_at_crossings():
    roads = lines([(0, 0), (10_000, 0)], [(5_000, -3_000), (5_000, 4_000)])
    G = graph_from_lines(roads, np.array([60.0, 40.0]))
    assert {(d["x"], d["y"]) for _, d in G.nodes(data=True)} == {
        (0, 0), (5_000, 0), (10_000, 0), (5_000, -3_000), (5_000, 4_000)
    }  # fmt: skip
    assert G.number_of_edges() == 8  # four pieces, both ways
    for u, v, d in G.edges(data=True):
        a, b = G.nodes[u], G.nodes[v]
        assert d["length"] == pytest.approx(np.hypot(a["x"] - b["x"], a["y"] - b["y"]))
        # osmnx's travel_time: seconds at the line's speed
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))
        assert d["speed_kph"] == (60.0 if a["y"] == b["y"] == 0 else 40.0)
    assert G.graph["crs"] == CRS


def test_ends_within_snap_distance_are_joined_and_long_edges_split():
    roads = lines([(0, 0), (10_000, 0)], [(4_000, 300), (4_000, 5_000)])  # stops 300 m short
    assert nx.number_weakly_connected_components(graph_from_lines(roads, np.full(2, 60.0))) == 2
    G = graph_from_lines(roads, np.full(2, 60.0), snap_m=500, max_edge_m=1_000)
    assert nx.number_weakly_connected_components(G) == 1
    assert max(d["length"] for _, _, d in G.edges(data=True)) <= 1_000 + 1e-9
    a = min(G.nodes, key=lambda n: np.hypot(G.nodes[n]["x"], G.nodes[n]["y"]))
    b = min(G.nodes, key=lambda n: np.hypot(G.nodes[n]["x"] - 4_000, G.nodes[n]["y"] - 5_000))
    seconds = nx.shortest_path_length(G, a, b, weight="travel_time")
    assert seconds == pytest.approx((4_000 + 300 + 4_700) / (60 / 3.6))


def corridor(friction=None):
    """A 10 × 5 km grid of 100 m cells with a straight road along the row at y = 2,550."""
    grid = Grid.from_bounds((0, 0, 10_000, 5_000), 100.0, CRS)
    data = np.ones(grid.shape) if friction is None else friction(grid)
    G = graph_from_lines(lines([(50, 2_550), (9_950, 2_550)]), np.array([ROAD_KMH]), 0, 100)
    return grid, TravelTimes(G, Raster(data, grid, "friction"), OFF_KMH)


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
    cell = result.friction.grid.res
    assert raster.sample(np.array([anchor.x]), np.array([anchor.y]))[0] <= cell / (15 / 3.6) / 60
    row, col = np.unravel_index(np.argmin(raster.data), raster.data.shape)
    x, y = result.grid.xy(row, col)
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
    # The door-to-door minutes, rebuilt from the run's road layer and friction surface.
    graph = road_graph(scenario.network, result.layers["roads"], result.friction.grid.res)
    travel = TravelTimes(graph, result.friction, scenario.network.off_road_kmh)
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
