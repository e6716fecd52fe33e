"""The scenario file: the template runs, keys are validated (in files, ``extends`` chains,
dictionaries, overrides and copies), the schema, template and reference are generated from the
types."""

import dataclasses
import json
import pickle
import re
import subprocess
import sys

import jsonschema
import pytest
from pydantic import ValidationError

import siting
from siting import cli
from siting.config import reference, schema, template
from siting.config.scenario import (
    DEFAULT_SCENARIO,
    SCHEMA_FILE,
    AllocationModel,
    from_dict,
    load,
)
from siting.errors import ScenarioError

from conftest import SCENARIO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def test_default_scenario_loads_with_three_profiles():
    s = load()
    assert s.source == DEFAULT_SCENARIO
    assert s.crs == "EPSG:32645" and s.resolution == 250
    assert set(s.profiles) == {"processing_plant", "coal_chemical_plant", "technopark"}
    for p in s.profiles.values():
        assert sum(p.weights) == pytest.approx(1.0)
    assert s.profiles["technopark"].ahp_cr < 0.1
    # Padding = the largest buffer or search distance: power plants matter up to 40 km away.
    assert s.pad == 40_000
    # A capacitated model without p lets the opening costs decide how many plants.
    assert s.allocation.capacity == 10 and s.allocation.p is None
    assert s.network.speeds == (("federal", 80.0), ("regional", 60.0))
    assert [tuple(r) for r in s.friction.routes] == [("roads", 1.0), ("rail", 0.5)]


@pytest.mark.slow
def test_init_writes_a_template_that_runs(tmp_path):
    path = tmp_path / "mine.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "siting.cli", "init", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"#:schema {SCHEMA_FILE.resolve().as_uri()}"
    scenario = load(path)
    assert scenario.name == "my-scenario"
    assert all(spec.path.is_file() for spec in scenario.layers.values())
    result = siting.run(scenario, resolution=2000, output_dir=tmp_path / "out")
    assert (tmp_path / "out" / "my-scenario" / "map.html").is_file()
    assert set(result.sites["profile"]) == {"processing_plant", "technopark"}
    again = subprocess.run(
        [sys.executable, "-m", "siting.cli", "init", str(path)], capture_output=True, text=True
    )
    assert again.returncode == 2 and "already exists" in again.stderr


def minimal(**changes):
    data = {
        "name": "t",
        "crs": "EPSG:32645",
        "resolution": 100,
        "study_area": "a",
        "layers": {"a": {"path": "a.gpkg"}},
        "profiles": {
            "p": {
                "criteria": [
                    {
                        "name": "d",
                        "kind": "distance",
                        "layer": "a",
                        "standardize": {"fn": "threshold", "value": 5},
                        "weight": 1,
                    }
                ]
            }
        },
    }
    data.update(changes)
    return data


def test_minimal_dict_validates():
    s = from_dict(minimal())
    assert s.profiles["p"].weights == (1.0,)
    assert s.profiles["p"].title == "p" and s.title == "t"
    assert s.resolution == 100.0 and isinstance(s.resolution, float)


