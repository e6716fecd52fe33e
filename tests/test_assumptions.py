"""Honest uncertainty: every assumed number of a scenario in one table (report, assumptions.csv,
run.json), and the layers' exactness on the map and in the report."""

import csv
import dataclasses
import json
import re

import pytest
import tomllib

import siting
from siting.config.scenario import DEFAULT_SCENARIO, load
from siting.exports import assumptions, theme
from siting.exports.webmap import caveat

KUZBASS = DEFAULT_SCENARIO
PROVENANCE = KUZBASS.parent / "PROVENANCE.md"


def numbers(node, key=""):
    """(key, value) of every number a TOML document writes, walked here independently of the
    package: tables by key, arrays by index, an array of scalars (a matrix row) as one value."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from numbers(v, f"{key}.{k}" if key else k)
    elif isinstance(node, list):
        if node and all(not isinstance(v, (dict, list)) for v in node):
            if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in node):
                yield key, node
            return
        for i, v in enumerate(node):
            yield from numbers(v, f"{key}[{i}]")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield key, node


@pytest.fixture(scope="module")
def kuzbass():
    scenario = load(KUZBASS)
    return scenario, {row.key: row for row in assumptions.table(scenario)}


def test_every_number_of_the_kuzbass_file_is_a_row_with_its_value(kuzbass):
    _, rows = kuzbass
    written = list(numbers(tomllib.loads(KUZBASS.read_text(encoding="utf-8"))))
    assert len(written) > 100  # the walk found the file's numbers
    for key, value in written:
        assert key in rows, key
        row = rows[key]
        assert row.origin == "scenario", key
        if isinstance(value, list):  # a row of the AHP matrix, as written
            assert row.value == ", ".join(str(v) for v in value), key
        else:
            assert row.number == float(value), key
    # The keys the brief names are among them, with their values.
    for key, value in {
        "friction.off_road": 4.0,
        "friction.routes[1].cost": 0.5,
        "network.speeds.federal": 80.0,
        "network.off_road_kmh": 15.0,
        "network.snap_m": 3000.0,
        "models.allocation.capacity": 10.0,
        "models.allocation.opening_cost": 131.0,
        "models.covering.max_minutes": 60.0,
        "profiles.processing_plant.exclusions[3].buffer_m": 1000.0,
        "profiles.processing_plant.criteria[1].standardize.high": 15000.0,
        "profiles.processing_plant.criteria[0].weight": 0.35,
        "profiles.processing_plant.min_separation_m": 12000.0,
        "profiles.processing_plant.candidate_quantile": 0.9,
        "resolution": 250.0,
    }.items():
        assert rows[key].number == value, key


def instances(value, path=""):
    """Every table (dataclass) reachable in a scenario, with its path."""
    if dataclasses.is_dataclass(value):
        yield path, value
        for f in dataclasses.fields(value):
            yield from instances(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from instances(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from instances(v, f"{path}[{i}]")


def test_every_number_the_schema_supplies_is_a_default_row(kuzbass):
    scenario, rows = kuzbass
    written = {key for key, _ in numbers(tomllib.loads(KUZBASS.read_text(encoding="utf-8")))}
    by_name = {}
    for key, row in rows.items():
        by_name.setdefault(key.rsplit(".", 1)[-1], []).append(row)
    checked = 0
    for _, table in instances(scenario):
        if table is scenario:
            continue
        for f in dataclasses.fields(table):
            value = getattr(table, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if f.default is dataclasses.MISSING or f.default != value:
                continue  # set in the file (checked above) or derived
            same = [r for r in by_name.get(f.name, []) if r.number == value]
            assert same, f.name  # a row of that key with that value
            unwritten = [r for r in same if r.key not in written]
            if unwritten:  # the file does not write it somewhere: the default supplies it
                assert any(r.origin == "default" for r in unwritten), f.name
                checked += 1
    assert checked >= 10  # haul tariffs, covering time limit, AHP max_cr, cluster settings …
    assert rows["haul.transfer_rub_t"].origin == "default"
    assert rows["haul.transfer_rub_t"].units == "RUB/t"
    assert rows["profiles.technopark.ahp.max_cr"].number == 0.1


def test_units_come_from_the_key_and_the_layers(kuzbass):
    _, rows = kuzbass
    units = {
        "network.speeds.federal": "km/h",
        "network.snap_m": "m",
        "models.allocation.capacity": "Mt/yr",
        "models.allocation.opening_cost": "Mt·km/yr",
        "models.covering.max_minutes": "min",
        "profiles.processing_plant.min_area_ha": "ha",
        "profiles.processing_plant.exclusions[3].footprint_m2_per_person": "m²/person",
        "profiles.processing_plant.criteria[1].standardize.high": "m",  # a distance
        "profiles.technopark.criteria[0].standardize.high": "min",  # a travel time
        "haul.truck_rub_tkm": "RUB/(t·km)",
    }
    assert {k: rows[k].units for k in units} == units


def test_ahp_weights_are_derived_rows_and_direct_weights_are_not_repeated(kuzbass):
    scenario, rows = kuzbass
    tech = scenario.profiles["technopark"]
    row = rows["profiles.technopark.weights"]
    assert row.origin == "derived"
    assert [float(v) for v in row.value.split(", ")] == list(tech.weights)
    assert "uglenaukograd" in row.description
    assert "profiles.processing_plant.weights" not in rows  # its criteria's weights are rows


def test_an_override_is_marked_as_changed_for_the_run(kuzbass):
    scenario, _ = kuzbass
    rows = {r.key: r for r in assumptions.table(scenario.with_overrides(resolution=1000))}
    assert rows["resolution"].number == 1000 and rows["resolution"].origin == "run"
    assert rows["network.snap_m"].origin == "scenario"


def test_a_scenario_without_a_file_says_scenario_or_default(world):
    from siting.config.scenario import from_dict

    data = tomllib.loads((world / "scenario.toml").read_text(encoding="utf-8"))
    rows = {r.key: r for r in assumptions.table(from_dict(data, base_dir=world))}
    assert rows["friction.off_road"].origin == "scenario"
    assert rows["friction.off_road"].number == 4.0
    assert {r.origin for r in rows.values()} <= {"scenario", "default", "derived"}


# --- how exact the layers are ------------------------------------------------------------------


def test_every_kuzbass_layer_states_its_exactness_as_provenance_gives_it(kuzbass):
    scenario, _ = kuzbass
    for name, spec in scenario.layers.items():
        assert spec.exactness in ("measured", "placed", "schematic"), name
        assert spec.source, name
    # Each layer whose PROVENANCE.md section calls it **schematic** is schematic in the scenario.
    text = PROVENANCE.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    files = {spec.path.name: name for name, spec in scenario.layers.items()}
    called = set()
    for section in sections:
        heading = section.splitlines()[0]
        if "**schematic**" not in section.lower():
            continue
        for f in re.findall(r"(\w+)\.geojson", heading):
            # A section of two files may say one of them is placed ("Stations are *placed*").
            if re.search(rf"{f} are \*placed\*", section, re.I):
                assert scenario.layers[f].exactness == "placed", f
            else:
                called.add(files[f + ".geojson"])
    assert {"rail", "roads", "coal_areas", "rivers"} <= called
    assert called <= set(theme.schematic_layers(scenario))
    assert scenario.layers["mines"].exactness == "measured"  # GEM's coordinates


SCHEMATIC = {
    '[layers.rail]\npath = "rail.gpkg"\n': (
        '[layers.rail]\npath = "rail.gpkg"\nexactness = "schematic"\nerror_m = 5000\n'
        'source = "drawn by hand"\n'
    ),
    '[layers.roads]\npath = "roads.gpkg"\n': (
        '[layers.roads]\npath = "roads.gpkg"\nexactness = "schematic"\nerror_m = 10000\n'
    ),
    '[layers.mines]\npath = "mines.gpkg"\n': (
        '[layers.mines]\npath = "mines.gpkg"\nexactness = "measured"\n'
    ),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The synthetic region with rail and roads stated schematic, run with its outputs."""
    from conftest import SCENARIO, write_world

    folder = tmp_path_factory.mktemp("world")
    write_world(folder)
    text = SCENARIO
    for old, new in SCHEMATIC.items():
        assert text.count(old) == 1
        text = text.replace(old, new)
    (folder / "scenario.toml").write_text(text, encoding="utf-8")
    return siting.run(folder / "scenario.toml", output_dir=tmp_path_factory.mktemp("out"))


