"""QGIS styles: well-formed QML and SLD for every table and raster, checked once more in QGIS.

The first tests read the XML only. ``test_qgis_loads_every_style`` hands the styles to Debian's
QGIS 3.22 (``/usr/bin/python3`` with ``python3-qgis``) through ``tests/qgis_style_probe.py`` and
asserts on what QGIS built from them; it fails (not skips) without QGIS, as CI installs it.
"""

from __future__ import annotations

import json
import math
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import siting
from siting import exports
from siting.exports import gpkg, rasters, theme
from siting.exports.qgis import styles as qgis_styles
from siting.exports.qgis.symbols import rgba
from siting.exports.runinfo import RunInfo
from siting.raster.grid import Raster

HERE = Path(__file__).resolve().parent
PROBE = HERE / "qgis_style_probe.py"
QGIS_PYTHON = "/usr/bin/python3"
SLD = "{http://www.opengis.net/sld}"
SE = "{http://www.opengis.net/se}"


@pytest.fixture(scope="module")
def run():
    return siting.run(resolution=2000, write=False)


@pytest.fixture(scope="module")
def tables(run):
    return gpkg.layers_of(run)


@pytest.fixture(scope="module")
def styles(run, tables):
    info = RunInfo.of(run)
    return {name: qgis_styles.vector_style(name, gdf, info) for name, gdf in tables.items()}


def _rasters(run) -> list[Raster]:
    found = [s.suitability for s in run.surfaces.values()] + list(run.criteria.values())
    return found + [r for r in (run.friction, run.slope) if r is not None]


def _zones(run) -> Raster:
    """Suitability of the first profile in three classes (1–3), NaN where excluded."""
    data = run.suitability(next(iter(run.scenario.profiles))).data
    zones = np.where(np.isfinite(data), np.digitize(data, [0.33, 0.66]) + 1.0, np.nan)
    return Raster(zones, run.grid, "zones", "class", "suitability in three classes")


def qml_root(style: qgis_styles.Style) -> ET.Element:
    assert style.qml.startswith("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>")
    root = ET.fromstring(style.qml)
    assert root.tag == "qgis"
    assert root.get("version") == "3.22.16-Białowieża"
    assert root.get("styleCategories") == "AllStyleCategories"
    return root


def test_every_table_has_a_wellformed_qml_with_its_declared_renderer(styles, tables):
    assert set(styles) == set(tables)
    expected = {
        "proposed_sites": "categorizedSymbol",
        "exclusions": "categorizedSymbol",
        "input_mines": "categorizedSymbol",
        "input_rail": "categorizedSymbol",
        "input_roads": "categorizedSymbol",
        "input_anchors": "categorizedSymbol",
        "candidate_patches": "graduatedSymbol",
        "study_area": "singleSymbol",
        "clusters": "singleSymbol",
        "cluster_weber_snapped": "singleSymbol",
        "allocation_plants": "singleSymbol",
        "covering_sites": "categorizedSymbol",
        "covering_demand": "categorizedSymbol",
    }
    # The default Kuzbass run has every model: the tables of each are styled.
    assert {"allocation_pareto", "covering_sites", "covering_demand", "cluster_weber_snapped"} <= (
        set(styles)
    )
    for name, style in styles.items():
        root = qml_root(style)
        renderers = root.findall("renderer-v2")
        if gpkg.is_spatial(tables[name]):
            assert len(renderers) == 1, name
            assert renderers[0].get("type") == style.renderer, name
            assert style.renderer == expected.get(name, style.renderer), name
        else:  # an attributes table: aliases and abstract, nothing to draw
            assert renderers == [] and style.renderer is None, name
            assert root.find("layerGeometryType").text == "4", name
        aliases = {a.get("field"): a.get("name") for a in root.iter("alias")}
        columns = [c for c in tables[name].columns if c != "geometry"]
        assert set(columns) <= set(aliases), name
        assert all(aliases[c] for c in columns), name
        assert style.abstract and "\n" not in style.abstract
        assert style.abstract in {o.get("value") for o in root.iter("Option")}


