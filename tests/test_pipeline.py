"""The whole run on the synthetic region: outputs, geometry rules, allocation, atomic writing."""

import importlib
import itertools

import numpy as np
import pytest
import shapely

import siting
import siting.exports

import checks


@pytest.fixture
def result(synthetic_run):
    """The synthetic region's written run (conftest), which the tests below only read."""
    return synthetic_run


def test_outputs_exist_and_reopen_in_the_scenario_crs(result):
    checks.outputs_reopen_in_the_scenario_crs(result)


def test_every_site_lies_outside_every_exclusion(result):
    checks.sites_lie_outside_every_exclusion(result)


def test_sites_are_in_the_study_area_ranked_separated_and_scored(result):
    checks.sites_are_inside_ranked_separated_and_scored(result)


def test_suitability_is_in_unit_interval_and_nan_where_excluded(result):
    checks.suitability_is_in_unit_interval_and_nan_where_excluded(result)


def test_haul_cost_is_the_output_weighted_mean_cost(result):
    site = result.sites[result.sites["profile"] == "processing_plant"].iloc[0]
    field = result.cost_fields["mines|"]
    mines = result.layers["mines"]
    per_mine = field.sample(np.array([site["x"]]), np.array([site["y"]]))[:, 0]
    expected = np.average(per_mine, weights=mines["output"])
    # The criterion is resampled bilinearly from the 1 km cost grid: within a cell's cost of it.
    assert site["raw_haul_cost"] == pytest.approx(expected, abs=4.0 * 1000)


def test_every_mine_is_allocated_to_an_open_plant_at_least_cost(result):
    checks.every_demand_is_allocated(result)
    a = result.allocation
    assert a.gap == pytest.approx(0.0, abs=1e-6)
    # p-median optimum: no other pair of candidate sites is cheaper (brute force).
    candidates = result.sites[result.sites["profile"] == "processing_plant"]
    km = (
        result.cost_fields["mines|"].sample(candidates["x"].to_numpy(), candidates["y"].to_numpy())
        / 1000
    )
    w = result.layers["mines"]["output"].to_numpy()
    best = min(
        (w * km[:, list(pair)].min(axis=1)).sum()
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


def test_in_memory_run_writes_nothing_until_asked(world, tmp_path):
    result = siting.run(world / "scenario.toml", write=False, resolution=500)
    assert result.output_dir is None
    assert result.grid.res == 500
    assert not (tmp_path / "out").exists()
    written = siting.exports.write(result, tmp_path / "later")
    assert written == tmp_path / "later" / "synthetic"
    assert (written / "map.html").is_file() and (written / "siting.gpkg").is_file()
    parks = result.sites_of("technopark")
    assert len(parks) == 3
    assert {c for c in parks.columns if c.startswith("w_")} == {
        "w_uglenaukograd",
        "w_labour",
        "w_road",
    }


# The GeoTIFFs are written in a thread beside the other exports: a failure on either side.
@pytest.mark.parametrize("module, function", [("webmap.page", "write"), ("rasters", "write_all")])
def test_failed_write_leaves_previous_outputs_intact(world, monkeypatch, module, function):
    first = siting.run(world / "scenario.toml", resolution=1000)  # coarse: only the writing counts
    before = {p.name: p.stat().st_mtime_ns for p in first.output_dir.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importlib.import_module(f"siting.exports.{module}"), function, broken)
    with pytest.raises(RuntimeError, match="disk full"):
        siting.run(world / "scenario.toml", resolution=1000)
    after = {p.name: p.stat().st_mtime_ns for p in first.output_dir.iterdir()}
    assert after == before
    hidden = {p.name for p in first.output_dir.parent.iterdir() if p.name.startswith(".")}
    assert hidden == {".cache"}  # no staging folder left; the cache keeps the finished steps


def test_patch_statistics_equal_scipy_label_statistics(result):
    """Per-patch mean and maximum equal ndimage's label statistics, which they replace."""
    from scipy import ndimage

    from siting.mcda.sites import candidate_patches

    for surface in result.surfaces.values():
        patches, labels = candidate_patches(surface)
        assert len(patches) > 0
        filled = np.nan_to_num(surface.suitability.data)
        ids = patches["patch_id"].to_numpy()
        counts = ndimage.sum_labels(np.ones_like(filled), labels, index=ids)
        np.testing.assert_allclose(
            patches["mean_score"], ndimage.sum_labels(filled, labels, index=ids) / counts
        )
        # A maximum picks one of the values and rounds nothing: equal to the bit.
        np.testing.assert_array_equal(
            patches["max_score"], ndimage.maximum(filled, labels, index=ids)
        )


def test_geopackage_is_written_without_disk_syncs_and_the_setting_restored(result, tmp_path):
    import pyogrio

    from siting.exports import gpkg

    option = "OGR_SQLITE_SYNCHRONOUS"
    pyogrio.set_gdal_config_options({option: "NORMAL"})
    try:
        path = gpkg.write(result, tmp_path / "again.gpkg")
        assert pyogrio.get_gdal_config_option(option) == "NORMAL"
    finally:
        pyogrio.set_gdal_config_options({option: None})
    tables = gpkg.layers_of(result)
    assert sorted(name for name, _ in pyogrio.list_layers(path)) == sorted(tables)
    sites = pyogrio.read_dataframe(path, layer="proposed_sites")
    assert sites["site_id"].tolist() == result.sites["site_id"].tolist()
