"""The cache under faults (issue #18, items 3 and 1): a damaged, emptied, cut-short or foreign
entry is reported and computed afresh, never reused; a cached GeoTIFF is checked before it is
copied into the outputs; only a folder marked as siting's cache is pruned or cleared. And the
determinism the cache must not break: the same scenario gives the same GeoPackage tables,
GeoTIFF pixels and run.json (but its timings) from a cold cache, a warm one, no cache, and a
batch on one worker or two."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

import siting
from siting.exports.rasters import rasters_of
from siting.pipeline import cache as siting_cache
from siting.pipeline.cache import Cache, Step

from clitools import assert_user_error, cli_here, edit
from conftest import make_world

RESOLUTION = 1000  # coarse: every step still runs and is cached, in about a second


def run(world: Path, **kw) -> siting.Result:
    return siting.run(world / "scenario.toml", resolution=RESOLUTION, **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> siting.Result:
    """The synthetic world's run into an empty cache: every step computed afresh."""
    return run(make_world(tmp_path_factory.mktemp("reference")))


@pytest.fixture
def warm(reference: siting.Result, world: Path) -> Path:
    """``world`` with the reference run's outputs and cache copied into its outputs folder (the
    cache's keys hold what the layers contain, not where they are: a re-run finds them all).
    Returns the cache folder."""
    shutil.copytree(reference.output_dir.parent, world.parent / "out")
    return world.parent / "out" / ".cache"


def entries(cache: Path, step: str) -> list[Path]:
    found = sorted((cache / step).iterdir())
    assert found, step
    return found


def flip_payload(path: Path) -> None:
    """Invert 8 bytes in the middle of the entry's largest array, leaving its header, table and
    pickle intact: what a reader that trusts the header would load as good values."""
    data = bytearray(path.read_bytes())
    at = siting_cache.HEADER
    n_buffers = int(np.frombuffer(data[at + 8 : at + 16], dtype="<u8")[0])
    table = np.frombuffer(data[at + 16 : at + 16 + 16 * n_buffers], dtype="<u8").reshape(-1, 2)
    offset, size = max(table.tolist(), key=lambda row: row[1]) if n_buffers else (0, len(data))
    assert size >= 16, path
    middle = offset + size // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))


def assert_same_result(a: siting.Result, b: siting.Result) -> None:
    """The values a user sees, to the bit: sites (coordinates, scores, criteria), criteria and
    suitability rasters, the growth poles and the allocation."""
    assert a.criteria.keys() == b.criteria.keys()
    for name in a.criteria:
        np.testing.assert_array_equal(a.criteria[name].data, b.criteria[name].data)
    for name in a.surfaces:
        np.testing.assert_array_equal(a.suitability(name).data, b.suitability(name).data)
    pd.testing.assert_frame_equal(a.sites, b.sites, check_exact=True)
    pd.testing.assert_frame_equal(a.clusters, b.clusters, check_exact=True)
    assert a.allocation is not None and b.allocation is not None
    assert a.allocation.transport == b.allocation.transport
    pd.testing.assert_frame_equal(a.allocation.plants, b.allocation.plants, check_exact=True)


def assert_valid_geotiffs(result: siting.Result, reference: siting.Result) -> None:
    """Every GeoTIFF of the run opens, has the grid's shape and the reference's pixels, and is
    byte for byte the file the reference wrote."""
    names = {p.relative_to(reference.output_dir) for p in reference.output_dir.rglob("*.tif")}
    assert {n.as_posix() for n in names} == set(rasters_of(reference))
    assert {p.relative_to(result.output_dir) for p in result.output_dir.rglob("*.tif")} == names
    for name in names:
        with (
            rasterio.open(result.output_dir / name) as got,
            rasterio.open(reference.output_dir / name) as want,
        ):
            assert (got.height, got.width) == (result.grid.height, result.grid.width)
            assert got.transform == want.transform and got.crs == want.crs
            np.testing.assert_array_equal(got.read(1), want.read(1))
        assert (result.output_dir / name).read_bytes() == (reference.output_dir / name).read_bytes()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The cache's warnings (a run may warn about its scenario too: not these tests' topic)."""
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    return [w for w in said if w.startswith("cache")]


def rerun_checked(world: Path, caplog: pytest.LogCaptureFixture) -> tuple[siting.Result, list[str]]:
    """Run the world again, capturing the warnings; then once more, to show the bad entries
    were replaced: no warning, every step found."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="siting"):
        result = run(world)
    said = warnings_of(caplog)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="siting"):
        again = run(world)
    assert warnings_of(caplog) == []
    assert again.cache.summary()["misses"] == []
    return result, said


