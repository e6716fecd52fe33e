"""Location-allocation in a run: capacitated plants with opening costs, the cost–suitability
Pareto front, technoparks by maximal covering with existing institutions kept, Weber points
snapped to eligible land. Each result is checked against an enumeration of every alternative."""

import dataclasses
import functools
import itertools
import re

import numpy as np
import pytest
import shapely

import siting
from siting.allocation import _Solution, _sweep_chain, mixed_cost, pareto_front, solve_plan
from siting.config import scenario as scenario_mod
from siting.config.scenario import AllocationModel, CoveringModel
from siting.errors import SitingError

from clitools import assert_nothing_written, assert_user_error, cli_here, edit
from clitools import siting as siting_cli


def run(world, **models):
    scenario = dataclasses.replace(scenario_mod.load(world / "scenario.toml"), **models)
    return siting.run(scenario, write=False)


def km_to_plants(result, spec, site_ids):
    sites = result.sites.set_index("site_id").loc[site_ids]
    field = result.cost_fields[f"{spec.demand}|"]
    return field.sample(sites["x"].to_numpy(), sites["y"].to_numpy()) / 1000


def test_mixed_cost_is_km_at_zero_and_the_documented_mix_otherwise():
    km = np.array([[10.0, 40.0], [20.0, np.inf]])
    suit = np.array([0.9, 0.5])
    assert mixed_cost(km, suit, 0.0) is km
    mixed = mixed_cost(km, suit, 0.25)
    assert mixed[0, 0] == pytest.approx(0.75 * 10 / 40 + 0.25 * 0.1)
    assert mixed[0, 1] == pytest.approx(0.75 * 1.0 + 0.25 * 0.5)
    assert np.isinf(mixed[1, 1])


def test_capacitated_plants_equal_enumeration_of_every_single_sourced_assignment(world):
    spec = AllocationModel(
        "processing_plant", capacity=12.0, opening_cost=15.0, p=None, single_sourcing=True
    )
    result = run(world, allocation=spec)
    a = result.allocation
    assert a.model == "capacitated"
    ids = result.sites_of("processing_plant")["site_id"].tolist()
    km = km_to_plants(result, spec, ids)
    w = result.layers["mines"]["output"].to_numpy(float)
    best = np.inf
    for assign in itertools.product(range(len(ids)), repeat=len(w)):
        load = np.bincount(assign, weights=w, minlength=len(ids))
        if (load <= 12.0 + 1e-9).all():
            cost = (w * km[np.arange(len(w)), assign]).sum() + 15.0 * len(set(assign))
            best = min(best, cost)
    assert a.objective == pytest.approx(best, rel=1e-4)
    assert a.objective == pytest.approx(a.transport + 15.0 * len(a.plants), rel=1e-6)
    assert (a.plants["served_weight"] <= 12.0 + 1e-6).all()
    assert a.plants["served_weight"].sum() == pytest.approx(w.sum())
    # One correctly rounded division, the same as the code's: equal to the bit.
    assert (a.plants["utilisation"] == a.plants["served_weight"] / 12.0).all()
    assert len(a.lines) == len(w)  # single sourcing: one plant per mine


