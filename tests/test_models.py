"""Hand-written model pieces, checked against the libraries they stand in for."""

import inspect
import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from scipy.optimize import minimize
from scipy.spatial import cKDTree
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from siting.errors import InfeasibleError
from siting.inputs.sources.orlib import read_pmed
from siting.mcda.criteria import within_radius
from siting.models import (
    CapacitatedFacilityLocation,
    GrowthPoles,
    MaximalCovering,
    PCenter,
    PMedian,
    weber_point,
)
from siting.raster.grid import Grid


def test_weber_point_matches_a_general_optimiser():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100_000, (25, 2))
    w = rng.uniform(0.5, 10, 25)

    def total(p):
        return (w * np.hypot(*(xy - p).T)).sum()

    ours = weber_point(xy, w, tol=1e-6)
    ref = minimize(
        total,
        xy.mean(axis=0),
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 20_000},
    ).x
    assert total(ours) <= total(ref) + 1e-6
    np.testing.assert_allclose(ours, ref, atol=1.0)  # metres


def test_weber_point_stays_on_a_dominant_vertex():
    xy = np.array([[0.0, 0.0], [1000.0, 0.0], [0.0, 1000.0]])
    np.testing.assert_allclose(weber_point(xy, np.array([10.0, 1.0, 1.0])), [0.0, 0.0], atol=0.01)


def test_within_radius_matches_a_kdtree_ball_query():
    rng = np.random.default_rng(2)
    grid = Grid.from_bounds((0, 0, 20_000, 20_000), 200.0, "EPSG:32645")
    xs, ys = grid.centers()
    # Points at cell centres, so the kernel (cell-centre distances) is exact.
    cols, rows = rng.integers(0, grid.width, 60), rng.integers(0, grid.height, 60)
    px, py = xs[cols], ys[rows]
    w = rng.uniform(1, 1000, 60)
    out = within_radius(grid, shapely.points(px, py), w, radius=3_000.0)
    tree = cKDTree(np.column_stack([px, py]))
    cx, cy = np.meshgrid(xs, ys)
    hits = tree.query_ball_point(np.column_stack([cx.ravel(), cy.ravel()]), r=3_000.0 + 1e-6)
    expected = np.array([w[h].sum() for h in hits]).reshape(grid.shape)
    np.testing.assert_allclose(out, expected, atol=1e-6 * w.sum())


def test_pmedian_equals_brute_force_on_random_instances():
    rng = np.random.default_rng(3)
    for _ in range(5):
        cost = rng.uniform(1, 100, (15, 8))
        w = rng.uniform(0.5, 5, 15)
        model = PMedian(p=3).fit(cost, sample_weight=w)
        best = min(
            (w * cost[:, list(c)].min(axis=1)).sum() for c in itertools.combinations(range(8), 3)
        )
        assert model.objective_ == pytest.approx(best)
        assert len(model.facilities_) == 3
        np.testing.assert_array_equal(
            model.assignment_, model.facilities_[np.argmin(cost[:, model.facilities_], axis=1)]
        )


def test_infeasible_instances_are_user_errors():
    cost = np.ones((4, 2))
    with pytest.raises(InfeasibleError, match="p-median: p = 3 but only 2 candidate sites"):
        PMedian(p=3).fit(cost)
    unreachable = np.ones((3, 2))
    unreachable[1] = np.inf
    with pytest.raises(InfeasibleError, match=r"1 client\(s\) cannot reach any candidate site"):
        PMedian(p=1).fit(unreachable)
    with pytest.raises(InfeasibleError, match="location: p = 3 but only 2 candidate sites"):
        CapacitatedFacilityLocation(10.0, 1.0, p=3).fit(cost)
    with pytest.raises(InfeasibleError, match="p = 1 with 2 fixed sites and 2 candidates"):
        MaximalCovering(p=1, radius=5, fixed=[0, 1]).fit(cost)
    with pytest.raises(InfeasibleError, match="p-center: p = 3 but 2 candidate sites"):
        PCenter(p=3).fit(cost)
    with pytest.raises(InfeasibleError, match="every cost is inf"):
        PCenter(p=1).fit(np.full((2, 2), np.inf))


