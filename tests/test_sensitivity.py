"""Sensitivity of the proposed sites to the weights: the draws' distribution, exact recovery of
the run when the draws are the run's weights, reproducibility across worker counts, and the
command line."""

import numpy as np
import pandas as pd
import pytest

import siting
from siting.config import scenario as scenario_mod
from siting.mcda.weights import ahp_weights
from siting.whatif.sensitivity import sensitivity, weight_draws

from clitools import assert_user_error, cli_here


def test_dirichlet_draws_centre_on_the_weights_with_the_stated_spread():
    w = np.array([0.5, 0.3, 0.2, 0.0])
    draws = weight_draws(w, 4000, np.random.default_rng(3), concentration=50)
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    assert (draws[:, 3] == 0).all()
    sd = np.sqrt(w[:3] * (1 - w[:3]) / 51)
    assert np.all(np.abs(draws[:, :3].mean(axis=0) - w[:3]) < 4 * sd / np.sqrt(4000))
    np.testing.assert_allclose(draws[:, :3].std(axis=0), sd, rtol=0.08)
    again = weight_draws(w, 4000, np.random.default_rng(3), concentration=50)
    np.testing.assert_array_equal(draws, again)


def test_ahp_draws_perturb_judgements_and_give_back_the_matrix_at_zero_spread():
    matrix = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]
    base = np.array(ahp_weights(matrix)[0])
    rng = np.random.default_rng(0)
    exact = weight_draws(base, 5, rng, ahp_matrix=np.array(matrix), judgement_sd=0.0)
    np.testing.assert_allclose(exact, np.tile(base, (5, 1)), rtol=1e-12)
    draws = weight_draws(base, 500, rng, ahp_matrix=np.array(matrix), judgement_sd=0.3)
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    assert draws.std(axis=0).min() > 0.01
    assert (np.argmax(draws, axis=1) == 0).mean() > 0.9  # the first criterion stays on top


@pytest.fixture(scope="module")
def world_run(tmp_path_factory):
    from conftest import SCENARIO, write_world

    folder = tmp_path_factory.mktemp("world")
    write_world(folder)
    (folder / "scenario.toml").write_text(SCENARIO, encoding="utf-8")
    return siting.run(scenario_mod.load(folder / "scenario.toml"), write=False)


def test_draws_at_the_run_weights_give_back_the_run(world_run):
    s = sensitivity(world_run, "processing_plant", n=6, concentration=1e12, top_share=0.1)
    base = world_run.sites_of("processing_plant")
    assert (s.sites["selected_share"] == 1.0).all()
    np.testing.assert_array_equal(s.sites["rank_median"], base["rank"])
    suit = world_run.suitability("processing_plant").data
    eligible = np.isfinite(suit)
    top = eligible & (suit >= np.quantile(suit[eligible], 0.9))
    np.testing.assert_array_equal(s.robustness.data[eligible], top[eligible].astype(np.float32))
    # The sweeps pass through the run's weights (the middle of 0 … 2w), where every rank is the
    # run's.
    weights = world_run.scenario.profiles["processing_plant"].weights
    for name, value in zip(s.weights.columns, weights, strict=True):
        at = s.sweeps[(s.sweeps["criterion"] == name) & np.isclose(s.sweeps["weight"], value)]
        if 2 * value <= 1:
            np.testing.assert_array_equal(at["rank"], base["rank"])


def test_results_depend_on_the_seed(world_run):
    one = sensitivity(world_run, "technopark", n=8, seed=5, workers=1)
    again = sensitivity(world_run, "technopark", n=8, seed=5, workers=1)
    pd.testing.assert_frame_equal(one.sites, again.sites)
    pd.testing.assert_frame_equal(one.weights, again.weights)
    np.testing.assert_array_equal(one.robustness.data, again.robustness.data)  # the same code
    other = sensitivity(world_run, "technopark", n=8, seed=6, workers=1)
    assert not one.weights.equals(other.weights)


@pytest.mark.slow  # two worker processes, each a new interpreter that imports the stack
def test_results_do_not_depend_on_the_workers(world_run):
    one = sensitivity(world_run, "technopark", n=8, seed=5, workers=1)
    two = sensitivity(world_run, "technopark", n=8, seed=5, workers=2)
    pd.testing.assert_frame_equal(one.sites, two.sites)
    pd.testing.assert_frame_equal(one.weights, two.weights)
    # Whole counts of the same draws, split differently, over the same n: equal to the bit.
    np.testing.assert_array_equal(one.robustness.data, two.robustness.data)


def test_sensitivity_command_writes_its_folder(world, tmp_path):
    out = tmp_path / "sens"
    got = cli_here(
        "sensitivity",
        world / "scenario.toml",
        "--profile",
        "technopark",
        "--draws",
        "6",
        "--workers",
        "1",
        "--output-dir",
        out,
        "--resolution",
        "1000",
    )
    assert got.returncode == 0, got.stderr
    folder = out / "synthetic_sensitivity_technopark"
    for name in ("sites.csv", "sweeps.csv", "sweeps.png", "weights.csv", "robustness.tif"):
        assert (folder / name).is_file()
    assert len(pd.read_csv(folder / "weights.csv")) == 6
    assert "selected_share" in got.stdout


def test_sensitivity_of_an_unknown_profile_is_a_user_error(world):
    got = cli_here("sensitivity", world / "scenario.toml", "--profile", "nope")
    assert_user_error(got, "--profile 'nope'", "technopark")
