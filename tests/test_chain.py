"""The value chain model (siting.models.chain): flow conservation, capacities, and the optimum
against an enumeration of every open/closed choice and against a MILP written out directly."""

import inspect
import itertools

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from sklearn.base import clone

from siting.errors import InfeasibleError
from siting.models import ValueChainLocation


def random_instance(
    seed: int, n: int = 4, m1: int = 2, m2: int = 2, t: int = 2, existing: bool = True
) -> dict:
    """A small chain: ``n`` mines of two coal types (coking, thermal), ``m1`` preparation and
    ``m2`` coke plants (with ``existing``, the first of each exists and may expand), ``t``
    markets, some impossible arcs; every per-plant parameter given in full."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(1, 5, (n, 2))
    c1 = rng.uniform(1, 20, (n, m1))
    c1[0, -1] = np.inf  # no route from mine 0 to the last preparation plant
    c2 = rng.uniform(1, 20, (m1, m2))
    c3 = rng.uniform(1, 20, (m2, t))
    c3[-1, 0] = np.inf
    params = {
        "prep_capacity": rng.uniform(0.6, 1.2, m1) * s.sum(),
        "prep_opening_cost": rng.uniform(20, 80, m1),
        "prep_yield": rng.uniform(0.6, 0.9, (m1, 2)),
        "coke_capacity": rng.uniform(0.6, 1.0, m2) * s[:, 0].sum(),
        "coke_opening_cost": rng.uniform(20, 80, m2),
        "coke_yield": rng.uniform(0.7, 0.8, (m2, 2)),
        "prep_existing": np.r_[0.3 * s.sum() * existing, np.zeros(m1 - 1)],
        "coke_existing": np.r_[0.2 * s[:, 0].sum() * existing, np.zeros(m2 - 1)],
        "prep_expansion_cost": rng.uniform(2, 10, m1),
        "coke_expansion_cost": rng.uniform(2, 10, m2),
        "coke_feed": np.array([True, False]),
        "market_demand": np.r_[0.1 * s[:, 0].sum(), np.zeros(t - 1)],
        "market_capacity": np.full(t, 0.4 * s[:, 0].sum()),
    }
    return {"s": s, "c1": c1, "c2": c2, "c3": c3, "params": params}


def direct_model(inst: dict) -> tuple:
    """The chain written out row by row: (objective, A_ub, b_ub, A_eq, b_eq, lower, upper,
    number of opening variables), the opening variables first, prep then coke."""
    s, c1, c2, c3, p = inst["s"], inst["c1"], inst["c2"], inst["c3"], inst["params"]
    (n, k), m1, m2, t = s.shape, c1.shape[1], c2.shape[1], c3.shape[1]
    feed = [f for f in range(k) if p["coke_feed"][f]]
    penalty = p.get("unshipped_cost")
    names: list[tuple] = [("y1", j) for j in range(m1)] + [("y2", q) for q in range(m2)]
    names += [("e1", j) for j in range(m1)] + [("e2", q) for q in range(m2)]
    names += [("x", i, j, f) for i in range(n) for j in range(m1) for f in range(k)]
    names += [("z", j, q, f) for j in range(m1) for q in range(m2) for f in feed]
    names += [("w", q, r) for q in range(m2) for r in range(t)]
    if penalty is not None:
        names += [("u", i, f) for i in range(n) for f in range(k)]
    at = {name: col for col, name in enumerate(names)}
    c, lo, hi = np.zeros(len(names)), np.zeros(len(names)), np.full(len(names), np.inf)
    base, room = {}, {}
    for tag, size, pre in (("1", m1, "prep"), ("2", m2, "coke")):
        for j in range(size):
            held, cap = p[f"{pre}_existing"][j], p[f"{pre}_capacity"][j]
            base[tag, j] = held if held > 0 else cap
            room[tag, j] = cap - held if held > 0 else 0.0
            c[at["y" + tag, j]] = 0.0 if held > 0 else p[f"{pre}_opening_cost"][j]
            c[at["e" + tag, j]] = p[f"{pre}_expansion_cost"][j] if held > 0 else 0.0
            lo[at["y" + tag, j]] = 1.0 if held > 0 else 0.0
            hi[at["y" + tag, j]] = 1.0
            hi[at["e" + tag, j]] = room[tag, j]
    matrix = {"x": c1, "z": c2, "w": c3}
    for name, col in at.items():
        if name[0] in matrix or name[0] == "u":
            value = penalty if name[0] == "u" else matrix[name[0]][name[1], name[2]]
            c[col], hi[col] = (value, hi[col]) if np.isfinite(value) else (0.0, 0.0)
    a_ub, b_ub, a_eq, b_eq = [], [], [], []

    def row(terms: dict) -> np.ndarray:
        r = np.zeros(len(names))
        for name, coef in terms.items():
            r[at[name]] += coef
        return r

    for i, f in itertools.product(range(n), range(k)):
        terms = {("x", i, j, f): 1.0 for j in range(m1)}
        if penalty is not None:
            terms["u", i, f] = 1.0
        a_eq.append(row(terms))
        b_eq.append(s[i, f])
    for j in range(m1):
        terms = {("x", i, j, f): 1.0 for i in range(n) for f in range(k)}
        a_ub.append(row(terms | {("y1", j): -base["1", j], ("e1", j): -1.0}))
        b_ub.append(0.0)
        for f in feed:
            terms = {("z", j, q, f): 1.0 for q in range(m2)}
            terms |= {("x", i, j, f): -p["prep_yield"][j, f] for i in range(n)}
            a_eq.append(row(terms))
            b_eq.append(0.0)
    for q in range(m2):
        terms = {("z", j, q, f): 1.0 for j in range(m1) for f in feed}
        a_ub.append(row(terms | {("y2", q): -base["2", q], ("e2", q): -1.0}))
        b_ub.append(0.0)
        terms = {("w", q, r): 1.0 for r in range(t)}
        terms |= {("z", j, q, f): -p["coke_yield"][q, f] for j in range(m1) for f in feed}
        a_eq.append(row(terms))
        b_eq.append(0.0)
    for r in range(t):
        into = row({("w", q, r): 1.0 for q in range(m2)})
        a_ub += [into, -into]
        b_ub += [p["market_capacity"][r], -p["market_demand"][r]]
    for tag, size, pre in (("1", m1, "prep"), ("2", m2, "coke")):
        count = row({("y" + tag, j): 1.0 for j in range(size)})
        a_ub += [count, -count]
        b_ub += [p.get(f"max_{pre}") or size, -p.get(f"min_{pre}", 0)]
    return c, np.array(a_ub), np.array(b_ub), np.array(a_eq), np.array(b_eq), lo, hi, m1 + m2


def brute_force(inst: dict) -> tuple[float, dict]:
    """The least objective over every open/closed choice of the plants, each choice's flows by
    linprog; and the objective of each choice (inf where infeasible)."""
    c, a_ub, b_ub, a_eq, b_eq, lo, hi, m = direct_model(inst)
    value = {}
    for choice in itertools.product([0.0, 1.0], repeat=m):
        if (np.array(choice) < lo[:m]).any():
            continue  # an existing plant is open
        lower, upper = lo.copy(), hi.copy()
        lower[:m] = upper[:m] = choice
        lp = linprog(
            c, a_ub, b_ub, a_eq, b_eq, bounds=list(zip(lower, upper, strict=True)), method="highs"
        )
        value[choice] = lp.fun if lp.status == 0 else np.inf
    return min(value.values()), value


def fit(inst: dict, **changes) -> ValueChainLocation:
    model = ValueChainLocation(**(inst["params"] | changes))
    return model.fit(inst["s"], inst["c1"], inst["c2"], inst["c3"])


def check_flows(model: ValueChainLocation, inst: dict) -> None:
    """Flows conserve tonnage with the yields at every plant, within open capacities, and every
    tonne of supply is shipped or counted unshipped."""
    s, p, flows, plants = inst["s"], inst["params"], model.flows_, model.plants_
    (n, k), m1, m2 = s.shape, inst["c1"].shape[1], inst["c2"].shape[1]

    def total(stage: str, **where: int) -> float:
        rows = flows[flows["stage"] == stage]
        for column, value in where.items():
            rows = rows[rows[column] == value]
        return float(rows["tonnes"].sum())

    for i, f in itertools.product(range(n), range(k)):
        shipped = total("mine_prep", **{"from": i, "coal_type": f}) + model.unshipped_[i, f]
        assert shipped == pytest.approx(s[i, f], rel=1e-6)
    prep = plants[plants["echelon"] == "prep"].set_index("plant")
    coke = plants[plants["echelon"] == "coke"].set_index("plant")
    feed = np.flatnonzero(p["coke_feed"])
    for j in range(m1):
        coal = np.array([total("mine_prep", to=j, coal_type=f) for f in range(k)])
        scale = max(coal.sum(), 1.0)
        for f in range(k):
            onward = total("prep_coke", **{"from": j, "coal_type": f})
            expected = p["prep_yield"][j, f] * coal[f] if f in feed else 0.0
            assert onward == pytest.approx(expected, rel=1e-6, abs=1e-6 * scale)
        leaves = sum(p["prep_yield"][j, f] * coal[f] for f in range(k) if f not in feed)
        assert prep.loc[j, "leaves"] == pytest.approx(leaves, rel=1e-6, abs=1e-6 * scale)
        assert coal.sum() <= prep.loc[j, "capacity"] * (1 + 1e-6) + 1e-9
        assert prep.loc[j, "capacity"] <= p["prep_capacity"][j] * (1 + 1e-6)
        assert prep.loc[j, "open"] or coal.sum() <= 1e-9
    for q in range(m2):
        conc = np.array([total("prep_coke", to=q, coal_type=f) for f in range(k)])
        product = total("coke_market", **{"from": q})
        scale = max(conc.sum(), 1.0)
        expected = (p["coke_yield"][q] * conc).sum()
        assert product == pytest.approx(expected, rel=1e-6, abs=1e-6 * scale)
        assert conc.sum() <= coke.loc[q, "capacity"] * (1 + 1e-6) + 1e-9
        assert coke.loc[q, "open"] or conc.sum() <= 1e-9
    into = flows[flows["stage"] == "coke_market"].groupby("to")["tonnes"].sum()
    market = into.reindex(range(inst["c3"].shape[1]), fill_value=0.0).to_numpy()
    assert (market >= p["market_demand"] * (1 - 1e-6) - 1e-9).all()
    assert (market <= p["market_capacity"] * (1 + 1e-6) + 1e-9).all()


@pytest.mark.parametrize("seed", range(8))
def test_two_plus_two_candidates_equal_the_enumeration_of_every_choice(seed):
    # Odd seeds: four new candidates, every one of the 16 choices enumerated; even seeds: the
    # first plant of each echelon exists (open), 4 choices.
    inst = random_instance(seed, existing=seed % 2 == 0)
    best, value = brute_force(inst)
    assert len(value) == (4 if seed % 2 == 0 else 16)
    assert np.isfinite(best)
    model = fit(inst)
    assert model.objective_ == pytest.approx(best, rel=1e-5)  # within tol = 1e-6 and the LP
    # The choice the model opened is worth its objective when its flows are solved apart.
    choice = tuple(
        float(j in model.open_[name]) for name, m in (("prep", 2), ("coke", 2)) for j in range(m)
    )
    assert value[choice] == pytest.approx(model.objective_, rel=1e-5)
    assert model.gap_ <= 1e-6
    assert model.lower_bound_ <= model.objective_ * (1 + 1e-9)
    assert sum(model.costs_.values()) == pytest.approx(model.objective_, rel=1e-9)
    check_flows(model, inst)


@pytest.mark.parametrize("seed", range(10, 16))
def test_larger_instances_equal_a_directly_written_highs_milp(seed):
    inst = random_instance(seed, n=6, m1=4, m2=3, t=3)
    inst["params"] |= {"min_prep": 1, "max_prep": 3, "max_coke": 2}
    if seed % 2:
        inst["params"]["unshipped_cost"] = 25.0  # some supply may stay at the mines
    c, a_ub, b_ub, a_eq, b_eq, lo, hi, m = direct_model(inst)
    integrality = np.r_[np.ones(m), np.zeros(len(c) - m)]
    rows = [LinearConstraint(a_ub, -np.inf, b_ub), LinearConstraint(a_eq, b_eq, b_eq)]
    direct = milp(c, constraints=rows, integrality=integrality, bounds=Bounds(lo, hi))
    assert direct.status == 0
    model = fit(inst)
    assert model.objective_ == pytest.approx(direct.fun, rel=1e-5)
    assert 1 <= len(model.open_["prep"]) <= 3 and len(model.open_["coke"]) <= 2
    check_flows(model, inst)


def test_tonnes_in_tonnes_not_megatonnes_give_the_same_plan():
    # Every quantity × 1e6 (supply, capacities, demand; opening and expansion costs per plant
    # too, since they are in tonnes × cost): the same plants, the objective × 1e6, and the flows
    # still conserve to 1e-6 relative.
    inst = random_instance(3, n=6, m1=4, m2=3, t=3)
    model = fit(inst)
    big = dict(inst, s=inst["s"] * 1e6)
    scaled = ("capacity", "opening_cost", "existing", "market_demand", "market_capacity")
    big["params"] = {
        name: value * 1e6 if name.endswith(scaled) else value
        for name, value in inst["params"].items()
    }
    large = fit(big)
    assert large.objective_ == pytest.approx(model.objective_ * 1e6, rel=1e-5)
    assert {k: v.tolist() for k, v in large.open_.items()} == {
        k: v.tolist() for k, v in model.open_.items()
    }
    check_flows(large, big)


def hand_instance() -> dict:
    """Two mines (10 and 6 t of coking coal) on a line; preparation plant A is existing (8 t/yr,
    may expand to 16 at 1 per t/yr), B a candidate (16 t/yr, opening 20); one coke plant
    (existing, 20 t/yr). Yields 0.5 and 0.8."""
    return {
        "s": np.array([10.0, 6.0]),
        "c1": np.array([[4.0, 1.0], [2.0, 3.0]]),  # mine 0 sits by B, mine 1 nearer A
        "c2": np.array([[1.0], [1.0]]),
        "c3": None,
        "params": {
            "prep_capacity": [16.0, 16.0],
            "prep_opening_cost": [0.0, 20.0],
            "prep_yield": 0.5,
            "prep_existing": [8.0, 0.0],
            "prep_expansion_cost": [1.0, 0.0],
            "coke_capacity": 20.0,
            "coke_opening_cost": 0.0,
            "coke_yield": 0.8,
            "coke_existing": 20.0,
        },
    }


def test_expand_or_build_uses_the_existing_plant_when_cheaper():
    inst = hand_instance()
    model = ValueChainLocation(**inst["params"]).fit(inst["s"], inst["c1"], inst["c2"])
    # Expanding A by 8 (cost 8) and hauling 10 × 4 + 6 × 2 (52) costs 60; building B (20), mine
    # 0 to B and mine 1 to A (10 × 1 + 6 × 2) costs 42: B opens. Then 8 t of concentrate × 1.
    assert model.open_["prep"].tolist() == [0, 1]
    assert model.objective_ == pytest.approx(20 + 10 * 1 + 6 * 2 + 8 * 1)
    # A's haul from mine 0 made cheap: expanding A (8) beats opening B (20).
    cheap = inst["c1"].copy()
    cheap[0, 0] = 1.5
    model = ValueChainLocation(**inst["params"]).fit(inst["s"], cheap, inst["c2"])
    assert model.open_["prep"].tolist() == [0]
    prep = model.plants_[model.plants_["echelon"] == "prep"]
    assert prep["expansion"].tolist() == pytest.approx([8.0, 0.0])
    assert prep["input"].tolist() == pytest.approx([16.0, 0.0])
    assert model.objective_ == pytest.approx(8 + 10 * 1.5 + 6 * 2 + 8 * 1)
    assert model.costs_["expansion"] == pytest.approx(8.0)
    # Without expansion A keeps 8 t/yr: B must open for the rest.
    params = inst["params"] | {"prep_expansion_cost": None}
    model = ValueChainLocation(**params).fit(inst["s"], cheap, inst["c2"])
    assert model.open_["prep"].tolist() == [0, 1]
    assert model.plants_["expansion"].sum() == 0.0
    # The coke plant takes 0.5 × 16 = 8 t of concentrate and turns out 0.8 × 8 = 6.4 t.
    coke = model.plants_[model.plants_["echelon"] == "coke"].iloc[0]
    assert (coke["input"], coke["output"], coke["leaves"]) == pytest.approx((8.0, 6.4, 6.4))


def test_thermal_concentrate_leaves_at_the_preparation_plant():
    inst = hand_instance()
    s = np.array([[10.0, 4.0], [6.0, 0.0]])  # mine 0 also has 4 t of thermal coal
    params = inst["params"] | {"prep_yield": [0.5, 0.9], "coke_feed": [True, False]}
    model = ValueChainLocation(**params).fit(s, inst["c1"], inst["c2"])
    prep = model.plants_[model.plants_["echelon"] == "prep"]
    assert prep["leaves"].sum() == pytest.approx(0.9 * 4)
    assert prep["onward"].sum() == pytest.approx(0.5 * 16)
    thermal = model.flows_[model.flows_["coal_type"] == 1]
    assert set(thermal["stage"]) == {"mine_prep"}


def test_unshipped_cost_lets_unprofitable_supply_stay():
    inst = hand_instance()
    # Shipping any tonne costs at least 1 + 0.5 × 1: at 1.2 per tonne left, nothing moves.
    model = fit(inst | {"c3": None}, unshipped_cost=1.2)
    assert model.unshipped_.sum() == pytest.approx(16.0)
    assert model.objective_ == pytest.approx(16 * 1.2)
    assert model.flows_.empty


def test_a_clone_has_the_parameters_and_finds_the_same_optimum():
    inst = random_instance(0)
    model = fit(inst)
    copy = clone(model)
    assert not hasattr(copy, "objective_")
    params = model.get_params()
    assert set(params) == set(inspect.signature(ValueChainLocation).parameters)
    for name, value in params.items():
        assert np.array_equal(copy.get_params()[name], value), name
    copy.fit(inst["s"], inst["c1"], inst["c2"], inst["c3"])
    assert copy.objective_ == pytest.approx(model.objective_, rel=1e-9)
    assert repr(ValueChainLocation(1.0, 2.0, 0.5, 3.0, 4.0, 0.7, max_coke=1)) == (
        "ValueChainLocation(coke_capacity=3.0, coke_opening_cost=4.0, coke_yield=0.7,\n"
        "                   max_coke=1, prep_capacity=1.0, prep_opening_cost=2.0,\n"
        "                   prep_yield=0.5)"
    )


GOOD = {"s": np.ones((3, 2)), "c1": np.ones((3, 2)), "c2": np.ones((2, 2)), "c3": np.ones((2, 1))}
BASE = {
    "prep_capacity": 10.0,
    "prep_opening_cost": 1.0,
    "prep_yield": 0.5,
    "coke_capacity": 10.0,
    "coke_opening_cost": 1.0,
    "coke_yield": 0.5,
}


@pytest.mark.parametrize(
    "arrays, params, error, message",
    [
        ({"c1": np.ones((2, 2))}, {}, ValueError, r"cost_mine_prep has shape \(2, 2\).*mine \(3\)"),
        ({"c2": np.ones((3, 2))}, {}, ValueError, r"cost_prep_coke has shape \(3, 2\)"),
        ({"c3": np.ones(2)}, {}, ValueError, r"cost_coke_market has shape \(2,\)"),
        ({"s": np.ones((3, 2, 1))}, {}, ValueError, r"supply must be \(mines,\)"),
        ({"s": -np.ones((3, 2))}, {}, ValueError, "supply must be >= 0"),
        ({"c1": np.full((3, 2), np.nan)}, {}, ValueError, "NaN is not a cost"),
        ({}, {"prep_capacity": [1.0, 2.0, 3.0]}, ValueError, r"prep_capacity has shape \(3,\)"),
        ({}, {"prep_yield": [0.5, 0.6, 0.7]}, ValueError, r"prep_yield has shape \(3,\)"),
        ({}, {"coke_yield": 1.5}, ValueError, r"coke_yield must be in \[0, 1\]"),
        ({}, {"coke_opening_cost": -1.0}, ValueError, "coke_opening_cost must be finite"),
        ({}, {"prep_existing": 20.0}, ValueError, "prep_existing exceeds prep_capacity"),
        ({}, {"coke_feed": [True]}, ValueError, "coke_feed must be 2 bools"),
        ({}, {"min_prep": 2, "max_prep": 1}, ValueError, "min_prep = 2 exceeds max_prep = 1"),
        ({}, {"market_demand": [1.0, 2.0]}, ValueError, r"market_demand has shape \(2,\)"),
        ({"c3": None}, {"market_demand": 1.0}, ValueError, "market_capacity need cost_coke"),
        ({"c3": None}, {"market_capacity": 9.0}, ValueError, "market_capacity need cost_coke"),
        ({}, {"max_coke": 1.5}, TypeError, "max_coke must be an integer"),
        ({}, {"unshipped_cost": "a"}, TypeError, "unshipped_cost must be a number"),
    ],
)
def test_bad_input_is_a_programmer_error(arrays, params, error, message):
    a = GOOD | arrays
    with pytest.raises(error, match=message):
        ValueChainLocation(**(BASE | params)).fit(a["s"], a["c1"], a["c2"], a["c3"])


@pytest.mark.parametrize(
    "arrays, params, message",
    [
        ({}, {"prep_capacity": 2.0}, r"supply 6 t/yr exceeds the capacity .* \(4\)"),
        ({"c1": np.array([[1, 1], [np.inf, np.inf], [1, 1]])}, {}, r"mines \[1\] reach no prep"),
        ({}, {"coke_capacity": 1.0}, r"at least 3 t/yr of concentrate"),
        ({}, {"prep_existing": 1.0, "max_prep": 1}, r"max_prep = 1 but 2 prep plants exist"),
        ({}, {"min_coke": 3}, r"min_coke = 3 but only 2"),
        ({}, {"market_demand": 5.0}, "no plan ships the supply through the chain"),
    ],
)
def test_infeasible_instances_are_user_errors(arrays, params, message):
    a = GOOD | arrays
    with pytest.raises(InfeasibleError, match=message):
        ValueChainLocation(**(BASE | params)).fit(a["s"], a["c1"], a["c2"], a["c3"])
