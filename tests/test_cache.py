"""The on-disk cache of intermediate results (issue #7): what a change invalidates, and that a
run that reuses entries gives exactly the result of a run that computes everything."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import siting
import siting.pipeline.cache
from siting.cli import main
from siting.pipeline.cache import Cache, Deferred, Step, fingerprint, prune

from conftest import CRS, X0, Y0, make_world

# What reads the rail layer in the synthetic world: the friction (rail is a route), the two
# criteria computed from rail or over the friction, the processing-plant profile that uses them,
# its sites, the allocation of mines to those sites, and their exported files.
RAIL_DEPENDENTS = {
    "friction",
    "criterion haul_cost",
    "criterion rail",
    "suitability processing_plant",
    "sites processing_plant",
    "allocation",
    "robustness",  # reads the plant profile's surface and sites
    "suitability_processing_plant.tif",
    "criteria/haul_cost.tif",
    "criteria/rail.tif",
    "criteria/friction.tif",
    "overlay suitability_processing_plant",
    "overlay haul_cost",
    "overlay rail",
    "QGIS style suitability_processing_plant",
    "QGIS style haul_cost",
    "QGIS style rail",
    "QGIS style friction",
    "criteria panel haul_cost",
    "criteria panel rail",
    "range of criterion haul_cost",
    "range of criterion rail",
    "report figure suitability_processing_plant.png",
}


def run(world: Path, **kw) -> siting.Result:
    return siting.run(world / "scenario.toml", resolution=500, **kw)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> siting.Result:
    """The synthetic world's first run, into an empty cache (read, never changed, by the tests)."""
    return run(make_world(tmp_path_factory.mktemp("first")))


@pytest.fixture
def cold(first_run: siting.Result, world: Path) -> siting.Result:
    """``world`` as right after its first run, and that run: its outputs and cache are copied
    into the world's outputs folder. One cold run per module (and pytest-xdist worker) instead of
    one per test; the cache's keys hold what the layers contain, not where they are, so the
    copy serves the next run as the original would (``test_a_rerun_…`` checks it)."""
    shutil.copytree(first_run.output_dir.parent, world.parent / "out")
    return first_run


def cache_of(world: Path) -> Path:
    """The world's own cache folder (where ``cold`` copied the first run's)."""
    return world.parent / "out" / ".cache"


def move_rail(world: Path, y: float) -> None:
    """Rewrite the rail layer's file with the main line at ``y`` metres (north of the origin)."""
    line = shapely.LineString([(X0 - 10_000, Y0 + y), (X0 + 50_000, Y0 + y)])
    gpd.GeoDataFrame(
        [{"name": "Main line", "kind": "main", "geometry": line}], geometry="geometry", crs=CRS
    ).to_file(world / "rail.gpkg")


def assert_same_result(a: siting.Result, b: siting.Result) -> None:
    """Every number a user sees: criteria, suitability, sites, patches, allocation, to the bit.

    Bit-equality holds by construction: an entry is the stored result of the same code on the
    same inputs, and an updated distance raster equals the one computed afresh (see
    ``test_criteria.test_distance_update_equals_the_distance_computed_afresh``)."""
    assert a.criteria.keys() == b.criteria.keys()
    for name in a.criteria:
        np.testing.assert_array_equal(a.criteria[name].data, b.criteria[name].data)
    for name in a.surfaces:
        np.testing.assert_array_equal(a.suitability(name).data, b.suitability(name).data)
        for c, score in a.surfaces[name].scores.items():
            np.testing.assert_array_equal(score.data, b.surfaces[name].scores[c].data)
    pd.testing.assert_frame_equal(a.sites, b.sites)
    pd.testing.assert_frame_equal(a.patches, b.patches)
    pd.testing.assert_frame_equal(a.clusters, b.clusters)
    pd.testing.assert_frame_equal(a.layers["mines"], b.layers["mines"])  # with their pole
    assert a.allocation is not None and b.allocation is not None
    assert a.allocation.transport == b.allocation.transport
    pd.testing.assert_frame_equal(a.allocation.plants, b.allocation.plants)
    pd.testing.assert_frame_equal(a.allocation.lines, b.allocation.lines)