def test_growth_poles_weight_threshold():
    xy = np.array([[0, 0], [5_000, 0], [100_000, 0], [200_000, 0], [205_000, 0.0]])
    w = np.array([3.0, 3.0, 10.0, 1.0, 1.0])
    labels = GrowthPoles(eps_m=10_000, min_weight=5).fit(xy, sample_weight=w).labels_
    assert labels[0] == labels[1] != -1  # 6 Mt/yr together
    assert labels[2] != -1  # 10 Mt/yr alone
    assert labels[3] == labels[4] == -1  # 2 Mt/yr together: below the threshold


def test_pmedian_heuristic_equals_brute_force_on_random_instances():
    rng = np.random.default_rng(4)
    for _ in range(5):
        cost = rng.uniform(1, 100, (30, 12))
        w = rng.uniform(0.5, 5, 30)
        model = PMedian(p=4, method="heuristic", restarts=30, seed=1).fit(cost, sample_weight=w)
        best = min(
            (w * cost[:, list(c)].min(axis=1)).sum() for c in itertools.combinations(range(12), 4)
        )
        assert model.objective_ == pytest.approx(best)
        assert np.isnan(model.gap_) and model.n_iter_ > 0


def test_pmedian_heuristic_is_reproducible_with_a_seed():
    rng = np.random.default_rng(5)
    cost = rng.uniform(1, 100, (80, 40))
    a = PMedian(p=6, method="heuristic", restarts=20, seed=7).fit(cost)
    b = PMedian(p=6, method="heuristic", restarts=20, seed=7).fit(cost)
    np.testing.assert_array_equal(a.facilities_, b.facilities_)


def orlib(name):
    import csv

    from conftest import SHARED

    optimum = {
        r["instance"]: float(r["optimal"])
        for r in csv.DictReader((SHARED / "orlib" / "optima.csv").open())
    }
    return *read_pmed(SHARED / "orlib" / f"{name}.txt"), optimum[name]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_orlib_pmed1_to_5_reach_the_published_optimum(k):
    cost, p, optimum = orlib(f"pmed{k}")
    heuristic = PMedian(p=p, method="heuristic", restarts=300).fit(cost)
    assert heuristic.objective_ == optimum
    for method in ("exact", "milp"):
        exact = PMedian(p=p, method=method).fit(cost)
        assert exact.objective_ == optimum and exact.lower_bound_ == optimum and exact.gap_ == 0


@pytest.mark.parametrize("name", ["pmed6", "pmed11"])
def test_exact_pmedian_closes_an_lp_gap_by_branching(name):
    # Small p: the Lagrangian (= LP) bound is below the optimum, so only the search proves it.
    cost, p, optimum = orlib(name)
    model = PMedian(p=p).fit(cost)
    assert model.root_bound_ < optimum - 1
    assert model.n_iter_ > 0  # branch-and-bound nodes
    assert model.objective_ == model.lower_bound_ == optimum and model.gap_ == 0


def test_exact_pmedian_reports_an_honest_gap_when_time_runs_out():
    cost, p, optimum = orlib("pmed16")
    model = PMedian(p=p, time_limit=0.0, restarts=0).fit(cost)
    assert model.lower_bound_ <= optimum <= model.objective_
    assert model.gap_ == pytest.approx((model.objective_ - model.lower_bound_) / model.objective_)


@pytest.mark.parametrize("method", ["exact", "milp"])
def test_exact_pmedian_equals_brute_force(method):
    # Real-valued weighted costs (no integrality shortcut) and integer ones, sizes where the
    # relaxation leaves a gap so the search has to branch.
    rng = np.random.default_rng(11)
    branched = 0
    for trial in range(6):
        cost = rng.uniform(1, 100, (40, 14))
        if trial % 2:
            cost = np.round(cost)
        w = rng.uniform(0.5, 5, 40) if trial % 2 == 0 else np.ones(40)
        best = min(
            (w * cost[:, list(c)].min(axis=1)).sum() for c in itertools.combinations(range(14), 3)
        )
        model = PMedian(p=3, method=method, restarts=0).fit(cost, sample_weight=w)
        assert model.lower_bound_ <= best * (1 + 1e-12)
        assert model.objective_ == pytest.approx(best, rel=1e-4) and model.gap_ <= 1e-4 + 1e-12
        branched += model.root_bound_ < best * (1 - 1e-4)
    assert branched >= 2


