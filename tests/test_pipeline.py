"""The whole run on the synthetic region: outputs, geometry rules, allocation, atomic writing."""

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

import siting
from siting.exports import gpkg


@pytest.fixture
def result(world):
    return siting.run(world / "scenario.toml")


def test_outputs_exist_and_reopen_in_the_scenario_crs(result):
    out = result.output_dir
    assert {p.name for p in out.iterdir()} >= {
        "map.html",
        "siting.gpkg",
        "report.md",
        "run.json",
        "criteria",
        "suitability_processing_plant.tif",
        "suitability_technopark.tif",
    }
    layers = {name for name, _ in pyogrio.list_layers(out / "siting.gpkg")}
    assert layers == set(gpkg.layers_of(result))
    for name in layers:
        info = pyogrio.read_info(out / "siting.gpkg", layer=name)
        assert info["crs"] == "EPSG:32645"
    sites = gpd.read_file(out / "siting.gpkg", layer="proposed_sites")
    assert len(sites) == len(result.sites)
    for tif in [*out.glob("*.tif"), *out.glob("criteria/*.tif")]:
        with rasterio.open(tif) as src:
            assert src.crs.to_epsg() == 32645
            assert src.dtypes[0] == "float32"
            assert src.nodata == -9999.0
            assert src.res == (250.0, 250.0) or tif.name == "friction.tif"
    with rasterio.open(out / "suitability_processing_plant.tif") as src:
        data = src.read(1, masked=True)
        np.testing.assert_allclose(
            data.filled(np.nan), result.suitability("processing_plant").data, equal_nan=True
        )
    info = json.loads((out / "run.json").read_text())
    assert info["grid"]["resolution_m"] == 250
    assert len(info["inputs"]["mines"]["sha256"]) == 64
    assert "criteria" in info["timings_s"]


def test_every_site_lies_outside_every_exclusion(result):
    for name, surface in result.surfaces.items():
        sites = result.sites[result.sites["profile"] == name]
        assert len(sites) > 0
        excluded = shapely.union_all(surface.exclusions.geometry.values)
        assert not sites.geometry.intersects(excluded).any()
        # The reserve, the lake and the river channel are excluded by every profile that lists them.
        assert surface.exclusions["layer"].isin(["protected_areas", "mines"]).any()


def test_sites_are_in_the_study_area_ranked_separated_and_scored(result):
    for name, profile in result.scenario.profiles.items():
        sites = result.sites[result.sites["profile"] == name]
        assert sites.within(result.study_area).all()
        assert sites["score"].between(0, 1).all()
        assert list(sites["rank"]) == list(range(1, len(sites) + 1))
        assert sites["score"].is_monotonic_decreasing
        xy = np.column_stack([sites["x"], sites["y"]])
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        assert d.min() >= profile.min_separation_m
        contributions = sites[[f"w_{c.name}" for c in profile.criteria]].sum(axis=1)
        np.testing.assert_allclose(contributions, sites["score"], rtol=1e-5)


def test_suitability_is_in_unit_interval_and_nan_where_excluded(result):
    for surface in result.surfaces.values():
        s = surface.suitability.data
        finite = np.isfinite(s)
        assert finite.any()
        assert np.nanmin(s) >= 0 and np.nanmax(s) <= 1
        assert not (finite & surface.excluded).any()


def test_haul_cost_is_the_output_weighted_mean_cost(result):
    site = result.sites[result.sites["profile"] == "processing_plant"].iloc[0]
    field = result.cost_fields["mines|"]
    mines = result.layers["mines"]
    per_mine = field.sample(np.array([site["x"]]), np.array([site["y"]]))[:, 0]
    expected = np.average(per_mine, weights=mines["output"])
    # The criterion is resampled bilinearly from the 1 km cost grid: within a cell's cost of it.
    assert site["raw_haul_cost"] == pytest.approx(expected, abs=4.0 * 1000)


def test_every_mine_is_allocated_to_an_open_plant_at_least_cost(result):
    a = result.allocation
    mines = result.layers["mines"]
    assert len(a.lines) == len(mines)
    assert set(a.lines["site_id"]) <= set(a.plants["site_id"])
    assert len(a.plants) == 2
    assert a.plants["served_weight"].sum() == pytest.approx(mines["output"].sum())
    assert a.objective == pytest.approx(a.lines["weight_x_cost"].sum())
    assert a.gap == pytest.approx(0.0, abs=1e-6)
    # p-median optimum: no other pair of candidate sites is cheaper (brute force).
    import itertools

    candidates = result.sites[result.sites["profile"] == "processing_plant"]
    cost = result.cost_fields["mines|"].sample(
        candidates["x"].to_numpy(), candidates["y"].to_numpy()
    )
    w = mines["output"].to_numpy()
    best = min(
        (w * cost[:, list(pair)].min(axis=1)).sum()
        for pair in itertools.combinations(range(len(candidates)), 2)
    )
    assert a.objective == pytest.approx(best)


def test_clusters_group_the_eastern_mines(result):
    clusters = result.clusters
    mines = result.layers["mines"]
    # A (10), B (6) are 2.2 km apart; C (4) and D (2) 3.6 km; E, F are isolated and small.
    by_name = dict(zip(mines["name"], mines["cluster"], strict=True))
    assert by_name["A"] == by_name["B"] != -1
    assert by_name["E"] == -1 and by_name["F"] == -1
    assert clusters["total_weight"].sum() == pytest.approx(
        mines.loc[mines["cluster"] >= 0, "output"].sum()
    )
    for _, c in clusters.iterrows():
        assert c.geometry.contains(shapely.Point(c["weber_x"], c["weber_y"]))


def test_in_memory_run_writes_nothing(world, tmp_path):
    result = siting.run(world / "scenario.toml", write=False, resolution=500)
    assert result.output_dir is None
    assert result.grid.res == 500
    assert not (tmp_path / "out").exists()


def test_failed_write_leaves_previous_outputs_intact(world, monkeypatch):
    first = siting.run(world / "scenario.toml")
    before = {p.name: p.stat().st_mtime_ns for p in first.output_dir.iterdir()}

    from siting.exports import webmap

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(webmap, "write", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        siting.run(world / "scenario.toml")
    after = {p.name: p.stat().st_mtime_ns for p in first.output_dir.iterdir()}
    assert after == before
    leftovers = [p.name for p in first.output_dir.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []
