"""The web map's robustness (``[sensitivity]``): each site's popup says in how many draws it stays
in the plan, an existing plant's tooltip in how many it is expanded, the sites of the plan are
ringed by class, and the legend states the thresholds and the draws; without draws, nothing."""

from __future__ import annotations

import re

import pytest

import siting
from siting.exports.webmap import page as webmap
from siting.exports.webmap import robustness as rmap

from conftest import SCENARIO, write_world

# The capacitated plant model with an existing plant (the GRES, 5 Mt/yr, expandable), so that
# the map shows new sites, an expanded existing plant and the technoparks.
PLANTS = """
[models.allocation]
profile = "processing_plant"
demand = "mines"
weight_field = "output"
capacity = 12
opening_cost = 20
existing = "power_plants"
existing_capacity = 5
expansion_cost = 1
time_limit = 10
"""
# Not the default thresholds and draws: the legend must state the scenario's.
SENSITIVITY = "\n[sensitivity]\ndraws = 12\nrobust = 0.9\nfragile = 0.3\n"


def _scenario(folder, sensitivity: str) -> str:
    write_world(folder)
    # The shared scenario's own [models.allocation] (the last table) is replaced by PLANTS.
    text = SCENARIO.split("[models.allocation]")[0] + PLANTS + sensitivity
    (folder / "scenario.toml").write_text(text, encoding="utf-8")
    return folder / "scenario.toml"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drawn")
    result = siting.run(_scenario(folder, SENSITIVITY), output_dir=folder / "out")
    return result, (result.output_dir / "map.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def undrawn(tmp_path_factory):
    folder = tmp_path_factory.mktemp("undrawn")
    result = siting.run(_scenario(folder, "\n[sensitivity]\ndraws = 0\n"), write=False)
    return result, webmap.render(webmap.build(result))


def _of(share: float, n: int) -> str:
    return f"{round(share * n)} of {n} draws ({100 * share:.0f} %)"


def _popup(page: str, site_id: str) -> str:
    """The popup of the proposed site ``site_id`` in the page (its HTML up to its bar chart)."""
    found = re.findall(
        rf"<div class='site-popup'>(?:(?!</div>).)*<code>{site_id}</code>.*?</div>", page
    )
    assert len(found) == 1, site_id
    return found[0]


def test_the_run_was_assessed_with_the_scenarios_draws(drawn):
    result, _ = drawn
    r = result.robustness
    assert r is not None and r.spec.draws == 12 and (r.spec.robust, r.spec.fragile) == (0.9, 0.3)
    assert 0 < r.n <= 12


def test_each_proposed_sites_popup_gives_its_share_of_draws(drawn):
    result, page = drawn
    r = result.robustness
    n = r.n
    table = r.sites.set_index("site_id")
    checked = 0
    for site_id in result.sites["site_id"]:
        row = table.loc[site_id]
        popup = _popup(page, site_id)
        if row["profile"] == "processing_plant":
            planned = float(row["planned_share"])
            if row["in_plan"]:
                said = f"Robustness: {row['robustness_class']} — in the plan in {_of(planned, n)}"
            else:
                said = f"Robustness: not in the plan; opened in {_of(planned, n)}"
            said += f"; proposed again in {_of(float(row['proposed_share']), n)}"
        else:  # the technoparks: no plant model, their weights propose them again or not
            said = (
                f"Robustness: {row['robustness_class']} — proposed again in "
                f"{_of(float(row['proposed_share']), n)}"
            )
        assert said in popup, site_id
        checked += 1
    assert checked == len(result.sites) > 0
    # The top site of the plant model, by name: its count is its share of the draws.
    top = table.loc["processing_plant-1"]
    expected = f"{round(float(top['planned_share']) * n)} of {n} draws"
    assert expected in _popup(page, "processing_plant-1")


def test_existing_plants_tooltip_says_how_often_it_is_expanded(drawn):
    result, page = drawn
    r = result.robustness
    gres = r.sites.set_index("site_id").loc["GRES"]
    assert gres["origin"] == "existing" and bool(gres["in_plan"])
    status = result.allocation.plants.set_index("site_id").loc["GRES", "status"]
    grown = _of(float(gres["expanded_share"]), r.n)
    if status == "expanded":  # the run's decision, then the share of draws taking it
        said = f"Robustness: {gres['robustness_class']} — expanded in {grown}"
    else:
        kept = _of(float(gres["robustness"]), r.n)
        said = f"Robustness: {gres['robustness_class']} — kept without expansion in {kept}"
    tooltip = re.search(r"GRES: (expanded|existing), [^\"]*", page)
    assert tooltip is not None and said in tooltip.group(0)


def test_sites_of_the_plan_are_ringed_by_class(drawn):
    result, page = drawn
    r = result.robustness
    assert rmap.NAME in page
    plan = r.sites[r.sites["in_plan"]]
    for klass, (color, width, dash) in rmap.RINGS.items():
        ring = f'"radius":{float(rmap.RADIUS)},"color":"{color}","weight":{width},"fill":false'
        expected = int((plan["robustness_class"] == klass).sum())
        assert page.count(ring) == expected, klass
        if dash is not None:
            assert page.count(f'"dashArray":"{dash}"') == expected, klass
    # No site outside the plan is ringed.
    assert sum(
        page.count(f'"radius":{float(rmap.RADIUS)},"color":"{c}"') for c, *_ in rmap.RINGS.values()
    ) == len(plan)


def test_legend_states_the_thresholds_draws_and_counts(drawn):
    result, page = drawn
    r = result.robustness
    n, counts = r.n, r.counts()
    assert "id='siting-robustness'" in page
    assert f"robust: in the plan in ≥ 90 % of {n} draws" in page
    assert "moderate: 30 % to 90 %" in page
    assert "fragile: &lt; 30 %" in page
    for klass, k in counts.items():
        assert re.search(rf"{klass}: [^<]*\({k} sites?\)", page), klass
    assert sum(counts.values()) == int(r.sites["in_plan"].sum())


def test_no_draws_no_word_on_robustness(undrawn):
    result, page = undrawn
    assert result.robustness is None
    assert "robustness" not in page.lower()
    assert "draws" not in page
    # The map is otherwise whole: every site still has its popup.
    for site_id in result.sites["site_id"]:
        _popup(page, site_id)