def test_a_rerun_of_the_copied_cache_finds_every_step(
    world: Path, warm: Path, reference: siting.Result
):
    """What the other tests rely on: undamaged, the copied cache serves every step."""
    again = run(world)
    assert again.cache.summary()["misses"] == []
    assert_same_result(again, reference)
    assert_valid_geotiffs(again, reference)


def test_an_entry_damaged_inside_its_arrays_is_recomputed_not_reused(
    world: Path, warm: Path, reference: siting.Result, caplog: pytest.LogCaptureFixture
):
    damaged = [*entries(warm, "criterion"), *entries(warm, "score"), *entries(warm, "sites")]
    for path in damaged:
        flip_payload(path)
    result, said = rerun_checked(world, caplog)
    # One warning per damaged entry the run looked up, naming the step and the entry.
    for name in reference.criteria:
        assert any(f"criterion {name}" in w and "checksum mismatch" in w for w in said), said
    for profile in reference.surfaces:
        assert any(f"sites {profile}" in w and "checksum mismatch" in w for w in said), said
    named = {Path(w.rsplit(" ", 1)[-1]) for w in said}
    assert named <= set(damaged) and len(named) == len(said)
    misses = set(result.cache.summary()["misses"])
    assert {f"criterion {name}" for name in reference.criteria} <= misses
    assert_same_result(result, reference)
    assert_valid_geotiffs(result, reference)
    # The real values, not only their equality: the reference's best processing-plant site.
    best = result.sites_of("processing_plant").iloc[0]
    ref = reference.sites_of("processing_plant").iloc[0]
    assert (best["x"], best["y"], best["score"]) == (ref["x"], ref["y"], ref["score"])
    assert 0 < best["score"] <= 1


def test_empty_entries_are_recomputed(
    world: Path, warm: Path, reference: siting.Result, caplog: pytest.LogCaptureFixture
):
    emptied = [*entries(warm, "surface"), *entries(warm, "allocation"), *entries(warm, "friction")]
    for path in emptied:
        path.write_bytes(b"")
    result, said = rerun_checked(world, caplog)
    assert len(said) == len(emptied)
    assert all("0 bytes, too short" in w for w in said), said
    assert any("allocation" in w for w in said) and any("friction" in w for w in said)
    assert {Path(w.rsplit(" ", 1)[-1]) for w in said} == set(emptied)
    assert {"allocation", "friction"} <= set(result.cache.summary()["misses"])
    assert_same_result(result, reference)
    assert_valid_geotiffs(result, reference)


def test_entries_cut_short_are_recomputed(
    world: Path, warm: Path, reference: siting.Result, caplog: pytest.LogCaptureFixture
):
    cut = [*entries(warm, "criterion"), *entries(warm, "growth_poles")]
    for path in cut:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    result, said = rerun_checked(world, caplog)
    for name in reference.criteria:
        assert any(f"criterion {name}" in w for w in said), said
    assert any("growth poles" in w for w in said), said
    assert all("checksum mismatch" in w for w in said), said
    assert_same_result(result, reference)
    assert_valid_geotiffs(result, reference)


def test_entries_of_another_version_are_recomputed(
    world: Path, warm: Path, reference: siting.Result, caplog: pytest.LogCaptureFixture
):
    # Entries in the format of the siting before checksums (same name, older header) ...
    older = entries(warm, "criterion")
    for path in older:
        data = path.read_bytes()
        path.write_bytes(b"siting-cache-1\n\0\0" + data[len(siting_cache.MAGIC) :])
    # ... and a pickled entry where a stored GeoTIFF is expected.
    tif = entries(warm, "geotiff")[0]
    siting_cache.dump({"not": "a GeoTIFF"}, tif)
    result, said = rerun_checked(world, caplog)
    assert sum("another version of siting" in w for w in said) == len(older) + 1, said
    for name in reference.criteria:
        assert any(f"criterion {name}" in w for w in said), said
    assert_same_result(result, reference)
    assert_valid_geotiffs(result, reference)