def tif_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.tif")}


def png_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (folder / "report_files").glob("*.png")}


def test_a_rerun_reuses_every_step_and_writes_the_same_files(world: Path, cold: siting.Result):
    cold_files = tif_bytes(cold.output_dir)
    first = cold.cache.summary()
    assert first["hits"] == []
    assert set(first["misses"]) >= RAIL_DEPENDENTS
    warm = run(world)
    second = warm.cache.summary()
    assert second["misses"] == []
    assert sorted(second["hits"]) == sorted(first["misses"])
    assert_same_result(cold, warm)
    assert tif_bytes(warm.output_dir) == cold_files


def test_changing_a_layer_file_invalidates_what_reads_it_and_nothing_else(
    world: Path, cold: siting.Result
):
    move_rail(world, 19_000)
    warm = run(world)
    summary = warm.cache.summary()
    assert set(summary["misses"]) == RAIL_DEPENDENTS
    assert summary["updated"] == []  # the old line is gone: its distances cannot be kept
    assert set(summary["hits"]) == set(cold.cache.summary()["misses"]) - RAIL_DEPENDENTS
    assert "criterion power" in summary["hits"] and "sites technopark" in summary["hits"]
    assert "growth poles" in summary["hits"]  # only their snapping reads the changed profile
    # What was reused and what was recomputed add up to the result of computing everything,
    # down to the report's figures (the criteria's is put together from reused panels).
    fresh = run(world, cache=False, output_dir=world / "fresh")
    assert_same_result(warm, fresh)
    assert png_bytes(warm.output_dir) == png_bytes(fresh.output_dir)
    # The rail criterion moved with the line: 0 on the new line, about 1 km before.
    x, y = np.array([X0 + 20_000.0]), np.array([Y0 + 19_000.0])
    assert warm.criteria["rail"].sample(x, y)[0] == 0.0
    assert cold.criteria["rail"].sample(x, y)[0] == pytest.approx(1000.0, abs=500.0)


def test_an_added_rail_line_updates_the_cached_distances_to_the_same_result(
    world: Path, cold: siting.Result
):
    rail = gpd.read_file(world / "rail.gpkg")
    spur = shapely.LineString([(X0 + 30_000, Y0 + 20_000), (X0 + 36_000, Y0 + 26_000)])
    extended = pd.concat(
        [rail, gpd.GeoDataFrame([{"name": "Spur", "kind": "branch", "geometry": spur}], crs=CRS)]
    )
    extended.to_file(world / "rail.gpkg")
    warm = run(world)
    summary = warm.cache.summary()
    assert set(summary["misses"]) == RAIL_DEPENDENTS
    assert summary["updated"] == ["criterion rail"]
    fresh = run(world, cache=False, write=False)
    assert_same_result(warm, fresh)
    x, y = np.array([X0 + 33_100.0]), np.array([Y0 + 23_100.0])  # on the spur
    assert warm.criteria["rail"].sample(x, y)[0] == 0.0


def test_the_growth_poles_follow_their_layer(world: Path, cold: siting.Result):
    mines = gpd.read_file(world / "mines.gpkg")
    mines.loc[mines["name"] == "C", "geometry"] = shapely.Point(X0 + 29_000, Y0 + 10_000)
    mines.to_file(world / "mines.gpkg")
    warm = run(world)
    assert "growth poles" in warm.cache.summary()["misses"]
    fresh = run(world, cache=False, write=False)
    pd.testing.assert_frame_equal(warm.clusters, fresh.clusters)
    assert not warm.clusters["n_members"].equals(cold.clusters["n_members"])


def test_a_file_rewritten_with_the_same_content_reuses_everything(world: Path, cold: siting.Result):
    rail = world / "rail.gpkg"
    move_rail(world, 20_000)  # the same line, a new file (new bytes on disk, new mtime)
    os.utime(rail, (1, 1))
    assert run(world).cache.summary()["misses"] == []


