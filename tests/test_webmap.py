"""The web map's content: layers, legend colours, site popups (browser tests: issue #6)."""

import json

import matplotlib
import pytest

import siting
from siting.exports import webmap


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from conftest import SCENARIO, write_world

    folder = tmp_path_factory.mktemp("world")
    write_world(folder)
    (folder / "scenario.toml").write_text(SCENARIO)
    result = siting.run(folder / "scenario.toml", write=False)
    return result, webmap.build(result).get_root().render()


def test_every_layer_is_in_the_layer_control(page):
    result, html = page
    names = [
        "OpenStreetMap",
        "Terrain (OpenTopoMap)",
        "Study area",
        "Roads",
        "Rail",
        "Growth poles (mine clusters)",
        "Mines (size = output)",
        "Allocation: mine → plant",
    ]
    for p in result.scenario.profiles.values():
        names += [f"Suitability: {p.title}", f"Exclusions: {p.title}", f"Sites: {p.title}"]
    for name in names:
        # Names are JSON strings in the page's script (non-ASCII escaped).
        assert json.dumps(name) in html or f'"{name}"' in html, name


def test_legend_runs_from_viridis_low_to_high(page):
    _, html = page
    low = matplotlib.colors.rgb2hex(matplotlib.colormaps["viridis"](0.0))
    high = matplotlib.colors.rgb2hex(matplotlib.colormaps["viridis"](1.0))
    assert high == "#fde725"
    assert low in html and high in html


def test_site_popups_carry_rank_score_and_breakdown(page):
    result, html = page
    for _, site in result.sites.iterrows():
        assert (
            f"<b>{site['site_id']}</b><br>rank {site['rank']} · score {site['score']:.3f}" in html
        )
    assert "contribution" in html and "raw value" in html


def test_title_names_the_scenario(page):
    result, html = page
    assert result.scenario.title in html and "grid 250 m" in html