@pytest.mark.parametrize("damage", ["empty", "cut", "flipped"])
def test_a_damaged_cached_geotiff_is_never_copied_into_the_outputs(
    damage: str,
    world: Path,
    warm: Path,
    reference: siting.Result,
    caplog: pytest.LogCaptureFixture,
):
    stored = entries(warm, "geotiff")
    assert len(stored) == len(rasters_of(reference))
    for path in stored:
        data = bytearray(path.read_bytes())
        if damage == "empty":
            data = bytearray()
        elif damage == "cut":
            data = data[: len(data) // 2]
        else:
            middle = len(data) // 2
            data[middle] ^= 0x01
        path.write_bytes(bytes(data))
    result, said = rerun_checked(world, caplog)
    # One warning per stored GeoTIFF, naming the file (its label) and the entry.
    assert {Path(w.rsplit(" ", 1)[-1]) for w in said} == set(stored) and len(said) == len(stored)
    for name in rasters_of(reference):
        assert any(f"cache entry for {name} unreadable" in w for w in said), (name, said)
    reason = "0 bytes, too short" if damage == "empty" else "checksum mismatch"
    assert all(reason in w for w in said), said
    # Every GeoTIFF was written afresh, and is the reference's, byte for byte.
    misses = set(result.cache.summary()["misses"])
    assert {f"suitability_{name}.tif" for name in reference.surfaces} <= misses
    assert_valid_geotiffs(result, reference)
    assert_same_result(result, reference)


def test_a_damaged_entry_is_recomputed_through_the_step_api(tmp_path: Path, caplog):
    """The same at the level of one step: the value of a damaged entry is never returned."""
    store = Cache(tmp_path / "cache")
    square = Step("square", lambda x: np.full(1000, float(x) ** 2))
    assert store.run(square, "square of 3", x=3)[0] == 9.0
    (entry,) = (tmp_path / "cache" / "square").iterdir()
    flip_payload(entry)
    again = Cache(tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger="siting"):
        value = again.run(square, "square of 3", x=3)
    np.testing.assert_array_equal(value, np.full(1000, 9.0))
    (said,) = warnings_of(caplog)
    assert "square of 3" in said and str(entry) in said and "checksum mismatch" in said
    assert again.log.summary() == {"hits": [], "misses": ["square of 3"], "updated": []}
    np.testing.assert_array_equal(siting_cache.load(entry), np.full(1000, 9.0))  # replaced


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def users_folder(root: Path) -> Path:
    """A folder of someone's files, some laid out like a cache's (a step folder of hashed
    names), one beside another program's CACHEDIR.TAG."""
    folder = root / "mine"
    (folder / "survey").mkdir(parents=True)
    (folder / "notes.txt").write_text("field notes", encoding="utf-8")
    (folder / "survey" / "points.csv").write_bytes(b"x,y\n1,2\n")
    (folder / "criterion").mkdir()
    (folder / "criterion" / ("a" * 64 + ".pkl")).write_bytes(b"precious")
    return folder


def test_cache_clear_and_prune_refuse_a_folder_not_marked_as_a_cache(world: Path, tmp_path: Path):
    mine = users_folder(tmp_path)
    before = snapshot(mine)
    scenario = world / "scenario.toml"
    for action in (["--clear"], ["--max-gb=0"], ["--max-gb=1"]):
        proc = cli_here("cache", scenario, "--cache-dir", mine, *action)
        assert_user_error(proc, str(mine), "not marked as a siting cache", "CACHEDIR.TAG")
        assert snapshot(mine) == before
    # Another program's cache (its own CACHEDIR.TAG) is not siting's to clear either.
    other = tmp_path / "other"
    (other / "blobs").mkdir(parents=True)
    (other / "CACHEDIR.TAG").write_bytes(siting_cache.TAG.split(b"\n")[0] + b"\n# by pip\n")
    (other / "blobs" / "x").write_bytes(b"blob")
    proc = cli_here("cache", scenario, "--cache-dir", other, "--clear")
    assert_user_error(proc, str(other))
    assert (other / "blobs" / "x").read_bytes() == b"blob"
    # Pruning, as after every run, leaves such folders alone too.
    assert siting_cache.prune(mine, 0) == 0 and siting_cache.prune(other, 0) == 0
    assert snapshot(mine) == before


def test_a_run_does_not_store_into_a_folder_of_other_files(
    world: Path, tmp_path: Path, reference: siting.Result
):
    mine = users_folder(tmp_path)
    before = snapshot(mine)
    proc = cli_here("run", world / "scenario.toml", "--resolution", RESOLUTION, "--cache-dir", mine)
    assert proc.returncode == 0, proc.stderr
    assert f"cache folder {mine} holds files" in proc.stderr
    assert "running without the cache" in proc.stderr
    assert snapshot(mine) == before  # nothing stored, marked or pruned
    out = siting.load(world / "scenario.toml").outputs.dir / "synthetic"
    assert (out / "run.json").is_file()
    sites = gpd.read_file(out / "siting.gpkg", layer="proposed_sites")
    assert sorted(zip(sites["x"], sites["y"], strict=True)) == sorted(
        zip(reference.sites["x"], reference.sites["y"], strict=True)
    )


def test_cache_clear_empties_a_marked_cache_and_keeps_its_marker(world: Path, tmp_path: Path):
    scenario = world / "scenario.toml"
    assert cli_here("run", scenario, "--resolution", RESOLUTION).returncode == 0
    cache = tmp_path / "out" / ".cache"
    tag = (cache / "CACHEDIR.TAG").read_bytes()
    # The Cache Directory Tagging specification: the tag's first 43 bytes are fixed.
    assert tag.startswith(b"Signature: 8a477f597d28d172789f06886806bc55")
    n, size = siting_cache.size(cache)
    assert n > 20 and size > 0
    proc = cli_here("cache", scenario, "--clear")
    assert proc.returncode == 0, proc.stderr
    assert f"deleted {n} entries" in proc.stdout
    assert f"{cache}: 0 entries" in proc.stdout
    assert siting_cache.size(cache) == (0, 0)
    assert (cache / "CACHEDIR.TAG").read_bytes() == tag
    assert cli_here("cache", scenario, "--clear").returncode == 0  # an empty cache: nothing to do


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "-inf"])
def test_cache_max_gb_must_be_a_finite_size(value: str, world: Path, tmp_path: Path):
    folder = tmp_path / "cache"
    Cache(folder).run(Step("kind", lambda x: np.arange(x)), "label", x=10)
    before = snapshot(folder)
    proc = cli_here("cache", world / "scenario.toml", "--cache-dir", folder, f"--max-gb={value}")
    assert_user_error(proc, "--max-gb must be a finite number", value, "--max-gb 5")
    assert snapshot(folder) == before
    proc = cli_here("cache", world / "scenario.toml", "--cache-dir", folder, "--max-gb=0")
    assert proc.returncode == 0 and "deleted 1 entries" in proc.stdout


