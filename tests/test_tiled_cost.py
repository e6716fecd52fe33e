"""The tiled cost-distance on a Dask cluster equals the single-process engine (issue #21).

Every test runs :func:`siting.scale.tiled_cost.tiled_cost_distance` on a real two-worker
``LocalCluster`` and compares it with :func:`siting.raster.cost.cost_distance` on the whole grid:
the same cells unreachable, and the others equal within 1e-9 relative (both sum the same float64
steps along a path, so they agree to the last bit in practice).
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from affine import Affine

from siting.errors import ConvergenceError, SitingError
from siting.raster.cost import cost_distance
from siting.scale.tiled_cost import tiled_cost_distance


def assert_same(tiled: np.ndarray, single: np.ndarray) -> None:
    """Equal unreachable masks and at most 1e-9 relative difference elsewhere."""
    assert tiled.dtype == np.float64
    finite = np.isfinite(single)
    np.testing.assert_array_equal(np.isfinite(tiled), finite)
    diff = np.abs(tiled[finite] - single[finite]) / np.maximum(single[finite], 1e-300)
    assert diff.max(initial=0.0) <= 1e-9


def random_friction(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    friction = rng.uniform(1.0, 10.0, shape).astype(np.float32)
    friction[rng.random(shape) < 0.08] = np.inf
    return friction


def snake(side: int, gap: int = 10) -> np.ndarray:
    """Unit friction with a wall every ``gap`` rows, open at alternate ends: the only way
    down runs the full width of each corridor."""
    friction = np.ones((side, side))
    for k, row in enumerate(range(gap, side, gap)):
        friction[row, :] = np.inf
        friction[row, side - 2 if k % 2 == 0 else 1] = 1.0
    return friction


@pytest.mark.parametrize("connectivity", [8, 16])
@pytest.mark.parametrize("chunks", [(37, 29), (211, 23), (50, 157)])
def test_odd_and_non_square_tiles_equal_the_single_process_engine(client, connectivity, chunks):
    friction = random_friction((211, 157), seed=1)
    sources = np.array([[3, 5], [200, 150], [105, 77], [60, 140]])
    friction[sources[:, 0], sources[:, 1]] = 2.0
    cell = Affine(30.0, 0.0, 500_000.0, 0.0, -20.0, 6_000_000.0)  # not square: 30 × 20 m
    single = cost_distance(friction, sources, transform=cell, connectivity=connectivity).cost
    result = tiled_cost_distance(
        da.from_array(friction, chunks=chunks),
        sources,
        transform=cell,
        connectivity=connectivity,
        client=client,
    )
    assert result.cost.chunks == da.from_array(friction, chunks=chunks).chunks
    assert result.chunks == -(-211 // chunks[0]) * -(-157 // chunks[1])
    assert_same(result.cost.compute(), single)


def test_snake_maze_needs_many_rounds_and_ends_exact(client):
    friction = snake(120)
    sources = np.array([[0, 0]])
    single = cost_distance(friction, sources).cost
    # 4 × 4 tiles of 30: the path crosses the 3 column seams in each of the 12 corridors.
    result = tiled_cost_distance(da.from_array(friction, chunks=30), sources, client=client)
    assert result.rounds > 12
    assert result.tile_runs > result.chunks
    assert_same(result.cost.compute(), single)
    # The far corner is reached only along the whole snake: far dearer than straight down.
    assert single[119, 0] > 10 * 119


def test_round_cap_raises_instead_of_an_unconverged_result(client):
    friction = da.from_array(snake(120), chunks=30)
    with pytest.raises(ConvergenceError, match="max_rounds=3") as caught:
        tiled_cost_distance(friction, np.array([[0, 0]]), client=client, max_rounds=3)
    assert isinstance(caught.value, RuntimeError)
    assert isinstance(caught.value, SitingError)
    assert "max_rounds" in (caught.value.fix or "")


@pytest.mark.parametrize("connectivity", [8, 16])
def test_diagonal_corridor_through_tile_corners(client, connectivity):
    # Passable only on the diagonal: from one tile to the next only by a diagonal step across
    # the corner where four tiles meet (chunks of 10, so (9, 9) → (10, 10) and so on).
    side = 60
    friction = np.full((side, side), np.inf)
    friction[np.arange(side), np.arange(side)] = np.linspace(1.0, 3.0, side)
    sources = np.array([[0, 0]])
    single = cost_distance(friction, sources, connectivity=connectivity).cost
    result = tiled_cost_distance(
        da.from_array(friction, chunks=10), sources, connectivity=connectivity, client=client
    )
    tiled = result.cost.compute()
    assert_same(tiled, single)
    assert np.isfinite(np.diag(tiled)).all()
    assert np.isfinite(tiled).sum() == side
    assert result.rounds >= side // 10


def test_impassable_regions_give_the_same_unreachable_cells(client):
    friction = random_friction((160, 140), seed=2).astype(np.float64)
    # A closed ring of walls across four tiles: its inside is never reached.
    friction[40:101, 50] = friction[40:101, 100] = np.inf
    friction[40, 50:101] = np.nan
    friction[100, 50:101] = -9999.0  # nodata
    friction[0:5, 0:5] = 1.0
    sources = np.array([[0, 0], [2, 2]])
    single = cost_distance(friction, sources, nodata=-9999.0).cost
    result = tiled_cost_distance(
        da.from_array(friction, chunks=(41, 33)), sources, nodata=-9999.0, client=client
    )
    tiled = result.cost.compute()
    assert_same(tiled, single)
    assert np.isinf(tiled[41:100, 51:100]).all()
    assert np.isfinite(tiled[120:, :40]).any()


def test_start_costs_and_shared_source_cells(client):
    friction = random_friction((150, 130), seed=3)
    sources = np.array([[10, 10], [140, 120], [75, 64], [75, 64], [0, 129]])
    friction[sources[:, 0], sources[:, 1]] = 1.0
    start = np.array([0.0, 500.0, 2_000.0, 80.0, 10_000.0])  # (75, 64) starts at 80
    single = cost_distance(friction, sources, start_costs=start).cost
    result = tiled_cost_distance(
        da.from_array(friction, chunks=(43, 31)), sources, start_costs=start, client=client
    )
    tiled = result.cost.compute()
    assert_same(tiled, single)
    assert tiled[75, 64] == 80.0
    assert tiled[140, 120] <= 500.0


def test_impassable_sources_are_left_out_and_all_impassable_is_refused(client):
    friction = random_friction((60, 60), seed=4)
    friction[5, 5] = np.inf
    friction[50, 50] = 1.0
    sources = np.array([[5, 5], [50, 50]])
    single = cost_distance(friction, sources).cost
    tiled = tiled_cost_distance(da.from_array(friction, chunks=25), sources, client=client)
    assert_same(tiled.cost.compute(), single)
    with pytest.raises(ValueError, match="every source cell is impassable"):
        tiled_cost_distance(da.from_array(friction, chunks=25), np.array([[5, 5]]), client=client)


def test_bad_input_is_refused_with_the_place_named(client):
    friction = np.ones((40, 40))
    friction[33, 27] = -1.0
    with pytest.raises(ValueError, match="negative at row 33, col 27"):
        tiled_cost_distance(da.from_array(friction, chunks=16), np.array([[0, 0]]), client=client)
    ones = da.ones((40, 40), chunks=16)
    with pytest.raises(ValueError, match="connectivity must be 8 or 16"):
        tiled_cost_distance(ones, np.array([[0, 0]]), connectivity=4, client=client)
    with pytest.raises(ValueError, match="chunks of at least 2 cells"):
        tiled_cost_distance(
            da.ones((40, 40), chunks=(39, 40)), np.array([[0, 0]]), connectivity=16,
            client=client,
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"source 1 \(row 40, col 0\) is outside"):
        tiled_cost_distance(ones, np.array([[0, 0], [40, 0]]), client=client)
    with pytest.raises(ValueError, match="start_costs"):
        tiled_cost_distance(ones, np.array([[0, 0]]), start_costs=[-1.0], client=client)
    with pytest.raises(ValueError, match="dask array"):
        tiled_cost_distance(np.ones((4, 4)), np.array([[0, 0]]), client=client)  # type: ignore[arg-type]


def test_integer_friction_and_reading_a_window_of_the_result(client):
    friction = np.random.default_rng(5).integers(1, 20, (90, 70)).astype(np.uint16)
    sources = np.array([[45, 35]])
    single = cost_distance(friction, sources, connectivity=16).cost
    result = tiled_cost_distance(
        da.from_array(friction, chunks=(20, 25)), sources, connectivity=16, client=client
    )
    assert_same(result.cost.compute(), single)
    # A window reads only the tiles under it, from the workers that hold them.
    assert_same(result.cost[30:61, 40:52].compute(), single[30:61, 40:52])