def test_every_sld_is_sld_110_with_the_abstract(styles, run):
    all_styles = list(styles.values()) + [qgis_styles.raster_style(r) for r in _rasters(run)]
    for style in all_styles:
        root = ET.fromstring(style.sld)
        assert root.tag == f"{SLD}StyledLayerDescriptor"
        assert root.get("version") == "1.1.0"
        assert root.find(f".//{SE}Abstract").text == style.abstract
        # A table without geometry has nothing to draw: its SLD carries the abstract only.
        assert (root.find(f".//{SE}Rule") is not None) == (style.renderer is not None)


def test_proposed_sites_one_category_per_profile_with_its_colour(styles, run):
    root = qml_root(styles["proposed_sites"])
    renderer = root.find("renderer-v2")
    assert renderer.get("attr") == "profile"
    categories = renderer.findall("categories/category")
    profiles = run.scenario.profiles
    assert [c.get("value") for c in categories] == list(profiles)
    assert [c.get("label") for c in categories] == [p.title for p in profiles.values()]
    for category, profile in zip(categories, profiles.values(), strict=True):
        symbol = renderer.find(f"symbols/symbol[@name='{category.get('symbol')}']")
        color = symbol.find("layer/Option/Option[@name='color']").get("value")
        assert color == rgba(profile.color)
        size = symbol.find(".//data_defined_properties//Option[@name='size']")
        assert '"rank"' in size.find("Option[@name='expression']").get("value")
    assert root.get("labelsEnabled") == "1"
    labeling = root.find("labeling")
    assert labeling.get("type") == "simple"
    assert labeling.find("settings/text-style").get("fieldName") in ("rank", "site_id")
    assert labeling.find("settings/text-style/text-buffer").get("bufferDraw") == "1"
    aliases = {a.get("field"): a.get("name") for a in root.iter("alias")}
    assert aliases["score"] == "Suitability score (0–1)"
    assert aliases["near"] == "Nearest place"
    assert aliases["raw_rail"] == "Rail raw value (m)"
    assert aliases["raw_haul_cost"] == f"Haul cost raw value ({run.criteria['haul_cost'].units})"
    assert aliases["w_labour"] == "Labour contribution"


def test_proposed_sites_without_sites_still_lists_the_profiles(run, tables):
    empty = tables["proposed_sites"].iloc[:0]
    root = qml_root(qgis_styles.vector_style("proposed_sites", empty, RunInfo.of(run)))
    assert [c.get("value") for c in root.iter("category")] == list(run.scenario.profiles)


def test_mines_categories_cover_the_statuses_present(run, tables):
    mines = tables["input_mines"].copy()
    statuses = ["operating", "mothballed", "proposed", "closed", "abandoned"]
    mines["status"] = [statuses[i % len(statuses)] for i in range(len(mines))]
    for gdf in (tables["input_mines"], mines):
        style = qgis_styles.vector_style("input_mines", gdf, RunInfo.of(run))
        renderer = qml_root(style).find("renderer-v2")
        assert renderer.get("attr") == "status"
        values = [c.get("value") for c in renderer.iter("category")]
        assert set(values) == set(gdf["status"].astype(str))
        for category in renderer.iter("category"):
            symbol = renderer.find(f"symbols/symbol[@name='{category.get('symbol')}']")
            color = symbol.find("layer/Option/Option[@name='color']").get("value")
            known = theme.STATUS_COLORS.get(category.get("value"))
            assert color == rgba(known or theme.DEFAULT_COLOR)
            size = symbol.find(".//Option[@name='size']/Option[@name='expression']")
            assert '"output"' in size.get("value")
    aliases = {a.get("field"): a.get("name") for a in qml_root(style).iter("alias")}
    assert aliases["output"] == "Output (Mt/yr)"


def test_rail_and_roads_by_kind_and_single_without_kind(run, tables):
    widths = {}
    for table in ("input_rail", "input_roads"):
        style = qgis_styles.vector_style(table, tables[table], RunInfo.of(run))
        renderer = qml_root(style).find("renderer-v2")
        assert style.renderer == "categorizedSymbol"
        assert renderer.get("attr") == "kind"
        for category in renderer.iter("category"):
            symbol = renderer.find(f"symbols/symbol[@name='{category.get('symbol')}']")
            options = {o.get("name"): o.get("value") for o in symbol.find("layer/Option")}
            widths[category.get("value")] = (options["line_color"], float(options["line_width"]))
        plain = qgis_styles.vector_style(table, tables[table].drop(columns="kind"), RunInfo.of(run))
        assert plain.renderer == "singleSymbol"
    assert widths["main"] == (rgba("#000000"), 0.8)
    assert widths["federal"] == (rgba("#d94801"), 0.7)
    assert widths["regional"] == (rgba("#fd8d3c"), 0.45)
    assert widths["branch"][1] == 0.5