@pytest.mark.parametrize(
    ("changes", "message", "fix"),
    [
        ({"resolution": -5}, "resolution = -5 must be > 0", "give a number > 0"),
        ({"resolution": "fine"}, "resolution = 'fine' has the wrong type", "give a number"),
        ({"resolution": True}, "resolution = True has the wrong type", "give a number"),
        ({"resolution": 0.05}, "resolution = 0.05 m is finer than 1 m", "cell size in metres"),
        ({"crs": "EPSG:999999"}, "crs = 'EPSG:999999' is not a known CRS", 'crs = "auto"'),
        ({"crs": "EPSG:4326"}, "crs = 'EPSG:4326' is not projected", 'crs = "auto"'),
        (
            {"crs": "EPSG:2263"},
            "crs = 'EPSG:2263' (NAD83 / New York Long Island (ftUS), US survey foot) is not in "
            "metres",
            "UTM",
        ),
        ({"study_area": "b"}, "study_area = 'b' is not a layer", "or add [layers.b]"),
        ({"name": "../x"}, "name = '../x' cannot be a folder name", "one plain folder name"),
        ({"name": ""}, "name = '' cannot be a folder name", "one plain folder name"),
        ({"name": "/abs"}, "name = '/abs' cannot be a folder name", "one plain folder name"),
        (
            {"layers": {"a": {"path": "a.gpkg", "reader": "shp"}}},
            "layers.a.reader = 'shp' is not one of vector, gem",
            "use one of: vector, gem",
        ),
        (
            {"layers": {"a": {"path": "a.gpkg", "name": "b"}}},
            "unknown scenario key layers.a.name",
            "the name is the table's: [layers.a]",
        ),
        (
            {"models": {"allocation": {"profile": "q", "demand": "a"}}},
            "models.allocation.profile = 'q' is not a profile",
            "use one of: p",
        ),
        (
            {"models": {"allocation": {"profile": "p", "p": 99, "demand": "a"}}},
            "models.allocation.p = 99 must be between 1 and the profile's n_sites (10)",
            "lower p",
        ),
        ({"outputs": {"maps": True}}, "unknown scenario key outputs.maps", "did you mean 'map'?"),
        ({"outputs": 5}, "outputs = 5 has the wrong type", "give a table"),
        (
            {"network": {"layer": "a", "class_field": "k", "speeds": {"federal": -80}}},
            "network.speeds.federal = -80 must be a positive, finite number",
            "federal = 60",
        ),
        (
            {"friction": {"routes": [{"layer": "a", "cost": 1, "speed": 2}]}},
            "unknown scenario key friction.routes[0].speed",
            "known keys here: cost, layer",
        ),
        (
            {"remove": [{"layer": "a", "ids": ["x"], "where": "x > 1"}]},
            "remove[0] needs either where or ids",
            "ids = [",
        ),
    ],
)
def test_errors_name_the_key_and_the_fix(changes, message, fix):
    with pytest.raises(ScenarioError) as caught:
        from_dict(minimal(**changes))
    assert caught.value.message.startswith(message), caught.value.message
    assert fix in caught.value.fix


def test_a_typo_is_reported_before_the_key_it_hides():
    data = minimal()
    data["resolutoin"] = data.pop("resolution")
    with pytest.raises(ScenarioError) as caught:
        from_dict(data)
    assert caught.value.message == (
        "unknown scenario key resolutoin\n  also: missing key resolution"
    )
    assert caught.value.fix == "did you mean 'resolution'?"


def test_every_problem_is_listed_the_first_with_its_fix():
    """siting.run(crs="EPSG:4326", resolution=0.05) used to die allocating 2.3 TiB."""
    with pytest.raises(ScenarioError) as caught:
        siting.run(crs="EPSG:4326", resolution=0.05, write=False)
    lines = caught.value.message.splitlines()
    assert lines[0] == (
        "crs = 'EPSG:4326' is not projected (WGS 84, in degrees): distances, buffers and the "
        "resolution are in metres"
    )
    assert lines[1] == "  also: resolution = 0.05 m is finer than 1 m"
    assert 'crs = "auto"' in caught.value.fix


def test_criterion_errors():
    bad = minimal()
    crit = bad["profiles"]["p"]["criteria"][0]
    key = "profiles.p.criteria[0]"
    cases = [
        ({"fn": "linear", "low": 10, "high": 5}, f"{key}.standardize.high = 5 must be greater"),
        ({"fn": "linear", "low": 0}, f"{key}.standardize.low and {key}.standardize.high go"),
        ({"fn": "sigmoid", "midpoint": 3}, f"missing key {key}.standardize.spread"),
        ({"fn": "linear", "value": 3}, f"{key}.standardize.value does not belong to fn = 'linear'"),
        ({"fn": "target", "optimum": 3, "spread": 0}, f"{key}.standardize.spread = 0 must be > 0"),
    ]
    for standardize, message in cases:
        crit["standardize"] = standardize
        with pytest.raises(ScenarioError) as caught:
            from_dict(bad)
        assert caught.value.message == message or caught.value.message.startswith(message)
        assert "also:" not in caught.value.message  # the criteria list is not "empty" as well
    crit["standardize"] = {"fn": "linear"}
    crit["kind"] = "within_radius"
    with pytest.raises(ScenarioError, match=re.escape(f"{key}.radius_m is required")):
        from_dict(bad)
    crit["kind"] = "distance"
    crit["weight"] = -1
    with pytest.raises(ScenarioError, match=re.escape(f"{key}.weight = -1 must be >= 0")):
        from_dict(bad)