def test_pareto_front_rows_are_the_optima_of_each_mix(world):
    spec = AllocationModel("processing_plant", p=2, pareto_steps=5)
    result = run(world, allocation=spec)
    table = result.allocation.pareto
    assert table["suitability_weight"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    ids = result.sites_of("processing_plant")["site_id"].to_numpy()
    suit = result.sites_of("processing_plant")["score"].to_numpy(float)
    km = km_to_plants(result, spec, ids)
    w = result.layers["mines"]["output"].to_numpy(float)
    for _, row in table.iterrows():
        mixed = mixed_cost(km, suit, row["suitability_weight"])
        best = min(
            itertools.combinations(range(len(ids)), 2),
            key=lambda s: (w * mixed[:, list(s)].min(axis=1)).sum(),
        )
        j = np.array(best)[np.argmin(mixed[:, list(best)], axis=1)]
        assert row["plants"] == ", ".join(ids[sorted(best)])
        assert row["transport"] == pytest.approx((w * km[np.arange(len(w)), j]).sum())
        assert row["mean_suitability"] == pytest.approx((w * suit[j]).sum() / w.sum())
    # Exact optima of a weighted sum: more weight on suitability never buys less suitability.
    assert np.all(np.diff(table["transport"]) >= -1e-6)
    assert np.all(np.diff(table["mean_suitability"]) >= -1e-9)
    t, q = table["transport"].to_numpy(), table["mean_suitability"].to_numpy()
    for i in range(len(table)):
        dominated = any(
            t[k] <= t[i] and q[k] >= q[i] and (t[k] < t[i] - 1e-9 or q[k] > q[i] + 1e-12)
            for k in range(len(table))
        )
        assert table["pareto_optimal"].iloc[i] == (not dominated)


def test_pareto_front_takes_a_weight_already_solved_instead_of_solving_it_again():
    spec = AllocationModel("processing_plant", p=1)
    km = np.array([[1.0, 5.0], [2.0, 1.0], [3.0, 1.0]])  # a: 6 km in all, b: 7 km
    w = np.array([1.0, 1.0, 1.0])
    suit = np.array([0.2, 0.9])
    solved_here = []

    def recording_map(solve, chains):
        chains = list(chains)
        solved_here.extend(itertools.chain.from_iterable(chains))
        return map(solve, chains)

    given = _Solution(np.array([1]), np.array([[0.0, 1.0]] * 3), 7.0, 0.0123, 6.9, 0.0)
    table = pareto_front(
        spec, km, w, suit, np.array(["a", "b"]), 3, map_=recording_map, solved={0.5: lambda: given}
    )
    assert solved_here == [0.0, 1.0]
    # Solved here: a has the least transport, b the better suitability.
    assert table["plants"].tolist() == ["a", "b", "b"]
    middle = table.set_index("suitability_weight").loc[0.5]
    assert middle["gap"] == 0.0123
    assert middle["transport"] == pytest.approx(7.0)


def test_the_sweep_runs_two_warm_started_chains_from_the_ends_inwards():
    spec = AllocationModel("processing_plant", capacity=4.0, opening_cost=2.0)
    rng = np.random.default_rng(7)
    km = rng.uniform(1.0, 20.0, (12, 6))
    w, suit = rng.uniform(0.5, 2.0, 12), rng.uniform(0.0, 1.0, 6)
    chains = []

    def recording_map(solve, given):
        given = list(given)
        chains.extend(given)
        return map(solve, given)

    table = pareto_front(
        spec, km, w, suit, np.arange(6).astype(str), 5, map_=recording_map, solved={}
    )
    assert chains == [[0.0, 0.25, 0.5], [1.0, 0.75]]
    assert table["suitability_weight"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_a_warm_started_chain_reaches_the_cold_optima():
    """Along a chain each weight starts from its neighbour's plants (``init``): the optima are
    those of cold solves (both proven to 1e-9)."""
    spec = AllocationModel(
        "processing_plant", capacity=5.0, opening_cost=3.0, single_sourcing=False
    )
    rng = np.random.default_rng(11)
    km = rng.uniform(1.0, 30.0, (20, 8))
    w, suit = rng.uniform(0.5, 2.0, 20), rng.uniform(0.0, 1.0, 8)
    solve = functools.partial(solve_plan, spec, km, w, suit, tol=1e-9)
    alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
    warm = _sweep_chain(solve, alphas)
    for alpha in alphas:
        cold = solve(alpha)
        assert warm[alpha].objective == pytest.approx(cold.objective, rel=1e-7)
        assert warm[alpha].gap <= 1e-7


def test_covering_keeps_existing_sites_and_equals_enumeration(world):
    spec = CoveringModel(
        "technopark",
        existing="anchors",
        existing_where="kind == 'ugle_naukograd'",
        p=1,
        max_minutes=10,  # UgleNaukoGrad alone does not reach the town: a new site adds coverage
        speed_kmh=40,
    )
    result = run(world, covering=spec)
    c = result.covering
    anchors = result.layers["anchors"].query("kind == 'ugle_naukograd'")
    sites = result.sites_of("technopark")
    point = anchors.geometry.iloc[0]
    x = np.concatenate([[point.x], sites["x"].to_numpy()])
    y = np.concatenate([[point.y], sites["y"].to_numpy()])
    field = result.cost_fields["settlements|"]
    minutes = field.sample(x, y) / 1000 / 40 * 60
    w = result.layers["settlements"]["population"].to_numpy(float)
    covered = {k: w[(minutes[:, [0, k]] <= 10).any(axis=1)].sum() for k in range(1, len(x))}
    assert c.coverage == pytest.approx(max(covered.values()))
    assert c.baseline == pytest.approx(w[minutes[:, 0] <= 10].sum())
    assert c.total == pytest.approx(w.sum())
    assert c.sites["status"].tolist().count("existing") == 1
    assert c.sites["status"].tolist().count("new") == 1
    assert "UgleNaukoGrad" in c.sites["name"].tolist()
    open_cols = [0] + [1 + sites.index[sites["site_id"] == s][0] for s in c.sites["site_id"] if s]
    np.testing.assert_allclose(c.demand["minutes"], minutes[:, open_cols].min(axis=1))
    assert (c.demand["covered"] == (c.demand["minutes"] <= 10)).all()


def test_weber_point_is_snapped_to_the_nearest_eligible_cell(world):
    spec = dataclasses.replace(
        scenario_mod.load(world / "scenario.toml").clusters, snap_profile="processing_plant"
    )
    result = run(world, clusters=spec)
    suit = result.suitability("processing_plant")
    rows, cols = np.nonzero(np.isfinite(suit.data))
    cx, cy = suit.grid.xy(rows, cols)
    assert len(result.clusters)
    mines = result.layers["mines"]
    for _, pole in result.clusters.iterrows():
        d = np.hypot(cx - pole["weber_x"], cy - pole["weber_y"])
        assert pole["snap_m"] == pytest.approx(d.min())
        assert np.isfinite(suit.sample(np.array([pole["weber_snap_x"]]), [pole["weber_snap_y"]]))
        members = mines[mines["cluster"] == pole["cluster"]]
        assert shapely.contains(pole.geometry, members.geometry).all()


@pytest.mark.parametrize(
    ("new", "fragments"),
    [
        ("p = 2\nopening_cost = 10\n", ["models.allocation.opening_cost needs"]),
        ("p = 2\nsuitability_weight = 1.5\n", ["suitability_weight = 1.5"]),
        ("p = 2\npareto_steps = 1\n", ["pareto_steps = 1 must be 0 (off) or >= 2"]),
        ("p = 2\nmethod = 'simplex'\n", ["models.allocation.method = 'simplex'"]),
        (
            "p = 2\n[models.covering]\nprofile = 'technopark'\np = 5\n",
            ["models.covering.p = 5 must be between 1 and the profile's n_sites (3)"],
        ),
        (
            "p = 2\n[models.covering]\nprofile = 'technopark'\nexisting_where = \"kind == 'x'\"\n",
            ["models.covering.existing_where needs models.covering.existing"],
        ),
    ],
)
def test_bad_model_settings_are_one_clear_error(world, new, fragments):
    # Checked when the scenario is read, before any layer: in process, in milliseconds.
    with pytest.raises(SitingError) as caught:
        scenario_mod.load(edit(world, "p = 2\n", new))
    assert caught.value.fix
    for fragment in fragments:
        assert fragment in caught.value.message


@pytest.mark.slow  # a new interpreter that imports the stack
def test_a_bad_model_setting_is_one_clear_error_of_the_command(world):
    # The one case run as the user does, in a new interpreter: exit status 2, no traceback.
    proc = siting_cli("run", edit(world, "p = 2\n", "capacity = 0\n"))
    assert_user_error(proc, "models.allocation.capacity = 0 must be > 0")
    assert_nothing_written(world)


@pytest.mark.parametrize(
    ("new", "fragments"),
    [
        ("capacity = 5\n", ["total output of 'mines' (26)", "4 plant(s) × capacity 5"]),
        (
            "p = 2\n[models.covering]\nprofile = 'technopark'\nexisting = 'anchors'\n"
            "existing_where = \"kind == 'nothing'\"\n",
            ["selects no feature of layer 'anchors'"],
        ),
    ],
)
def test_model_settings_the_layers_cannot_meet_are_one_clear_error(world, new, fragments):
    # Checked once the sites are known: the command stops there, having written nothing.
    got = cli_here("run", edit(world, "p = 2\n", new), "--resolution", "1000")
    assert_user_error(got, *fragments)
    assert_nothing_written(world)


def test_cli_table_names_the_plants_with_their_tonnage(world):
    got = cli_here("run", world / "scenario.toml", "--quiet", "--resolution", "1000")
    assert got.returncode == 0, got.stderr
    notes = re.findall(r"p-median plant: ([\d.]+) Mt/yr from (\d+) mines", got.stdout)
    assert len(notes) == 2  # p = 2
    assert sum(float(t) for t, _ in notes) == pytest.approx(26.0, abs=0.1)  # all six mines' output
    assert sum(int(n) for _, n in notes) == 6


def test_haul_routes_follow_the_least_cost_path_whose_cost_is_the_allocations_km(world):
    spec = AllocationModel("processing_plant", p=2)
    result = run(world, allocation=spec)
    lines = result.allocation.lines
    friction = result.friction
    grid = friction.grid
    mines = result.layers["mines"].set_index("name")
    plants = result.sites.set_index("site_id")
    assert len(lines) == len(mines)
    for row in lines.itertuples():
        xy = shapely.get_coordinates(row.geometry)
        # From the mine to the plant, through the centres of neighbouring cells.
        mine, plant = mines.geometry[row.demand], plants.loc[row.site_id]
        assert tuple(xy[0]) == (mine.x, mine.y)
        assert tuple(xy[-1]) == (plant["x"], plant["y"])
        rows, cols = grid.index(xy[1:-1, 0], xy[1:-1, 1])
        assert np.all(np.abs(np.diff(rows)) <= 1) and np.all(np.abs(np.diff(cols)) <= 1)
        # Re-adding each step's cost (mean friction × length) gives the allocation's km.
        f = friction.data[rows, cols]
        steps = np.hypot(np.diff(rows), np.diff(cols)) * grid.res * (f[:-1] + f[1:]) / 2
        assert steps.sum() / 1000 == pytest.approx(row.km, rel=1e-9)
        assert row.route_km == pytest.approx(row.geometry.length / 1000)
