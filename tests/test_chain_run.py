"""The value chain in the run (``[models.chain]``): the synthetic world with a chain written end
to end (GeoPackage ``chain_flows``, run.json, the report), tonnage conserved through every
echelon; and the Kuzbass scenario at 1 km (``slow``)."""

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import test_cache

import siting
from siting.config.loader import load
from siting.demand import is_demand
from siting.errors import LayerError, ScenarioError
from siting.exports.webmap import chain as webmap_chain

from clitools import edit

CHAIN = """\
[models.chain]
prep_profile = "processing_plant"
coke_profile = "technopark"
weight_field = "output"
type_field = "mine_type"
coke_feed = ["underground"]
prep_yield = { underground = 0.8, open_pit = 0.7 }
coke_yield = 0.75
prep_capacity = 20.0
coke_capacity = 10.0
markets = "anchors"
markets_where = "kind == 'ugle_naukograd'"

[outputs]"""

#: The world's mines (conftest): output (Mt/yr) by mine type.
UNDERGROUND = 6.0 + 2.0 + 3.0
OPEN_PIT = 10.0 + 4.0 + 1.0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from conftest import make_world

    base = tmp_path_factory.mktemp("chain")
    world = make_world(base)
    result = siting.run(edit(world, "[outputs]", CHAIN))
    return result


@pytest.fixture(scope="module")
def flows(run):
    return gpd.read_file(run.output_dir / "siting.gpkg", layer="chain_flows")


def _by_stage(flows):
    return flows.groupby("stage")["tonnes"].sum()


def test_tonnes_are_conserved_through_every_echelon(flows):
    tonnes = _by_stage(flows)
    # Every tonne of every mine goes to a preparation plant.
    assert tonnes["mine_prep"] == pytest.approx(UNDERGROUND + OPEN_PIT, rel=1e-6)
    by_type = flows[flows["stage"] == "mine_prep"].groupby("coal_type")["tonnes"].sum()
    assert by_type["underground"] == pytest.approx(UNDERGROUND, rel=1e-6)
    assert by_type["open_pit"] == pytest.approx(OPEN_PIT, rel=1e-6)
    # Only the coking type's concentrate goes on, all of it: yield × coking supply.
    assert tonnes["prep_coke"] == pytest.approx(0.8 * UNDERGROUND, rel=1e-6)
    assert set(flows.loc[flows["stage"] == "prep_coke", "coal_type"]) == {"underground"}
    # All the coke goes to the one market.
    assert tonnes["coke_market"] == pytest.approx(0.75 * 0.8 * UNDERGROUND, rel=1e-6)
    assert set(flows.loc[flows["stage"] == "coke_market", "to"]) == {"UgleNaukoGrad"}


def test_each_plant_ships_on_what_it_receives(flows):
    inflow = flows[flows["stage"] == "mine_prep"].groupby(["to", "coal_type"])["tonnes"].sum()
    onward = flows[flows["stage"] == "prep_coke"].groupby(["from", "coal_type"])["tonnes"].sum()
    for (plant, kind), tonnes in onward.items():
        assert tonnes == pytest.approx(0.8 * inflow[(plant, kind)], rel=1e-6)
    coke_in = flows[flows["stage"] == "prep_coke"].groupby("to")["tonnes"].sum()
    coke_out = flows[flows["stage"] == "coke_market"].groupby("from")["tonnes"].sum()
    assert sorted(coke_in.index) == sorted(coke_out.index)
    for plant, tonnes in coke_out.items():
        assert tonnes == pytest.approx(0.75 * coke_in[plant], rel=1e-6)


def test_flows_join_open_plants_of_the_right_profiles_on_routes(run, flows):
    plants = run.chain.plants
    opened = plants[plants["open"]]
    prep = set(opened.loc[opened["echelon"] == "prep", "name"])
    coke = set(opened.loc[opened["echelon"] == "coke", "name"])
    assert prep and all(n.startswith("processing_plant #") for n in prep)
    assert coke and all(n.startswith("technopark #") for n in coke)
    assert set(flows.loc[flows["stage"] == "mine_prep", "to"]) == prep
    assert set(flows.loc[flows["stage"] == "prep_coke", "to"]) == coke
    assert (flows.geometry.geom_type == "LineString").all()
    assert np.allclose(flows["cost"], flows["tonnes"] * flows["km"], rtol=1e-9)
    assert (flows["km"] > 0).all()


