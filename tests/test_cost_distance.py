"""siting.raster.cost.cost_distance and its numba kernel (siting.raster.dijkstra), checked against
scikit-image's MCP_Geometric, hand-computed grids, analytic slope ramps and a plain-Python
heap Dijkstra written here from the documented step rule."""

import heapq
import itertools
import math
import tracemalloc

import numpy as np
import pytest
import rasterio.features
import shapely
from affine import Affine
from skimage.graph import MCP_Geometric

from siting.raster import dijkstra
from siting.raster.cost import Slope, cost_distance

SQ2, SQ5 = math.sqrt(2.0), math.sqrt(5.0)
KING = [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)]
KNIGHT = [(-1, -2), (-1, 2), (1, -2), (1, 2), (-2, -1), (-2, 1), (2, -1), (2, 1)]


# ---------------------------------------------------------------------------------------------
# Helpers: random rasters, scikit-image, and an independent reference Dijkstra
# ---------------------------------------------------------------------------------------------


def random_friction(shape, seed, blocked=0.15, low=1.0, high=20.0):
    """Uniform friction in [low, high) with a fraction ``blocked`` impassable, half inf, half
    NaN."""
    rng = np.random.default_rng(seed)
    friction = rng.uniform(low, high, shape)
    u = rng.random(shape)
    friction[u < blocked / 2] = np.inf
    friction[(u >= blocked / 2) & (u < blocked)] = np.nan
    return friction


def random_sources(friction, n, seed):
    """``n`` distinct passable (row, col) cells."""
    rng = np.random.default_rng(seed + 1000)
    passable = np.argwhere(np.isfinite(friction))
    return passable[rng.choice(len(passable), n, replace=False)]


def skimage_costs(friction, starts, dy, dx):
    clean = np.where(np.isnan(friction), np.inf, friction)
    costs, _ = MCP_Geometric(clean, sampling=(dy, dx)).find_costs([tuple(s) for s in starts])
    return costs


# How close is close. Against other code (scikit-image, the reference Dijkstra below) a cost is
# a sum of a few hundred steps, each rounded its own way: a few hundred ulps (~1e-13) apart at
# most, so 1e-9. Two runs of this kernel on the same effective friction and start cells (a
# barrier burnt in as inf, a dropped source, a geometry given as its cells) do the same
# arithmetic in the same order: those are compared to the bit. Owners (the source a cell is
# reached from) are compared exactly against other code too: on these random frictions the two
# cheapest sources of any cell differ by more than 1e-6 of its cost, far above rounding.


def assert_close(ours, expected, rel=1e-9):
    """Same reachable cells, equal values there within ``rel``."""
    reached = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(ours), reached)
    np.testing.assert_allclose(ours[reached], expected[reached], rtol=rel, atol=0)


def vehicle_factor(grade, up, down, per_grade):
    if grade > up or -grade > down:
        return math.inf
    return 1.0 + per_grade * grade if grade > 0 else 1.0


def tobler_factor(grade):
    return math.exp(3.5 * (abs(grade + 0.05) - 0.05))


