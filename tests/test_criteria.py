import numpy as np
import pytest
import shapely
from affine import Affine
from skimage.graph import MCP_Geometric

from siting.config.scenario import Exclusion, Friction
from siting.mcda.criteria import distance, distance_update, within_radius
from siting.raster.cost import CostField, cost_distance, friction_surface, resample
from siting.raster.grid import Grid, Raster

CRS = "EPSG:32645"


def grid(res=100.0, n=50):
    return Grid.from_bounds((0, 0, n * res, n * res), res, CRS)


def random_lines(rng: np.random.Generator, extent: float, n: int) -> list[shapely.LineString]:
    return [
        shapely.LineString(rng.uniform(0, extent, (int(rng.integers(2, 5)), 2))) for _ in range(n)
    ]


@pytest.mark.parametrize("res", [100.0, 250.0, 37.5])
@pytest.mark.parametrize("seed", range(4))
def test_distance_update_equals_the_distance_computed_afresh(res: float, seed: int):
    """Adding features to a cached distance raster gives, bit for bit, the float32 raster of
    the distance to all of them: near and far from the old ones, short and long additions."""
    rng = np.random.default_rng(seed)
    g = grid(res=res, n=160)
    extent = 160 * res
    base = random_lines(rng, extent, 3)
    added = random_lines(rng, extent, 1 + seed % 2)
    if seed == 3:  # a short spur in a corner, the what-if's case: a small window
        added = [
            shapely.LineString([(0.02 * extent, 0.03 * extent), (0.1 * extent, 0.05 * extent)])
        ]
    old = distance(g, np.array(base)).astype(np.float32)
    expected = distance(g, np.array(base + added)).astype(np.float32)
    # Bit for bit: both are scipy's transform (the update's on a window) of the same touched
    # cells, and rounding to float32 is monotonic, so it commutes with the minimum.
    np.testing.assert_array_equal(distance_update(g, old, np.array(added)), expected)


def test_distance_update_with_nothing_on_the_grid_is_the_base():
    g = grid()
    old = distance(g, np.array([shapely.Point(1000, 1000)])).astype(np.float32)
    old.flags.writeable = False  # a cached raster is a read-only map
    off = np.array([shapely.Point(-50_000, -50_000)])
    out = distance_update(g, old, off)
    np.testing.assert_array_equal(out, old)
    assert out.flags.writeable


def test_distance_to_a_point_equals_the_analytic_distance():
    g = grid()
    xs, ys = g.centers()
    px, py = xs[20], ys[30]  # a cell centre
    d = distance(g, np.array([shapely.Point(px, py)]))
    expected = np.hypot(xs[None, :] - px, ys[:, None] - py)
    np.testing.assert_allclose(d, expected, atol=1e-9)


def test_distance_to_a_line_is_within_half_a_cell_of_analytic():
    g = grid()
    line = shapely.LineString([(0, 2525), (5000, 2525)])  # horizontal, off the cell centres
    d = distance(g, np.array([line]))
    _, ys = g.centers()
    expected = np.abs(ys - 2525)[:, None] * np.ones(g.width)
    assert np.max(np.abs(d - expected)) <= g.res / 2 + 1e-9


def test_within_radius_sums_weights_in_the_disc():
    g = grid()
    xs, ys = g.centers()
    pts = np.array([shapely.Point(xs[10], ys[10]), shapely.Point(xs[13], ys[10])])
    out = within_radius(g, pts, np.array([1000.0, 10.0]), radius=250.0)
    assert out[10, 10] == pytest.approx(1000.0)  # the second point is 300 m away
    assert out[10, 12] == pytest.approx(1010.0)  # 200 m and 100 m away
    assert out[10, 7] == pytest.approx(0.0, abs=1e-6)  # 300 m from the first


def test_cost_distance_on_a_small_grid_equals_hand_computation():
    friction = np.array([[1.0, 2.0], [3.0, 4.0]])
    cost = cost_distance(friction, np.array([[0, 0]]), transform=Affine(10, 0, 0, 0, -10, 0)).cost
    # Step cost = mean of the two cells' friction × step length.
    expected = [[0.0, 15.0], [20.0, 2.5 * 10 * np.sqrt(2)]]
    np.testing.assert_allclose(cost, expected)


def test_cost_distance_matches_scikit_image_with_impassable_cells():
    rng = np.random.default_rng(0)
    friction = rng.uniform(0.5, 5.0, (60, 80))
    friction[rng.random(friction.shape) < 0.1] = np.inf
    friction[5, 5] = 1.0
    ours = cost_distance(friction, np.array([[5, 5]]), transform=Affine(25, 0, 0, 0, -25, 0)).cost
    ref, _ = MCP_Geometric(friction, sampling=(25.0, 25.0)).find_costs([(5, 5)])
    # Other code: sums of at most ~100 steps, each rounded its own way, ~1e-14 apart at most.
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_friction_roads_bridge_water(tmp_path):
    import geopandas as gpd

    g = grid(res=100.0, n=20)
    layers = {
        "rivers": gpd.GeoDataFrame(
            {"width_m": [100.0]}, geometry=[shapely.LineString([(0, 1050), (2000, 1050)])], crs=CRS
        ),
        "roads": gpd.GeoDataFrame(
            geometry=[shapely.LineString([(1050, 0), (1050, 2000)])], crs=CRS
        ),
    }
    spec = Friction(
        resolution=100,
        off_road=4.0,
        routes=(("roads", 1.0),),
        impassable=(Exclusion("rivers", width_field="width_m"),),
    )
    f = friction_surface(spec, layers, g).data
    assert np.isinf(f[9, 2])  # river cell away from the road
    assert f[9, 10] == 1.0  # the road crosses the river: a bridge
    assert f[2, 2] == 4.0
    # The only way across is the bridge.
    field = CostField.from_features(Raster(f, g, "friction"), np.array([shapely.Point(250, 250)]))
    rows, cols = g.index(np.array([250.0]), np.array([1750.0]))
    assert np.isfinite(field.stack[0, rows[0], cols[0]])