def test_run_json_and_report_show_the_chain(run):
    info = json.loads((run.output_dir / "run.json").read_text(encoding="utf-8"))
    chain = info["chain"]
    assert chain["tonnes"]["mine_prep"] == pytest.approx(UNDERGROUND + OPEN_PIT, rel=1e-6)
    assert chain["gap"] == pytest.approx(run.chain.gap)
    report = (run.output_dir / "report.md").read_text(encoding="utf-8")
    assert "## The value chain" in report
    section = report.split("## The value chain", 1)[1]
    for name in chain["open_prep"] + chain["open_coke"]:
        assert name in section
    assert "UgleNaukoGrad" in section
    assumed = (run.output_dir / "assumptions.csv").read_text(encoding="utf-8")
    assert "models.chain.prep_capacity,20," in assumed
    assert "models.chain.prep_yield.underground,0.8," in assumed


def test_the_map_draws_every_flow_and_the_gpkg_lists_the_plants(run, flows):
    page = (run.output_dir / "map.html").read_text(encoding="utf-8")
    # The page's scripts hold the names JSON-escaped (→ as \\u2192): compare the ASCII parts.
    assert webmap_chain.NAME.split("→")[0].strip() in page
    for _, row in flows.iterrows():
        assert f"{row['to']}: {row['tonnes']:.2f}" in page
    plants = gpd.read_file(run.output_dir / "siting.gpkg", layer="chain_plants")
    assert len(plants) == len(run.chain.plants)
    opened = plants[plants["open"].astype(bool)]
    assert opened["input"].sum() == pytest.approx(UNDERGROUND + OPEN_PIT + 0.8 * UNDERGROUND)


def test_every_input_of_the_chain_step_is_in_its_key(world, tmp_path):
    """The cache test's check of every step's key, on a world whose run has the chain step."""
    edit(world, "[outputs]", CHAIN)
    test_cache.test_every_declared_input_of_every_step_is_in_its_key(world, tmp_path)
    recording = test_cache._Recording(tmp_path / "again")
    siting.run(world / "scenario.toml", cache=recording)
    assert "chain" in {step.name for step, _ in recording.calls}


def test_a_type_field_the_mines_lack_is_refused_before_the_run(world):
    path = edit(world, "[outputs]", CHAIN.replace('"mine_type"', '"grade"'))
    with pytest.raises(LayerError, match=r"models\.chain\.type_field = 'grade'") as caught:
        siting.run(path, write=False)
    assert "mine_type" in caught.value.fix


def test_a_chain_profile_that_does_not_exist_is_refused(world):
    path = edit(world, "[outputs]", CHAIN.replace('"technopark"', '"coke_oven"'))
    with pytest.raises(ScenarioError, match=r"models\.chain\.coke_profile"):
        load(path)


KUZBASS = Path(__file__).resolve().parents[1] / "layers" / "kuzbass" / "scenario.toml"


@pytest.mark.slow
def test_kuzbass_chain_conserves_tonnes_and_opens_plants_of_its_profiles():
    spec = load(KUZBASS).chain
    assert spec is not None and spec.type_field == "coal_grade"
    result = siting.run(KUZBASS, write=False, resolution=1000)
    chain = result.chain
    tonnes = _by_stage(chain.flows)
    mines = result.layers[spec.demand]
    mines = mines[is_demand(result.scenario, mines, result.study_area)]
    weight = mines[spec.weight_field].astype(float).fillna(0.0)
    coking = weight[mines[spec.type_field] == "coking"].sum()
    assert tonnes["mine_prep"] == pytest.approx(weight.sum(), rel=1e-6)
    assert tonnes["prep_coke"] == pytest.approx(spec.prep_yield["coking"] * coking, rel=1e-6)
    assert tonnes["coke_market"] == pytest.approx(
        spec.coke_yield * spec.prep_yield["coking"] * coking, rel=1e-6
    )
    opened = chain.plants[chain.plants["open"]]
    facilities = result.layers[spec.existing]
    kinds = {"prep": {"preparation_plant"}, "coke": {"coke_plant", "coal_chemical"}}
    for echelon, profile in (("prep", spec.prep_profile), ("coke", spec.coke_profile)):
        mine = opened[opened["echelon"] == echelon]
        ranks = set(result.sites.loc[result.sites["profile"] == profile, "rank"])
        new = mine[~mine["existing"]]
        assert all(n.startswith(f"{profile} #") for n in new["name"])
        assert all(int(n.rsplit("#", 1)[1]) in ranks for n in new["name"])
        named = set(facilities.loc[facilities["kind"].isin(kinds[echelon]), "name"])
        assert set(mine.loc[mine["existing"], "name"]) == named