def test_a_cache_from_before_the_marker_is_adopted_and_a_users_folder_is_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    old = tmp_path / "old"
    (old / "criterion").mkdir(parents=True)
    (old / "criterion" / ("b" * 64 + ".pkl")).write_bytes(b"siting-cache-1\n\0\0")
    store = Cache(old)
    assert store.folder == old
    assert store.run(Step("kind", lambda x: x + 1), "label", x=1) == 2
    assert siting_cache.is_cache(old)
    mine = users_folder(tmp_path)
    before = snapshot(mine)
    with caplog.at_level(logging.WARNING, logger="siting"):
        refused = Cache(mine)
    assert refused.folder is None and "running without the cache" in caplog.text
    assert refused.run(Step("kind", lambda x: x + 1), "label", x=1) == 2
    assert snapshot(mine) == before


# Determinism ----------------------------------------------------------------------------------


def outputs_of(folder: Path) -> dict:
    """What a run wrote, as values: every table of the GeoPackage (geometry as WKB), every
    GeoTIFF's pixels and georeferencing, run.json but its timings, and the names of all files."""
    tables = {}
    for name, _ in pyogrio.list_layers(folder / "siting.gpkg"):
        frame = pyogrio.read_dataframe(folder / "siting.gpkg", layer=name)
        if isinstance(frame, gpd.GeoDataFrame):
            frame = pd.DataFrame(frame).assign(geometry=shapely.to_wkb(frame.geometry.array))
        if name == "layer_styles":  # QGIS's table of styles records when each was written
            frame = frame.drop(columns="update_time")
        tables[name] = frame
    rasters = {}
    for path in sorted(folder.rglob("*.tif")):
        with rasterio.open(path) as src:
            rasters[path.relative_to(folder).as_posix()] = (
                src.read(),
                src.transform,
                src.crs.to_wkt(),
                src.nodata,
                src.descriptions,
            )
    info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert info.pop("timings_s")["compute_total"] > 0
    assert info["allocation"].pop("seconds") > 0  # the solver's time
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return {"tables": tables, "rasters": rasters, "run.json": info, "files": files}


