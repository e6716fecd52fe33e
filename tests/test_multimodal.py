"""The mine → plant haul on road and rail (siting.network.multimodal, ``[haul] mode =
"network"``): costs and kilometres by mode computed by hand on a tiny network, routes along the
lines, rivers crossed on the lines' bridges, tonnage conserved, the cache key, and the
off-network share of the Kuzbass default."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

import siting
from siting.config.scenario import Haul, load
from siting.errors import LayerError, ScenarioError
from siting.network.multimodal import haul_matrix
from siting.pipeline import steps
from siting.pipeline.cache import Cache
from siting.raster.grid import Grid, Raster

from conftest import CRS

# Tariffs of the hand computations: truck 6, rail 2, off-road 12 RUB/t·km, transfer 50 RUB/t.
SPEC = Haul(
    mode="network",
    truck_rub_tkm=6.0,
    rail_rub_tkm=2.0,
    offroad_rub_tkm=12.0,
    transfer_rub_t=50.0,
    siding_km=5.0,
    station_km=5.0,
    snap_m=0.0,
)


def _lines(*coords: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[shapely.LineString(c) for c in coords], crs=CRS)


def _points(*xy: tuple[float, float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[shapely.Point(p) for p in xy], crs=CRS)


# A rail line along y = 0 (20 km), a road along x = 20 km from y = 0.5 to 10.5 km, a station at
# the rail's east end (its road node 0.5 km away: the access road). Nodes every 1 km.
RAIL = _lines([(0, 0), (20_000, 0)])
ROAD = _lines([(20_000, 500), (20_000, 10_500)])
STATION = _points((20_000, 0))
# Mine A 2 km north of the rail's west end (a siding); mine B 1 km east of the road (off-road).
MINES = np.array([[0.0, 2_000.0], [21_000.0, 5_500.0]])
# Plant 1 3 km east of the road's north end (off-road); plant 2 3.1 km north of the rail (siding).
PLANTS = np.array([[23_000.0, 10_500.0], [10_000.0, 3_100.0]])


@pytest.fixture(scope="module")
def tiny():
    return haul_matrix(SPEC, ROAD, RAIL, STATION, MINES, PLANTS)


def test_costs_and_kilometres_by_mode_equal_the_hand_computation(tiny):
    # A → 1: siding 2 + rail 20 km, transfer, access 0.5 + road 10 km, off-road 3 km.
    # A → 2: siding 2 + rail 10 + siding 3.1 km.
    # B → 1: off-road 1, road 5 km, off-road 3 km.
    # B → 2: off-road 1, road 5 km, transfer (access 0.5 km), rail 10 km, siding 3.1 km;
    #        cheaper than trucking on from the road (1 + 2 km of road, then 10.008 km off-road:
    #        144.1).
    want_cost = [
        [22 * 2 + 50 + 10.5 * 6 + 3 * 12, 15.1 * 2],
        [1 * 12 + 5 * 6 + 3 * 12, 1 * 12 + 5.5 * 6 + 50 + 13.1 * 2],
    ]
    assert tiny.cost == pytest.approx(np.array(want_cost), abs=1e-9)
    assert tiny.cost[1, 1] == pytest.approx(121.2, abs=1e-9)  # 12 + 33 + 50 + 26.2
    assert tiny.km_rail == pytest.approx(np.array([[22, 15.1], [0, 13.1]]), abs=1e-9)
    assert tiny.km_road == pytest.approx(np.array([[10.5, 0], [5, 5.5]]), abs=1e-9)
    assert tiny.km_offroad == pytest.approx(np.array([[3, 0], [4, 1]]), abs=1e-9)
    assert tiny.transfers.tolist() == [[1, 0], [0, 1]]
    # The allocation's unit: RUB/t over the truck tariff.
    assert tiny.km == pytest.approx(tiny.cost / 6.0)


def test_every_route_runs_from_the_mine_along_the_lines_to_the_plant(tiny):
    lines = np.concatenate([RAIL.geometry.to_numpy(), ROAD.geometry.to_numpy()])
    for i, j in np.ndindex(tiny.cost.shape):
        route = tiny.routes[i, j]
        coords = shapely.get_coordinates(route)
        assert tuple(coords[0]) == tuple(MINES[i])
        assert tuple(coords[-1]) == tuple(PLANTS[j])
        # Every vertex between the mine and the plant is a node of a road or rail line.
        inner = shapely.points(coords[1:-1])
        on_line = shapely.distance(inner[:, None], lines[None, :]).min(axis=1)
        assert on_line.max() < 1e-6, (i, j)
        # Its length is the kilometres by mode (a straight leg off the network without water).
        total = tiny.km_rail[i, j] + tiny.km_road[i, j] + tiny.km_offroad[i, j]
        assert route.length / 1000 == pytest.approx(total, abs=1e-9)


def test_a_road_crosses_a_river_on_its_line_without_a_bridge_layer():
    """A river band impassable on the friction grid, even under the road (no bridge is burnt
    in or listed): the haul crosses it along the road, and the legs off the network go round
    nothing (they stay on their bank)."""
    road = _lines([(0, 0), (0, 20_000)])
    rail = _lines([(50_000, 0), (50_000, 20_000)])  # far away: no siding, no station
    grid = Grid.from_bounds((-10_000, -5_000, 10_000, 25_000), 500.0, CRS)
    data = np.ones(grid.shape)
    _, y = grid.centers()
    river = (y > 9_000) & (y < 11_000)
    data[river, :] = np.inf
    friction = Raster(data, grid, "friction")
    mine, plant = np.array([[3_000.0, 2_000.0]]), np.array([[-2_000.0, 18_000.0]])
    h = haul_matrix(SPEC, road, rail, None, mine, plant, friction)
    assert np.isfinite(h.cost[0, 0])
    assert h.km_rail[0, 0] == 0 and h.transfers[0, 0] == 0
    # Off-road: about 3 km to the road on the south bank, 2 km from it on the north bank.
    assert 5.0 <= h.km_offroad[0, 0] <= 5.0 + 2 * 0.5 * np.sqrt(2)
    assert h.km_road[0, 0] == pytest.approx(16.0, abs=1.0)
    band = shapely.box(-10_000, 9_000, 10_000, 11_000)
    crossing = h.routes[0, 0].intersection(band)
    assert crossing.length == pytest.approx(2_000.0, abs=1e-6)
    assert crossing.distance(road.geometry[0]) < 1e-6  # on the road
    assert shapely.get_coordinates(crossing)[:, 0] == pytest.approx(0.0, abs=1e-6)


def test_no_station_means_no_transfer():
    h = haul_matrix(SPEC, ROAD, RAIL, None, MINES, PLANTS)
    assert h.transfers.sum() == 0
    # B → 2 then trucks on from the road: 1 km off-road, 2 km of road, 10.008 km off-road.
    leg = np.hypot(10_000, 400) / 1000
    assert h.cost[1, 1] == pytest.approx(12 + 2 * 6 + leg * 12, abs=1e-9)
    assert h.km_offroad[1, 1] == pytest.approx(1 + leg, abs=1e-9)


def test_a_haul_layer_that_is_not_lines_is_refused():
    with pytest.raises(LayerError, match=r"haul\.rail = 'rail': the layer holds Point features"):
        haul_matrix(SPEC, ROAD, STATION, None, MINES, PLANTS)


def test_the_run_refuses_a_haul_layer_that_is_not_lines_before_computing(world: Path):
    path = world / "scenario.toml"
    path.write_text(path.read_text() + '\n[haul]\nmode = "network"\nrail = "stations"\n')
    with pytest.raises(LayerError, match=r"haul\.rail = 'stations'.*not lines") as error:
        siting.run(path, write=False, cache=False)
    assert error.value.fix == "name a layer of rail lines in [haul] rail"


def _network_world(world: Path) -> Path:
    path = world / "scenario.toml"
    path.write_text(path.read_text() + '\n[haul]\nmode = "network"\nsiding_km = 5\n')
    return path


def test_the_run_ships_every_tonne_along_the_network(world: Path):
    result = siting.run(_network_world(world), write=False, cache=False)
    a = result.allocation
    lines, plants = a.lines, a.plants
    output = result.layers["mines"]["output"].sum()
    assert lines["weight"].sum() == pytest.approx(output, rel=1e-9)
    assert plants["served_weight"].sum() == pytest.approx(output, rel=1e-9)
    for _, row in lines.iterrows():
        total = row.km_rail + row.km_road + row.km_offroad
        assert row.route_km == pytest.approx(total, abs=1e-6)
        assert row.km * 6.0 == pytest.approx(row.cost_rub_t, rel=1e-12)  # the default truck
    assert a.transport == pytest.approx((lines["weight"] * lines["km"]).sum(), rel=1e-9)
    assert (lines["km_rail"] > 0).any()


def test_the_routes_by_mode_reach_the_geopackage_and_the_map(world: Path):
    result = siting.run(_network_world(world))
    lines = result.allocation.lines
    written = gpd.read_file(result.output_dir / "siting.gpkg", layer="allocation_lines")
    for column in ("km_rail", "km_road", "km_offroad", "transfers", "cost_rub_t"):
        assert written[column].to_numpy() == pytest.approx(lines[column].to_numpy(), abs=1e-9)
    assert written.geometry.geom_equals_exact(lines.geometry, 1e-6, align=False).all()
    page = (result.output_dir / "map.html").read_text(encoding="utf-8")
    first = lines.iloc[0]
    assert f"{first.km_rail:.1f} km rail + {first.km_road:.1f} km road" in page


def test_the_haul_step_keys_every_input_it_reads(world: Path, tmp_path: Path):
    scenario = load(_network_world(world))
    layers = {name: gpd.read_file(world / f"{name}.gpkg") for name in ("roads", "rail")}
    layers["stations"] = gpd.read_file(world / "stations.gpkg")
    demand = gpd.read_file(world / "mines.gpkg")
    sites = gpd.GeoDataFrame({"x": [605_000.0, 630_000.0], "y": [6_110_000.0, 6_125_000.0]})
    grid = Grid.from_bounds((X := 590_000.0, 6_090_000.0, X + 60_000, 6_150_000.0), 1000.0, CRS)
    friction = Raster(np.ones(grid.shape), grid, "friction")
    inputs = {
        "scenario": scenario,
        "layers": layers,
        "demand": demand,
        "sites": sites,
        "friction": friction,
    }
    cache = Cache(tmp_path / "cache")
    base = cache.key(steps.HAUL, inputs)
    water = friction.data.copy()
    water[5, 5] = np.inf
    changes = {
        "tariff": {"scenario": dataclasses.replace(scenario, haul=Haul(rail_rub_tkm=3.0))},
        "roads": {"layers": {**layers, "roads": layers["roads"].iloc[:-1]}},
        "rail": {"layers": {**layers, "rail": layers["rail"].translate(1.0)}},
        "stations": {"layers": {**layers, "stations": layers["stations"].iloc[:-1]}},
        "demand": {"demand": demand.iloc[:-1]},
        "sites": {"sites": sites.assign(x=sites["x"] + 1.0)},
        "water": {"friction": dataclasses.replace(friction, data=water)},
    }
    for what, change in changes.items():
        assert cache.key(steps.HAUL, {**inputs, **change}) != base, what
    # What the haul does not read leaves its key alone: the friction's costs (not which cells
    # are passable), the allocation's capacity, the demand's attributes.
    same = {
        "friction": dataclasses.replace(friction, data=friction.data * 2),
        "scenario": dataclasses.replace(
            scenario, allocation=dataclasses.replace(scenario.allocation, p=1)
        ),
        "demand": demand.assign(output_mtpa=0.0),
    }
    for name, value in same.items():
        assert cache.key(steps.HAUL, {**inputs, name: value}) == base, name


def test_a_network_haul_needs_its_layers(world: Path):
    path = world / "scenario.toml"
    path.write_text(path.read_text() + '\n[haul]\nmode = "network"\nrail = "railway"\n')
    with pytest.raises(ScenarioError, match=r"haul\.rail = 'railway' is not a layer"):
        load(path)


@pytest.mark.slow
def test_kuzbass_default_hauls_on_the_network():
    """The Kuzbass default at 1 km: off-network legs carry at most 10 % of the haul t·km, and
    the Mezhdurechensk mines go by rail to a plant near them, not round the Tom."""
    a = siting.run(resolution=1000, write=False).allocation
    lines = a.lines
    tkm = lines["weight"] * (lines["km_rail"] + lines["km_road"] + lines["km_offroad"])
    share = (lines["weight"] * lines["km_offroad"]).sum() / tkm.sum()
    assert share <= 0.10
    raspadskaya = lines[lines["demand"].str.startswith(("Raspadskaya", "Razrez Raspadsky"))]
    assert len(raspadskaya) == 4
    assert (raspadskaya["km_offroad"] == 0).all()
    assert (raspadskaya["route_km"] < 40).all()