def test_a_weight_change_recomputes_only_the_scores_downstream(world: Path, cold: siting.Result):
    stored = sorted((cache_of(world) / "score").glob("*.pkl"))
    text = (world / "scenario.toml").read_text(encoding="utf-8")
    (world / "scenario.toml").write_text(
        text.replace("weight = 0.3", "weight = 0.35", 1).replace(
            "weight = 0.2", "weight = 0.15", 1
        ),
        encoding="utf-8",
    )
    warm = run(world)
    summary = warm.cache.summary()
    assert not any(label.startswith("criterion") for label in summary["misses"])
    assert {"suitability processing_plant", "sites processing_plant", "allocation"} <= set(
        summary["misses"]
    )
    assert "sites technopark" in summary["hits"]
    # Weights do not change the standardised scores: the new surface stores none of its own.
    assert sorted((cache_of(world) / "score").glob("*.pkl")) == stored
    assert_same_result(warm, run(world, cache=False, write=False))


def test_a_what_if_stores_again_only_the_scores_it_changed(world: Path, cold: siting.Result):
    scores = cache_of(world) / "score"
    before = {p.name: p.stat().st_ino for p in scores.glob("*.pkl")}
    n_criteria = {name: len(profile.criteria) for name, profile in cold.scenario.profiles.items()}
    assert len(before) == len({c.name for p in cold.scenario.profiles.values() for c in p.criteria})
    assert n_criteria["processing_plant"] > 2
    move_rail(world, 19_000)
    warm = run(world)
    after = {p.name: p.stat().st_ino for p in scores.glob("*.pkl")}
    assert len(after.keys() - before.keys()) == 2  # rail and haul_cost
    assert {name: after[name] for name in before} == before  # the others are not written again
    # Scores pruned meanwhile: the surfaces are computed again, to the same values.
    for entry in scores.glob("*.pkl"):
        entry.unlink()
    again = run(world)
    assert {f"suitability {name}" for name in n_criteria} <= set(again.cache.summary()["misses"])
    assert_same_result(warm, again)


def test_a_change_in_how_sites_are_picked_reuses_the_scores(world: Path, cold: siting.Result):
    assert len(cold.sites_of("processing_plant")) == 4
    text = (world / "scenario.toml").read_text(encoding="utf-8")
    text = text.replace("n_sites = 4", "n_sites = 2", 1)
    (world / "scenario.toml").write_text(text, encoding="utf-8")
    again = run(world)
    summary = again.cache.summary()
    assert "suitability processing_plant" in summary["hits"]
    assert "sites processing_plant" in summary["misses"]
    assert again.surfaces["processing_plant"].profile.n_sites == 2
    assert len(again.sites_of("processing_plant")) == 2
    assert_same_result(again, run(world, cache=False, write=False))


