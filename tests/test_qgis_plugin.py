"""siting's QGIS Processing provider: installed by ``siting qgis-plugin install`` (or zipped
for QGIS's plugin manager), loaded by real headless QGIS 3.22 (Debian's PyQGIS), where its "Run
scenario" runs the installed ``siting`` command and loads the styled outputs."""

import configparser
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pyogrio
import pytest

from siting import qgis_plugin

from clitools import assert_user_error, cli_here

PROBE = Path(__file__).with_name("qgis_plugin_probe.py")
QGIS_PYTHON = "/usr/bin/python3"  # PyQGIS lives in Debian's own Python
PLUGIN_FILES = {"__init__.py", "algorithms.py", "metadata.txt", "provider.py"}
# This environment's siting command, which the installed plugin calls
COMMAND = Path(sys.executable).parent / "siting"


def test_install_writes_the_plugin_and_the_command_and_replaces_only_itself(tmp_path):
    plugins = tmp_path / "profile" / "python" / "plugins"
    proc = cli_here("qgis-plugin", "install", "--plugins-dir", plugins)
    assert proc.returncode == 0, proc.stderr
    folder = plugins / "siting_processing"
    assert f"installed {folder}" in proc.stdout
    assert {p.name for p in folder.iterdir()} == PLUGIN_FILES | {"siting_command.txt"}
    assert (folder / "siting_command.txt").read_text().strip() == str(COMMAND)
    metadata = configparser.ConfigParser()
    metadata.read(folder / "metadata.txt")
    assert metadata["general"]["name"] == "siting"
    assert metadata["general"]["hasProcessingProvider"] == "yes"
    assert metadata["general"]["qgisMinimumVersion"] == "3.22"
    # Installed again, it replaces its own folder whole, and leaves no staging folder
    (folder / "stale.py").write_text("")
    assert cli_here("qgis-plugin", "install", "--plugins-dir", plugins).returncode == 0
    assert {p.name for p in folder.iterdir()} == PLUGIN_FILES | {"siting_command.txt"}
    assert [p.name for p in plugins.iterdir()] == ["siting_processing"]


