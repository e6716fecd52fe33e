"""The default sensitivity (``[sensitivity]``, siting.robustness): the draws, each site's
robustness and class, the re-pricing of the haul, and what the outputs say of it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

# The tiny network of tests/test_multimodal.py: its routes' kilometres by mode are known by hand.
from test_multimodal import MINES, PLANTS, RAIL, ROAD, SPEC, STATION

import siting
from siting.config.scenario import Sensitivity, load
from siting.errors import ScenarioError
from siting.mcda.sites import propose
from siting.network.multimodal import haul_matrix
from siting.robustness import classify, draw_factors

from clitools import cli_here
from conftest import make_world

# Assumptions held at the scenario's own: every draw is the run again.
FIXED = """
[sensitivity]
draws = 6
concentration = 1e12
judgement_sd = 1e-12
capacity = [1, 1]
opening_cost = [1, 1]
tariffs = [1, 1]
split_flows = false
tol = 1e-6
time_limit = 30
"""


def _world(root: Path, extra: str) -> Path:
    path = make_world(root) / "scenario.toml"
    path.write_text(path.read_text() + extra, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> siting.Result:
    """The synthetic world with the default sensitivity, outputs written."""
    return siting.run(_world(tmp_path_factory.mktemp("robust"), ""), cache=False)


def test_classes_follow_the_thresholds():
    spec = Sensitivity(robust=0.8, fragile=0.5)
    shares = np.array([1.0, 0.8, 0.79, 0.5, 0.49, 0.0, np.nan])
    assert classify(shares, spec).tolist() == [
        "robust",
        "robust",
        "moderate",
        "moderate",
        "fragile",
        "fragile",
        "",
    ]


def test_factors_stay_in_their_ranges_and_follow_the_seed():
    spec = Sensitivity(capacity=(0.7, 0.9), opening_cost=(2.0, 3.0), tariffs=(1.0, 1.0))
    a = draw_factors(spec, 500, np.random.default_rng(4))
    assert a["capacity"].between(0.7, 0.9).all() and a["capacity"].std() > 0.03
    assert a["opening_cost"].between(2.0, 3.0).all()
    for name in ("truck_tariff", "rail_tariff", "offroad_tariff", "transfer_tariff"):
        assert (a[name] == 1.0).all()
    pd.testing.assert_frame_equal(a, draw_factors(spec, 500, np.random.default_rng(4)))


def test_repricing_the_routes_equals_the_hand_computation():
    tiny = haul_matrix(SPEC, ROAD, RAIL, STATION, MINES, PLANTS)
    same = tiny.cost_at(SPEC.truck_rub_tkm, SPEC.rail_rub_tkm, SPEC.offroad_rub_tkm, 50.0)
    assert same == pytest.approx(tiny.cost, abs=1e-9)
    # Truck 10, rail 3, off-road 20 RUB/t·km, transfer 100 RUB/t on the same routes
    # (kilometres by mode of tests/test_multimodal.py).
    want = [
        [22 * 3 + 100 + 10.5 * 10 + 3 * 20, 15.1 * 3],
        [4 * 20 + 5 * 10, 1 * 20 + 5.5 * 10 + 100 + 13.1 * 3],
    ]
    assert tiny.cost_at(10.0, 3.0, 20.0, 100.0) == pytest.approx(np.array(want), abs=1e-9)


def test_every_site_of_the_run_is_assessed(run: siting.Result):
    rob = run.robustness
    assert rob is not None and rob.n == 20
    sites = rob.sites
    assert set(sites["site_id"]) == set(run.sites["site_id"])
    shares = sites[["proposed_share", "planned_share", "robustness"]].to_numpy(float)
    finite = shares[np.isfinite(shares)]
    assert ((finite >= 0) & (finite <= 1)).all()
    # Shares of 20 draws.
    assert np.allclose(finite * 20, np.round(finite * 20), atol=1e-9)
    # The plan: the p-median's plants, and every technopark the profile proposes.
    plants = set(run.allocation.plants["site_id"])
    plan = sites[sites["in_plan"]]
    assert set(plan.loc[plan["profile"] == "processing_plant", "site_id"]) == plants
    assert (plan["robustness_class"] != "").all()
    assert (sites.loc[~sites["in_plan"], "robustness_class"] == "").all()


def test_the_draws_propose_sites_exactly_as_the_run_does(run: siting.Result):
    """Each draw's sites, proposed again here by the run's own ``propose`` from the draw's
    weights, give the same shares."""
    rob = run.robustness
    for name, surface in run.surfaces.items():
        p = surface.profile
        names = [c.name for c in p.criteria]
        eligible = np.isfinite(surface.suitability.data)
        own = run.sites[(run.sites["profile"] == name) & (run.sites["origin"] == "suitability")]
        hits = np.zeros(len(own))
        for _, draw in rob.draws.iterrows():
            w = np.array([draw[f"w_{name}_{c}"] for c in names])
            total = sum(
                wk * np.nan_to_num(surface.scores[c].data) for wk, c in zip(w, names, strict=True)
            )
            data = np.where(eligible, total, np.nan).astype(np.float32)
            again = replace(
                surface,
                suitability=replace(surface.suitability, data=data),
                profile=replace(p, weights=tuple(w)),
            )
            _, found = propose(again, {c.name: run.criteria[c.name] for c in p.criteria})
            d = np.hypot(
                own["x"].to_numpy()[:, None] - found["x"].to_numpy()[None, :],
                own["y"].to_numpy()[:, None] - found["y"].to_numpy()[None, :],
            )
            hits += (d <= p.min_separation_m / 2).any(axis=1)
        got = rob.sites.set_index("site_id").loc[own["site_id"], "proposed_share"].to_numpy()
        # float32 sums in another order may flip a near-tie: at most one draw apart.
        assert np.abs(got - hits / len(rob.draws)).max() <= 1 / len(rob.draws) + 1e-9, name


def test_fixed_assumptions_keep_the_whole_plan(tmp_path: Path):
    result = siting.run(_world(tmp_path, FIXED), write=False, cache=False)
    rob = result.robustness
    assert rob is not None and rob.n == 6
    plan = rob.sites[rob.sites["in_plan"]]
    assert (plan["robustness"] == 1.0).all()
    assert (plan["robustness_class"] == "robust").all()
    others = rob.sites[~rob.sites["in_plan"] & rob.sites["planned_share"].notna()]
    assert (others["planned_share"] == 0.0).all()
    assert rob.draws["transport"].to_numpy() == pytest.approx(
        np.full(6, result.allocation.transport), rel=1e-6
    )


def test_a_capacitated_plan_with_fixed_assumptions_is_the_run_in_every_draw(tmp_path: Path):
    path = _world(tmp_path, FIXED)
    text = path.read_text().replace(
        'demand = "mines"\np = 2\n', 'demand = "mines"\ncapacity = 30\nopening_cost = 50\n'
    )
    path.write_text(text, encoding="utf-8")
    result = siting.run(path, write=False, cache=False)
    rob = result.robustness
    plants = set(result.allocation.plants["site_id"])
    assert len(plants) >= 1
    assert rob is not None and rob.n == 6
    planned = rob.sites.set_index("site_id")["planned_share"]
    assert (planned[list(plants)] == 1.0).all()
    for listed in rob.draws["plants"]:
        assert set(listed.split(", ")) == plants


def test_no_draw_that_can_take_the_demand_leaves_the_plants_unknown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    path = _world(tmp_path, "\n[sensitivity]\ndraws = 4\ncapacity = [0.01, 0.01]\n")
    text = path.read_text().replace(
        'demand = "mines"\np = 2\n', 'demand = "mines"\ncapacity = 30\nopening_cost = 50\n'
    )
    path.write_text(text, encoding="utf-8")
    with caplog.at_level("WARNING", logger="siting"):
        result = siting.run(path, write=False, cache=False)
    rob = result.robustness
    assert rob is not None and rob.n == 0
    assert not rob.draws["feasible"].any()
    plants = rob.sites[rob.sites["profile"] == "processing_plant"]
    assert plants["planned_share"].isna().all()
    assert (plants["robustness_class"] == "").all()
    assert "widen sensitivity.capacity" in caplog.text


def test_the_outputs_say_each_sites_robustness(run: siting.Result):
    rob = run.robustness
    folder = run.output_dir
    assert folder is not None
    table = pyogrio.read_dataframe(folder / "siting.gpkg", layer="robustness")
    assert len(table) == len(rob.sites)
    sites = pyogrio.read_dataframe(folder / "siting.gpkg", layer="proposed_sites")
    want = rob.sites.set_index("site_id")["robustness"]
    assert sites["robustness"].to_numpy() == pytest.approx(
        want[sites["site_id"]].to_numpy(), nan_ok=True
    )
    draws = pyogrio.read_dataframe(folder / "siting.gpkg", layer="robustness_draws")
    assert len(draws) == 20
    info = json.loads((folder / "run.json").read_text())["robustness"]
    assert info["counts"] == rob.counts()
    assert info["draws"] == 20
    report = (folder / "report.md").read_text()
    assert "## Sensitivity: how robust the plan is" in report
    for r in rob.sites[rob.sites["in_plan"]].itertuples():
        assert f"| {r.site_id} | {r.profile} |" in report
        assert f"| {r.robustness:.0%} | {r.robustness_class} |" in report
    rows = {
        (r["key"], r["value"]) for r in json.loads((folder / "run.json").read_text())["assumptions"]
    }
    assert ("sensitivity.draws", 20) in rows


def test_no_draws_means_no_robustness_and_says_so(tmp_path: Path):
    result = siting.run(_world(tmp_path, "\n[sensitivity]\ndraws = 0\n"), cache=False)
    assert result.robustness is None
    folder = result.output_dir
    assert folder is not None
    assert "robustness" not in pyogrio.list_layers(folder / "siting.gpkg")[:, 0]
    assert json.loads((folder / "run.json").read_text())["robustness"] is None
    assert (
        "Not run: the scenario sets `[sensitivity] draws = 0`" in (folder / "report.md").read_text()
    )


def test_the_same_seed_gives_the_same_robustness(tmp_path: Path):
    path = _world(tmp_path, "\n[sensitivity]\ndraws = 5\nseed = 7\n")
    a = siting.run(path, write=False, cache=False).robustness
    b = siting.run(path, write=False, cache=False).robustness
    assert a is not None and b is not None
    pd.testing.assert_frame_equal(a.draws.drop(columns=["gap"]), b.draws.drop(columns=["gap"]))
    pd.testing.assert_frame_equal(a.sites, b.sites)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("fragile = 0.9\nrobust = 0.8", "sensitivity.fragile"),
        ("capacity = [1.2, 0.8]", "sensitivity.capacity"),
        ("tariffs = [0, 1]", "sensitivity.tariffs"),
        ("draws = -1", "sensitivity.draws"),
    ],
)
def test_a_bad_sensitivity_table_is_refused_with_its_key(tmp_path: Path, table: str, key: str):
    path = _world(tmp_path, f"\n[sensitivity]\n{table}\n")
    with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
        load(path)
    done = cli_here("run", path)
    assert done.returncode == 2
    assert key in done.stderr and "Traceback" not in done.stderr
