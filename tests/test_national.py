"""National runs on a real Dask ``LocalCluster``: a scenario split into basins (three real basins
of the embedded Russia layers), each basin a task, merged into one output; batches and weight
sensitivity on the same cluster; and the cluster options' errors."""

from __future__ import annotations

import json
import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

import siting
from siting.config.scenario import load
from siting.errors import ClusterError, LayerNotFoundError
from siting.pipeline.stages import run
from siting.scale.basins import basin_scenario, basins_of, write_areas
from siting.scale.cluster import connect
from siting.scale.national import is_national, run_national
from siting.whatif import sensitivity
from siting.whatif.batch import run_batch

from clitools import cli_here

#: Two basins that run (Khakassia: 9 mines; Komi: 5) and one that cannot (Kamchatka: no town
#: of 15,000 within 50 km of its mine).
CHOSEN = ("khakassia", "komi", "kamchatka")


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """A national scenario of three real Russian basins at 2 km (extends the embedded one)."""
    folder = tmp_path_factory.mktemp("national")
    chosen = [b for b in basins_of(load("russia")) if b.name in CHOSEN]
    assert sorted(b.name for b in chosen) == sorted(CHOSEN)
    write_areas(chosen, folder / "basins.geojson")
    path = folder / "mini.toml"
    path.write_text(
        'extends = "russia"\nname = "mini"\nresolution = 2000\n\n'
        '[layers.basins]\npath = "basins.geojson"\n\n'
        "[outputs]\nrasters = false\nqgis = false\n",
        encoding="utf-8",
    )
    return path


def test_a_scenario_whose_study_area_names_basins_is_national(national, world):
    assert is_national(load(national))
    assert is_national(load("russia"))
    assert not is_national(load(world / "scenario.toml"))
    assert not is_national(load())  # Kuzbass: one region


def test_a_national_run_on_a_local_cluster_equals_each_basin_run_alone(national, client, tmp_path):
    scenario = load(national).with_overrides(output_dir=tmp_path)
    result = run_national(scenario, client=client, cache=False)
    assert result.workers == "a LocalCluster of 2 workers"
    # In the order of the areas file, whatever order the cluster ran them in.
    assert [b.name for b in result.basins] == [b.name for b in basins_of(scenario)]
    assert {b.name for b in result.basins} == set(CHOSEN)
    by_name = {b.name: b for b in result.basins}
    assert by_name["kamchatka"].status == "skipped"
    assert "settlements" in by_name["kamchatka"].message
    for name in ("khakassia", "komi"):
        basin = by_name[name]
        assert basin.status == "ok" and len(basin.sites)
        alone = run(basin_scenario(scenario, _basin(scenario, name)), write=False, cache=False)
        expected = alone.sites.to_crs("EPSG:4326")
        got = basin.sites
        assert got["site_id"].tolist() == expected["site_id"].tolist()
        assert got["profile"].tolist() == expected["profile"].tolist()
        np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-12)
        np.testing.assert_allclose(got.geometry.x, expected.geometry.x, atol=1e-9)
        np.testing.assert_allclose(got.geometry.y, expected.geometry.y, atol=1e-9)
        # Every site lies in its own basin's study area.
        area = basin.area
        assert shapely.contains(area, got.geometry.values).all()


def _basin(scenario, name):
    return next(b for b in basins_of(scenario) if b.name == name)


def test_the_national_outputs_merge_the_basins_with_a_basin_column(national, client, tmp_path):
    scenario = load(national).with_overrides(output_dir=tmp_path)
    result = run_national(scenario, client=client, cache=False)
    out = tmp_path / "mini"
    assert result.output_dir == out
    gpkg = out / "siting.gpkg"
    tables = dict(pyogrio.list_layers(gpkg))
    assert {"basins", "proposed_sites", "candidate_patches", "input_mines"} <= set(tables)
    basins = gpd.read_file(gpkg, layer="basins")
    assert sorted(basins["basin"]) == sorted(CHOSEN)
    status = dict(zip(basins["basin"], basins["status"], strict=True))
    assert status == {"khakassia": "ok", "komi": "ok", "kamchatka": "skipped"}
    ok = [b for b in result.basins if b.status == "ok"]
    for name, kind in tables.items():
        if name.startswith("input_") or name == "layer_styles":
            continue
        table = (
            pyogrio.read_dataframe(gpkg, layer=name, read_geometry=False)
            if kind is None
            else gpd.read_file(gpkg, layer=name)
        )
        assert "basin" in table.columns, name
        if kind is not None:
            assert table.crs.to_epsg() == 4326, name
    # The merged sites are each basin's own GeoPackage's, row for row.
    sites = gpd.read_file(gpkg, layer="proposed_sites")
    for b in ok:
        own = gpd.read_file(out / b.folder / "siting.gpkg", layer="proposed_sites")
        mine = sites[sites["basin"] == b.name]
        assert mine["site_id"].tolist() == own["site_id"].tolist()
        area = basins.loc[basins["basin"] == b.name].geometry.iloc[0]
        assert shapely.contains(area, mine.geometry.values).all()
    info = json.loads((out / "run.json").read_text())
    assert info["kind"] == "national" and info["sites"] == len(sites)
    assert {b["name"]: b["status"] for b in info["basins"]} == status
    report = (out / "report.md").read_text()
    assert "## Skipped basins" in report
    skipped = report.split("## Skipped basins", 1)[1]
    assert "Kamchatka" in skipped and "settlements" in skipped
    page = (out / "map.html").read_text()
    assert '<script src="http' not in page and "<script src='http" not in page
    for name in CHOSEN:
        assert name in page
    assert (out / "basins" / "mini-khakassia" / "map.html").is_file()