def categories(style: qgis_styles.Style) -> list[tuple[str, str, str, str]]:
    """(value, label, colour, marker name or line width) of each category, in legend order."""
    renderer = qml_root(style).find("renderer-v2")
    out = []
    for category in renderer.iter("category"):
        symbol = renderer.find(f"symbols/symbol[@name='{category.get('symbol')}']")
        options = {o.get("name"): o.get("value") for o in symbol.find("layer/Option")}
        shape = options.get("name") or options["line_width"]
        color = options.get("color") or options["line_color"]
        out.append((category.get("value"), category.get("label"), color, shape))
    return out


def test_road_classes_rank_by_network_speed_and_anchors_by_their_order(run, tables):
    # The Kuzbass [network] drives federal roads at 80 km/h, regional ones at 60: federal first.
    assert dict(run.scenario.network.speeds) == {"federal": 80, "regional": 60}
    roads = tables["input_roads"]
    for gdf in (roads, roads.iloc[::-1]):  # the speeds rank them, not the rows' order
        assert categories(qgis_styles.vector_style("input_roads", gdf, RunInfo.of(run))) == [
            ("federal", "Federal road", rgba("#d94801"), "0.7"),
            ("regional", "Regional road", rgba("#fd8d3c"), "0.45"),
        ]
    # Rail has no speeds: its classes rank in the order they first appear.
    rail = tables["input_rail"]
    assert list(dict.fromkeys(rail["kind"])) == ["main", "branch"]
    rail_style = qgis_styles.vector_style("input_rail", rail, RunInfo.of(run))
    assert [c[:2] for c in categories(rail_style)] == [
        ("main", "Main line"),
        ("branch", "Branch line"),
    ]
    anchors = tables["input_anchors"]
    kinds = list(dict.fromkeys(anchors["kind"]))
    assert len(kinds) == 4
    want = [
        (kinds[0], "star", rgba(theme.EXISTING_COLOR)),
        (kinds[1], "diamond", rgba(theme.NEW_SITE_COLOR)),
        (kinds[2], "triangle", rgba("#1f78b4")),
        (kinds[3], "triangle", rgba("#6a3d9a")),
    ]
    got = categories(qgis_styles.vector_style("input_anchors", anchors, RunInfo.of(run)))
    assert [(v, shape, color) for v, _, color, shape in got] == want
    # The scenario's labels (layers.anchors.classes), the knowledge centre first.
    assert [label for _, label, _, _ in got] == [
        "UgleNaukoGrad",
        "Technopark",
        "University",
        "Research institute",
    ]
    # A kind the palette has no rank for: a small grey circle.
    extra = anchors.iloc[:5].assign(kind=["a", "b", "c", "d", "e"])
    last = categories(qgis_styles.vector_style("input_anchors", extra, RunInfo.of(run)))[-1]
    assert last == ("e", "E", rgba(theme.DEFAULT_COLOR), "circle")


def test_exclusions_are_hatched_with_an_outline(styles):
    root = qml_root(styles["exclusions"])
    for symbol in root.findall("renderer-v2/symbols/symbol"):
        classes = [layer.get("class") for layer in symbol.findall("layer")]
        assert classes == ["LinePatternFill", "SimpleFill"]
    aliases = {a.get("field"): a.get("name") for a in root.iter("alias")}
    assert aliases["reason"] == "Reason for exclusion"


