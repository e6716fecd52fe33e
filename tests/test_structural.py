"""Structural sensitivity: whole runs under drawn assumptions, here and on a real Dask
``LocalCluster``; each draw from its own ``SeedSequence`` child."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from siting.config.scenario import load
from siting.pipeline.stages import run
from siting.whatif.structural import TARIFFS, draw_assumptions, structural

from clitools import cli_here


def _scenario(world, **sensitivity):
    s = load(world / "scenario.toml")
    spec = dataclasses.replace(s.sensitivity, draws=0, **sensitivity)
    return dataclasses.replace(s, sensitivity=spec)


def test_a_draw_depends_on_its_own_seed_only(world):
    s = _scenario(world)
    longer = np.random.SeedSequence(5).spawn(4)
    shorter = np.random.SeedSequence(5).spawn(2)
    for k in range(2):
        a, drawn_a = draw_assumptions(s, longer[k])
        b, drawn_b = draw_assumptions(s, shorter[k])
        assert drawn_a == drawn_b
        assert a.profiles == b.profiles and a.haul == b.haul and a.allocation == b.allocation
    _, first = draw_assumptions(s, longer[0])
    _, second = draw_assumptions(s, longer[1])
    assert first != second


def test_a_draw_changes_what_the_sensitivity_table_says_and_nothing_else(world):
    s = _scenario(world, capacity=(0.5, 0.6), opening_cost=(2.0, 3.0), tariffs=(1.1, 1.2))
    drawn_s, drawn = draw_assumptions(s, np.random.SeedSequence(1))
    assert 0.5 <= drawn["capacity"] <= 0.6 and 2.0 <= drawn["opening_cost"] <= 3.0
    for factor, field in TARIFFS.items():
        assert 1.1 <= drawn[factor] <= 1.2
        assert getattr(drawn_s.haul, field) == getattr(s.haul, field) * drawn[factor]
    a, b = s.allocation, drawn_s.allocation
    if a is not None and b is not None:
        if a.capacity is not None:
            assert b.capacity == a.capacity * drawn["capacity"]
        assert b.opening_cost == a.opening_cost * drawn["opening_cost"]
    for name, p in drawn_s.profiles.items():
        assert sum(p.weights) == pytest.approx(1.0, abs=1e-9)
        assert [c.name for c in p.criteria] == [c.name for c in s.profiles[name].criteria]
        assert drawn[f"w_{name}"] == " ".join(f"{v:.4f}" for v in p.weights)
    assert drawn_s.layers == s.layers and drawn_s.resolution == s.resolution
    assert drawn_s.sensitivity.draws == 0  # a draw's run does not test itself again


def test_with_the_assumptions_held_every_draw_keeps_every_site_and_plant(world):
    s = _scenario(
        world,
        concentration=1e12,
        judgement_sd=1e-12,
        capacity=(1.0, 1.0),
        opening_cost=(1.0, 1.0),
        tariffs=(1.0, 1.0),
    )
    base = run(s, write=False, cache=False)
    found = structural(base, n=2, seed=3)
    assert len(found.sites) == len(base.sites)
    assert (found.sites["kept_share"] == 1.0).all()
    assert len(found.plants) == base.allocation.p > 0
    assert (found.plants["kept_share"] == 1.0).all()
    assert found.draws["n_sites"].tolist() == [len(base.sites)] * 2


def test_the_draws_on_a_cluster_equal_the_draws_here(world, client):
    s = _scenario(world, tariffs=(0.5, 2.0), opening_cost=(0.2, 3.0))
    base = run(s, write=False, cache=False)
    here = structural(base, n=3, seed=11)
    there = structural(base, n=3, seed=11, executor=client.get_executor(pure=False))
    shown = [c for c in here.draws.columns if c != "seconds"]
    pd.testing.assert_frame_equal(here.draws[shown], there.draws[shown])
    pd.testing.assert_frame_equal(here.sites, there.sites)
    pd.testing.assert_frame_equal(here.plants, there.plants)
    # Real draws: the shares are counts of 3 draws.
    assert set(np.round(here.sites["kept_share"] * 3, 9)) <= {0.0, 1.0, 2.0, 3.0}


def test_the_command_runs_structural_draws_on_workers(world, tmp_path):
    done = cli_here(
        "sensitivity", world / "scenario.toml", "--structural", "--draws", "2",
        "--workers", "2", "--output-dir", tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = tmp_path / "synthetic_structural"
    draws = pd.read_csv(out / "draws.csv")
    assert draws["draw"].tolist() == [0, 1]
    sites = pd.read_csv(out / "sites.csv")
    assert sites["kept_share"].between(0, 1).all()
    assert "share of 2 whole runs" in done.stdout


def test_sensitivity_without_a_profile_or_structural_says_which(world, tmp_path):
    done = cli_here("sensitivity", world / "scenario.toml", "--output-dir", tmp_path)
    assert done.returncode == 2
    assert "--profile" in done.stderr and "--structural" in done.stderr
    assert "Traceback" not in done.stderr