def test_the_command_runs_a_national_scenario_on_workers(national, tmp_path):
    done = cli_here("run", national, "--workers", "2", "--output-dir", tmp_path, "--no-cache")
    assert done.returncode == 0, done.stderr
    assert "3 basins on a LocalCluster of 2 workers" in done.stdout
    assert "1 basin(s) skipped" in done.stdout
    sites = gpd.read_file(tmp_path / "mini" / "siting.gpkg", layer="proposed_sites")
    assert set(sites["basin"]) == {"khakassia", "komi"}


def test_without_workers_the_basins_run_here_and_give_the_same_sites(national, client, tmp_path):
    scenario = load(national)
    here = run_national(scenario, write=False, cache=False)
    there = run_national(scenario, client=client, write=False, cache=False)
    assert here.workers == "this process"
    pd.testing.assert_frame_equal(
        pd.DataFrame(here.sites.drop(columns="geometry")),
        pd.DataFrame(there.sites.drop(columns="geometry")),
    )


def test_a_batch_runs_on_the_cluster(world, client, tmp_path):
    text = (world / "scenario.toml").read_text()
    assert 'name = "synthetic"' in text
    (world / "b.toml").write_text(text.replace('name = "synthetic"', 'name = "b"', 1))
    paths = [world / "scenario.toml", world / "b.toml"]
    table = run_batch(paths, executor=client.get_executor(pure=False), output_dir=tmp_path)
    alone = run_batch(paths, workers=1, output_dir=tmp_path / "alone")
    assert table["status"].tolist() == ["ok", "ok"]
    shown = [c for c in table.columns if c.startswith(("sites_", "best_"))]
    pd.testing.assert_frame_equal(table[shown], alone[shown])


def test_weight_sensitivity_on_the_cluster_equals_the_one_here(world, client):
    result = run(world / "scenario.toml", write=False, cache=False)
    profile = next(iter(result.scenario.profiles))
    here = sensitivity.sensitivity(result, profile, n=12, seed=3, workers=1)
    there = sensitivity.sensitivity(
        result, profile, n=12, seed=3, workers=2, executor=client.get_executor(pure=False)
    )
    pd.testing.assert_frame_equal(here.sites, there.sites)
    np.testing.assert_array_equal(here.robustness.data, there.robustness.data)


def test_bad_cluster_options_are_refused_before_any_work(national, tmp_path):
    with pytest.raises(ClusterError, match="both given"), connect(2, "tcp://127.0.0.1:9"):
        pass
    with pytest.raises(ClusterError, match="at least 1"), connect(0):
        pass
    with (
        pytest.raises(ConnectionError, match="cannot reach the Dask scheduler"),
        connect(None, "tcp://127.0.0.1:9"),
    ):
        pass
    done = cli_here("run", national, "--scheduler", "tcp://127.0.0.1:9", "--output-dir", tmp_path)
    assert done.returncode == 2
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "mini").exists()


def test_the_cluster_checks_its_workers_run_this_siting(client):
    address = client.scheduler_info()["address"]
    with connect(None, address) as other:
        assert other is not None
        assert set(other.run(lambda: siting.__version__).values()) == {siting.__version__}


def test_no_sqlite_journal_is_left_beside_the_national_geopackage(national, client, tmp_path):
    scenario = load(national).with_overrides(output_dir=tmp_path)
    run_national(scenario, client=client, cache=False)
    gpkg = tmp_path / "mini" / "siting.gpkg"
    with sqlite3.connect(gpkg) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not list((tmp_path / "mini").glob("*.gpkg-*"))


def _missing_layer() -> None:
    raise LayerNotFoundError("layer 'mines': file not found: mines.gpkg", "fix layers.mines.path")


def test_a_user_error_raised_on_a_worker_arrives_as_itself(client):
    """Errors come back pickled (with the reducer distributed installs): type, message and fix
    survive, so the command still prints one message and exits 2."""
    with pytest.raises(LayerNotFoundError) as caught:
        client.submit(_missing_layer, pure=False).result()
    assert caught.value.message == "layer 'mines': file not found: mines.gpkg"
    assert caught.value.fix == "fix layers.mines.path"
    assert isinstance(caught.value, FileNotFoundError)