def test_install_refuses_a_folder_that_is_not_the_plugin(tmp_path):
    foreign = tmp_path / "siting_processing"
    foreign.mkdir()
    (foreign / "metadata.txt").write_text("[general]\nname=someone else's\n")
    proc = cli_here("qgis-plugin", "install", "--plugins-dir", tmp_path)
    assert_user_error(proc, f"{foreign} exists and is not siting's QGIS plugin")
    assert (foreign / "metadata.txt").read_text() == "[general]\nname=someone else's\n"
    assert [p.name for p in foreign.iterdir()] == ["metadata.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["siting_processing"]
    a_file = tmp_path / "plugins.txt"
    a_file.write_text("")
    proc = cli_here("qgis-plugin", "install", "--plugins-dir", a_file)
    assert_user_error(proc, "it is a file, not a folder")


def test_default_plugins_dir_is_the_default_profile():
    tail = ("QGIS", "QGIS3", "profiles", "default", "python", "plugins")
    path = qgis_plugin.default_plugins_dir()
    assert path.parts[-6:] == tail
    if sys.platform.startswith("linux"):
        data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        assert path == Path(data).joinpath(*tail)


def test_zip_holds_the_plugin_folder_for_the_plugin_manager(tmp_path):
    out = tmp_path / "siting_qgis.zip"
    proc = cli_here("qgis-plugin", "zip", out)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        command = z.read("siting_processing/siting_command.txt").decode().strip()
    expected = PLUGIN_FILES | {"siting_command.txt"}
    assert names == {f"siting_processing/{n}" for n in expected}
    assert command == str(COMMAND)
    assert_user_error(cli_here("qgis-plugin", "zip", tmp_path / "x.tar"), "must end in .zip")
    assert_user_error(cli_here("qgis-plugin", "zip", tmp_path / "no" / "x.zip"), "does not exist")


@pytest.mark.qgis
def test_qgis_loads_the_provider_and_runs_a_scenario(tmp_path):
    check = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True)
    assert check.returncode == 0, (
        "PyQGIS is missing: apt-get install python3-qgis (./install.sh test does it)"
    )
    plugins = tmp_path / "plugins"
    qgis_plugin.install(plugins)
    out = tmp_path / "out"
    bad = tmp_path / "bad.toml"
    bad.write_text("[nonsense\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("SITING_COMMAND", None)  # the plugin finds the command written at install
    proc = subprocess.run(
        [QGIS_PYTHON, str(PROBE), str(plugins), str(out), str(bad)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["loaded"]
    assert report["plugin_file"] == str(plugins / "siting_processing" / "__init__.py")
    algs = report["algorithms"]
    assert set(algs) == {"siting:run", "siting:compare", "siting:sensitivity"}
    assert [algs[a]["name"] for a in sorted(algs)] == [
        "Compare runs",
        "Run scenario",
        "Sensitivity",
    ]

    def params(alg: str) -> dict[str, tuple[str, bool]]:
        return {k: (v["type"], v["optional"]) for k, v in algs[alg]["parameters"].items()}

    common = {"OUTPUT_DIR": ("folderDestination", False), "LOAD": ("boolean", False)}
    assert params("siting:run") == {
        "SCENARIO": ("file", True),
        "RESOLUTION": ("number", True),
        "NAME": ("string", True),
        **common,
    }
    assert params("siting:compare") == {
        "A": ("file", False),
        "B": ("file", False),
        "RESOLUTION": ("number", True),
        "MATCH_M": ("number", False),
        **common,
    }
    assert params("siting:sensitivity") == {
        "SCENARIO": ("file", True),
        "PROFILE": ("string", False),
        "DRAWS": ("number", False),
        "RESOLUTION": ("number", True),
        "SEED": ("number", False),
        **common,
    }
    run = out / "plugin_2km"
    gpkg = run / "siting.gpkg"
    assert gpkg.is_file()
    assert report["results"] == {"FOLDER": str(run), "GPKG": str(gpkg)}
    # siting's progress was streamed to the feedback, line by line, up to its list of sites
    lines = report["lines"]
    assert "[1/8] layers …" in lines
    assert "      193 × 300 cells of 2000 m (0.1 M)" in lines
    assert f"Proposed sites (outputs in {run}):" in lines
    # Every layer of the GeoPackage is in the project, in one group, with its stored style
    tables = [t for t in pyogrio.list_layers(gpkg)[:, 0] if t != "layer_styles"]
    layers = report["layers"]
    assert list(layers) == tables
    for table, layer in layers.items():
        assert layer["group"] == "siting: plugin_2km"
        assert layer["valid"]
        assert layer["source"] == f"{gpkg}|layername={table}"
        assert layer["features"] == pyogrio.read_info(gpkg, layer=table)["features"], table
    styles = pyogrio.read_dataframe(gpkg, layer="layer_styles", read_geometry=False)
    assert len(styles) >= 20
    for table, qml in zip(styles["f_table_name"], styles["styleQML"], strict=True):
        stored = re.search(r'<renderer-v2 [^>]*type="(\w+)"', qml)
        # a table without geometry (allocation_pareto) has a style without a renderer
        assert layers[table]["renderer"] == (stored and stored.group(1)), table
    assert {layers[t]["renderer"] for t in styles["f_table_name"]} >= {
        "categorizedSymbol",
        "singleSymbol",
    }
    # A user error of siting fails the algorithm with siting's own message and fix
    assert report["bad"].startswith(f"siting: error: {bad}: not valid TOML")
    assert "\n  fix: fix the syntax at that line" in report["bad"]
    assert f"ERROR siting: error: {bad}: not valid TOML" in report["bad_lines"][0]
    # Cancel stops siting: the algorithm fails, and no folder of that run was written
    assert report["cancelled"] == "siting was cancelled (its previous outputs are kept)"
    assert report["cancelled_lines"][-1] == "[1/8] layers …"
    assert sorted(p.name for p in out.iterdir()) == [".cache", "plugin_2km"]
