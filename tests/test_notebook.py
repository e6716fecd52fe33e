"""The notebooks run top to bottom: the walkthrough of the default scenario reports its sites,
the what-if notebook its comparison."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import nbformat
import pytest

import siting

nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK = NOTEBOOKS / "kuzbass_default_run.ipynb"
WHATIF = NOTEBOOKS / "whatif_rail_spur.ipynb"
RESOLUTION = 1000


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(
        out.get("text", "")
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )


@pytest.mark.parametrize("path", [NOTEBOOK, WHATIF], ids=lambda p: p.stem)
def test_saved_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def _execute(path: Path, monkeypatch, tmp_path) -> str:
    """Run a notebook in a real kernel; the last code cell's stdout."""
    monkeypatch.setenv("SITING_NOTEBOOK_RESOLUTION", str(RESOLUTION))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook writes its outputs to mkdtemp()
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError if any cell fails

    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code_cells:
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert not errors, errors
    return _stdout(code_cells[-1])


@pytest.mark.notebook
def test_notebook_runs_and_proposes_the_scenarios_sites(monkeypatch, tmp_path):
    last = _execute(NOTEBOOK, monkeypatch, tmp_path)

    resolution = re.search(r"^resolution_m=(\S+)$", last, re.MULTILINE)
    assert resolution, last
    assert float(resolution.group(1)) == RESOLUTION  # the kernel saw the environment

    line = re.search(r"^sites: (.*)$", last, re.MULTILINE)
    assert line, last
    counts = {k: int(v) for k, v in (item.split("=") for item in line.group(1).split())}
    scenario = siting.load()
    assert counts == {name: p.n_sites for name, p in scenario.profiles.items()}

    plants = re.search(r"^plants: (\d+)$", last, re.MULTILINE)
    assert plants, last
    # The capacitated default lets the opening cost choose: enough plants for all the output.
    mines = gpd.read_file(siting.config.scenario.LAYERS / "kuzbass" / "mines.geojson")
    output = mines.loc[mines["status"] == "operating", "output_mtpa"].sum()
    # Existing plants (expanded or not) and new ones: their built capacity holds all the output.
    capacity = re.search(r"^capacity: (\S+)$", last, re.MULTILINE)
    assert capacity, last
    assert int(plants.group(1)) >= 1
    assert float(capacity.group(1)) >= output * (1 - 1e-5)


@pytest.mark.notebook
def test_whatif_notebook_compares_the_spur_with_the_default(monkeypatch, tmp_path):
    last = _execute(WHATIF, monkeypatch, tmp_path)
    values = dict(re.findall(r"^(\w+)=(.*)$", last, re.MULTILINE))
    assert float(values["resolution_m"]) == RESOLUTION
    folder = Path(values["folder"])
    summary = json.loads((folder / "comparison.json").read_text())
    for side in ("a", "b"):
        run = json.loads((Path(summary[side]["folder"]) / "run.json").read_text())
        transport = float(values[f"transport_{side}"])
        assert transport == pytest.approx(run["allocation"]["transport"], abs=1e-3)
    assert summary["b"]["name"] == "kuzbass_spur"
    assert int(values["switches"]) == summary["switches"] >= 1  # Taldinsky at least