def test_overrides():
    s = load().with_overrides(resolution=1000, name="coarse", output_dir="/tmp/x")
    assert s.resolution == 1000 and s.name == "coarse"
    assert str(s.output_dir) == "/tmp/x/coarse"
    with pytest.raises(ScenarioError, match="unknown override 'cell'"):
        load().with_overrides(cell=5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "../escape"}, "name = '../escape' cannot be a folder name"),
        ({"name": ""}, "name = '' cannot be a folder name"),
        ({"name": "/abs"}, "name = '/abs' cannot be a folder name"),
        ({"resolution": 0}, "resolution = 0 must be > 0"),
        ({"resolution": "fine"}, "resolution = 'fine' has the wrong type"),
        ({"crs": "EPSG:4326"}, "crs = 'EPSG:4326' is not projected"),
        ({"output_dir": 5}, "outputs.dir = 5 has the wrong type"),
        ({"title": 3}, "title = 3 has the wrong type"),
    ],
)
def test_overrides_are_validated_as_the_file_is(overrides, message):
    with pytest.raises(ScenarioError) as caught:
        load().with_overrides(**overrides)
    assert caught.value.message.startswith(message)


def test_copies_are_validated_too():
    s = load()
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        dataclasses.replace(s.allocation, p=0)
    # Across tables: the scenario checks the model's profile when it is copied (a ValueError:
    # pydantic's, which holds the ScenarioError).
    with pytest.raises(ValueError, match=r"models\.allocation\.profile = 'nope' is not a"):
        dataclasses.replace(s, allocation=AllocationModel("nope"))
    assert AllocationModel("processing_plant", capacity=12.0).p is None  # as in the file
    assert AllocationModel("processing_plant").p == 4


def test_scenarios_pickle_for_the_workers_and_the_cache():
    s = load()
    assert pickle.loads(pickle.dumps(s)) == s


def test_extends_in_a_dictionary_reads_the_base_from_base_dir(tmp_path):
    s = from_dict(
        {"extends": "scenario.toml", "name": "w", "resolution": 1000},
        base_dir=DEFAULT_SCENARIO.parent,
    )
    base = load()
    assert s.extends == DEFAULT_SCENARIO and s.name == "w" and s.resolution == 1000
    assert s.title == "w"  # a what-if named anew is not titled as its base
    assert s.layers == base.layers and s.profiles == base.profiles


def test_one_criterion_name_means_one_measurement():
    data = minimal()
    other = {
        "name": "d",
        "kind": "distance",
        "layer": "a",
        "where": "x > 1",
        "standardize": {"fn": "threshold", "value": 5},
        "weight": 1,
    }
    data["profiles"]["q"] = {"criteria": [other]}
    with pytest.raises(ScenarioError, match="criterion 'd' measures something else"):
        from_dict(data)
    other.pop("where")
    other["standardize"] = {"fn": "threshold", "value": 50}  # same measurement, other curve: fine
    assert from_dict(data).profiles["q"].criteria[0].standardize.value == 50


