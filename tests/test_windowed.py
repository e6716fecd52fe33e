"""Candidate-to-demand costs by windowed per-candidate searches on a chunked friction, against
the single-process per-feature cost fields the models use, and the model they feed."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import shapely

from siting.models import CapacitatedFacilityLocation
from siting.raster.cost import CostField
from siting.raster.grid import Grid, Raster
from siting.scale.windowed import cost_matrix

RES = 100.0
#: The single-process fields are float32: they agree to its rounding (2⁻²⁴ ≈ 6e-8), not better.
RTOL = 1e-6


@pytest.fixture(scope="module")
def region():
    """A 230 × 310 friction with walls and lakes, 30 demand features (points, some in a lake,
    and one polygon), 9 candidates."""
    rng = np.random.default_rng(4)
    height, width = 230, 310
    friction = rng.uniform(1.0, 6.0, (height, width))
    friction[60:64, 20:250] = np.inf  # a wall with a gap at the east end
    friction[150:190, 120:170] = np.nan  # a lake
    friction[rng.random((height, width)) < 0.03] = np.inf
    grid = Grid.from_bounds(
        (500_000, 6_000_000, 500_000 + width * RES, 6_000_000 + height * RES), RES, "EPSG:32645"
    )
    x0, y1 = grid.transform.c, grid.transform.f
    xs = rng.uniform(x0 + 500, x0 + width * RES - 500, 29)
    ys = rng.uniform(y1 - height * RES + 500, y1 - 500, 29)
    demand = [shapely.Point(x, y) for x, y in zip(xs, ys, strict=True)]
    demand.append(shapely.Point(x0 + 145 * RES, y1 - 170 * RES))  # inside the lake
    demand.append(shapely.box(x0 + 10 * RES, y1 - 200 * RES, x0 + 14 * RES, y1 - 196 * RES))
    cand = np.column_stack(
        [
            rng.uniform(x0 + 1000, x0 + width * RES - 1000, 9),
            rng.uniform(y1 - height * RES + 1000, y1 - 1000, 9),
        ]
    )
    rows, cols = grid.index(cand[:, 0], cand[:, 1])
    friction[rows, cols] = 2.0  # candidates stand on passable land
    reference = CostField.from_features(
        Raster(friction, grid, "friction"), np.array(demand, dtype=object)
    )
    return friction, grid, demand, cand, reference.sample(cand[:, 0], cand[:, 1])


def test_a_window_over_the_whole_grid_gives_the_single_process_costs(region):
    friction, grid, demand, cand, expected = region
    found = cost_matrix(da.from_array(friction, chunks=(97, 83)), grid, demand, cand, 50_000.0)
    assert np.isinf(found.bound).all()  # every window is the whole grid
    assert found.cost.shape == expected.shape == (31, 9)
    assert np.array_equal(np.isfinite(found.cost), np.isfinite(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(found.cost[finite], expected[finite], rtol=RTOL)


def test_a_small_window_is_exact_up_to_its_bound_and_says_where_it_is_not(region):
    friction, grid, demand, cand, expected = region
    found = cost_matrix(da.from_array(friction, chunks=(64, 101)), grid, demand, cand, 6_000.0)
    assert np.allclose(found.bound, 6_000.0 * float(np.nanmin(friction)), rtol=1e-12)
    exact = found.exact
    assert exact.any() and not exact.all()
    np.testing.assert_allclose(found.cost[exact], expected[exact], rtol=RTOL)
    # Nothing within the bound is missed; everything beyond it is inf.
    bound = found.bound[None, :]
    assert exact[expected <= bound * (1 - RTOL)].all()
    assert (np.broadcast_to(expected > bound * (1 - RTOL), exact.shape)[~exact]).all()


def test_the_searches_on_a_cluster_equal_the_ones_here(region, client):
    friction, grid, demand, cand, _ = region
    chunked = da.from_array(friction, chunks=(51, 77))
    here = cost_matrix(chunked, grid, demand, cand, 12_000.0)
    there = cost_matrix(chunked, grid, demand, cand, 12_000.0, client=client)
    assert np.array_equal(here.cost, there.cost)


def test_the_model_on_windowed_costs_opens_the_same_plants(region):
    friction, grid, demand, cand, expected = region
    found = cost_matrix(da.from_array(friction, chunks=(97, 83)), grid, demand, cand, 50_000.0)
    reachable = np.isfinite(expected).all(axis=1)
    w = np.linspace(1.0, 3.0, len(demand))[reachable]
    args = dict(capacity=np.full(9, w.sum() / 3), opening_cost=np.full(9, 2e5), tol=1e-9)
    ref = CapacitatedFacilityLocation(**args).fit(expected[reachable], sample_weight=w)
    ours = CapacitatedFacilityLocation(**args).fit(found.cost[reachable], sample_weight=w)
    assert ours.facilities_.tolist() == ref.facilities_.tolist()
    assert ours.objective_ == pytest.approx(ref.objective_, rel=RTOL)


def test_a_radius_must_be_positive(region):
    friction, grid, demand, cand, _ = region
    with pytest.raises(ValueError, match="radius_m"):
        cost_matrix(da.from_array(friction), grid, demand, cand, 0.0)
