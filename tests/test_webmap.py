"""The web map's content: layers, legend colours, popups, offline assets, comparison map."""

import json
import re

import folium
import matplotlib
import pytest

import siting
from siting.exports.webmap import elements
from siting.exports.webmap import page as webmap
from siting.exports.webmap.offline import inline_assets


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from conftest import SCENARIO, write_world

    folder = tmp_path_factory.mktemp("world")
    write_world(folder)
    (folder / "scenario.toml").write_text(SCENARIO)
    return siting.run(folder / "scenario.toml", write=False)


@pytest.fixture(scope="module")
def page(run):
    return webmap.build(run).get_root().render()


def has_name(html: str, name: str) -> bool:
    # Layer names are JSON strings in the page's script (non-ASCII escaped).
    return json.dumps(name) in html or f'"{name}"' in html


def test_every_layer_is_named_in_the_page(page, run):
    names = [
        "OpenStreetMap",
        "Satellite (Esri World Imagery)",
        "Terrain (OpenTopoMap)",
        "Study area",
        "Roads",
        "Rail",
        "Rivers",
        "Protected areas",
        "Lakes and reservoirs",
        "Growth poles (mine clusters)",
        "Mines (size = output, colour = status)",
        "Haul routes: mine → plant (width = output)",
    ]
    for p in run.scenario.profiles.values():
        names += [f"Suitability: {p.title}", f"Exclusions: {p.title}", f"Sites: {p.title}"]
    names += [f"Criterion: {n} ({r.units})" for n, r in run.criteria.items()]
    missing = [n for n in names if not has_name(page, n)]
    assert missing == []
    for group in ("Proposals", "Suitability", "Criteria", "Constraints", "Inputs"):
        assert has_name(page, group)


def test_legend_runs_from_viridis_low_to_high(page):
    high = matplotlib.colors.rgb2hex(matplotlib.colormaps["viridis"](1.0))
    assert high == "#fde725"
    assert high in page and matplotlib.colors.rgb2hex(matplotlib.colormaps["viridis"](0.0)) in page


def test_site_popups_carry_rank_score_breakdown_and_allocation(page, run):
    for _, site in run.sites.iterrows():
        assert f"rank {site['rank']} · score <b>{site['score']:.3f}</b>" in page
    plants = run.allocation.plants
    for _, plant in plants.iterrows():
        served = run.allocation.lines[run.allocation.lines["site_id"] == plant["site_id"]]
        assert f"serves {len(served)} mines, {served['weight'].sum():.1f} Mt/yr" in page
    assert "contribution" in page and "raw value" in page
    assert "<b>p-median plant</b>" in page and "utilisation" not in page  # no capacities here


def test_allocation_tooltips_are_in_road_equivalent_km(page, run):
    for _, line in run.allocation.lines.iterrows():
        tooltip = (
            f"{line['demand']} → {line['site_id']}: {line['weight']:.2f} Mt/yr, "
            f"{line['km']:.1f} km road-equivalent cost over {line['route_km']:.1f} km of "
            f"least-cost route, {line['weight_x_km']:,.1f} Mt·km/yr"
        )
        assert tooltip in page
    # Without [models.covering] the map has no covering group (an empty group would show).
    if run.covering is None:
        assert not has_name(page, "Technoparks (covering)")
    assert has_name(page, "Growth-pole Weber points")  # no snap profile: the plain name


def test_title_names_the_scenario(page, run):
    assert run.scenario.title in page and "grid 250 m" in page
    assert f"{len(run.sites)} proposed sites" in page


def test_offline_page_links_nothing_external(page):
    offline = inline_assets(page)
    external = re.findall(r"<(?:script|link)[^>]+(?:src|href)=\"(https?://[^\"]+)\"", offline)
    assert external == []
    assert "L.Control.Layers" in offline or "L.control.layers" in offline
    assert len(offline) > len(page) + 100_000  # Leaflet, jQuery, Bootstrap, plugins inlined


def test_unknown_cdn_asset_is_a_loud_error():
    with pytest.raises(LookupError, match="no vendored copy"):
        inline_assets('<script src="https://cdn.example.org/mystery.js"></script>')


def test_comparison_map_shows_both_runs(run, tmp_path):
    other = siting.run(run.scenario.with_overrides(name="coarse", resolution=500), write=False)
    path = webmap.write_comparison(run, other, tmp_path / "compare.html", labels=("250 m", "500 m"))
    html = path.read_text()
    assert "250 m" in html and "500 m" in html
    assert "L.Map.Sync" in html or ".sync(" in html  # the two maps pan together
    for result in (run, other):
        for _, site in result.sites.iterrows():
            assert f"rank {site['rank']} · score <b>{site['score']:.3f}</b>" in html


def walk(element):
    yield element
    for child in element._children.values():
        yield from walk(child)


def test_each_marker_and_line_is_drawn_once(page, run):
    # The synthetic run: sites, mines, settlements and each growth pole's Weber point are circle
    # markers; haul routes are lines; nothing is a glyph without covering or snapped points.
    assert run.covering is None and run.scenario.clusters.snap_profile is None
    circles = len(run.sites) + len(run.layers["mines"]) + len(run.layers["settlements"])
    # ... and the robustness ring around each site of the plan.
    rings = int((run.robustness.sites["robustness_class"] != "").sum())
    assert page.count('"kind":"circle"') == circles + len(run.clusters) + rings
    assert page.count('"kind":"line"') == len(run.allocation.lines)
    assert page.count('"kind":"glyph"') == 0


def test_overlay_images_are_written_once_each(run):
    fmap = webmap.build(run)
    page = webmap.render(fmap)
    overlays = [e for e in walk(fmap) if isinstance(e, folium.raster_layers.ImageOverlay)]
    assert len(overlays) == len(run.criteria) + len(run.surfaces)
    assert all(page.count(e.url) == 1 for e in overlays)
    assert all(f"var {e.get_name()}_url = " in page for e in overlays)


TRICKY = [
    "</script><script>alert(1)</script>",
    "<!-- x",
    "{{ x }} {% if y %} {# z #}",
    "a·b → c",
    'q"\\',
]


@pytest.mark.parametrize("text", TRICKY)
def test_text_reaches_the_page_as_written_and_cannot_end_its_script(text):
    literal = elements.js(text)
    assert "</script" not in literal.lower() and "<!--" not in literal
    assert json.loads(literal) == text  # a JSON (and so JavaScript) string literal of the text
    fmap = folium.Map(tiles=None)
    group = folium.FeatureGroup(name="g").add_to(fmap)
    elements.Vectors(group, [elements.circle(55.0, 86.0, 5, "#000000", tooltip=text)])
    # Written once, as it is: branca did not compile it as a Jinja template ({{ x }} survives).
    assert webmap.render(fmap).count(literal) == 1