def test_other_code_invalidates_everything(
    world: Path, cold: siting.Result, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(siting.pipeline.cache, "code_version", lambda: "another version of siting")
    assert run(world).cache.summary()["hits"] == []


def test_an_unreadable_entry_is_recomputed(
    world: Path, cold: siting.Result, caplog: pytest.LogCaptureFixture
):
    entries = sorted((cache_of(world) / "criterion").glob("*.pkl"))
    assert entries
    for entry in entries:
        entry.write_bytes(b"not a pickle")
    with caplog.at_level(logging.WARNING, logger="siting"):
        warm = run(world)
    assert "unreadable" in caplog.text
    assert {e for e in warm.cache.summary()["misses"] if e.startswith("criterion")} == {
        f"criterion {name}" for name in cold.criteria
    }
    assert_same_result(cold, warm)


def test_cache_off_and_in_memory_runs_store_nothing(world: Path, tmp_path: Path):
    run(world, cache=False)
    assert not (tmp_path / "out" / ".cache").exists()
    result = run(world, write=False)
    assert result.cache.folder is None and result.cache.events[0].key == ""
    elsewhere = tmp_path / "elsewhere"
    run(world, cache=elsewhere)
    assert (elsewhere / "criterion").is_dir()
    assert not (tmp_path / "out" / ".cache").exists()


def test_fingerprint_sees_values_geometry_and_types():
    gdf = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[shapely.Point(0, 0), shapely.Point(1, 1)])
    same = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[shapely.Point(0, 0), shapely.Point(1, 1)])
    assert fingerprint(gdf) == fingerprint(same)
    moved = same.copy()
    moved.geometry = [shapely.Point(0, 0), shapely.Point(1, 1.000001)]
    other_value = same.assign(a=[1, 3])
    as_float = same.assign(a=[1.0, 2.0])
    prints = {fingerprint(g) for g in (gdf, moved, other_value, as_float)}
    assert len(prints) == 4
    a = np.arange(6, dtype=float)
    assert fingerprint(a) != fingerprint(a.reshape(2, 3))
    assert fingerprint(a) != fingerprint(a.astype(np.float32))
    assert fingerprint({"x": 1, "y": 2}) == fingerprint({"y": 2, "x": 1})
    assert fingerprint(1) != fingerprint(1.0) != fingerprint("1")


def test_prune_deletes_least_recently_used_first(tmp_path: Path):
    siting.pipeline.cache.mark(tmp_path)  # only a marked folder is pruned
    for i in range(5):
        entry = tmp_path / "kind" / f"{i}.pkl"
        entry.parent.mkdir(exist_ok=True)
        entry.write_bytes(b"x" * 100)
        os.utime(entry, (1000 + i, 1000 + i))
    os.utime(tmp_path / "kind" / "0.pkl", (2000, 2000))  # used last
    assert prune(tmp_path, 250) == 3
    assert sorted(p.name for p in (tmp_path / "kind").iterdir()) == ["0.pkl", "4.pkl"]
    assert prune(tmp_path, 0) == 2
    assert siting.pipeline.cache.is_cache(tmp_path)  # the marker is not an entry: it stays


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    store = Cache(blocked)
    answer = Step("kind", lambda x, value: value)
    assert store.run(answer, "label", x=1, value=42) == 42
    assert store.run(Step("kind", lambda x: 43), "label", x=1) == 43  # nothing was stored
    fine = Cache(tmp_path / "cache")
    unpicklable = lambda: None  # noqa: E731
    assert fine.run(answer, "label", x=2, value=unpicklable) is unpicklable
    assert list((tmp_path / "cache" / "kind").iterdir()) == []  # no entry, no temp file left


def test_cli_no_cache_and_cache_command(world: Path, tmp_path: Path, capsys):
    scenario = str(world / "scenario.toml")
    assert main(["run", scenario, "--resolution", "1000", "--no-cache"]) == 0
    assert not (tmp_path / "out" / ".cache").exists()
    assert main(["run", scenario, "--resolution", "1000"]) == 0
    capsys.readouterr()
    assert main(["cache", scenario]) == 0
    shown = capsys.readouterr().out
    assert str(tmp_path / "out" / ".cache") in shown and "entries" in shown
    assert main(["cache", scenario, "--clear"]) == 0
    assert siting.pipeline.cache.size(tmp_path / "out" / ".cache")[0] == 0
    shutil.rmtree(tmp_path / "out")


