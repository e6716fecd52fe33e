"""The models say what they took and when they add nothing (issue #18, items 5 and 8).

- Demand stays inside: features of the padded study area outside the study area itself shape the
  criteria but are not demand for the growth poles, the allocation or the covering, unless the
  scenario says ``[models] demand = "padded"``; the run says how many were left out, and run.json
  and the report record it.
- The covering breaks ties by suitability, opens no new site that adds no coverage, and warns.
- The report names the travel-time method the covering used.
- Road-speed keys that match no road class are an error listing the classes found.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import siting
from siting.config import scenario as scenario_mod
from siting.config.scenario import CoveringModel
from siting.models import MaximalCovering

from clitools import assert_nothing_written, assert_user_error, cli_here, edit
from conftest import X0, Y0

COVERING = """
[models.covering]
profile = "technopark"
p = 1
max_minutes = 15
speed_kmh = 40
"""
PADDED = '[models]\ndemand = "padded"\n\n[models.clusters]'
NETWORK = """
[network]
layer = "roads"
class_field = "kind"
speeds = { federal = 70 }
"""
REPORT_ONLY = "[outputs]\nmap = false\ngpkg = false\nrasters = false\nqgis = false\n"


def _append(world: Path, layer: str, rows: list[dict]) -> None:
    """Add features to one of the world's GeoPackages (written again, as a user would)."""
    path = world / f"{layer}.gpkg"
    gdf = gpd.read_file(path)
    more = gpd.GeoDataFrame(rows, geometry="geometry", crs=gdf.crs)
    pd.concat([gdf, more], ignore_index=True).to_file(path)


def _outside(world: Path) -> None:
    """A 20 Mt/yr mine 5 km east of the study area and a town of 50,000 8 km beyond it: both
    within the padding (20 km), so read, and large enough to move the models if counted."""
    _append(
        world,
        "mines",
        [
            {
                "name": "X",
                "output_mtpa": 20.0,
                "status": "operating",
                "mine_type": "open_pit",
                "geometry": shapely.Point(X0 + 45_000, Y0 + 8_000),
            }
        ],
    )
    _append(
        world,
        "settlements",
        [
            {
                "name": "Neighbour",
                "kind": "town",
                "population": 50_000,
                "geometry": shapely.Point(X0 + 48_000, Y0 + 22_000),
            }
        ],
    )


def _best_transport(km: np.ndarray, w: np.ndarray, p: int) -> float:
    """Least Σ weight × km to the nearest of ``p`` plants, over every choice of plants."""
    return min(
        float((w * km[:, list(c)].min(axis=1)).sum())
        for c in itertools.combinations(range(km.shape[1]), p)
    )


def _km(result: siting.Result, names: list[str]) -> np.ndarray:
    """Road-equivalent km from the named mines to every processing-plant candidate."""
    sites = result.sites_of("processing_plant")
    field = result.cost_fields["mines|"]  # one surface per mine as read, X included
    km = field.sample(sites["x"].to_numpy(), sites["y"].to_numpy()) / 1000
    read = result.layers["mines"]["name"].tolist()
    return km[[read.index(n) for n in names]]


INSIDE = ["A", "B", "C", "D", "E", "F"]
OUTPUTS = {"A": 10.0, "B": 6.0, "C": 4.0, "D": 2.0, "E": 3.0, "F": 1.0, "X": 20.0}


# --- item 5: demand stays inside -------------------------------------------------------------


def test_a_mine_outside_the_study_area_is_not_demand_by_default(world, caplog):
    _outside(world)
    edit(world, "[outputs]", COVERING + "\n[outputs]")
    caplog.set_level(logging.INFO, logger="siting")
    result = siting.run(world / "scenario.toml", write=False, cache=False)

    # Read, as context: the haul-cost criterion measures from it.
    assert "X" in result.layers["mines"]["name"].tolist()
    assert result.cost_fields["mines|"].stack.shape[0] == 7
    a = result.allocation
    assert sorted(a.lines["demand"]) == INSIDE
    w = np.array([OUTPUTS[n] for n in INSIDE])
    km = _km(result, INSIDE)
    assert a.transport == pytest.approx(_best_transport(km, w, 2), rel=1e-4)  # solver's tolerance
    chosen = result.sites_of("processing_plant")["site_id"].isin(a.plants["site_id"]).to_numpy()
    assert a.transport == pytest.approx((w * km[:, chosen].min(axis=1)).sum(), rel=1e-9)
    # Not in a growth pole, nor a pole's member.
    mines = result.layers["mines"].set_index("name")
    assert mines.loc["X", "cluster"] == -1
    assert all("X" not in m.split(", ") for m in result.clusters["members"])
    # Covering: the town across the border is not demand.
    c = result.covering
    assert sorted(c.demand["name"]) == ["Town", "Village"]
    assert c.total == 105_000
    messages = [r.getMessage().strip() for r in caplog.records]
    assert '1 mines outside the study area are not demand (demand = "inside")' in messages
    assert '1 settlements outside the study area are not demand (demand = "inside")' in messages