def test_candidate_patches_five_viridis_classes(styles, tables):
    renderer = qml_root(styles["candidate_patches"]).find("renderer-v2")
    assert renderer.get("attr") == "mean_score"
    ranges = renderer.findall("ranges/range")
    assert len(ranges) == 5
    scores = tables["candidate_patches"]["mean_score"]
    assert float(ranges[0].get("lower")) == pytest.approx(scores.min())
    assert float(ranges[-1].get("upper")) == pytest.approx(scores.max())
    first = renderer.find("symbols/symbol[@name='0']/layer/Option/Option[@name='color']")
    assert first.get("value").startswith("68,1,84")  # viridis' first colour


def test_labels_and_data_defined_widths(styles):
    for table in ("clusters", "input_settlements"):
        root = qml_root(styles[table])
        assert root.get("labelsEnabled") == "1", table
        assert root.find("labeling[@type='simple']") is not None, table
    lines = qml_root(styles["allocation_lines"]).find("renderer-v2")
    width = lines.find(".//Option[@name='outlineWidth']/Option[@name='expression']")
    assert '"weight"' in width.get("value")
    assert float(lines.find("symbols/symbol").get("alpha")) < 1
    rivers = qml_root(styles["input_rivers"]).find("renderer-v2")
    assert rivers.find(".//Option[@name='outlineWidth']") is not None
    weber = qml_root(styles["cluster_weber_points"])
    marker = weber.find("renderer-v2/symbols/symbol/layer[@class='SimpleMarker']/Option")
    assert marker.find("Option[@name='name']").get("value") == "star"


def test_unknown_table_gets_a_plain_symbol_by_geometry(run, tables):
    for source, kind in (
        ("input_stations", "marker"),
        ("input_rail", "line"),
        ("clusters", "fill"),
    ):
        gdf = tables[source][["geometry"]]
        style = qgis_styles.vector_style("something_else", gdf, RunInfo.of(run))
        assert style.renderer == "singleSymbol"
        assert qml_root(style).find("renderer-v2/symbols/symbol").get("type") == kind


def test_raster_styles_ramp_over_the_finite_values(run):
    suitability = run.suitability("technopark")
    haul = run.criteria["haul_cost"]
    for raster, first in ((suitability, "#440154"), (haul, "#fcfdbf")):  # viridis, magma_r
        style = qgis_styles.raster_style(raster)
        assert style.renderer == "singlebandpseudocolor"
        renderer = qml_root(style).find("pipe/rasterrenderer")
        assert renderer.get("type") == "singlebandpseudocolor"
        finite = raster.data[np.isfinite(raster.data)]
        assert float(renderer.get("classificationMin")) == pytest.approx(finite.min())
        assert float(renderer.get("classificationMax")) == pytest.approx(finite.max())
        items = renderer.findall(".//colorrampshader/item")
        assert items[0].get("color") == first
        assert all(raster.units in item.get("label") for item in items)
        pixel = renderer.find("rasterTransparency/singleValuePixelList/pixelListEntry")
        assert float(pixel.get("min")) == rasters.NODATA
    categorical = Raster(
        np.array([[1.0, 2.0], [3.0, np.nan]]), suitability.grid, "zones", "class", "test zones"
    )
    style = qgis_styles.raster_style(categorical, kind="categorical")
    assert style.renderer == "paletted"
    entries = qml_root(style).findall(".//colorPalette/paletteEntry")
    assert [float(e.get("value")) for e in entries] == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="kind"):
        qgis_styles.raster_style(categorical, kind="hillshade")


def test_a_run_styles_its_rasters_from_memory_as_from_the_files(run, tmp_path):
    """The styles a run writes from the rasters in memory (skipping reading the GeoTIFFs back)
    are those of the files it wrote, byte for byte."""
    from siting.exports.qgis.project import _raster

    written = rasters.rasters_of(run)
    grid = run.grid
    thirds = np.linspace(1 / 3, 2 / 3, grid.width * grid.height).reshape(grid.shape)
    # float64 values that float32 rounds: the style must see the rounded ones, as in the file
    written["criteria/thirds.tif"] = Raster(thirds, grid, "thirds", "m", "a float64 raster")
    for rel, raster in written.items():
        path = rasters.write_geotiff(raster, tmp_path / rel)
        from_file = qgis_styles.raster_style(_raster(path))
        from_memory = qgis_styles.raster_style(_raster(path, raster))
        assert from_memory == from_file, rel
    assert len(written) >= 6


# --- in QGIS itself -------------------------------------------------------------------------------