def test_weighted_mean_is_weber_transport_cost():
    g = grid(res=100.0, n=10)
    f = Raster(np.ones(g.shape), g, "friction")
    xs, ys = g.centers()
    pts = np.array([shapely.Point(xs[0], ys[0]), shapely.Point(xs[9], ys[0])])
    field = CostField.from_features(f, pts)
    mean = field.weighted_mean(np.array([3.0, 1.0]))
    # On row 0 with uniform friction the cost is the straight distance.
    assert mean[0, 3] == pytest.approx((3 * 300 + 1 * 600) / 4)
    np.testing.assert_allclose(field.sample(np.array([xs[3]]), np.array([ys[0]]))[:, 0], [300, 600])


def test_resample_is_exact_for_a_linear_surface():
    fine = grid(res=100.0, n=40)
    coarse = fine.coarsen(400.0)
    cx, cy = coarse.centers()
    data = (2 * cx[None, :] + 3 * cy[:, None]).astype(float)
    out = resample(data, coarse, fine)
    fx, fy = fine.centers()
    expected = 2 * fx[None, :] + 3 * fy[:, None]
    inner = (slice(2, -2), slice(2, -2))  # edges clamp
    np.testing.assert_allclose(out[inner], expected[inner], rtol=1e-9)


@pytest.mark.parametrize("coarse_res", [250.0, 400.0, 700.0])
def test_resample_equals_scipy_map_coordinates(coarse_res: float):
    """The separable bilinear pass replaces ndimage.map_coordinates(order=1, mode="nearest"):
    same values, and the same inf wherever the nearest coarse cell is impassable."""
    from scipy import ndimage

    fine = grid(res=100.0, n=60)
    coarse = fine.coarsen(coarse_res)
    rng = np.random.default_rng(int(coarse_res))
    data = rng.uniform(1, 100, coarse.shape)
    data[rng.random(coarse.shape) < 0.15] = np.inf
    out = resample(data, coarse, fine)

    finite = np.isfinite(data)
    _, (ri, ci) = ndimage.distance_transform_edt(~finite, return_indices=True)
    fx, fy = fine.centers()
    col = (fx - coarse.transform.c) / coarse.res - 0.5
    row = (coarse.transform.f - fy) / coarse.res - 0.5
    rr, cc = np.meshgrid(row, col, indexing="ij")
    expected = ndimage.map_coordinates(data[ri, ci], [rr, cc], order=1, mode="nearest")
    near = finite[
        np.clip(np.round(rr).astype(int), 0, coarse.height - 1),
        np.clip(np.round(cc).astype(int), 0, coarse.width - 1),
    ]
    expected[~near] = np.inf
    assert np.isinf(out).sum() > 0
    np.testing.assert_array_equal(np.isinf(out), np.isinf(expected))
    # Other code: a bilinear weight of values >= 1 in a few operations, ulps apart.
    np.testing.assert_allclose(out[near], expected[near], rtol=1e-12)


def test_a_river_narrower_than_a_cell_is_a_barrier_crossed_only_on_the_bridge():
    import geopandas as gpd

    g = grid(res=100.0, n=20)
    river = shapely.LineString([(0, 0), (2000, 2000)])  # diagonal, 10 m wide on 100 m cells
    layers = {
        "rivers": gpd.GeoDataFrame({"width_m": [10.0]}, geometry=[river], crs=CRS),
        "roads": gpd.GeoDataFrame(
            geometry=[shapely.LineString([(0, 1050), (2000, 1050)])], crs=CRS
        ),
    }
    closed = Friction(100, 4.0, (), (Exclusion("rivers", width_field="width_m"),))
    bridged = Friction(100, 4.0, (("roads", 1.0),), (Exclusion("rivers", width_field="width_m"),))
    source = np.array([shapely.Point(150, 1850)])  # north-west of the river
    target = g.index(np.array([1850.0]), np.array([150.0]))  # south-east of it
    for spec, reachable in ((closed, False), (bridged, True)):
        f = friction_surface(spec, layers, g)
        cost = CostField.from_features(f, source).stack[0]
        assert np.isfinite(cost[target[0][0], target[1][0]]) == reachable


def test_a_feature_in_an_impassable_cell_starts_from_the_nearest_passable_cell():
    g = grid(res=100.0, n=10)
    f = np.ones(g.shape)
    f[4:8, 3:8] = np.inf  # a lake; from cell (5, 5) the shore is nearest at (3, 5), 200 m north
    xs, ys = g.centers()
    friction = Raster(f, g, "friction")
    from_lake = CostField.from_features(friction, np.array([shapely.Point(xs[5], ys[5])]))
    from_bank = CostField.from_features(friction, np.array([shapely.Point(xs[5], ys[3])]))
    # The same start cell, the same kernel: equal to the bit.
    np.testing.assert_array_equal(from_lake.stack, from_bank.stack)
    assert from_lake.stack[0, 3, 5] == 0.0 and np.isinf(from_lake.stack[0, 5, 5])