def test_with_demand_padded_the_features_around_the_study_area_are_demand(world, caplog):
    _outside(world)
    edit(world, "[outputs]", COVERING + "\n[outputs]")
    edit(world, "[models.clusters]", PADDED)
    caplog.set_level(logging.INFO, logger="siting")
    result = siting.run(world / "scenario.toml", write=False, cache=False)

    a = result.allocation
    every = [*INSIDE, "X"]
    assert sorted(a.lines["demand"]) == every
    w = np.array([OUTPUTS[n] for n in every])
    best = _best_transport(_km(result, every), w, 2)
    assert a.transport == pytest.approx(best, rel=1e-4)
    # X ships 20 Mt/yr at least 5 km: counted, it is most of the transport.
    x_share = a.lines.set_index("demand").loc["X", "weight_x_km"] / a.transport
    assert x_share > 0.5
    assert result.covering.total == 155_000
    assert "Neighbour" in result.covering.demand["name"].tolist()
    messages = [r.getMessage().strip() for r in caplog.records]
    assert '1 mines outside the study area are demand (demand = "padded")' in messages


def test_run_json_and_the_report_record_the_demand_left_out(world):
    _outside(world)
    edit(world, "[outputs]", COVERING + "\n" + REPORT_ONLY)
    result = siting.run(world / "scenario.toml", cache=False)
    info = json.loads((result.output_dir / "run.json").read_text(encoding="utf-8"))
    assert info["scenario"]["demand"] == "inside"
    assert info["demand"] == {
        "mode": "inside",
        "layers": {
            "mines": {"read": 7, "outside_study_area": 1, "demand": 6},
            "settlements": {"read": 3, "outside_study_area": 1, "demand": 2},
        },
    }
    text = (result.output_dir / "report.md").read_text(encoding="utf-8")
    assert (
        "Demand: the 6 mines in the study area; 1 more around it are not demand, only context "
        'for the criteria ([models] demand = "inside").'
    ) in text
    assert "Demand: the 2 settlements in the study area; 1 more around it" in text


def test_a_demand_layer_with_no_feature_inside_is_one_error_before_any_computation(world):
    path = world / "mines.gpkg"
    mines = gpd.read_file(path)
    # All beyond the east border; only mine E (8 → 53 km) stays within the 20 km padding.
    mines.geometry = mines.geometry.translate(xoff=45_000)
    mines.to_file(path)
    proc = cli_here("run", world / "scenario.toml")
    assert_user_error(
        proc,
        "models.clusters.layer = 'mines': none of the 1 feature(s) of layer 'mines' read around "
        "the study area lies in it",
        'set demand = "padded" in [models]',
    )
    assert "[2/" not in proc.stderr  # refused while reading the layers
    assert_nothing_written(world)


def test_demand_takes_only_inside_or_padded(world):
    edit(world, "[models.clusters]", '[models]\ndemand = "all"\n\n[models.clusters]')
    proc = cli_here("run", world / "scenario.toml")
    assert_user_error(proc, "models.demand = 'all' is not one of inside, padded")


# --- item 8: the covering says when new sites add nothing ------------------------------------


def test_maximal_covering_opens_no_site_that_adds_no_coverage_and_prefers_the_suitable():
    # Clients A (10) and B (5). Site 0 is fixed and covers nothing; sites 1 and 2 both cover A
    # alone, site 3 covers B, site 4 covers nothing but is the most preferred.
    reach = np.array([[0, 1, 1, 0, 0], [0, 0, 0, 1, 0]], dtype=bool)
    cost = np.where(reach, 1.0, 9.0)
    w = np.array([10.0, 5.0])
    preference = np.array([0.0, 0.3, 0.8, 0.1, 1.0])
    plain = MaximalCovering(4, 2.0, fixed=[0]).fit(cost, sample_weight=w)
    assert len(plain.facilities_) == 4 and plain.coverage_ == 15.0 and plain.idle_ == 0
    model = MaximalCovering(4, 2.0, fixed=[0], preference=preference).fit(cost, sample_weight=w)
    assert model.facilities_.tolist() == [0, 2, 3]  # the more preferred of 1 and 2; not 4
    assert model.coverage_ == 15.0
    assert model.idle_ == 1
    # When the fixed site covers everything, no other is opened.
    every = MaximalCovering(3, 2.0, fixed=[1], preference=preference)
    every.fit(np.where(reach | [[0, 1, 0, 0, 0], [0, 1, 0, 0, 0]], 1.0, 9.0), sample_weight=w)
    assert every.facilities_.tolist() == [1] and every.idle_ == 2
    with pytest.raises(ValueError, match="preference has shape"):
        MaximalCovering(2, 2.0, preference=[1.0]).fit(cost, sample_weight=w)