def test_entries_round_trip_with_mapped_writable_arrays(tmp_path: Path):
    from siting.raster.grid import Grid, Raster

    grid = Grid.from_bounds((0, 0, 1000, 500), 100, CRS)
    raster = Raster(np.arange(50, dtype=np.float32).reshape(5, 10), grid, "r", "m", "about r")
    value = {"raster": raster, "mask": np.eye(3, dtype=bool), "frame": pd.DataFrame({"a": [1]})}
    path = tmp_path / "entry.pkl"
    siting.pipeline.cache.dump(value, path)
    back = siting.pipeline.cache.load(path)
    np.testing.assert_array_equal(back["raster"].data, raster.data)
    assert back["raster"].data.flags.aligned and back["raster"].description == "about r"
    back["raster"].data[0, 0] = -1  # copy-on-write: the run's change stays in the run
    assert siting.pipeline.cache.load(path)["raster"].data[0, 0] == 0
    np.testing.assert_array_equal(back["mask"], np.eye(3, dtype=bool))
    pd.testing.assert_frame_equal(back["frame"], value["frame"])
    path.write_bytes(path.read_bytes()[:-100])  # into the last array
    with pytest.raises(ValueError, match="checksum mismatch"):
        siting.pipeline.cache.load(path)


class _Recording(Cache):
    """A real cache that also remembers every step and inputs it made a key for."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.calls: list[tuple[Step, dict]] = []

    def key(self, step, inputs):
        self.calls.append((step, dict(inputs)))
        return super().key(step, inputs)


def _changed(value):
    """``value`` changed in one place, or None where nothing can be changed."""
    if isinstance(value, bool | np.bool_):
        return not value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, np.ndarray):
        out = value.copy()
        if out.size == 0:
            return None
        flat = out.reshape(-1)
        flat[0] = (not flat[0]) if out.dtype == bool else flat[0] + 1
        return out
    if isinstance(value, gpd.GeoDataFrame):
        return value.iloc[:-1] if len(value) > 1 else value.assign(geometry=value.buffer(1.0))
    if isinstance(value, shapely.Geometry):
        return value.buffer(1.0)
    if isinstance(value, dict):
        for k, v in value.items():
            new = _changed(v)
            if new is not None:
                return {**value, k: new}
        return {**value, "added": 1}
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            new = _changed(v)
            if new is not None:
                return type(value)([*value[:i], new, *value[i + 1 :]])
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            new = _changed(getattr(value, f.name))
            if new is not None:
                try:
                    return dataclasses.replace(value, **{f.name: new})
                except ValueError:  # the schema refuses that value: try the next field
                    continue
    return None


def _field_changes(value):
    """``value`` with each of its fields changed in turn (for projected inputs)."""
    for f in dataclasses.fields(value):
        new = _changed(getattr(value, f.name))
        if new is not None:
            try:
                yield f.name, dataclasses.replace(value, **{f.name: new})
            except ValueError:  # the schema refuses the change: not one a user can make
                continue


def test_every_declared_input_of_every_step_is_in_its_key(world: Path, tmp_path: Path):
    """Run the synthetic scenario (with its outputs) through a recording cache, then change each
    input of each step the run keyed, one at a time: the key changes, so the step recomputes.
    For an input the step reads only part of (``project``), the key changes exactly when that
    part does. Deferred inputs (the road network) are named by the key of their own inputs,
    which this test changes as the inputs of their step."""
    recording = _Recording(tmp_path / "recorded")
    run(world, cache=recording)
    seen = {step.name for step, _ in recording.calls}
    assert {"friction", "criterion", "score", "surface", "sites", "growth_poles"} <= seen
    assert {"allocation", "geotiff", "overlay", "figure", "qgis_style"} <= seen
    checked = 0
    for step, inputs in recording.calls:
        base = Cache.key(recording, step, inputs)
        for name, value in inputs.items():
            if name in step.unkeyed or value is None or isinstance(value, Deferred):
                continue
            if name in step.project and dataclasses.is_dataclass(value):
                part = step.project[name](value)
                for field_name, changed in _field_changes(value):
                    key = Cache.key(recording, step, {**inputs, name: changed})
                    moved = fingerprint(step.project[name](changed)) != fingerprint(part)
                    assert (key != base) == moved, (step.name, name, field_name)
                    checked += 1
                continue
            changed = _changed(value)
            if changed is None:
                continue
            key = Cache.key(recording, step, {**inputs, name: changed})
            assert key != base, (step.name, name)
            checked += 1
    assert checked > 100