def small_instance(seed: int, n: int = 6, m: int = 4):
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(1, 50, (n, m)),
        rng.uniform(1, 5, n),
        rng.uniform(6, 12, m),
        rng.uniform(20, 60, m),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_capacitated_multi_sourcing_equals_enumeration(seed):
    from scipy.optimize import linprog

    cost, w, cap, fixed = small_instance(seed)
    n, m = cost.shape
    best = np.inf
    for k in range(1, m + 1):
        for subset in itertools.combinations(range(m), k):
            if cap[list(subset)].sum() < w.sum():
                continue
            s = list(subset)
            # Transportation LP over the open sites: shares x_ij, Σ_j x_ij = 1, Σ_i w_i x_ij ≤ cap.
            c = (w[:, None] * cost[:, s]).ravel()
            a_eq = np.kron(np.eye(n), np.ones(len(s)))
            a_ub = np.kron(w[None, :], np.eye(len(s)))
            lp = linprog(c, A_ub=a_ub, b_ub=cap[s], A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1))
            best = min(best, fixed[s].sum() + lp.fun)
    model = CapacitatedFacilityLocation(cap, fixed).fit(cost, sample_weight=w)
    assert model.objective_ == pytest.approx(best, rel=1e-6)
    served = (model.assignment_ * w[:, None]).sum(axis=0)
    assert (served <= cap + 1e-6).all()
    np.testing.assert_allclose(model.assignment_.sum(axis=1), 1, atol=1e-6)


@pytest.mark.parametrize("seed", [3, 4])
def test_capacitated_single_sourcing_equals_enumeration(seed):
    cost, w, cap, fixed = small_instance(seed)
    n, m = cost.shape
    best = np.inf
    for plan in itertools.product(range(m), repeat=n):
        plan = np.array(plan)
        load = np.bincount(plan, weights=w, minlength=m)
        if (load > cap).any():
            continue
        used = np.unique(plan)
        best = min(best, fixed[used].sum() + (w * cost[np.arange(n), plan]).sum())
    model = CapacitatedFacilityLocation(cap, fixed, single_sourcing=True).fit(cost, sample_weight=w)
    assert model.objective_ == pytest.approx(best, rel=1e-6)
    assert set(np.unique(model.assignment_.round(6))) <= {0.0, 1.0}


def test_capacitated_infeasible_capacity_is_a_clear_error():
    cost, w, cap, fixed = small_instance(0)
    with pytest.raises(InfeasibleError, match=r"total demand .* exceeds the capacity"):
        CapacitatedFacilityLocation(cap / 100, fixed).fit(cost, sample_weight=w)


def test_maximal_covering_with_a_fixed_site_equals_enumeration():
    rng = np.random.default_rng(6)
    cost = rng.uniform(0, 60, (25, 7))
    w = rng.uniform(1, 10, 25)
    model = MaximalCovering(p=3, radius=20, fixed=[0]).fit(cost, sample_weight=w)
    best = max(
        w[(cost[:, [0, *pair]] <= 20).any(axis=1)].sum()
        for pair in itertools.combinations(range(1, 7), 2)
    )
    assert 0 in model.facilities_ and len(model.facilities_) == 3
    assert model.coverage_ == pytest.approx(best)


def test_p_center_equals_enumeration():
    rng = np.random.default_rng(7)
    cost = rng.uniform(1, 100, (20, 8))
    model = PCenter(p=3).fit(cost)
    best = min(cost[:, list(c)].min(axis=1).max() for c in itertools.combinations(range(8), 3))
    assert model.objective_ == pytest.approx(best)


#: One of each model fitted on a cost matrix, as the input checks below try them.
COST_MODELS = [
    PMedian(p=1),
    CapacitatedFacilityLocation(10.0, 1.0),
    MaximalCovering(p=1, radius=5),
    PCenter(p=1),
]


