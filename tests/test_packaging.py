"""A regular (non-editable) install carries the embedded layers and runs the default scenario."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # builds and installs a wheel, then runs the default in it


def test_wheel_ships_the_layers_and_runs_the_default(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    target = tmp_path / "site"
    wheel = next(wheels.glob("siting-*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "siting" / "data" / "kuzbass" / "mines.geojson").is_file()
    assert (target / "siting" / "data" / "kuzbass" / "PROVENANCE.md").is_file()
    # The national scenario and QGIS's plugin ship too (siting run russia, siting qgis-plugin).
    for name in ("scenario.toml", "basins.geojson", "mines.geojson", "PROVENANCE.md"):
        assert (target / "siting" / "data" / "russia" / name).is_file(), name
    plugin = target / "siting" / "exports" / "qgis" / "plugin"
    for name in ("metadata.txt", "__init__.py", "provider.py", "algorithms.py"):
        assert (plugin / name).is_file(), name
    assert (target / "siting" / "data" / "scenario.schema.json").is_file()
    assert (target / "siting" / "config" / "templates" / "scenario.toml").is_file()
    static = target / "siting" / "exports" / "webmap" / "static"
    assert (static / "leaflet" / "leaflet.js").is_file()
    assert (static / "leaflet" / "images" / "layers.png").is_file()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import siting, siting.config.scenario as s; print(s.DEFAULT_SCENARIO); "
        "r = siting.run(resolution=3000, write=False); "
        "print((r.sites['origin'] == 'suitability').sum())"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    scenario_path, n_sites = proc.stdout.split()
    assert Path(scenario_path) == target / "siting" / "data" / "kuzbass" / "scenario.toml"
    assert int(n_sites) == 12 + 6 + 8  # the three profiles' n_sites