def _covering_run(world: Path, spec: CoveringModel, **kwargs):
    scenario = dataclasses.replace(scenario_mod.load(world / "scenario.toml"), covering=spec)
    return siting.run(scenario, write=False, **kwargs)


def test_covering_breaks_ties_by_suitability_and_warns_when_a_new_site_adds_nothing(
    world, tmp_path, caplog
):
    spec = CoveringModel("technopark", p=2, max_minutes=15, speed_kmh=40)
    caplog.set_level(logging.INFO, logger="siting")
    result = _covering_run(world, spec, cache=tmp_path / "cache")
    sites = result.sites_of("technopark")
    field = result.cost_fields["settlements|"]
    minutes = field.sample(sites["x"].to_numpy(), sites["y"].to_numpy()) / 1000 / 40 * 60
    names = result.layers["settlements"]["name"].tolist()
    reach_town = minutes[names.index("Town")] <= 15
    # What the case relies on: several candidates reach the town, none the village.
    assert reach_town.sum() >= 2 and not (minutes[names.index("Village")] <= 15).any()
    best = sites.loc[reach_town, "score"].max()
    c = result.covering
    new = c.sites[c.sites["status"] == "new"]
    assert len(new) == 1  # the second would add nothing: not chosen
    assert new["score"].iloc[0] == best  # the most suitable of those that reach the town
    assert new["covered_weight"].iloc[0] == 100_000 == c.coverage
    note = (
        "models.covering: only 1 of the p = 2 new technopark sites adds coverage: 1 chosen; no "
        "other proposed site reaches demand within 15 min that the open sites do not already "
        "reach"
    )
    assert c.note() == note
    warned = [r.getMessage().strip() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [note]
    # The same run from the cache says it again.
    caplog.clear()
    again = _covering_run(world, spec, cache=tmp_path / "cache")
    assert again.cache.summary()["hits"]
    warned = [r.getMessage().strip() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [note]


def test_covering_chooses_no_new_site_when_the_existing_ones_reach_all_they_can(world):
    spec = CoveringModel(
        "technopark",
        existing="anchors",
        existing_where="kind == 'ugle_naukograd'",
        p=2,
        max_minutes=20,
        speed_kmh=40,
    )
    c = _covering_run(world, spec, cache=False).covering
    assert c.sites["status"].tolist() == ["existing"]
    assert c.coverage == c.baseline == 100_000
    assert c.note() == (
        "models.covering: no new technopark site adds coverage: none is chosen; no other "
        "proposed site reaches demand within 20 min that the open sites do not already reach"
    )


# --- item 8: the report's travel times; road classes -----------------------------------------


def test_report_describes_travel_times_by_cost_distance(world):
    edit(world, "[outputs]", COVERING + "\n" + REPORT_ONLY)
    result = siting.run(world / "scenario.toml", cache=False)
    assert result.covering.travel == "cost-distance"
    text = (result.output_dir / "report.md").read_text(encoding="utf-8")
    assert (
        "within 15 min of travel, cost-distance over the friction surface at 40 km/h per "
        "road-equivalent km."
    ) in text
    assert "road network" not in text
    info = json.loads((result.output_dir / "run.json").read_text(encoding="utf-8"))
    assert info["covering"]["travel"] == "cost-distance"


def test_report_describes_travel_times_over_the_road_network(world):
    edit(world, "[outputs]", COVERING + NETWORK + "\n" + REPORT_ONLY)
    result = siting.run(world / "scenario.toml", cache=False)
    assert result.covering.travel == "network"
    text = (result.output_dir / "report.md").read_text(encoding="utf-8")
    assert (
        "within 15 min of travel, door to door over the road network ([network], layer roads, "
        "by kind (federal 70 km/h; others 60 km/h)), with the legs off it at 15 km/h."
    ) in text
    assert "40 km/h" not in text  # speed_kmh is not what was used
    info = json.loads((result.output_dir / "run.json").read_text(encoding="utf-8"))
    assert info["covering"]["travel"] == "network"


def test_road_speed_keys_that_match_no_class_are_an_error_listing_the_classes(world):
    edit(
        world,
        "[outputs]",
        NETWORK.replace("federal = 70", "federal = 70, motorway = 110") + "\n[outputs]",
    )
    proc = cli_here("run", world / "scenario.toml")
    assert_user_error(
        proc,
        "network.speeds: 'motorway' match(es) no value of field 'kind' in layer 'roads' "
        "(classes found around the study area: 'federal')",
        "key the speeds by the classes found",
    )
    assert "[2/" not in proc.stderr  # refused while reading the layers
    assert_nothing_written(world)