@pytest.mark.parametrize("model", COST_MODELS, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize(
    ("cost", "error", "message"),
    [
        (np.ones(3), ValueError, r"X \(the cost matrix\) must be 2-D, clients × sites"),
        (np.ones((2, 2, 2)), ValueError, r"must be 2-D, clients × sites; got shape \(2, 2, 2\)"),
        (np.ones((0, 2)), ValueError, r"0 sample\(s\)"),
        (np.array([[1.0, np.nan]]), ValueError, r"has 1 NaN entries; use inf"),
        (np.array([[1.0, -2.0]]), ValueError, r"Negative values in data passed to .*cost matrix"),
        (sp.csr_matrix(np.ones((2, 2))), TypeError, r"Sparse data was passed for X"),
    ],
)
def test_a_bad_cost_matrix_is_a_programmer_error(model, cost, error, message):
    with pytest.raises(error, match=message):
        clone(model).fit(cost)


@pytest.mark.parametrize("model", COST_MODELS[:3], ids=lambda m: type(m).__name__)
@pytest.mark.parametrize(
    ("weights", "error", "message"),
    [
        (np.ones(2), ValueError, r"sample_weight has shape \(2,\) but X has 3 rows"),
        (np.ones((3, 1)), ValueError, r"sample_weight has shape \(3, 1\) but X has 3 rows"),
        (np.array([1.0, -1.0, 1.0]), ValueError, "sample_weight has negative values"),
        (np.array([1.0, np.nan, 1.0]), ValueError, "sample_weight has NaN or infinite values"),
        (np.zeros(3), ValueError, "sample_weight is all zero"),
        (np.array(["a", "b", "c"]), TypeError, "sample_weight must be numeric"),
    ],
)
def test_bad_sample_weights_are_programmer_errors(model, weights, error, message):
    with pytest.raises(error, match=message):
        clone(model).fit(np.ones((3, 2)), sample_weight=weights)


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [
        (PMedian(p=0), ValueError, "p-median: p = 0 must be >= 1"),
        (PMedian(p=1.5), TypeError, "p-median: p must be an integer, not 1.5"),
        (PMedian(p=True), TypeError, "p must be an integer, not True"),
        (PMedian(p=1, method="simplex"), ValueError, "method must be one of 'exact', 'milp'"),
        (PMedian(p=1, time_limit=-1.0), ValueError, "time_limit = -1.0 must be >= 0"),
        (PMedian(p=1, seed=-1), ValueError, "seed = -1 must be >= 0"),
        (CapacitatedFacilityLocation([1.0, 2.0, 3.0], 0.0), ValueError, r"capacity has shape"),
        (CapacitatedFacilityLocation(-1.0, 0.0), ValueError, "capacity must be finite and >= 0"),
        (CapacitatedFacilityLocation(9.0, "a"), TypeError, "opening_cost must be numeric"),
        (CapacitatedFacilityLocation(9.0, 0.0, p=0), ValueError, "p = 0 must be >= 1"),
        (CapacitatedFacilityLocation(9.0, 0.0, single_sourcing="yes"), TypeError, "a bool"),
        (MaximalCovering(p=1, radius=5, fixed=[2]), ValueError, r"fixed = \[2\] must be distinct"),
        (MaximalCovering(p=2, radius=5, fixed=[0, 0]), ValueError, "must be distinct column"),
        (MaximalCovering(p=1, radius=5, fixed=[0.5]), TypeError, "fixed must be a 1-D sequence"),
        (MaximalCovering(p=1, radius=np.nan), ValueError, "radius = nan must be >= 0"),
        (PCenter(p=1, time_limit="60"), TypeError, "time_limit must be a number"),
    ],
    ids=repr,
)
def test_bad_parameters_are_programmer_errors_raised_by_fit(model, error, message):
    # scikit-learn's rule: __init__ takes any value, fit checks it.
    with pytest.raises(error, match=message):
        model.fit(np.ones((3, 2)))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (GrowthPoles(method="optics"), "method must be one of 'dbscan', 'hdbscan', 'kmeans'"),
        (GrowthPoles(eps_m=0.0), "eps_m = 0.0 must be > 0"),
        (GrowthPoles(min_weight=-5.0), "min_weight = -5.0 must be > 0"),
        (GrowthPoles(min_cluster_size=1), "min_cluster_size = 1 must be >= 2"),
        (GrowthPoles(n_clusters=0), "n_clusters = 0 must be >= 1"),
        (GrowthPoles(bootstrap=-1), "bootstrap = -1 must be >= 0"),
    ],
    ids=repr,
)
def test_bad_growth_pole_parameters_are_programmer_errors(model, message):
    with pytest.raises(ValueError, match=message):
        model.fit(np.zeros((3, 2)))