def assert_same_outputs(a: dict, b: dict) -> None:
    assert a["files"] == b["files"]
    assert a["run.json"] == b["run.json"]
    assert a["tables"].keys() == b["tables"].keys()
    for name in a["tables"]:
        pd.testing.assert_frame_equal(a["tables"][name], b["tables"][name], check_exact=True)
    assert a["rasters"].keys() == b["rasters"].keys()
    for name, (pixels, *meta) in a["rasters"].items():
        np.testing.assert_array_equal(pixels, b["rasters"][name][0])
        assert meta == list(b["rasters"][name][1:]), name


def test_same_scenario_same_outputs_with_a_cold_a_warm_and_no_cache(world: Path):
    scenario = world / "scenario.toml"
    cold = siting.run(scenario)
    assert cold.cache.summary()["hits"] == []
    first = outputs_of(cold.output_dir)
    assert {"proposed_sites", "candidate_patches", "layer_styles"} <= first["tables"].keys()
    assert len(first["tables"]["proposed_sites"]) == 7 and len(first["rasters"]) == 9
    warm = siting.run(scenario)
    assert warm.cache.summary()["misses"] == []
    assert_same_outputs(outputs_of(warm.output_dir), first)
    proc = cli_here("run", scenario, "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert_same_outputs(outputs_of(cold.output_dir), first)


@pytest.mark.slow
def test_same_scenarios_same_outputs_in_a_batch_on_one_worker_or_two(world: Path):
    """Batches run each scenario in its own process (spawned): on one worker or two, with or
    without the shared cache, each scenario's outputs are those of its run alone."""
    text = (world / "scenario.toml").read_text(encoding="utf-8")
    a, b = world / "a.toml", world / "b.toml"
    a.write_text(text.replace('name = "synthetic"', 'name = "a"', 1), encoding="utf-8")
    edit(world, 'name = "synthetic"', 'name = "b"')
    edit(world, "n_sites = 4", "n_sites = 2")
    shutil.copy(world / "scenario.toml", b)
    out = world.parent / "out"
    alone = {}
    for path in (a, b):
        proc = cli_here("run", path, "--resolution", RESOLUTION, "--no-cache")
        assert proc.returncode == 0, proc.stderr
        alone[path.stem] = outputs_of(out / path.stem)
    assert (
        len(alone["a"]["tables"]["proposed_sites"]) == 7
        and len(alone["b"]["tables"]["proposed_sites"]) == 5
    )
    for workers, caching in (("1", []), ("2", []), ("2", ["--no-cache"])):
        proc = cli_here("run", a, b, "--resolution", RESOLUTION, "--workers", workers, *caching)
        assert proc.returncode == 0, proc.stderr
        for name in ("a", "b"):
            assert_same_outputs(outputs_of(out / name), alone[name])