def test_grid_too_large_for_the_study_area_is_refused_with_the_finest_resolution():
    # A 500 km square padded by 40 km: 580 km a side. At 2 m that is 290,000² cells; with memory
    # to spare (a petabyte) the cap is 5e8 cells, and the finest resolution under it, one more
    # row and column for the snapping included, is ⌈580,000 / √5e8⌉ = ⌈25.94⌉ = 26 m.
    bounds = (0.0, 0.0, 500_000.0, 500_000.0)
    plenty = 10**15
    with pytest.raises(ScenarioError) as caught:
        schema.check_grid(bounds, 40_000.0, 2.0, available=plenty)
    assert caught.value.message.startswith("resolution = 2 m makes a grid of 290,000 × 290,000")
    assert caught.value.message.endswith("more than the 500,000,000 a run can hold")
    assert caught.value.fix == "use resolution = 26 or more (metres)"
    # 22,308² = 4.98e8 cells (22,309² with the snapping): fits; 23,200² = 5.38e8 does not.
    need = schema.check_grid(bounds, 40_000.0, 26.0, available=plenty)
    assert need == 22_308**2 * 16 + 1e9  # 16 bytes per cell by default, and the process's 1 GB
    with pytest.raises(ScenarioError):
        schema.check_grid(bounds, 40_000.0, 25.0, available=plenty)


# --- The schema, and what is generated from it -------------------------------------------------


def test_schema_command_prints_the_shipped_schema(capsys):
    assert cli.main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == SCHEMA_FILE.read_text(encoding="utf-8")
    jsonschema.Draft7Validator.check_schema(json.loads(printed))


def test_embedded_scenario_points_at_the_shipped_schema():
    first = DEFAULT_SCENARIO.read_text(encoding="utf-8").splitlines()[0]
    assert first == "#:schema ../scenario.schema.json"
    assert (DEFAULT_SCENARIO.parent / "../scenario.schema.json").resolve() == SCHEMA_FILE


def test_editors_accept_every_scenario_and_flag_typos():
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    files = {
        "kuzbass": DEFAULT_SCENARIO.read_text(encoding="utf-8"),
        "template": template.render(),
        "synthetic": SCENARIO,
        "what-if": 'extends = "kuzbass"\nname = "w"\n[[profiles.technopark.criteria]]\n'
        'name = "road"\ndrop = true\n',
    }
    for name, text in files.items():
        errors = [e.message for e in validator.iter_errors(tomllib.loads(text))]
        assert errors == [], name
    typo = tomllib.loads(SCENARIO.replace("min_area_ha = 10", "min_area = 10", 1))
    (error,) = validator.iter_errors(typo)
    assert list(error.path) == ["profiles", "processing_plant"] and "'min_area'" in error.message
    bad = tomllib.loads(SCENARIO.replace("p = 2", 'p = 2\nmethod = "simplex"'))
    (error,) = validator.iter_errors(bad)
    assert list(error.path) == ["models", "allocation", "method"]


def test_reference_in_the_docs_is_generated_from_the_schema():
    assert reference.REFERENCE.read_text(encoding="utf-8") == reference.markdown()
    text = reference.markdown()
    row = "| `n_sites` | integer, ≥ 1 | `10` | How many ranked sites to propose. |"
    assert row in text
    assert '| `method` | `"exact"` \\| `"milp"` \\| `"heuristic"` | `"exact"` |' in text


def test_template_lists_every_key_with_the_schemas_default():
    text = template.render()
    doc = schema.document_schema()
    for table in re.findall(r"^#@keys (\w+)$", template.TEMPLATE.read_text(), re.MULTILINE):
        node = doc if table == "ScenarioFile" else doc["$defs"][table]
        lines = template.key_lines(table).splitlines()
        assert all(line in text for line in lines)
        shown = {}
        for line in lines:
            match = re.match(r"^# (\w+) = (.*?)(?:\s+# .*)?$", line)
            if match:
                shown[match[1]] = match[2]
        sections = {"layers", "terrain", "friction", "network", "haul", "profiles", "models"}
        sections |= {"add", "remove", "update", "outputs", "sensitivity"}
        for name, prop in node["properties"].items():
            if table == "ScenarioFile" and name in sections:
                assert name not in shown  # the file's sections: each has its own heading
            elif prop.get("default") is None:
                assert shown[name] == "…", name
            else:
                assert tomllib.loads(f"x = {shown[name]}")["x"] == prop["default"], name
    tables = set(re.findall(r"^#@keys (\w+)$", template.TEMPLATE.read_text(), re.MULTILINE))
    assert tables == {*doc["$defs"], "ScenarioFile"} - {"Models"}