def test_growth_poles_check_coordinates_and_weights():
    with pytest.raises(ValueError, match="Expected 2D array"):
        GrowthPoles().fit(np.zeros(3))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GrowthPoles().fit(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"sample_weight has shape \(2,\) but X has 3 rows"):
        GrowthPoles().fit(np.zeros((3, 2)), sample_weight=np.ones(2))


def test_weber_point_checks_its_inputs():
    with pytest.raises(ValueError, match=r"xy must be n × 2 with n >= 1, got shape \(3,\)"):
        weber_point(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"weights has shape \(2,\), xy has 3 points"):
        weber_point(np.zeros((3, 2)), np.ones(2))
    with pytest.raises(ValueError, match="weights must be finite and >= 0"):
        weber_point(np.zeros((2, 2)), np.array([1.0, -1.0]))


def two_poles(seed: int = 8):
    rng = np.random.default_rng(seed)
    a = rng.normal((0, 0), 2_000, (15, 2))
    b = rng.normal((80_000, 0), 2_000, (15, 2))
    return np.vstack([a, b]), rng.uniform(1, 3, 30)


@pytest.mark.parametrize("method", ["dbscan", "hdbscan", "kmeans"])
def test_growth_poles_find_two_separated_poles_stably(method):
    xy, w = two_poles()
    model = GrowthPoles(
        method=method, eps_m=8_000, min_weight=5, n_clusters=2, min_cluster_size=5, bootstrap=30
    ).fit(xy, sample_weight=w)
    assert model.n_clusters_ == 2
    assert len(set(model.labels_[:15])) == 1 and len(set(model.labels_[15:])) == 1
    assert model.labels_[0] != model.labels_[15]
    assert (model.stability_ > 0.9).all()


def test_a_pole_that_rests_on_one_bridge_is_less_stable():
    # Two groups joined only through one bridging point: resampling often drops the bridge.
    xy = np.array(
        [
            [0, 0],
            [1_000, 0],
            [2_000, 0],
            [6_000, 0],
            [10_000, 0],
            [11_000, 0],
            [12_000, 0],
            [60_000, 0],
            [61_000, 0],
            [62_000, 0],
        ],
        dtype=float,
    )
    model = GrowthPoles(eps_m=4_500, min_weight=2, bootstrap=60).fit(xy)
    bridged, compact = model.labels_[0], model.labels_[-1]
    assert model.labels_[4] == bridged  # one pole through the bridge at 6 km
    assert model.stability_[compact] > model.stability_[bridged]


def test_clone_repr_and_params_follow_scikit_learn():
    model = PMedian(3)
    copy = clone(model)
    assert copy is not model and type(copy) is PMedian
    assert copy.get_params() == {
        "p": 3,
        "time_limit": 60.0,
        "method": "exact",
        "restarts": 10,
        "seed": 0,
        "tol": 1e-4,
    }
    # The repr gives the parameters that differ from their defaults, in name order.
    assert repr(model) == "PMedian(p=3)"
    assert repr(PMedian(5, method="milp")) == "PMedian(method='milp', p=5)"
    assert repr(GrowthPoles()) == "GrowthPoles()"
    assert repr(PCenter(2)) == "PCenter(p=2)"
    assert (
        repr(MaximalCovering(3, 20.0, fixed=[0])) == "MaximalCovering(fixed=[0], p=3, radius=20.0)"
    )
    assert (
        repr(CapacitatedFacilityLocation(10.0, 1.0, p=2))
        == "CapacitatedFacilityLocation(capacity=10.0, opening_cost=1.0, p=2)"
    )


