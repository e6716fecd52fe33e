"""The exact maximal-covering and p-center solvers (siting.models.covering_solver), checked
against HiGHS (method="milp") and against brute force over every selection."""

import itertools

import numpy as np
import pytest

from siting.models import MaximalCovering, PCenter
from siting.models import covering_solver as cs


def instance(seed: int, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Clients and sites scattered in a 100 × 100 square: Euclidean costs and integer weights
    (so that covered weights are exact sums)."""
    rng = np.random.default_rng(seed)
    clients, sites = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
    cost = np.hypot(*(clients[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    return cost, rng.integers(1, 10, n).astype(float)


def best_coverage(reach: np.ndarray, w: np.ndarray, p: int, fixed: list[int]) -> float:
    free = [j for j in range(reach.shape[1]) if j not in fixed]
    return max(
        float(w[reach[:, [*fixed, *pick]].any(axis=1)].sum())
        for pick in itertools.combinations(free, p - len(fixed))
    )


def best_radius(cost: np.ndarray, p: int) -> float:
    return min(
        float(cost[:, list(pick)].min(axis=1).max())
        for pick in itertools.combinations(range(cost.shape[1]), p)
    )


CASES = [
    # seed, clients, sites, p, radius, fixed
    (0, 30, 10, 2, 20.0, []),
    (1, 50, 12, 3, 25.0, [0]),
    (2, 80, 12, 4, 15.0, [1, 5]),
    (3, 60, 14, 3, 30.0, []),
    (4, 40, 10, 3, 40.0, [2]),
    (36, 60, 12, 3, 40.0, []),  # the Lagrangian bound is 263 > 261: HiGHS finishes
]


@pytest.mark.parametrize(("seed", "n", "m", "p", "radius", "fixed"), CASES)
def test_exact_covering_equals_milp_and_brute_force(seed, n, m, p, radius, fixed):
    cost, w = instance(seed, n, m)
    best = best_coverage(cost <= radius, w, p, fixed)
    exact = MaximalCovering(p, radius, fixed or None).fit(cost, sample_weight=w)
    milp = MaximalCovering(p, radius, fixed or None, method="milp").fit(cost, sample_weight=w)
    assert exact.coverage_ == milp.coverage_ == best
    assert len(exact.facilities_) == p and set(fixed) <= set(exact.facilities_.tolist())
    # Integer weights: the bound is rounded down, so the optimum is proven.
    assert exact.bound_ == best and exact.gap_ == 0.0
    assert milp.bound_ >= best - 1e-6 * best


@pytest.mark.parametrize(("seed", "n", "m", "p", "radius", "fixed"), CASES)
def test_the_lagrangian_bound_is_above_the_optimum(seed, n, m, p, radius, fixed):
    cost, w = instance(seed, n, m)
    w = w + np.random.default_rng(seed).uniform(0, 1, n)  # real weights: no rounding
    reach = cost <= radius
    best = best_coverage(reach, w, p, fixed)
    found = cs.max_cover(reach, w, p, np.array(fixed, dtype=int), time_limit=60.0)
    assert found.lagrangian >= best * (1 - 1e-12)
    assert found.bound >= best * (1 - 1e-12)
    # HiGHS, if it runs, stops within its relative gap (1e-4).
    assert best * (1 - 1e-4) <= found.value <= best
    assert found.value == pytest.approx(cs.covered_weight(reach, w, found.sites))


def test_the_finishing_step_runs_where_the_bound_is_not_tight():
    cost, w = instance(36, 60, 12)
    found = cs.max_cover(cost <= 40.0, w, 3, np.zeros(0, dtype=int), time_limit=60.0)
    assert (found.lagrangian, found.value, found.bound) == (263.0, 261.0, 261.0)


def test_the_preference_step_picks_the_same_sites_either_way():
    cost, w = instance(7, 60, 12)
    preference = np.random.default_rng(7).uniform(0, 1, 12)
    # A radius at which some of the p sites add nothing: the fewest are opened.
    fits = [
        MaximalCovering(6, 45.0, [0], preference=preference, method=method).fit(
            cost, sample_weight=w
        )
        for method in ("exact", "milp")
    ]
    assert fits[0].coverage_ == fits[1].coverage_ == best_coverage(cost <= 45.0, w, 6, [0])
    assert fits[0].idle_ == fits[1].idle_
    np.testing.assert_array_equal(fits[0].facilities_, fits[1].facilities_)


def test_no_time_gives_a_feasible_selection_and_an_honest_gap():
    cost, w = instance(11, 400, 80)
    w = w + np.random.default_rng(11).uniform(0, 1, 400)
    optimum = MaximalCovering(8, 18.0, [0, 1], method="milp").fit(cost, sample_weight=w)
    quick = MaximalCovering(8, 18.0, [0, 1], time_limit=0.0).fit(cost, sample_weight=w)
    assert len(quick.facilities_) == 8 and {0, 1} <= set(quick.facilities_.tolist())
    assert quick.coverage_ == pytest.approx(float(w[quick.covered_].sum()))
    assert quick.coverage_ <= optimum.coverage_ * (1 + 1e-9)
    assert quick.bound_ >= optimum.coverage_ * (1 - 1e-9)
    assert quick.gap_ == pytest.approx((quick.bound_ - quick.coverage_) / quick.bound_)


@pytest.mark.parametrize(("seed", "n", "m", "p"), [(0, 20, 8, 2), (1, 30, 9, 3), (2, 40, 10, 3)])
def test_exact_p_center_equals_milp_and_brute_force(seed, n, m, p):
    cost, _ = instance(seed, n, m)
    best = best_radius(cost, p)
    exact = PCenter(p).fit(cost)
    milp = PCenter(p, method="milp").fit(cost)
    assert exact.objective_ == milp.objective_ == best
    assert exact.lower_bound_ == best and exact.gap_ == 0.0
    assert milp.lower_bound_ <= best * (1 + 1e-6)
    assert len(exact.facilities_) == p
    np.testing.assert_array_equal(
        exact.assignment_, exact.facilities_[np.argmin(cost[:, exact.facilities_], axis=1)]
    )


def test_p_center_bounds_hold_without_time():
    cost, _ = instance(3, 30, 10)
    best = best_radius(cost, 3)
    quick = PCenter(3, time_limit=0.0).fit(cost)
    assert len(quick.facilities_) == 3
    assert quick.lower_bound_ <= best <= quick.objective_
    found = cs.p_center(cost, 3, time_limit=60.0)
    assert found.lp_bound <= best == found.value == found.lower


def test_p_center_with_an_impossible_pair():
    cost, _ = instance(4, 25, 8)
    cost[0, :7] = np.inf  # client 0 reaches only site 7
    best = best_radius(cost, 2)
    model = PCenter(2).fit(cost)
    assert model.objective_ == best and 7 in model.facilities_


def test_an_unknown_method_is_refused():
    cost, _ = instance(0, 5, 3)
    with pytest.raises(ValueError, match="method must be one of 'exact', 'milp'"):
        MaximalCovering(1, 5.0, method="lagrange").fit(cost)
    with pytest.raises(ValueError, match="method must be one of 'exact', 'milp'"):
        PCenter(1, method="heuristic").fit(cost)