def test_assumptions_csv_run_json_and_report_carry_the_table(written):
    rows = assumptions.of(written)
    out = written.output_dir
    with open(out / "assumptions.csv", encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["key"] for r in table] == [r.key for r in rows]
    assert [r["value"] for r in table] == [r.value for r in rows]
    assert {r["origin"] for r in table} <= set(assumptions.ORIGINS)
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    by_key = {a["key"]: a for a in info["assumptions"]}
    assert by_key["friction.off_road"]["value"] == 4.0
    assert by_key["friction.off_road"]["origin"] == "scenario"
    assert by_key["layers.rail.error_m"]["value"] == 5000.0
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Assumptions" in md
    for r in rows:
        if r.origin != "derived":
            assert f"| {r.key} | {r.value} | {r.units or '–'} | {r.origin} |" in md, r.key


def test_the_map_warns_where_layers_are_schematic(written):
    page = (written.output_dir / "map.html").read_text(encoding="utf-8")
    box = re.search(r"<div id='siting-caveat'[^>]*>(.*?)</div>", page, re.S)
    assert box is not None
    assert "Schematic layers: rail (±5 km), roads (±10 km)" in box.group(1)
    assert "approximate to 10 km" in box.group(1)
    assert "<a href='PROVENANCE.md'>PROVENANCE.md</a>" in box.group(1)
    assert "mines" not in box.group(1)  # measured: no caveat
    # Each schematic layer says so in its name and in its features' tooltips.
    for name in ("Rail (schematic, ±5 km)", "Roads (schematic, ±10 km)"):
        assert json.dumps(name) in page or f'"{name}"' in page, name
    assert page.count('"exactness": "schematic, \\u00b15 km: position approximate"') + page.count(
        '"exactness": "schematic, ±5 km: position approximate"'
    ) == len(written.layers["rail"])
    assert caveat.layer_name(written.scenario, "rivers", "Rivers") == "Rivers"  # not stated


