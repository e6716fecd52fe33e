"""The scenario file: the template runs, keys are validated, overrides apply."""

import subprocess
import sys

import pytest

import siting
from siting.config.scenario import DEFAULT_SCENARIO, from_dict, load
from siting.errors import ScenarioError


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


def test_init_writes_a_template_that_runs(tmp_path):
    path = tmp_path / "mine.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "siting.cli", "init", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
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


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resolution": -5}, "resolution = -5.0 must be a positive number"),
        ({"resolution": "fine"}, "resolution = 'fine' has the wrong type"),
        ({"crs": "EPSG:999999"}, "is not a known CRS"),
        ({"study_area": "b"}, "study_area = 'b' is not a layer"),
        ({"name": "../x"}, "cannot be a folder name"),
        ({"layers": {"a": {"path": "a.gpkg", "reader": "shp"}}}, "reader = 'shp' is not one of"),
        (
            {"models": {"allocation": {"profile": "q", "demand": "a"}}},
            "profile = 'q' is not a profile",
        ),
        (
            {"models": {"allocation": {"profile": "p", "p": 99, "demand": "a"}}},
            "must be between 1 and the profile's n_sites",
        ),
        ({"outputs": {"maps": True}}, "unknown scenario key outputs.maps"),
    ],
)
def test_errors_name_the_key(changes, message):
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace("'", "'")):
        from_dict(minimal(**changes))


def test_criterion_errors():
    bad = minimal()
    crit = bad["profiles"]["p"]["criteria"][0]
    crit["standardize"] = {"fn": "linear", "low": 10, "high": 5}
    with pytest.raises(ScenarioError, match="high must be greater than"):
        from_dict(bad)
    crit["standardize"] = {"fn": "linear", "low": 0}
    with pytest.raises(ScenarioError, match="go together"):
        from_dict(bad)
    crit["standardize"] = {"fn": "linear"}
    crit["kind"] = "within_radius"
    with pytest.raises(ScenarioError, match="radius_m is required"):
        from_dict(bad)


def test_overrides():
    s = load().with_overrides(resolution=1000, name="coarse", output_dir="/tmp/x")
    assert s.resolution == 1000 and s.name == "coarse"
    assert str(s.output_dir) == "/tmp/x/coarse"
    with pytest.raises(ScenarioError, match="unknown override 'cell'"):
        load().with_overrides(cell=5)


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
