"""The QGIS outputs opened in a real QGIS (Debian's QGIS 3.22, headless, through PyQGIS)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio

import siting
from siting.exports import gpkg
from siting.exports.qgis.styles import vector_style
from siting.exports.runinfo import RunInfo

from clitools import assert_user_error, cli_here

ROOT = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).with_name("qgis_project_probe.py")
QGIS_PYTHON = "/usr/bin/python3"  # PyQGIS lives in Debian's own Python


def probe(project: Path, png: Path) -> dict:
    check = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True)
    assert check.returncode == 0, (
        "PyQGIS is missing: apt-get install python3-qgis (./install.sh test does it)"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [QGIS_PYTHON, str(PROBE), str(project), str(png)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return siting.run(resolution=2000, output_dir=tmp_path_factory.mktemp("out"))


def expected(result) -> tuple[dict, dict]:
    folder = result.output_dir
    vectors = {}
    for table in gpkg.layers_of(result):
        gdf = gpd.read_file(folder / "siting.gpkg", layer=table)
        vectors[table] = {
            "features": len(gdf),
            "renderer": vector_style(table, gdf, RunInfo.of(result)).renderer,
        }
    rasters = {}
    for tif in [*folder.glob("*.tif"), *folder.glob("criteria/*.tif")]:
        with rasterio.open(tif) as src:
            data = src.read(1, masked=True).compressed().astype(float)
        rasters[tif.name] = {"min": data.min(), "max": data.max(), "mean": data.mean()}
    return vectors, rasters


def check_project(report: dict, result, vectors: dict, rasters: dict) -> None:
    assert report["read"]
    assert report["crs"] == result.scenario.crs
    assert report["title"] == result.scenario.title
    assert report["abstract"] == result.scenario.description
    assert report["groups"] == [
        "Proposals",
        "Technoparks (covering)",
        "Constraints",
        "Inputs",
        "Suitability",
        "Criteria",
    ]
    layers = report["layers"]
    assert set(vectors) | set(rasters) == set(layers)
    for name, layer in layers.items():
        assert layer["valid"], name
        assert layer["crs"] == result.scenario.crs, name
        assert layer["abstract"], name
        assert not layer["source"].startswith("/") or Path(layer["source"].split("|")[0]).exists()
    for table, want in vectors.items():
        got = layers[table]
        assert got["features"] == want["features"], table
        assert got["renderer"] == want["renderer"], table
    assert layers["proposed_sites"]["renderer"] == "categorizedSymbol"
    assert layers["proposed_sites"]["labels"]
    for name, want in rasters.items():
        got = layers[name]
        assert got["renderer"] == "singlebandpseudocolor", name
        np.testing.assert_allclose(
            [got["min"], got["max"], got["mean"]],
            [want["min"], want["max"], want["mean"]],
            rtol=1e-5,
        )
    assert report["render"]["colours"] > 20
    assert 0.05 < report["render"]["painted_share"] < 0.99
    check_model_layers(report, result)


def check_model_layers(report: dict, result) -> None:
    """The models' tables load in their groups with every row: plants and lines, the Pareto
    sweep as a table without geometry, the covering's sites and demand, the snapped Weber
    points."""
    layers, tree = report["layers"], report["tree"]
    a, c = result.allocation, result.covering
    assert layers["allocation_plants"]["features"] == len(a.plants)
    assert {"capacity", "utilisation", "weight_x_km"} <= set(layers["allocation_plants"]["fields"])
    assert {"km", "weight_x_km", "share"} <= set(layers["allocation_lines"]["fields"])
    assert "cost" not in layers["allocation_lines"]["fields"]
    pareto = layers["allocation_pareto"]
    assert pareto["spatial"] is False and pareto["renderer"] is None
    assert pareto["features"] == len(a.pareto)
    assert set(a.pareto.columns) <= set(pareto["fields"])
    assert layers["covering_sites"]["features"] == len(c.sites)
    assert layers["covering_sites"]["renderer"] == "categorizedSymbol"
    assert layers["covering_demand"]["features"] == len(c.demand)
    assert layers["cluster_weber_snapped"]["features"] == len(result.clusters)
    assert tree["Technoparks (covering)"] == [
        "Technoparks: existing and new",
        "Demand reached in time, or not",
    ]
    proposals = tree["Proposals"]
    for name in (
        "Plants (location-allocation)",
        "Haul routes: mine → plant",
        "Growth-pole Weber points, snapped to eligible land",
    ):
        assert name in proposals, name
    # The attribute tables come after every drawn layer.
    assert set(proposals[-2:]) == {
        "Allocation: Pareto front (table)",
        "Robustness: the draws (table)",
    }


@pytest.mark.qgis
def test_project_opens_in_qgis_and_survives_a_move(run, tmp_path):
    vectors, rasters = expected(run)
    shots = ROOT / "outputs" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    report = probe(run.output_dir / "siting.qgz", shots / "qgis_project.png")
    check_project(report, run, vectors, rasters)
    moved = tmp_path / "elsewhere" / "kuzbass-copy"
    shutil.copytree(run.output_dir, moved)
    shutil.rmtree(run.output_dir)
    try:
        again = probe(moved / "siting.qgz", tmp_path / "moved.png")
        check_project(again, run, vectors, rasters)
        assert all(str(moved) in layer["source"] for layer in again["layers"].values())
    finally:
        shutil.copytree(moved, run.output_dir)


def test_gpkg_layers_open_styled_without_the_project(synthetic_run):
    import sqlite3

    # No QGIS needed: the synthetic region's outputs (conftest) have every kind of table.
    run = synthetic_run

    with sqlite3.connect(run.output_dir / "siting.gpkg") as db:
        rows = db.execute(
            "SELECT f_table_name, useAsDefault, styleQML, styleSLD, description FROM layer_styles"
        ).fetchall()
        described = dict(db.execute("SELECT table_name, description FROM gpkg_contents"))
    tables = {name for name, _ in pyogrio.list_layers(run.output_dir / "siting.gpkg")}
    assert {r[0] for r in rows} == tables - {"layer_styles"}
    assert all(
        r[1] == 1 and r[2].lstrip().startswith("<!DOCTYPE qgis") and "StyledLayer" in r[3]
        for r in rows
    )
    assert all(described[t] for t in tables - {"layer_styles"})


def test_rasters_are_cloud_optimized_with_units(synthetic_run):
    run = synthetic_run
    for tif in [*run.output_dir.glob("*.tif"), *run.output_dir.glob("criteria/*.tif")]:
        with rasterio.open(tif) as src:
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG", tif.name
            assert src.block_shapes[0] == (512, 512) or max(src.shape) <= 512
            assert src.compression.name.lower() == "deflate"
            assert src.nodata == -9999.0
            assert src.descriptions[0]
        assert tif.with_suffix(".qml").is_file()


@pytest.mark.qgis
def test_export_qgis_rebuilds_an_older_folder(run, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(run.output_dir, old)
    for stale in [old / "siting.qgz", old / "suitability_technopark.tif", *old.rglob("*.qml")]:
        stale.unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "siting.cli", "export", "qgis", str(old)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "left out what the folder lacks: suitability_technopark.tif" in proc.stderr
    report = probe(old / "siting.qgz", tmp_path / "old.png")
    assert report["read"] and all(layer["valid"] for layer in report["layers"].values())
    assert "suitability_technopark.tif" not in report["layers"]
    assert "suitability_processing_plant.tif" in report["layers"]


def test_export_qgis_on_a_folder_that_is_not_an_output(tmp_path):
    assert_user_error(cli_here("export", "qgis", tmp_path), "has no run.json")