def test_the_report_says_how_exact_each_layer_is(written):
    md = (written.output_dir / "report.md").read_text(encoding="utf-8")
    section = md.split("## How exact the layers are", 1)[1].split("\n## ", 1)[0]
    assert "Schematic layers: rail (±5 km), roads (±10 km)." in section
    assert "| rail | generic | schematic | ±5 km | drawn by hand | 1 |" in section
    assert "| mines | generic | measured | – | – |" in section
    assert "No exactness stated for boundary, stations" in section
    # The warning under the title links to the section.
    top = md.split("\n## ", 1)[0]
    assert "[How exact the layers are](#how-exact-the-layers-are)" in top


def test_qgis_abstracts_of_input_layers_state_their_exactness(written):
    from siting.exports import gpkg
    from siting.exports.qgis import styles as qgis_styles
    from siting.exports.runinfo import RunInfo

    info = RunInfo.of(written)
    tables = gpkg.layers_of(written)
    rail = qgis_styles.vector_style("input_rail", tables["input_rail"], info).abstract
    assert "Exactness: schematic, ±5 km (generalised lines or areas" in rail
    assert "Source: drawn by hand." in rail
    rivers = qgis_styles.vector_style("input_rivers", tables["input_rivers"], info).abstract
    assert "Exactness" not in rivers  # not stated in this scenario
