"""The exact capacitated facility location solver (:mod:`siting.models.cflp_solver`), checked
against HiGHS on the same MILP and against brute force over every open set."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from siting.models import CapacitatedFacilityLocation
from siting.models.cflp_flow import min_cost_flow

TIGHT = 1e-9  # optimality tolerance of both methods, so both must reach the optimum


def instance(seed, n=24, m=8, variant="plain"):
    """Clients and sites in a square, capacities that bind (total about 2 × demand)."""
    rng = np.random.default_rng(seed)
    clients, sites = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
    cost = np.hypot(*(clients[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    w = rng.uniform(1, 10, n)
    cap = rng.uniform(0.5, 1.5, m) * 2.0 * w.sum() / m
    fixed = rng.uniform(50, 400, m)
    kw = {}
    if variant in ("existing", "expansion"):
        held = np.zeros(m)
        held[:2] = 0.8 * cap[:2]
        kw["existing"] = held
    if variant == "expansion":
        kw["expansion_cost"] = np.where(np.arange(m) < 2, 3.0, np.inf)
    return cost, w, cap, fixed, kw


def brute_force(cost, w, cap, fixed, p, existing, room, unit):
    """Least cost over every open set: its transportation LP (with expansion) by linprog."""
    n, m = cost.shape
    is_existing = existing > 0
    base = np.where(is_existing, existing, cap)
    best = np.inf
    for size in range(1, m + 1):
        if p is not None and size != p:
            continue
        for sites in itertools.combinations(range(m), size):
            sites = np.array(sites)
            if is_existing[np.setdiff1d(np.arange(m), sites)].any():  # existing stay open
                continue
            if (base[sites] + room[sites]).sum() < w.sum() - 1e-9:
                continue
            k = len(sites)
            c = np.concatenate([(w[:, None] * cost[:, sites]).ravel(), unit[sites]])
            a_eq = np.hstack([np.kron(np.eye(n), np.ones((1, k))), np.zeros((n, k))])
            a_ub = np.hstack([np.kron(w[None, :], np.eye(k)), -np.eye(k)])
            bounds = [(0, 1)] * (n * k) + [(0, r) for r in room[sites]]
            res = linprog(c, a_ub, base[sites], a_eq, np.ones(n), bounds, method="highs")
            if res.status == 0:
                best = min(best, res.fun + np.where(is_existing, 0, fixed)[sites].sum())
    return best


def assert_feasible(model, cost, w, cap, kw, single):
    x = model.assignment_
    np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-7)
    closed = np.setdiff1d(np.arange(cost.shape[1]), model.facilities_)
    assert np.abs(x[:, closed]).max(initial=0) <= 1e-9
    held = np.asarray(kw.get("existing", np.zeros(len(cap))))
    base = np.where(held > 0, held, cap)
    load = w @ x
    assert (load <= base + model.expansion_ + 1e-7 * w.sum()).all()
    assert (model.expansion_ <= cap - base + 1e-9).all()
    assert set(np.flatnonzero(held > 0)) <= set(model.facilities_)
    if single:
        assert set(np.unique(x)) <= {0.0, 1.0}


@pytest.mark.parametrize("variant", ["plain", "existing", "expansion"])
@pytest.mark.parametrize("p", [None, 5])
@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_matches_highs_and_brute_force(seed, single, p, variant):
    cost, w, cap, fixed, kw = instance(seed, variant=variant)
    args = dict(single_sourcing=single, p=p, tol=TIGHT, **kw)
    exact = CapacitatedFacilityLocation(cap, fixed, **args).fit(cost, sample_weight=w)
    ref = CapacitatedFacilityLocation(cap, fixed, method="milp", **args).fit(cost, sample_weight=w)
    assert exact.method_ == "exact" and ref.method_ == "milp"
    assert exact.objective_ == pytest.approx(ref.objective_, rel=1e-6)
    assert exact.lower_bound_ <= exact.objective_
    assert exact.gap_ <= 1e-6
    assert_feasible(exact, cost, w, cap, kw, single)
    if not single:
        m = cost.shape[1]
        held = np.asarray(kw.get("existing", np.zeros(m)), dtype=float)
        unit = np.asarray(kw.get("expansion_cost", np.full(m, np.inf)), dtype=float)
        grows = (held > 0) & np.isfinite(unit)
        room = np.where(grows, cap - held, 0.0)
        best = brute_force(cost, w, cap, fixed, p, held, room, np.where(grows, unit, 0.0))
        assert exact.objective_ == pytest.approx(best, rel=1e-6)


@pytest.mark.parametrize("single", [False, True])
def test_time_limit_gives_an_honest_gap_and_a_feasible_solution(single):
    cost, w, cap, fixed, kw = instance(5, n=40, m=12, variant="existing")
    args = dict(single_sourcing=single, **kw)
    truth = CapacitatedFacilityLocation(cap, fixed, method="milp", tol=TIGHT, **args)
    optimum = truth.fit(cost, sample_weight=w).objective_
    quick = CapacitatedFacilityLocation(cap, fixed, time_limit=1e-3, **args)
    quick.fit(cost, sample_weight=w)
    assert quick.lower_bound_ <= optimum * (1 + 1e-9)
    assert optimum <= quick.objective_ * (1 + 1e-9)
    assert quick.gap_ == pytest.approx(
        (quick.objective_ - quick.lower_bound_) / quick.objective_, abs=1e-12
    )
    assert_feasible(quick, cost, w, cap, kw, single)


def test_objective_is_the_cost_of_the_returned_solution():
    cost, w, cap, fixed, kw = instance(3, variant="expansion")
    model = CapacitatedFacilityLocation(cap, fixed, **kw).fit(cost, sample_weight=w)
    opening = fixed[model.facilities_][~np.isin(model.facilities_, [0, 1])].sum()
    total = opening + (w[:, None] * cost * model.assignment_).sum() + 3.0 * model.expansion_.sum()
    assert model.objective_ == pytest.approx(total, rel=1e-12)


def test_same_input_same_output():
    cost, w, cap, fixed, kw = instance(4, n=30, m=10, variant="expansion")
    first = CapacitatedFacilityLocation(cap, fixed, **kw).fit(cost, sample_weight=w)
    again = CapacitatedFacilityLocation(cap, fixed, **kw).fit(cost, sample_weight=w)
    np.testing.assert_array_equal(first.facilities_, again.facilities_)
    np.testing.assert_array_equal(first.assignment_, again.assignment_)
    np.testing.assert_array_equal(first.expansion_, again.expansion_)
    assert first.objective_ == again.objective_
    assert first.lower_bound_ == again.lower_bound_


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("start", ["optimum", "all", "worst"])
def test_a_warm_start_reaches_the_same_optimum(single, start):
    """``init`` only changes where the search starts: from the optimum itself, from every site,
    or from the dearest sites that can take the demand, the proven optimum is the cold one."""
    cost, w, cap, fixed, kw = instance(6, n=30, m=10, variant="expansion")
    args = dict(single_sourcing=single, tol=TIGHT, **kw)
    cold = CapacitatedFacilityLocation(cap, fixed, **args).fit(cost, sample_weight=w)
    init = {
        "optimum": cold.facilities_,
        "all": np.arange(10),
        "worst": np.argsort(-fixed)[
            : int(np.searchsorted(np.cumsum(cap[np.argsort(-fixed)]), w.sum())) + 1
        ],
    }[start]
    warm = CapacitatedFacilityLocation(cap, fixed, init=init, **args).fit(cost, sample_weight=w)
    assert warm.objective_ == pytest.approx(cold.objective_, rel=1e-7)
    assert warm.gap_ <= 1e-6
    assert_feasible(warm, cost, w, cap, kw, single)


def test_a_start_without_enough_capacity_is_no_start():
    cost, w, cap, fixed, _ = instance(7)
    cold = CapacitatedFacilityLocation(cap, fixed, tol=TIGHT).fit(cost, sample_weight=w)
    warm = CapacitatedFacilityLocation(cap, fixed, tol=TIGHT, init=np.array([0]))
    warm.fit(cost, sample_weight=w)
    assert cap[0] < w.sum()
    assert warm.objective_ == pytest.approx(cold.objective_, rel=1e-7)


@pytest.mark.parametrize(
    ("init", "error"),
    [
        (np.array([0, 8]), ValueError),
        (np.array([-1]), ValueError),
        (np.array([0.5]), TypeError),
        (np.array([[0, 1]]), TypeError),
    ],
)
def test_init_is_checked(init, error):
    cost, w, cap, fixed, _ = instance(0)
    with pytest.raises(error, match="init"):
        CapacitatedFacilityLocation(cap, fixed, init=init).fit(cost, sample_weight=w)


def test_clients_without_demand_go_to_their_cheapest_open_site():
    cost, w, cap, fixed, _ = instance(6)
    w[[3, 7]] = 0.0
    model = CapacitatedFacilityLocation(cap, fixed, tol=TIGHT).fit(cost, sample_weight=w)
    ref = CapacitatedFacilityLocation(cap, fixed, method="milp", tol=TIGHT)
    assert model.objective_ == pytest.approx(ref.fit(cost, sample_weight=w).objective_, rel=1e-6)
    for i in (3, 7):
        j = model.facilities_[np.argmin(cost[i, model.facilities_])]
        assert model.assignment_[i, j] == 1.0


def test_method_is_checked():
    cost, w, cap, fixed, _ = instance(0)
    with pytest.raises(ValueError, match="method must be one of 'exact', 'milp'"):
        CapacitatedFacilityLocation(cap, fixed, method="lagrange").fit(cost, sample_weight=w)


@pytest.mark.parametrize(
    "case",
    ["every site open (p = m)", "every site existing", "one site", "impossible pairs"],
)
def test_edge_cases_match_highs(case):
    cost, w, cap, fixed, _ = instance(7, n=15, m=5)
    kw = {}
    if case == "every site open (p = m)":
        kw["p"] = 5
    elif case == "every site existing":
        kw["existing"] = cap * 0.9
        kw["expansion_cost"] = 2.0
    elif case == "one site":
        cost, cap, fixed = cost[:, :1], np.array([w.sum()]), fixed[:1]
    else:
        cost[np.arange(15), np.arange(15) % 5] = np.inf
    args = dict(tol=TIGHT, **kw)
    exact = CapacitatedFacilityLocation(cap, fixed, **args).fit(cost, sample_weight=w)
    ref = CapacitatedFacilityLocation(cap, fixed, method="milp", **args)
    assert exact.objective_ == pytest.approx(ref.fit(cost, sample_weight=w).objective_, rel=1e-6)
    assert exact.gap_ <= 1e-6
    if case == "impossible pairs":
        assert (exact.assignment_[np.arange(15), np.arange(15) % 5] == 0).all()


@pytest.mark.parametrize("seed", range(8))
def test_min_cost_flow_matches_the_transportation_lp(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 40)), int(rng.integers(1, 10))
    cost = rng.uniform(0, 10, (n, k))
    if seed % 2:
        cost = np.round(cost)  # ties
    w = rng.uniform(0.1, 5, n)
    base = rng.uniform(0, 1.5, k) * w.sum() / k
    room = np.where(rng.random(k) < 0.4, rng.uniform(0, 2, k) * w.sum() / k, 0.0)
    unit = np.where(room > 0, rng.uniform(0, 3, k), 0.0)
    status, value, flow, extra, _ = min_cost_flow(cost, w, base, room, unit)
    c = np.concatenate([cost.ravel(), unit])
    a_eq = np.hstack([np.kron(np.eye(n), np.ones((1, k))), np.zeros((n, k))])
    a_ub = np.hstack([np.kron(np.ones((1, n)), np.eye(k)), -np.eye(k)])
    bounds = [(0, None)] * (n * k) + [(0, r) for r in room]
    ref = linprog(c, a_ub, base, a_eq, w, bounds, method="highs")
    if ref.status == 2:
        assert status == 1
        return
    assert status == 0
    assert value == pytest.approx(ref.fun, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(flow.sum(axis=1), w, rtol=1e-9)
    assert (flow.sum(axis=0) <= base + extra + 1e-9).all()
    assert (extra <= room + 1e-12).all()


@pytest.mark.parametrize("seed", range(8))
def test_min_cost_flow_prices_are_optimal_duals(seed):
    """The client prices (the solver's starting multipliers) close the duality gap: with each
    site's capacity price the largest margin π_i − c_ij it would have to pay, and the expansion
    price what exceeds the unit cost, the dual objective equals the flow's cost."""
    rng = np.random.default_rng(100 + seed)
    n, k = int(rng.integers(2, 40)), int(rng.integers(1, 10))
    cost = rng.uniform(0, 10, (n, k))
    if seed % 2:
        cost = np.round(cost)  # ties
    w = rng.uniform(0.1, 5, n)
    base = rng.uniform(0.5, 1.5, k) * 1.2 * w.sum() / k
    room = np.where(rng.random(k) < 0.4, rng.uniform(0, 2, k) * w.sum() / k, 0.0)
    unit = np.where(room > 0, rng.uniform(0, 3, k), 0.0)
    status, value, _, _, price = min_cost_flow(cost, w, base, room, unit)
    if base.sum() + room.sum() < w.sum():
        assert status == 1
        return
    assert status == 0
    alpha = np.maximum(0.0, (price[:, None] - cost).max(axis=0))
    beta = np.maximum(0.0, alpha - unit)
    dual = w @ price - base @ alpha - room @ beta
    assert dual == pytest.approx(value, rel=1e-9, abs=1e-9)