def test_positional_construction_maps_to_the_parameter_names():
    # As the run builds its growth poles from the scenario's [models.clusters].
    model = GrowthPoles("hdbscan", 8_000.0, 2.0, 4, 3, 10)
    assert model.get_params() == {
        "method": "hdbscan",
        "eps_m": 8_000.0,
        "min_weight": 2.0,
        "min_cluster_size": 4,
        "n_clusters": 3,
        "bootstrap": 10,
        "seed": 0,
    }


#: Every model with every parameter away from its default.
NON_DEFAULT = [
    PMedian(3, time_limit=5.0, method="milp", restarts=4, seed=2, tol=1e-3),
    CapacitatedFacilityLocation(
        np.array([8.0, 9.0, 10.0]),
        np.array([20.0, 30.0, 25.0]),
        single_sourcing=True,
        p=2,
        time_limit=5.0,
        tol=1e-3,
    ),
    MaximalCovering(3, 20.0, fixed=np.array([0]), time_limit=5.0),
    PCenter(3, time_limit=5.0),
    GrowthPoles("kmeans", 8_000.0, 2.0, 4, 3, 10, seed=3),
]


def _same(a, b) -> bool:
    return bool(np.array_equal(a, b)) if isinstance(a, np.ndarray) else a == b


@pytest.mark.parametrize("model", NON_DEFAULT, ids=lambda m: type(m).__name__)
def test_get_params_set_params_and_clone_round_trip(model):
    params = model.get_params()
    assert set(params) == set(inspect.signature(type(model)).parameters)
    required = {
        name: value
        for name, value in params.items()
        if inspect.signature(type(model)).parameters[name].default is inspect.Parameter.empty
    }
    # set_params onto an instance with only the required parameters gives the same estimator,
    # holding the very objects passed (scikit-learn's contract, which clone relies on).
    rebuilt = type(model)(**required).set_params(**params)
    assert all(rebuilt.get_params()[k] is v for k, v in params.items())
    copy = clone(model)
    assert repr(copy) == repr(model)
    assert all(_same(copy.get_params()[k], v) for k, v in params.items())


def test_a_clone_fitted_on_the_same_data_finds_the_same_optimum():
    rng = np.random.default_rng(3)
    cost = rng.uniform(1, 100, (15, 8))
    w = rng.uniform(0.5, 5, 15)
    best = min(
        (w * cost[:, list(c)].min(axis=1)).sum() for c in itertools.combinations(range(8), 3)
    )
    fitted = PMedian(p=3).fit(cost, sample_weight=w)
    copy = clone(fitted)
    assert not hasattr(copy, "objective_")  # clone copies parameters, not results
    assert copy.fit(cost, sample_weight=w).objective_ == pytest.approx(best)
    np.testing.assert_array_equal(copy.facilities_, fitted.facilities_)
    assert fitted.n_features_in_ == 8  # the candidate sites


def _expected_failed_checks(estimator) -> dict[str, str]:
    if isinstance(estimator, GrowthPoles):
        if estimator.method == "kmeans":
            return {}
        return {
            "check_clustering": "n_clusters bounds the labels of KMeans only; DBSCAN and "
            "HDBSCAN find their own number of poles"
        }
    return {
        "check_estimators_nan_inf": "inf in the cost matrix marks an impossible client–site "
        "pair, so fit accepts it by design (NaN is refused)"
    }


@parametrize_with_checks(
    [
        PMedian(1),
        PMedian(1, method="milp"),
        PMedian(1, method="heuristic"),
        # A capacity no check's demand reaches, so that every instance is feasible.
        CapacitatedFacilityLocation(1e6, 1.0),
        CapacitatedFacilityLocation(1e6, 1.0, single_sourcing=True),
        MaximalCovering(1, 1.0),
        PCenter(1),
        # The checks' data are a few units across, not kilometres.
        GrowthPoles(eps_m=0.5, min_weight=1.0, bootstrap=2),
        GrowthPoles(method="hdbscan", bootstrap=2),
        GrowthPoles(method="kmeans", n_clusters=3, bootstrap=0),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