def _require_qgis() -> None:
    try:
        proc = subprocess.run(
            [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"QGIS check needs {QGIS_PYTHON} with QGIS's Python bindings: {error}")
    if proc.returncode != 0:
        pytest.fail(
            f"{QGIS_PYTHON} -c 'import qgis.core' failed; install QGIS's bindings "
            f"(Debian/Ubuntu: apt-get install python3-qgis):\n{proc.stderr[-2000:]}"
        )


@pytest.fixture(scope="module")
def probed(run, tables, styles, tmp_path_factory):
    """Every style written beside its data and loaded by QGIS; returns (items, report)."""
    _require_qgis()
    folder = tmp_path_factory.mktemp("qgis_styles")
    gpkg.write(run, folder / "siting.gpkg")
    items = []
    for name, style in styles.items():
        (folder / f"{name}.qml").write_text(style.qml, encoding="utf-8")
        (folder / f"{name}.sld").write_text(style.sld, encoding="utf-8")
        items.append(
            {
                "kind": "vector",
                "path": str(folder / "siting.gpkg"),
                "table": name,
                "qml": str(folder / f"{name}.qml"),
                "sld": str(folder / f"{name}.sld"),
                "renderer": style.renderer,
                "abstract": style.abstract,
            }
        )
    for raster, kind in [(r, "continuous") for r in _rasters(run)] + [(_zones(run), "categorical")]:
        path = rasters.write_geotiff(raster, folder / f"{raster.name}.tif")
        style = qgis_styles.raster_style(raster, kind)
        path.with_suffix(".qml").write_text(style.qml, encoding="utf-8")
        path.with_suffix(".sld").write_text(style.sld, encoding="utf-8")
        items.append(
            {
                "kind": "raster",
                "path": str(path),
                "qml": str(path.with_suffix(".qml")),
                "sld": str(path.with_suffix(".sld")),
                "renderer": style.renderer,
                "abstract": style.abstract,
                "units": raster.units,
            }
        )
    (folder / "items.json").write_text(json.dumps(items, indent=1), encoding="utf-8")
    proc = subprocess.run(
        [QGIS_PYTHON, str(PROBE), str(folder / "items.json"), str(folder / "report.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return report


def _results(report: dict) -> dict[str, dict]:
    return {
        e["item"].get("table") or Path(e["item"]["path"]).stem: e | e["result"]
        for e in report["items"]
    }


@pytest.mark.qgis
def test_qgis_loads_every_style(probed, run, tables):
    assert probed["qgis_version"].startswith("3.")
    results = _results(probed)
    assert len(results) == len(tables) + len(_rasters(run)) + 1
    for name, r in results.items():
        item = r["item"]
        assert "exception" not in r, (name, r.get("exception"))
        assert r["valid"], name
        assert r["loaded"], (name, r["message"])
        assert r["renderer"] == item["renderer"], name
        assert r["abstract"] == item["abstract"], name
        assert r["sld"]["parses"], (name, r["sld"])
        if item["kind"] == "vector":
            bad = {e: x for e, x in r["expressions"].items() if not x["parses"] or x["error"]}
            assert not bad, (name, bad)
            aliases = qgis_styles.field_aliases(tables[name].columns, run, name)
            assert {f: r["aliases"][f] for f in aliases} == aliases, name
            if not gpkg.is_spatial(tables[name]):
                assert r["spatial"] is False and r["renderer"] is None, name
                assert r["features"] == len(tables[name]), name
                continue
            assert r["sld"]["qgis_loads"], (name, r["sld"])
            if r["features"]:
                assert r["drawn_pixels"] > 0, name
        else:
            assert r["drawn_pixels"] > 0, name
            assert r["source_nodata"] == rasters.NODATA, name
            assert [rasters.NODATA, rasters.NODATA, 100.0] in r["transparent_values"], name
            if r["renderer"] == "paletted":
                assert [c[0] for c in r["classes"]] == [1.0, 2.0, 3.0], name
                assert all(c[2].endswith(item["units"]) for c in r["classes"]), name
            else:
                assert r["legend_suffix"].strip() == item["units"], name
                assert r["min"] < r["max"], name


@pytest.mark.qgis
def test_qgis_sees_profiles_statuses_hatches_and_labels(probed, run):
    results = _results(probed)
    sites = results["proposed_sites"]
    profiles = run.scenario.profiles
    assert [c["value"] for c in sites["categories"]] == list(profiles)
    assert [c["symbol"]["color"] for c in sites["categories"]] == [
        p.color for p in profiles.values()
    ]
    assert all('"rank"' in c["symbol"]["layers"][0]["dd"]["size"] for c in sites["categories"])
    assert sites["labels_enabled"] and sites["labeling"]["buffer"]
    assert sites["labeling"]["field"] in ("rank", "site_id")
    assert sites["order_by"]
    mines = results["input_mines"]
    for category in mines["categories"]:
        assert category["symbol"]["color"] == theme.STATUS_COLORS[category["value"]]
        assert "output" in category["symbol"]["layers"][0]["dd"]["size"]
    for category in results["exclusions"]["categories"]:
        types = [layer["type"] for layer in category["symbol"]["layers"]]
        assert types == ["LinePatternFill", "SimpleFill"]
    for table in ("clusters", "input_settlements", "proposed_sites"):
        assert results[table]["labels_enabled"], table
        assert results[table]["labeling"]["type"] == "simple", table
    assert len(results["candidate_patches"]["ranges"]) == 5
    assert results["input_rail"]["classification_attribute"] == "kind"
    lines = results["allocation_lines"]["symbol"]
    assert '"weight"' in lines["layers"][0]["dd"]["outlineWidth"]
    assert lines["opacity"] < 1


def _category_colours(root: ET.Element) -> dict[str, tuple[str, str]]:
    """Category value → (marker shape, fill colour) of a categorized QML."""
    renderer = root.find("renderer-v2")
    out = {}
    for category in renderer.iter("category"):
        symbol = renderer.find(f"symbols/symbol[@name='{category.get('symbol')}']")
        options = {o.get("name"): o.get("value") for o in symbol.find("layer/Option")}
        out[category.get("value")] = (options["name"], options["color"])
    return out


def test_covering_tables_by_status_and_by_coverage(styles, tables, run):
    sites = qml_root(styles["covering_sites"])
    assert sites.find("renderer-v2").get("attr") == "status"
    colours = _category_colours(sites)
    technopark = run.scenario.profiles[run.covering.profile].color
    assert colours == {
        "existing": ("star", rgba(theme.EXISTING_COLOR)),
        "new": ("diamond", rgba(technopark)),
    }
    assert sites.find("labeling/settings/text-style").get("fieldName") == "name"
    demand = qml_root(styles["covering_demand"])
    assert demand.find("renderer-v2").get("attr") == "covered"
    colours = _category_colours(demand)
    assert colours == {
        "true": ("circle", rgba(theme.COVERED_COLORS[True])),
        "false": ("circle", rgba(theme.COVERED_COLORS[False])),
    }
    limit = run.scenario.covering.max_minutes
    labels = [c.get("label") for c in demand.iter("category")]
    assert labels == [f"Reached within {limit:g} min", f"Not reached within {limit:g} min"]
    aliases = {a.get("field"): a.get("name") for a in demand.iter("alias")}
    assert aliases["weight"] == "Demand (population)"  # not the allocation's Mt/yr
    assert aliases["covered"] == f"Covered within {limit:g} min"
    assert aliases["minutes"] == "Travel time to the nearest open site (min)"
    abstract = styles["covering_sites"].abstract
    spec = run.scenario.covering
    assert f"p = {spec.p} new site(s), existing '{spec.existing}' where {spec.existing_where}" in (
        abstract
    )
    # The default scenario has a [network]: the covering's minutes are door to door over it.
    road = run.scenario.network.layer
    assert f"within {limit:g} min door to door over the road network ('{road}')." in abstract
    assert "km/h" not in abstract
    assert len(tables["covering_sites"]) == len(run.covering.sites)


def test_allocation_tables_name_the_capacitated_model_and_new_fields(styles, run):
    spec = run.scenario.allocation
    assert spec.capacity is not None  # the default scenario's model
    for table in ("allocation_plants", "allocation_lines", "allocation_pareto"):
        assert (
            f"capacitated, capacity {spec.capacity:g} Mt/yr per plant, opening cost "
            f"{spec.opening_cost:g} Mt·km/yr" in styles[table].abstract
        ), table
    plants = qml_root(styles["allocation_plants"])
    label = plants.find("labeling/settings/text-style")
    assert label.get("isExpression") == "1" and '"utilisation"' in label.get("fieldName")
    aliases = {a.get("field"): a.get("name") for a in plants.iter("alias")}
    assert aliases["utilisation"] == "Utilisation (served / capacity, 0–1)"
    assert aliases["capacity"] == "Capacity (Mt/yr)"
    assert aliases["weight_x_km"] == "Demand × distance (Mt·km/yr)"
    lines = {
        a.get("field"): a.get("name") for a in qml_root(styles["allocation_lines"]).iter("alias")
    }
    assert lines["km"] == "Haul cost (road- or truck-equivalent km, see run.json)"
    assert "cost" not in lines and "weight_x_cost" not in lines
    pareto = {
        a.get("field"): a.get("name") for a in qml_root(styles["allocation_pareto"]).iter("alias")
    }
    assert pareto["transport"] == "Transport, Σ demand × km (Mt·km/yr)"
    assert pareto["pareto_optimal"] == "Pareto-optimal"
    snapped = qml_root(styles["cluster_weber_snapped"])
    aliases = {a.get("field"): a.get("name") for a in snapped.iter("alias")}
    assert aliases["snap_m"] == "Weber point moved to eligible land (m)"


@pytest.mark.qgis
def test_qgis_colours_each_covering_feature_and_labels_utilisation(probed, run, tables):
    results = _results(probed)
    demand = tables["covering_demand"]
    want = [theme.COVERED_COLORS[bool(c)] for c in demand["covered"]]
    assert results["covering_demand"]["feature_colours"] == want
    assert 0 < sum(demand["covered"]) < len(demand)  # both classes drawn in the default run
    sites = tables["covering_sites"]
    technopark = run.scenario.profiles[run.covering.profile].color
    want = [theme.EXISTING_COLOR if s == "existing" else technopark for s in sites["status"]]
    assert results["covering_sites"]["feature_colours"] == want
    plants = results["allocation_plants"]
    expression = plants["labeling"]["field"]
    assert plants["labeling"]["is_expression"]
    sample = plants["expressions"][expression]["sample"]
    a = run.allocation.plants
    assert sample == [
        f"{s} ({math.floor(100 * u + 0.5)} %)"
        for s, u in zip(a["site_id"][:5], a["utilisation"][:5], strict=True)
    ]
    pareto = results["allocation_pareto"]
    assert pareto["valid"] and pareto["renderer"] is None
    assert pareto["features"] == len(run.allocation.pareto)
    assert pareto["aliases"]["suitability_weight"].startswith("Suitability weight α")


def test_a_run_makes_its_qgis_project_from_memory_as_from_its_files(run, tmp_path):
    """A run makes its QGIS project from the rasters in memory, before their GeoTIFFs are
    written: the project and the styles are those made afterwards from the folder's files."""
    import re
    import zipfile

    from siting.exports.qgis import project as qgis_project

    def made(folder: Path) -> tuple[str, dict[str, str]]:
        with zipfile.ZipFile(folder / "siting.qgz") as qgz:
            xml = qgz.read("siting.qgs").decode()
        styles = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*.qml")}
        return re.sub(r"<creation>[^<]*</creation>", "", xml), styles

    folder = exports.write(run, tmp_path / "run")
    written = rasters.rasters_of(run)
    for leftover in [folder / "siting.qgz", *folder.rglob("*.qml"), *folder.rglob("*.tif")]:
        leftover.unlink()
    qgis_project.write(folder, written)  # no GeoTIFF on disk yet
    from_memory = made(folder)
    assert not list(folder.rglob("*.tif"))
    for rel, raster in written.items():
        rasters.write_geotiff(raster, folder / rel)
    qgis_project.write(folder)
    xml, styles = made(folder)
    assert from_memory == (xml, styles)
    assert sorted(styles) == sorted(rel.replace(".tif", ".qml") for rel in written)
    assert xml.count('providerKey="gdal"') == len(written)