def step_cost(friction, r, c, dr, dc, dx, dy, dem=None, factor=None):
    """Cost of one move from (r, c) by (dr, dc), written from the documented rule: horizontal
    length × mean friction of the end cells (plus, for a knight's move, the two cells its segment
    crosses) × the slope factor of rise over horizontal length. ``inf`` if not passable."""
    height, width = friction.shape
    cells = [(r, c), (r + dr, c + dc)]
    if abs(dc) == 2:
        cells += [(r, c + dc // 2), (r + dr, c + dc // 2)]
    elif abs(dr) == 2:
        cells += [(r + dr // 2, c), (r + dr // 2, c + dc)]
    values = []
    for rr, cc in cells:
        if not (0 <= rr < height and 0 <= cc < width):
            return math.inf
        values.append(float(friction[rr, cc]))
    if not all(math.isfinite(v) for v in values):
        return math.inf
    length = math.sqrt((dr * dy) ** 2 + (dc * dx) ** 2)
    cost = length * sum(values) / len(values)
    if dem is not None:
        cost *= factor((dem[r + dr, c + dc] - dem[r, c]) / length)
    return cost


def reference(friction, starts, dx=1.0, dy=1.0, connectivity=8, dem=None, factor=None):
    """Plain heap Dijkstra: ``starts`` is a list of (row, col, start cost); returns cost and
    the index of the start each cell is reached from."""
    moves = KING + (KNIGHT if connectivity == 16 else [])
    cost = np.full(friction.shape, np.inf)
    owner = np.full(friction.shape, -1)
    heap: list[tuple[float, int, int]] = []
    for k, (r, c, s) in enumerate(starts):
        if math.isfinite(friction[r, c]) and s < cost[r, c]:
            cost[r, c], owner[r, c] = s, k
            heapq.heappush(heap, (s, r, c))
    while heap:
        here, r, c = heapq.heappop(heap)
        if here > cost[r, c]:
            continue
        for dr, dc in moves:
            new = here + step_cost(friction, r, c, dr, dc, dx, dy, dem, factor)
            # inf: off the raster, impassable or forbidden (and not to be indexed).
            if math.isfinite(new) and new < cost[r + dr, c + dc]:
                cost[r + dr, c + dc], owner[r + dr, c + dc] = new, owner[r, c]
                heapq.heappush(heap, (new, r + dr, c + dc))
    return cost, owner


def north_up(dx, dy, x0=0.0, y0=0.0):
    return Affine(dx, 0, x0, 0, -dy, y0)


def cell_of(transform, x, y):
    col, row = ~transform @ (x, y)
    return math.floor(row), math.floor(col)


def centre(transform, row, col):
    return transform @ (col + 0.5, row + 0.5)


# ---------------------------------------------------------------------------------------------
# 1. Equal to scikit-image MCP_Geometric
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "seed", "dx", "dy", "n_sources", "blocked"),
    [
        ((40, 60), 0, 30.0, 20.0, 5, 0.10),
        ((120, 90), 1, 25.0, 40.0, 20, 0.15),
        ((200, 150), 2, 7.5, 12.5, 60, 0.20),
        ((300, 300), 3, 100.0, 80.0, 40, 0.12),
    ],
)
def test_cost_equals_scikit_image_mcp_geometric(shape, seed, dx, dy, n_sources, blocked):
    friction = random_friction(shape, seed, blocked)
    sources = random_sources(friction, n_sources, seed)
    ours = cost_distance(friction, sources, transform=north_up(dx, dy, 4e5, 6e6))
    assert_close(ours.cost, skimage_costs(friction, sources, dy, dx))
    # Some cells are cut off (enclosed by impassable ones) or impassable themselves.
    assert np.isinf(ours.cost).sum() >= np.count_nonzero(~np.isfinite(friction))
    np.testing.assert_array_equal(ours.allocation >= 0, np.isfinite(ours.cost))


def test_wide_buckets_equal_scikit_image_mcp_geometric():
    # Friction in a narrow range makes each bucket a ring several cells thick: thousands of cells,
    # sorted by the kernel's radix sort rather than a comparison sort.
    friction = random_friction((400, 400), 8, blocked=0.05, low=1.0, high=1.2)
    sources = random_sources(friction, 3, 8)
    ours = cost_distance(friction, sources, transform=north_up(10.0, 10.0))
    assert_close(ours.cost, skimage_costs(friction, sources, 10.0, 10.0))


@pytest.mark.parametrize(
    ("count", "cell_bits"), [(0, 4), (100, 20), (300, 9), (5000, 24), (5000, 30)]
)
def test_kernel_cell_sort_equals_numpy_sort(count, cell_bits):
    # One, two and three radix passes, and the comparison sort of small batches.
    rng = np.random.default_rng(cell_bits)
    cells = rng.integers(0, 2**cell_bits, count + 10)
    want = np.sort(cells[:count])
    scratch = np.empty_like(cells)
    digits = np.empty(1 << dijkstra._DIGIT_BITS, dtype=np.int64)
    got = dijkstra._sort_cells(cells, scratch, count, cell_bits, digits)
    np.testing.assert_array_equal(got, want)


def test_allocation_is_the_cheapest_source_of_each_cell():
    friction = random_friction((60, 70), 7)
    sources = random_sources(friction, 6, 7)
    t = north_up(15.0, 10.0)
    ours = cost_distance(friction, sources, transform=t)
    single = np.stack([cost_distance(friction, s[None], transform=t).cost for s in sources])
    reached = np.isfinite(ours.cost)
    # The same kernel, but a cell's cheapest path may be found through another tie: 1e-12.
    np.testing.assert_allclose(ours.cost[reached], single.min(axis=0)[reached], rtol=1e-12)
    np.testing.assert_array_equal(ours.allocation[reached], single.argmin(axis=0)[reached])
    assert set(np.unique(ours.allocation[reached])) == set(range(6))


# ---------------------------------------------------------------------------------------------
# 2. Hand-computed grids
# ---------------------------------------------------------------------------------------------

HAND_FRICTION = np.array([[1.0, 2.0, 4.0], [3.0, 1.0, 5.0], [6.0, 3.0, 2.0]])


def test_hand_computed_3x3_costs_allocation_and_directions():
    # 10 m cells: a straight step costs 5·(f_a + f_b), a diagonal one 5√2·(f_a + f_b).
    # Source 0 at (0, 0), source 1 at (2, 2).
    #   (0,1): 5·(1+2) = 15 from 0          (1,0): 5·(1+3) = 20 from 0
    #   (1,1): 5√2·(1+1) = 10√2 from 0      (source 1: 5√2·(2+1) = 15√2 dearer)
    #   (0,2): 15 + 5·(2+4) = 45 from 0     (diagonal from (1,1): 10√2 + 25√2 = 35√2 ≈ 49.5)
    #   (2,0): 10√2 + 5√2·(1+6) = 45√2 from 0  (via (1,0): 20 + 45 = 65; source 1: 70)
    #   (2,1): 5·(2+3) = 25 from 1          (source 0 via (1,1): 10√2 + 20 ≈ 34.1)
    #   (1,2): 5·(2+5) = 35 from 1          (source 0 via (1,1): 10√2 + 30 ≈ 44.1)
    result = cost_distance(
        HAND_FRICTION, np.array([[0, 0], [2, 2]]), transform=north_up(10.0, 10.0)
    )
    expected = np.array([[0.0, 15.0, 45.0], [20.0, 10 * SQ2, 35.0], [45 * SQ2, 25.0, 0.0]])
    np.testing.assert_allclose(result.cost, expected, rtol=1e-12)
    np.testing.assert_array_equal(result.allocation, [[0, 0, 0], [0, 0, 1], [0, 1, 1]])
    # Moves into each cell, as indices of MOVES: (0,1)→3 east, (1,0)→1 south, (1,1)→7 SE,
    # (0,2)→3 east, (2,0)→6 SW, (2,1)→2 west, (1,2)→0 north; sources −1.
    np.testing.assert_array_equal(result.direction, [[-1, 3, 3], [1, 7, 0], [6, 2, -1]])


def test_hand_computed_knight_move_beats_two_king_moves_on_16_connectivity():
    # Cells 1 m wide (dx) and 3 m tall (dy). From (0, 0) to (1, 2):
    #   knight: length √(3² + 2²) = √13, mean of (0,0),(0,1),(1,1),(1,2) = (1+2+3+4)/4 = 2.5
    #   8-connected via (1,1): diagonal √10·(1+3)/2 = 2√10, then east 1·(3+4)/2 = 3.5
    #   8-connected via (0,1): east 1·(1+2)/2 = 1.5, then diagonal √10·(2+4)/2 = 3√10
    friction = np.array([[1.0, 2.0, 8.0], [9.0, 3.0, 4.0]])
    t = north_up(1.0, 3.0)
    king = cost_distance(friction, np.array([[0, 0]]), transform=t)
    knight = cost_distance(friction, np.array([[0, 0]]), transform=t, connectivity=16)
    assert king.cost[1, 2] == pytest.approx(2 * math.sqrt(10) + 3.5, rel=1e-12)
    assert knight.cost[1, 2] == pytest.approx(2.5 * math.sqrt(13), rel=1e-12)
    assert tuple(dijkstra.MOVES[knight.direction[1, 2]]) == (1, 2)
    assert tuple(dijkstra.MOVES[king.direction[1, 2]]) == (0, 1)


def test_cell_shared_by_two_sources_starts_from_the_cheaper_start_cost():
    friction = np.ones((5, 5))
    result = cost_distance(friction, np.array([[2, 2], [2, 2]]), start_costs=[10.0, 3.0])
    assert result.cost[2, 2] == 3.0
    assert np.all(result.allocation == 1)
    assert result.cost[2, 3] == 4.0


# ---------------------------------------------------------------------------------------------
# 3. Starts in impassable cells
# ---------------------------------------------------------------------------------------------


def test_source_in_impassable_cell_reaches_nothing_and_others_match_scikit_image():
    friction = random_friction((80, 100), 11)
    good = random_sources(friction, 8, 11)
    on_inf = np.argwhere(np.isinf(friction))[0]
    on_nan = np.argwhere(np.isnan(friction))[5]
    sources = np.vstack([good[:3], on_inf, good[3:], on_nan])
    t = north_up(20.0, 30.0)
    result = cost_distance(friction, sources, transform=t)
    # skimage is run without the impassable starts: given them it returns wrong costs around
    # them (scikit-image issue #7190).
    assert_close(result.cost, skimage_costs(friction, good, 30.0, 20.0))
    assert np.isinf(result.cost[tuple(on_inf)]) and np.isinf(result.cost[tuple(on_nan)])
    assert 3 not in result.allocation and 9 not in result.allocation
    assert set(np.unique(result.allocation)) == {-1, 0, 1, 2, 4, 5, 6, 7, 8}


def test_every_source_impassable_raises():
    friction = np.ones((5, 5))
    friction[0, 0], friction[4, 4] = np.inf, np.nan
    with pytest.raises(ValueError, match="every source cell is impassable"):
        cost_distance(friction, np.array([[0, 0], [4, 4]]))


def test_source_on_nodata_or_barrier_only_raises():
    friction = np.ones((5, 5))
    friction[0, 0] = 99.0
    barrier = [shapely.LineString([(3.5, 0.0), (3.5, -5.0)])]  # column 3 (identity transform)
    with pytest.raises(ValueError, match="every source cell is impassable"):
        cost_distance(
            friction, np.array([[0, 0], [2, 3]]), nodata=99.0, barriers=barrier,
            transform=north_up(1.0, 1.0),
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# 4. max_cost
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("connectivity", [8, 16])
def test_max_cost_keeps_cheaper_cells_exact_and_cuts_the_rest(connectivity):
    friction = random_friction((90, 110), 21)
    sources = random_sources(friction, 7, 21)
    t = north_up(10.0, 12.0)
    full = cost_distance(friction, sources, transform=t, connectivity=connectivity)
    limit = float(np.median(full.cost[np.isfinite(full.cost)]))
    cut = cost_distance(friction, sources, transform=t, connectivity=connectivity, max_cost=limit)
    within = full.cost <= limit
    assert 0.3 < within.mean() < 0.6
    # Up to the limit the cut run pops the same cells in the same order: equal to the bit.
    np.testing.assert_array_equal(cut.cost[within], full.cost[within])
    np.testing.assert_array_equal(cut.allocation[within], full.allocation[within])
    assert np.all(np.isinf(cut.cost[~within]))
    assert np.all(cut.allocation[~within] == -1)
    assert np.all(cut.direction[~within] == -1)


def test_source_with_start_cost_above_max_cost_is_dropped():
    friction = random_friction((50, 50), 23, blocked=0.05)
    sources = random_sources(friction, 3, 23)
    t = north_up(10.0, 10.0)
    result = cost_distance(
        friction, sources, transform=t, start_costs=[0.0, 500.0, 20.0], max_cost=400.0
    )
    alone = cost_distance(
        friction, sources[[0, 2]], transform=t, start_costs=[0.0, 20.0], max_cost=400.0
    )
    np.testing.assert_array_equal(result.cost, alone.cost)
    assert 1 not in result.allocation
    np.testing.assert_array_equal(
        result.allocation, np.where(alone.allocation == 1, 2, alone.allocation)
    )


def test_every_start_cost_above_max_cost_raises():
    with pytest.raises(ValueError, match="dearer than max_cost"):
        cost_distance(np.ones((4, 4)), np.array([[1, 1]]), start_costs=[5.0], max_cost=4.0)


# ---------------------------------------------------------------------------------------------
# 5. start_costs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("connectivity", [8, 16])
def test_start_costs_give_min_over_sources_of_start_plus_single_source_cost(connectivity):
    friction = random_friction((70, 80), 31)
    sources = random_sources(friction, 5, 31)
    start = np.array([0.0, 300.0, 45.5, 1200.0, 7.25])
    t = north_up(12.0, 9.0)
    result = cost_distance(
        friction, sources, transform=t, start_costs=start, connectivity=connectivity
    )
    single = np.stack(
        [
            s0 + cost_distance(friction, s[None], transform=t, connectivity=connectivity).cost
            for s, s0 in zip(sources, start, strict=True)
        ]
    )
    expected = single.min(axis=0)
    assert_close(result.cost, expected, rel=1e-9)
    reached = np.isfinite(expected)
    np.testing.assert_array_equal(result.allocation[reached], single.argmin(axis=0)[reached])
    assert np.all(result.allocation[~reached] == -1)
    # The dear sources still win their own surroundings, so the min is not trivial.
    assert set(np.unique(result.allocation[reached])) == {0, 1, 2, 3, 4}
    for s, s0, k in zip(sources, start, range(5), strict=True):
        if result.allocation[tuple(s)] == k:
            assert result.cost[tuple(s)] == s0


# ---------------------------------------------------------------------------------------------
# 6. Barriers, bridges, nodata
# ---------------------------------------------------------------------------------------------

WALL_T = north_up(10.0, 10.0, 0.0, 200.0)  # 20 rows × 30 cols, x 0…300, y 0…200
WALL = [shapely.LineString([(155.0, -10.0), (155.0, 210.0)])]  # along column 15's centres
BRIDGE = [shapely.box(152.0, 92.0, 158.0, 98.0)]  # inside cell (row 10, col 15)


def wall_cells():
    return rasterio.features.rasterize(
        [(WALL[0], 1)], out_shape=(20, 30), transform=WALL_T, all_touched=True
    ).astype(bool)


@pytest.mark.parametrize("connectivity", [8, 16])
def test_line_barrier_cuts_off_the_far_side(connectivity):
    friction = np.full((20, 30), 2.0)
    blocked = wall_cells()
    assert blocked[:, 15].all() and blocked.sum() == 20  # one column: a knight could jump it
    result = cost_distance(
        friction, np.array([[10, 2]]), transform=WALL_T, barriers=WALL, connectivity=connectivity
    )
    assert np.all(np.isinf(result.cost[:, 15:]))
    assert np.all(result.allocation[:, 15:] == -1)
    assert np.all(np.isfinite(result.cost[:, :15]))
    # Near side unchanged: the same as a friction with the wall burnt in as inf.
    walled = np.where(blocked, np.inf, friction)
    plain = cost_distance(walled, np.array([[10, 2]]), transform=WALL_T, connectivity=connectivity)
    np.testing.assert_array_equal(result.cost, plain.cost)


@pytest.mark.parametrize("connectivity", [8, 16])
def test_bridge_opens_the_barrier_at_its_cell(connectivity):
    rng = np.random.default_rng(41)
    friction = rng.uniform(1.0, 5.0, (20, 30))
    result = cost_distance(
        friction, np.array([[3, 2]]), transform=WALL_T, barriers=WALL, bridges=BRIDGE,
        connectivity=connectivity,
    )  # fmt: skip
    walled = np.where(wall_cells(), np.inf, friction)
    walled[10, 15] = friction[10, 15]
    expected = cost_distance(
        walled, np.array([[3, 2]]), transform=WALL_T, connectivity=connectivity
    )
    np.testing.assert_array_equal(result.cost, expected.cost)
    np.testing.assert_array_equal(np.isfinite(result.cost), np.isfinite(walled))
    # Every path to the far side crosses at the bridge cell.
    for row in (0, 10, 19):
        line = result.path(*centre(WALL_T, row, 29))
        cells = [cell_of(WALL_T, x, y) for x, y in line.coords]
        assert [c for c in cells if c[1] == 15] == [(10, 15)]


def test_bridge_on_uniform_friction_straight_row_cost_by_hand():
    friction = np.full((20, 30), 2.0)
    result = cost_distance(
        friction, np.array([[10, 2]]), transform=WALL_T, barriers=WALL, bridges=BRIDGE
    )
    # Straight along row 10 through the bridge: 26 steps of 10 m at friction 2.
    assert result.cost[10, 28] == pytest.approx(26 * 10 * 2.0, rel=1e-12)
    # (0, 28): 13 steps east to the bridge (10, 15), then 10 diagonal steps north-east and 3
    # east: 16·20 + 10·20√2.
    assert result.cost[0, 28] == pytest.approx(16 * 20 + 10 * 20 * SQ2, rel=1e-12)
    assert result.cost[10, 15] == pytest.approx(13 * 20.0, rel=1e-12)


def test_bridge_without_barrier_changes_nothing_and_does_not_open_inf_cells():
    friction = np.full((20, 30), 2.0)
    friction[:, 15] = np.inf
    src = np.array([[10, 2]])
    plain = cost_distance(friction, src, transform=WALL_T)
    with_bridge = cost_distance(friction, src, transform=WALL_T, bridges=BRIDGE)
    with_both = cost_distance(friction, src, transform=WALL_T, barriers=WALL, bridges=BRIDGE)
    np.testing.assert_array_equal(with_bridge.cost, plain.cost)
    np.testing.assert_array_equal(with_both.cost, plain.cost)
    assert np.all(np.isinf(plain.cost[:, 15:]))


def test_polygon_barrier_blocks_every_touched_cell():
    friction = np.ones((20, 30))
    lake = shapely.box(95.0, 45.0, 205.0, 155.0)
    touched = rasterio.features.rasterize(
        [(lake, 1)], out_shape=(20, 30), transform=WALL_T, all_touched=True
    ).astype(bool)
    result = cost_distance(friction, np.array([[0, 0]]), transform=WALL_T, barriers=[lake])
    expected = cost_distance(np.where(touched, np.inf, friction), np.array([[0, 0]]),
                             transform=WALL_T)  # fmt: skip
    np.testing.assert_array_equal(result.cost, expected.cost)
    assert np.all(np.isinf(result.cost[touched])) and touched.sum() == 12 * 12


@pytest.mark.parametrize("connectivity", [8, 16])
def test_nodata_value_is_impassable(connectivity):
    friction = random_friction((40, 50), 51, blocked=0.0)
    rng = np.random.default_rng(52)
    holes = rng.random(friction.shape) < 0.15
    friction[holes] = 9999.0
    friction[:, 25] = 9999.0
    sources = np.array([[5, 5], [30, 10]])
    friction[5, 5] = friction[30, 10] = 1.0
    result = cost_distance(friction, sources, nodata=9999.0, connectivity=connectivity)
    expected = cost_distance(
        np.where(friction == 9999.0, np.inf, friction), sources, connectivity=connectivity
    )
    np.testing.assert_array_equal(result.cost, expected.cost)
    assert np.all(np.isinf(result.cost[:, 25:]))


def test_negative_nodata_value_is_impassable():
    friction = np.array([[1.0, -9999.0, 1.0], [1.0, -9999.0, 1.0]])
    result = cost_distance(friction, np.array([[0, 0]]), nodata=-9999.0)
    np.testing.assert_array_equal(result.cost, [[0.0, np.inf, np.inf], [1.0, np.inf, np.inf]])


def test_bridge_does_not_open_nodata_cells():
    friction = np.full((20, 30), 2.0)
    friction[:, 15] = 9999.0
    result = cost_distance(
        friction, np.array([[10, 2]]), transform=WALL_T, nodata=9999.0, barriers=WALL,
        bridges=BRIDGE,
    )  # fmt: skip
    assert np.all(np.isinf(result.cost[:, 15:]))


# ---------------------------------------------------------------------------------------------
# 7. Geometry sources with a georeferenced transform
# ---------------------------------------------------------------------------------------------

GEO_T = Affine(100.0, 0.0, 500_000.0, 0.0, -100.0, 6_000_000.0)  # 40 rows × 50 cols


def test_point_line_and_polygon_sources_start_in_their_touched_cells():
    friction = random_friction((40, 50), 61, blocked=0.0)
    point = shapely.Point(500_000 + 730.0, 6_000_000 - 1_270.0)  # cell (12, 7)
    line = shapely.LineString([(502_010.0, 5_997_950.0), (503_390.0, 5_997_330.0)])
    polygon = shapely.Polygon(
        [(501_050.0, 5_996_950.0), (501_620.0, 5_996_500.0), (500_880.0, 5_996_210.0)]
    )
    result = cost_distance(friction, [point, line, polygon], transform=GEO_T)
    assert cell_of(GEO_T, point.x, point.y) == (12, 7)
    assert result.cost[12, 7] == 0.0 and result.allocation[12, 7] == 0
    assert result.direction[12, 7] == -1
    union = np.zeros((40, 50), dtype=bool)
    union[12, 7] = True
    for k, geom in ((1, line), (2, polygon)):
        cells = rasterio.features.rasterize(
            [(geom, 1)], out_shape=(40, 50), transform=GEO_T, all_touched=True
        ).astype(bool)
        assert cells.sum() >= 4
        assert np.all(result.cost[cells] == 0.0)
        assert np.all(result.allocation[cells] == k)
        assert np.all(result.direction[cells] == -1)
        union |= cells
    np.testing.assert_array_equal(result.cost == 0.0, union)
    # The rest equals a run from the same cells given as (row, col).
    cells = np.argwhere(union)
    owner = result.allocation[union]
    by_cell = cost_distance(friction, cells, transform=GEO_T)
    np.testing.assert_array_equal(result.cost, by_cell.cost)
    np.testing.assert_array_equal(result.allocation, owner[by_cell.allocation])


def test_source_partly_outside_uses_its_inside_cells():
    friction = np.ones((40, 50))
    line = shapely.LineString([(499_000.0, 5_999_950.0), (500_250.0, 5_999_950.0)])
    result = cost_distance(friction, [line], transform=GEO_T)
    np.testing.assert_array_equal(np.argwhere(result.cost == 0.0), [[0, 0], [0, 1], [0, 2]])


@pytest.mark.parametrize(
    "outside",
    [
        shapely.Point(499_950.0, 5_999_950.0),
        shapely.LineString([(490_000.0, 5_990_000.0), (495_000.0, 5_995_000.0)]),
        shapely.box(510_000.0, 5_990_000.0, 511_000.0, 5_991_000.0),
    ],
)
def test_source_fully_outside_raises_naming_its_index(outside):
    sources = [shapely.Point(500_150.0, 5_999_850.0), shapely.Point(500_250.0, 5_999_850.0)]
    with pytest.raises(ValueError, match=r"source 2 \(.*\) lies outside the raster"):
        cost_distance(np.ones((40, 50)), [*sources, outside], transform=GEO_T)


def test_cell_source_outside_raises_naming_its_index():
    with pytest.raises(ValueError, match=r"source 1 \(row 3, col 7\) is outside the 5×7 raster"):
        cost_distance(np.ones((5, 7)), np.array([[0, 0], [3, 7]]))


# ---------------------------------------------------------------------------------------------
# 8. Paths
# ---------------------------------------------------------------------------------------------


def path_cells(result, row, col):
    line = result.path(*centre(result.transform, row, col))
    return line, [cell_of(result.transform, x, y) for x, y in line.coords]


@pytest.mark.parametrize("connectivity", [8, 16])
def test_path_step_costs_sum_to_the_target_cost(connectivity):
    friction = random_friction((60, 70), 71, blocked=0.12)
    sources = random_sources(friction, 4, 71)
    dx, dy = 25.0, 15.0
    t = north_up(dx, dy, 300_000.0, 5_000_000.0)
    result = cost_distance(friction, sources, transform=t, connectivity=connectivity)
    moves = {tuple(m) for m in dijkstra.MOVES[:connectivity]}
    reached = np.argwhere(np.isfinite(result.cost))
    rng = np.random.default_rng(72)
    for row, col in reached[rng.choice(len(reached), 60, replace=False)]:
        line, cells = path_cells(result, row, col)
        src = sources[result.allocation[row, col]]
        assert cells[0] == tuple(src) and cells[-1] == (row, col)
        np.testing.assert_allclose(line.coords[0], centre(t, *src), rtol=0, atol=1e-6)
        np.testing.assert_allclose(line.coords[-1], centre(t, row, col), rtol=0, atol=1e-6)
        if cells == [tuple(src)] * 2:  # the target is a source cell
            cells = cells[:1]
        total = 0.0
        for (r0, c0), (r1, c1) in itertools.pairwise(cells):
            assert (r1 - r0, c1 - c0) in moves
            total += step_cost(friction, r0, c0, r1 - r0, c1 - c0, dx, dy)
        assert total == pytest.approx(result.cost[row, col], rel=1e-9, abs=1e-12)


def test_every_direction_points_to_a_predecessor_consistent_with_the_costs():
    friction = random_friction((50, 60), 73)
    sources = random_sources(friction, 5, 73)
    result = cost_distance(friction, sources, connectivity=16)
    for row, col in np.argwhere(np.isfinite(result.cost)):
        m = result.direction[row, col]
        if m < 0:
            assert result.cost[row, col] == 0.0
            continue
        dr, dc = dijkstra.MOVES[m]
        prev = (row - dr, col - dc)
        assert result.allocation[prev] == result.allocation[row, col]
        step = step_cost(friction, prev[0], prev[1], dr, dc, 1.0, 1.0)
        assert result.cost[row, col] == pytest.approx(result.cost[prev] + step, rel=1e-12)


def test_path_to_unreachable_or_outside_cell_is_none():
    friction = np.ones((10, 10))
    friction[3, :] = np.inf
    t = north_up(10.0, 10.0, 0.0, 100.0)
    result = cost_distance(friction, np.array([[0, 0]]), transform=t)
    assert result.path(*centre(t, 6, 6)) is None
    assert result.path(*centre(t, 3, 4)) is None
    assert result.path(-5.0, 50.0) is None
    assert result.path(50.0, 105.0) is None
    assert result.path(*centre(t, 2, 9)) is not None


def test_path_at_the_source_is_a_zero_length_line_on_its_centre():
    t = north_up(10.0, 10.0, 0.0, 100.0)
    result = cost_distance(np.ones((10, 10)), np.array([[4, 6]]), transform=t)
    line = result.path(*centre(t, 4, 6))
    assert list(line.coords) == [centre(t, 4, 6)] * 2


@pytest.mark.parametrize("connectivity", [8, 16])
def test_path_along_a_row_on_uniform_friction_is_the_straight_row(connectivity):
    t = north_up(10.0, 10.0, 0.0, 200.0)
    result = cost_distance(
        np.full((20, 30), 3.0), np.array([[7, 4]]), transform=t, connectivity=connectivity
    )
    line, cells = path_cells(result, 7, 25)
    assert cells == [(7, c) for c in range(4, 26)]
    assert line.length == pytest.approx(210.0)
    assert result.cost[7, 25] == pytest.approx(21 * 10 * 3.0, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# 9. 16-connectivity
# ---------------------------------------------------------------------------------------------


def test_16_connectivity_knight_moves_on_uniform_friction():
    result = cost_distance(
        np.full((9, 9), 2.0), np.array([[4, 4]]), transform=north_up(10.0, 10.0),
        connectivity=16,
    )  # fmt: skip
    for dr, dc in KNIGHT:
        assert result.cost[4 + dr, 4 + dc] == pytest.approx(SQ5 * 10 * 2.0, rel=1e-12)
    # Non-square cells: (r+1, c+2) is √(dy² + (2dx)²) away.
    rect = cost_distance(
        np.full((9, 9), 2.0), np.array([[4, 4]]), transform=north_up(10.0, 30.0),
        connectivity=16,
    )  # fmt: skip
    assert rect.cost[5, 6] == pytest.approx(math.sqrt(30**2 + 20**2) * 2.0, rel=1e-12)
    assert rect.cost[6, 5] == pytest.approx(math.sqrt(60**2 + 10**2) * 2.0, rel=1e-12)


@pytest.mark.parametrize("seed", [81, 82])
def test_16_connectivity_is_between_euclidean_lower_bound_and_8_connected(seed):
    friction = random_friction((80, 90), seed, blocked=0.1, low=2.0, high=9.0)
    sources = random_sources(friction, 3, seed)
    dx, dy = 10.0, 14.0
    t = north_up(dx, dy)
    eight = cost_distance(friction, sources, transform=t)
    sixteen = cost_distance(friction, sources, transform=t, connectivity=16)
    reached = np.isfinite(eight.cost)
    # Knight moves never open cells the king cannot reach (they need the crossed cells).
    np.testing.assert_array_equal(np.isfinite(sixteen.cost), reached)
    assert np.all(sixteen.cost[reached] <= eight.cost[reached] * (1 + 1e-12))
    assert np.mean(sixteen.cost[reached] < eight.cost[reached] * (1 - 1e-9)) > 0.5
    rows, cols = np.indices(friction.shape)
    distance = np.min([np.hypot((rows - r) * dy, (cols - c) * dx) for r, c in sources], axis=0)
    lower = distance * np.nanmin(friction[np.isfinite(friction)])
    assert np.all(sixteen.cost[reached] >= lower[reached] * (1 - 1e-12))


@pytest.mark.parametrize("seed", [83, 84])
def test_16_connectivity_equals_reference_dijkstra(seed):
    friction = random_friction((30, 35), seed, blocked=0.15)
    sources = random_sources(friction, 4, seed)
    start = [0.0, 12.0, 3.5, 40.0]
    dx, dy = 3.0, 2.0
    result = cost_distance(
        friction, sources, transform=north_up(dx, dy), start_costs=start, connectivity=16
    )
    cost, owner = reference(
        friction, [(r, c, s) for (r, c), s in zip(sources, start, strict=True)], dx, dy, 16
    )
    assert_close(result.cost, cost)
    np.testing.assert_array_equal(result.allocation, owner)


# ---------------------------------------------------------------------------------------------
# 10. Slope models
# ---------------------------------------------------------------------------------------------

RES, F = 10.0, 2.0


def ramp(s, shape=(11, 21)):
    """DEM z = s·x over 10 m cells (x the cell-centre easting), uniform friction F, source in
    the middle (5, 10)."""
    cols = np.arange(shape[1])
    dem = np.broadcast_to(s * (cols + 0.5) * RES, shape).copy()
    return np.full(shape, F), dem, np.array([[shape[0] // 2, shape[1] // 2]])


def ramp_run(s, slope, connectivity=8):
    friction, dem, src = ramp(s)
    return cost_distance(
        friction, src, transform=north_up(RES, RES), dem=dem, slope=slope,
        connectivity=connectivity,
    )  # fmt: skip


def test_vehicle_on_a_gentle_ramp_costs_more_uphill_than_downhill():
    s, per_grade = 0.05, 10.0
    result = ramp_run(s, Slope.vehicle(max_grade=0.08, per_grade=per_grade))
    for k in range(1, 11):
        assert result.cost[5, 10 + k] == pytest.approx(k * RES * F * (1 + per_grade * s), rel=1e-12)
        assert result.cost[5, 10 - k] == pytest.approx(k * RES * F, rel=1e-12)
    # Across the slope (north/south, grade 0) as on the flat.
    assert result.cost[0, 10] == pytest.approx(5 * RES * F, rel=1e-12)


def test_vehicle_steeper_than_max_grade_climbs_by_diagonals():
    # s = 0.1: east grade 0.1 > 0.08 forbidden; diagonal grade s/√2 ≈ 0.0707 allowed.
    s, per_grade = 0.1, 10.0
    result = ramp_run(s, Slope.vehicle(max_grade=0.08, max_downgrade=0.2, per_grade=per_grade))
    diagonal = SQ2 * RES * F * (1 + per_grade * s / SQ2)
    assert result.cost[5, 12] == pytest.approx(2 * diagonal, rel=1e-12)
    assert result.cost[4, 11] == pytest.approx(diagonal, rel=1e-12)
    # (5, 11): diagonal up, then one step south across the slope.
    assert result.cost[5, 11] == pytest.approx(diagonal + RES * F, rel=1e-12)
    # Downhill within max_downgrade: as on the flat.
    assert result.cost[5, 7] == pytest.approx(3 * RES * F, rel=1e-12)


def test_vehicle_default_max_downgrade_also_forbids_steep_straight_descent():
    s, per_grade = 0.1, 10.0
    result = ramp_run(s, Slope.vehicle(max_grade=0.08, per_grade=per_grade))
    # West grade −0.1 beyond the 0.08 default downgrade: two diagonal descents instead.
    assert result.cost[5, 8] == pytest.approx(2 * SQ2 * RES * F, rel=1e-12)


def test_vehicle_steeper_than_diagonals_cuts_off_the_uphill_side():
    # max_grade 0.05 < s/√2: neither east nor diagonal climbs; north/south steps are flat.
    s, per_grade = 0.1, 10.0
    slope = Slope.vehicle(max_grade=0.05, max_downgrade=0.2, per_grade=per_grade)
    result = ramp_run(s, slope)
    assert np.all(np.isinf(result.cost[:, 11:]))
    assert np.all(np.isfinite(result.cost[:, :11]))
    assert result.cost[5, 4] == pytest.approx(6 * RES * F, rel=1e-12)
    assert result.cost[0, 10] == pytest.approx(5 * RES * F, rel=1e-12)
    # A knight's move two rows across and one column up climbs at s/√5 ≈ 0.0447 < 0.05.
    knight = ramp_run(s, slope, connectivity=16)
    assert knight.cost[7, 11] == pytest.approx(RES * F * (SQ5 + per_grade * s), rel=1e-12)
    assert np.all(np.isfinite(knight.cost))


def test_tobler_on_a_ramp_by_hand():
    s = 0.08
    result = ramp_run(s, Slope.tobler())
    east = RES * F * math.exp(3.5 * (abs(s + 0.05) - 0.05))
    west = RES * F * math.exp(3.5 * (abs(-s + 0.05) - 0.05))
    assert west < RES * F < east
    for k in range(1, 11):
        assert result.cost[5, 10 + k] == pytest.approx(k * east, rel=1e-12)
        assert result.cost[5, 10 - k] == pytest.approx(k * west, rel=1e-12)


@pytest.mark.parametrize(
    ("slope", "factor"),
    [
        (Slope.vehicle(max_grade=0.12, max_downgrade=0.1, per_grade=8.0),
         lambda g: vehicle_factor(g, 0.12, 0.1, 8.0)),
        (Slope.tobler(), tobler_factor),
    ],
)  # fmt: skip
@pytest.mark.parametrize("connectivity", [8, 16])
def test_slope_on_a_random_dem_equals_reference_dijkstra(slope, factor, connectivity):
    friction = random_friction((30, 30), 91, blocked=0.1)
    rng = np.random.default_rng(92)
    dem = np.cumsum(rng.normal(0.0, 1.2, (30, 30)), axis=1) + 5 * rng.random((30, 30))
    sources = random_sources(friction, 3, 91)
    dx, dy = 12.0, 9.0
    result = cost_distance(
        friction, sources, transform=north_up(dx, dy), dem=dem, slope=slope,
        connectivity=connectivity, start_costs=[0.0, 25.0, 5.0],
    )  # fmt: skip
    starts = [(r, c, s0) for (r, c), s0 in zip(sources, [0.0, 25.0, 5.0], strict=True)]
    cost, owner = reference(friction, starts, dx, dy, connectivity, dem, factor)
    assert_close(result.cost, cost)
    np.testing.assert_array_equal(result.allocation, owner)


@pytest.mark.parametrize("connectivity", [8, 16])
def test_steepest_grade_by_hand(connectivity):
    # Sets the slope factors' range, hence the kernel's bucket width: a 3 m bump in flat ground
    # of 10 m cells is 0.3 by a straight step (less diagonally or by a knight's move); a cell
    # without elevation counts for nothing.
    dem = np.zeros((5, 6))
    dem[2, 3] = 3.0
    dem[0, 0] = np.nan
    moves = dijkstra.MOVES[:connectivity]
    lengths = np.hypot(moves[:, 0] * 10.0, moves[:, 1] * 10.0)
    assert dijkstra.steepest(dem, moves, lengths) == pytest.approx(0.3, rel=1e-15)
    assert dijkstra.steepest(np.full((3, 3), np.nan), moves, lengths) == 0.0


def test_slope_factor_values_by_hand():
    truck = Slope.vehicle(max_grade=0.08, per_grade=10.0)
    np.testing.assert_allclose(
        truck.factor([0.0, 0.05, 0.08, -0.05, -0.08]), [1.0, 1.5, 1.8, 1.0, 1.0]
    )
    assert np.all(np.isinf(truck.factor([0.081, -0.081, 1.0])))
    loose = Slope.vehicle(max_grade=0.06, max_downgrade=0.2, per_grade=5.0)
    np.testing.assert_allclose(loose.factor([-0.15, 0.04]), [1.0, 1.2])
    assert np.isinf(loose.factor(0.07)) and np.isinf(loose.factor(-0.21))
    walker = Slope.tobler()
    np.testing.assert_allclose(
        walker.factor([0.0, -0.05, 0.1, -0.2, 0.3]),
        [1.0, math.exp(-0.175), math.exp(0.35), math.exp(0.35), math.exp(1.05)],
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_grade": 0.0}, "max_grade and max_downgrade must be > 0"),
        ({"max_grade": 0.1, "max_downgrade": -0.1}, "max_grade and max_downgrade must be > 0"),
        ({"per_grade": -1.0}, "per_grade ≥ 0"),
    ],
)
def test_slope_vehicle_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Slope.vehicle(**kwargs)


# ---------------------------------------------------------------------------------------------
# 11. Bad input
# ---------------------------------------------------------------------------------------------


def test_negative_friction_names_row_and_col():
    friction = np.ones((6, 8))
    friction[4, 6] = -0.5
    with pytest.raises(ValueError, match=r"negative at row 4, col 6 \(-0\.5\)"):
        cost_distance(friction, np.array([[0, 0]]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dem": np.zeros((5, 6)), "slope": Slope.tobler()}, "DEM is 5×6 cells, the friction 6×8"),
        ({"dem": np.zeros((6, 8))}, "a DEM needs a slope model"),
        ({"slope": Slope.vehicle()}, "a slope model needs the DEM"),
        ({"connectivity": 4}, "connectivity must be 8 or 16, got 4"),
        ({"transform": Affine(10, 2, 0, 1, -10, 0)}, "the transform is rotated"),
        ({"start_costs": [0.0]}, r"start_costs must be 2 finite values ≥ 0"),
        ({"start_costs": [0.0, 1.0, 2.0]}, r"start_costs must be 2 finite values ≥ 0"),
        ({"start_costs": [0.0, -1.0]}, r"start_costs must be 2 finite values ≥ 0"),
        ({"start_costs": [0.0, np.inf]}, r"start_costs must be 2 finite values ≥ 0"),
    ],
)
def test_bad_parameters_raise_with_what_to_change(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cost_distance(np.ones((6, 8)), np.array([[0, 0], [5, 7]]), **kwargs)


@pytest.mark.parametrize(
    ("sources", "match"),
    [
        ([], "no sources given"),
        (np.empty((0, 2), dtype=int), r"must be an \(n, 2\) array"),
        (np.array([1, 2]), r"must be an \(n, 2\) array"),
        ([shapely.Point(1.5, 1.5), shapely.Point()], "source 1 is an empty geometry"),
    ],
)
def test_bad_sources_raise(sources, match):
    with pytest.raises(ValueError, match=match):
        cost_distance(np.ones((6, 8)), sources)


@pytest.mark.parametrize("friction", [np.ones(5), np.ones((0, 4)), np.ones((2, 2, 2))])
def test_friction_not_2d_or_empty_raises(friction):
    with pytest.raises(ValueError, match="friction must be a non-empty 2-D array"):
        cost_distance(friction, np.array([[0, 0]]))


# ---------------------------------------------------------------------------------------------
# 12. Memory
# ---------------------------------------------------------------------------------------------


def test_peak_numpy_memory_stays_within_four_times_the_friction():
    friction = np.random.default_rng(101).uniform(1.0, 10.0, (1000, 1000))
    sources = np.array([[500, 500], [20, 900], [950, 30]])
    t = north_up(100.0, 100.0)
    cost_distance(friction[:8, :8], sources[:1] // 100, transform=t)  # compiled/cached first
    # tracemalloc sees numpy's allocations (numpy reports them to it) and numba's (its runtime
    # allocates through PyMem_RawMalloc), so the kernel's queue counts too: here about 0.3×, a
    # few 4096-cell blocks and the bucket's cells, sorted.
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = cost_distance(friction, sources, transform=t)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(result.cost).all()
    ratio = (peak - before) / friction.nbytes
    assert ratio <= 4.0, f"peak numpy allocations {ratio:.2f}× the friction's nbytes"


def test_cells_without_elevation_are_impassable_with_a_slope_model():
    friction = np.ones((5, 7))
    dem = np.zeros((5, 7))
    dem[:, 3] = np.nan  # a column without elevation between the source and the east side
    result = cost_distance(friction, np.array([[2, 0]]), dem=dem, slope=Slope.tobler())
    assert np.isinf(result.cost[:, 3:]).all()
    assert np.isfinite(result.cost[:, :3]).all()
