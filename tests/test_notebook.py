"""The walkthrough notebook runs top to bottom on the default scenario and reports its sites."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import nbformat
import pytest

import siting

nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "kuzbass_default_run.ipynb"
RESOLUTION = 1000


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(
        out.get("text", "")
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )


def test_saved_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_notebook_runs_and_proposes_the_scenarios_sites(monkeypatch, tmp_path):
    monkeypatch.setenv("SITING_NOTEBOOK_RESOLUTION", str(RESOLUTION))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook writes its outputs to mkdtemp()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError if any cell fails

    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code_cells:
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert not errors, errors
    last = _stdout(code_cells[-1])

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
    mines = gpd.read_file(siting.scenario.LAYERS / "kuzbass" / "mines.geojson")
    output = mines.loc[mines["status"] == "operating", "output_mtpa"].sum()
    n = int(plants.group(1))
    assert n * scenario.allocation.capacity >= output
    assert n <= scenario.profiles[scenario.allocation.profile].n_sites
