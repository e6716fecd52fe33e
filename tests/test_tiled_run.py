"""One region on a tiled grid (issue #21): :func:`siting.scale.tiled_run.run_tiled` on a real
two-worker ``LocalCluster`` proposes the same sites as the single-process run, with the same
suitability, on the synthetic world, with odd chunks in non-square tile layouts.

What is bit-identical and what is not:

- distances (capped where their scores saturate), cost-distance (tiled, exact) and the
  suitability from them are equal bit for bit, except where the chunked burn of the exclusions
  differs from the whole-grid burn (``blockwise.mask`` with ``all_touched`` on a disc whose
  vertex lies on a cell edge: two to four cells here, asserted as such);
- sums within a radius are FFT convolutions in both runs, of the whole grid in one and of each
  chunk with its halo in the other: equal to FFT round-off, asserted at 1e-9 of the total summed
  weight, and the suitability of a profile using one to 1e-6.
"""

from __future__ import annotations

import json
from pathlib import Path

import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from scipy import ndimage

import siting
from siting.config import scenario as scenario_mod
from siting.errors import ScenarioError
from siting.mcda.exclusions import exclusions
from siting.mcda.sites import candidate_labels, candidate_patches
from siting.raster.cost import friction_surface, resample, start_cells
from siting.raster.grid import Grid
from siting.scale import blockwise, tiled_criteria
from siting.scale.tiled_run import best_cells, patches_of, run_tiled

from conftest import make_world

POWER_SIGMOID = (
    'standardize = { fn = "sigmoid", midpoint = 8000, spread = 2000, direction = "lower" }'
)
POWER_LINEAR = 'standardize = { fn = "linear", low = 0, high = 12000, direction = "lower" }'


def _scenario(root: Path, edits: dict[str, str] | None = None) -> Path:
    """The world's scenario without its models (the tiled run has none) and with the power
    plant's sigmoid (which never saturates) made a linear ramp, plus ``edits``."""
    folder = make_world(root)
    path = folder / "scenario.toml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(POWER_SIGMOID, POWER_LINEAR)
    text = text[: text.index("[models.clusters]")] + text[text.index("[outputs]") :]
    for old, new in (edits or {}).items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


#: A variant: the least haul cost (no weights), a stricter road threshold (sites beyond the
#: cap of the road distance, so their raw values come from the uncapped search), more sites.
VARIANT = {
    'weight_field = "output"\nstandardize = { fn = "linear", direction = "lower" }': (
        'standardize = { fn = "linear", direction = "lower" }'
    ),
    'standardize = { fn = "threshold", value = 3000, direction = "lower" }': (
        'standardize = { fn = "threshold", value = 500, direction = "lower" }'
    ),
    "n_sites = 3": "n_sites = 6",
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, siting.Result]:
    path = _scenario(tmp_path_factory.mktemp("tiled"))
    return path, siting.run(path, write=False)


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, siting.Result]:
    path = _scenario(tmp_path_factory.mktemp("variant"), VARIANT)
    # A seventh mine in the middle of the lake: impassable, so its haul starts from the nearest
    # passable cell (the fallback of ``start_cells``).
    mines = gpd.read_file(path.parent / "mines.gpkg")
    lake = gpd.read_file(path.parent / "water.gpkg").geometry.iloc[0].centroid
    extra = {"name": "G", "output_mtpa": 1.0, "status": "operating", "mine_type": "open_pit"}
    mines = pd.concat([mines, gpd.GeoDataFrame([extra], geometry=[lake], crs=mines.crs)])
    mines.to_file(path.parent / "mines.gpkg")
    return path, siting.run(path, write=False)


def _burn_differs(result: siting.Result, chunks: tuple[int, int]) -> dict[str, np.ndarray]:
    """Per profile, the cells where the chunked burn of its exclusions differs from the
    whole-grid one (a limitation of ``blockwise.mask``, not of the tiled run)."""
    grid = result.grid
    normal = blockwise.chunks_of(grid, chunks)
    out = {}
    for name, profile in result.scenario.profiles.items():
        geoms = exclusions(profile, result.layers, grid.crs).geometry.values
        whole = grid.mask(geoms, all_touched=True)
        tiled = blockwise.mask(grid, geoms, normal, all_touched=True).compute()
        out[name] = whole != tiled
    return out


def _sites_equal(single: siting.Result, tiled) -> None:
    expected = single.sites[single.sites["origin"] == "suitability"].reset_index(drop=True)
    got = tiled.sites
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected) > 0
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")),
        pd.DataFrame(expected.drop(columns="geometry")),
        check_exact=True,
    )
    assert list(got.geometry.to_wkb()) == list(expected.geometry.to_wkb())


@pytest.mark.parametrize("chunks", [(97, 131), (61, 143)])
def test_tiled_run_equals_the_single_process_run(client, base, chunks, tmp_path):
    path, single = base
    tiled = run_tiled(path, client, chunks=chunks, cog_dir=tmp_path / "cogs")
    assert tiled.grid == single.grid
    assert tiled.n_chunks == {(97, 131): 9, (61, 143): 10}[chunks]
    assert tiled.chunks[0][0] == chunks[0] and tiled.chunks[1][0] == chunks[1]

    # The same sites, column for column, value for value.
    _sites_equal(single, tiled)
    assert set(tiled.sites["profile"]) == {"processing_plant", "technopark"}
    assert max(tiled.site_rounds.values()) >= 2  # some profile needed more candidate cells

    # The same patches, but for the cells whose exclusion burn differs (below): from the same
    # suitability they are equal (test_patches_from_chunks_equal_the_candidate_patches).
    differs = _burn_differs(single, chunks)
    patches, expected = tiled.patches, single.patches
    assert list(patches.columns) == list(expected.columns)
    assert patches[["profile", "patch_id"]].equals(expected[["profile", "patch_id"]])
    cell_ha = single.grid.cell_area / 10_000
    for name in single.surfaces:
        mine = (patches["profile"] == name).to_numpy()
        gap = np.abs(patches["area_ha"][mine] - expected["area_ha"][mine])
        assert gap.sum() <= differs[name].sum() * cell_ha

    # Criteria: capped distances and the tiled cost-distance bit for bit, the sums within a
    # radius to FFT round-off.
    for name, raster in single.criteria.items():
        got = tiled.criteria[name].compute()
        assert got.dtype == raster.data.dtype == np.float32
        if name in tiled.caps:
            assert np.array_equal(got, np.minimum(raster.data, np.float32(tiled.caps[name])))
            assert (raster.data > tiled.caps[name]).any()  # the cap does cut some cells
        elif name == "labour":
            total = single.layers["settlements"]["population"].sum()
            assert np.abs(got.astype(float) - raster.data).max() <= 1e-9 * total
        else:
            assert name == "haul_cost"
            assert np.array_equal(got, raster.data)
            assert np.isinf(got).any()  # unreachable cells (the lake), the same ones
    assert tiled.cost_searches["haul_cost"]["searches"] == 6  # one per mine (weighted mean)
    assert tiled.caps == {"rail": 10001.0, "power": 12001.0, "uglenaukograd": 15001.0,
                          "road": 3001.0}  # fmt: skip

    for name, surface in single.surfaces.items():
        got = tiled.suitability[name].compute()
        want = surface.suitability.data
        assert got.dtype == want.dtype == np.float32
        # The eligible cells are the same but where the chunked burn of the exclusions differs.
        assert differs[name].sum() <= 8
        assert np.array_equal(np.isnan(got) != np.isnan(want), differs[name])
        same = ~differs[name]
        if name == "processing_plant":  # distances and cost: bit for bit
            assert np.array_equal(got[same], want[same], equal_nan=True)
        else:  # the labour pool, to FFT round-off
            both = same & np.isfinite(want)
            assert np.abs(got[both] - want[both]).max() <= 1e-6

        # The COG written tile by tile holds the tiled suitability.
        written = tiled.cogs[name]
        assert written == tmp_path / "cogs" / f"suitability_{name}.tif"
        with rasterio.open(written) as src:
            assert src.transform == single.grid.transform
            assert src.tags(1)["name"] == f"suitability_{name}"
            band = src.read(1, masked=True)
        assert np.array_equal(band.mask, np.isnan(got))
        assert np.array_equal(band.data[~band.mask], got[~np.isnan(got)])


def test_variant_with_least_cost_and_sites_beyond_a_cap(client, variant):
    path, single = variant
    tiled = run_tiled(path, client, chunks=(83, 59))
    _sites_equal(single, tiled)
    # Some technopark sites lie beyond the road's cap: their raw distance is the true one.
    road = tiled.sites["raw_road"].dropna()
    assert (road > tiled.caps["road"]).any()
    assert tiled.caps["road"] == 501.0
    assert np.array_equal(tiled.criteria["haul_cost"].compute(), single.criteria["haul_cost"].data)
    assert tiled.cost_searches["haul_cost"]["searches"] == 1  # every mine a source at once
    assert len(single.layers["mines"]) == 7
    assert tiled.cost_searches["haul_cost"]["rounds"] >= 2  # paths crossed tile borders


def test_best_cells_are_the_first_cells_of_the_single_process_order(client, base):
    """The candidates each chunk hands over, merged, are the head of ``select_sites``' order
    (score descending, ties in row-major order)."""
    _, single = base
    surface = single.surfaces["technopark"]
    labels = candidate_labels(surface)
    rows, cols = np.nonzero(labels)
    score = surface.suitability.data[rows, cols].astype(float)
    order = np.argsort(-score, kind="stable")
    chunks = blockwise.chunks_of(single.grid, (41, 67))
    suit = da.from_array(surface.suitability.data, chunks=chunks)
    cand = da.from_array(labels, chunks=chunks)
    got_score, got_flat = best_cells(suit, cand, 500)
    assert np.array_equal(got_flat, (rows * single.grid.width + cols)[order][:500])
    assert np.array_equal(got_score, score[order][:500])
    assert len(np.unique(got_score)) < 500  # ties are there, and broken as in one process


def test_unsupported_criteria_are_refused_by_key_before_any_work(client, tmp_path):
    edits = {
        'name = "rail"\nkind = "distance"': 'name = "rail"\nkind = "travel_time"',
        "[profiles.processing_plant]": '[network]\nlayer = "roads"\n\n[profiles.processing_plant]',
    }
    path = _scenario(tmp_path, edits)
    scenario = scenario_mod.load(path)
    # Refused before any layer is read: with a layer gone, reading would fail otherwise.
    (path.parent / "mines.gpkg").unlink()
    with pytest.raises(ScenarioError) as caught:
        run_tiled(scenario, client)
    assert "profiles.processing_plant.criteria[1] ('rail')" in caught.value.message
    assert "runs only in one process" in caught.value.message

    # A distance scored by a sigmoid never saturates: no cap keeps its scores.
    path = _scenario(tmp_path / "sigmoid", {POWER_LINEAR: POWER_SIGMOID})
    with pytest.raises(ScenarioError) as caught:
        run_tiled(path, client)
    assert "profiles.processing_plant.criteria[2] ('power')" in caught.value.message
    assert "never saturates" in caught.value.message
    assert "low" in caught.value.fix and "without a cluster" in caught.value.fix


def test_friction_and_start_cells_equal_the_single_process_ones(client, variant):
    """The chunked friction equals ``friction_surface``; each mine starts where ``start_cells``
    starts it, the one in the lake from the nearest passable cell, the river from its bridge."""
    _, single = variant
    scenario, layers = single.scenario, single.layers
    coarse = single.grid.coarsen(scenario.friction.resolution)
    chunks = blockwise.chunks_of(coarse, (17, 23))
    fric = tiled_criteria.friction(scenario.friction, layers, coarse, chunks)
    whole = friction_surface(scenario.friction, layers, coarse)
    assert np.array_equal(fric.compute(), whole.data)
    geoms = np.concatenate([layers["mines"].geometry.values, layers["rivers"].geometry.values])
    got = tiled_criteria.start_cells(fric, coarse, geoms)
    for cells, geom in zip(got, geoms, strict=True):
        assert np.array_equal(cells, start_cells(whole, geom))
    lake_mine = coarse.index(np.array([geoms[6].x]), np.array([geoms[6].y]))
    assert np.isinf(whole.data[lake_mine][0]) and len(got[6]) == 1
    assert tuple(got[6][0]) != (lake_mine[0][0], lake_mine[1][0])  # moved to dry land
    assert len(got[7]) == 1  # the river is impassable but for the road's bridge


@pytest.mark.parametrize("seed", range(8))
def test_resampling_by_chunks_equals_the_whole_grid_resampling(client, seed):
    """Coarse costs with impassable blobs, resampled onto odd fine chunks from odd coarse
    chunks, equal ``siting.raster.cost.resample`` of the whole grid bit for bit (the fill of
    impassable cells included)."""
    rng = np.random.default_rng(seed)
    fine = Grid(Affine(250, 0, 585_000, 0, -250, 6_155_000), 283, 241, "EPSG:32645")
    coarse = fine.coarsen(250 * int(rng.choice([2, 3, 4, 5])))
    data = rng.uniform(1, 100, coarse.shape)
    blobs = ndimage.gaussian_filter(rng.normal(size=coarse.shape), 1.5) > rng.uniform(0.1, 0.4)
    data[blobs] = np.inf
    expected = resample(data, coarse, fine)
    assert np.isinf(expected).any() and np.isfinite(expected).any()
    chunks = blockwise.chunks_of(fine, (int(rng.integers(9, 80)), int(rng.integers(9, 80))))
    coarse_chunks = (int(rng.integers(5, 30)), int(rng.integers(5, 30)))
    got = tiled_criteria.resample(
        da.from_array(data, chunks=coarse_chunks), coarse, fine, chunks
    ).compute()
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("profile", ["processing_plant", "technopark"])
def test_patches_from_chunks_equal_the_candidate_patches(client, base, profile):
    """Per-chunk counts, sums, maxima and outline pieces, merged, give the table of
    ``candidate_patches``: ids, areas and maxima exactly, means to the order of their sums,
    outlines covering the same ground."""
    _, single = base
    surface = single.surfaces[profile]
    expected, labels = candidate_patches(surface)
    chunks = blockwise.chunks_of(single.grid, (41, 67))
    got = patches_of(
        da.from_array(surface.suitability.data, chunks=chunks),
        da.from_array(labels, chunks=chunks),
        surface.profile,
        single.grid,
    )
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected) >= 1
    for column in ("profile", "patch_id", "area_ha", "max_score"):
        assert got[column].tolist() == expected[column].tolist()
    np.testing.assert_allclose(got["mean_score"], expected["mean_score"], rtol=1e-12)
    for outline, want in zip(got.geometry, expected.geometry, strict=True):
        assert outline.equals(want)
    # Some patch spans chunks, so its outline is united from pieces.
    assert any(
        len(pieces) > 1 for pieces in [_chunks_of(g, chunks, single.grid) for g in got.geometry]
    )


def _chunks_of(outline, chunks, grid) -> set[tuple[int, int]]:
    """The chunks an outline's cells fall in."""
    rows, cols = np.nonzero(grid.mask([outline]))
    edges = [np.cumsum(c) for c in chunks]
    return set(
        zip(
            np.searchsorted(edges[0], rows, side="right").tolist(),
            np.searchsorted(edges[1], cols, side="right").tolist(),
            strict=True,
        )
    )


def test_the_command_writes_a_tiled_run(tmp_path):
    """``siting run --tiles`` on its own LocalCluster: the GeoPackage's sites are the
    single-process run's, the suitability COG holds the tiled suitability, run.json says how it
    was tiled."""
    from clitools import cli_here

    path = _with_plants(
        tmp_path / "cli",
        'profile = "processing_plant"\ndemand = "mines"\np = 2\nweber_candidates = false',
    )
    out = tmp_path / "out"
    done = cli_here("run", path, "--tiles", "101", "--workers", "2", "--output-dir", out)
    assert done.returncode == 0, done.stderr
    name = scenario_mod.load(path).name
    folder = out / name
    sites = gpd.read_file(folder / "siting.gpkg", layer="proposed_sites")
    alone = siting.run(path, write=False, cache=False).sites
    assert sites["site_id"].tolist() == alone["site_id"].tolist()
    np.testing.assert_array_equal(sites.geometry.x, alone.geometry.x)
    np.testing.assert_array_equal(sites["score"], alone["score"])
    info = json.loads((folder / "run.json").read_text())
    assert info["kind"] == "tiled" and info["grid"]["n_chunks"] > 1
    single = siting.run(path, write=False, cache=False)
    plants = gpd.read_file(folder / "siting.gpkg", layer="allocation_plants")
    expected = sorted(single.allocation.plants["site_id"].astype(str))
    assert sorted(plants["site_id"]) == sorted(info["allocation"]["plants"]) == expected
    result = siting.run(path, write=False, cache=False)
    for profile in result.scenario.profiles:
        with rasterio.open(folder / f"suitability_{profile}.tif") as src:
            assert src.profile["tiled"]
            tiled = src.read(1, masked=True).filled(np.nan)
        single = result.suitability(profile).data.astype(np.float32)
        both = np.isfinite(tiled) & np.isfinite(single)
        # Equal, but for the FFT round-off of sums within a radius (module docstring).
        np.testing.assert_allclose(tiled[both], single[both], rtol=0, atol=1e-6)
        # The chunked exclusion burn may differ in a few edge cells (see the module docstring).
        assert (np.isfinite(tiled) != np.isfinite(single)).sum() <= 4
    page = (folder / "map.html").read_text()
    assert "tiled grid" in page and '<script src="http' not in page
    assert not (out / ".cache").exists()
    assert not (folder / "intermediates.zarr").exists()  # removed before the swap


def _with_plants(root: Path, allocation: str) -> Path:
    """The world's scenario with its plant model (``allocation``: the table's body) but no
    growth poles, hence no Weber points: the candidates are the proposed sites, as in a tiled
    run."""
    path = _scenario(root)
    text = path.read_text(encoding="utf-8")
    text = text.replace("[outputs]", f"[models.allocation]\n{allocation}\n\n[outputs]", 1)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "allocation",
    [
        'profile = "processing_plant"\ndemand = "mines"\np = 2\nweber_candidates = false',
        'profile = "processing_plant"\ndemand = "mines"\np = 2\nweber_candidates = false\n'
        "suitability_weight = 0.5",
        # p left out: the opening costs decide how many plants (none idle, so no tie).
        'profile = "processing_plant"\ndemand = "mines"\ncapacity = 15\nopening_cost = 30\n'
        "weber_candidates = false",
    ],
    ids=["p-median", "p-median mixed with suitability", "capacitated"],
)
def test_the_plant_model_of_a_tiled_run_opens_the_single_process_plants(
    client, tmp_path, allocation
):
    """Costs by windowed per-candidate searches on the chunked friction (exact here: each window
    is the whole grid), the model single-node: the same plants, the same objective (to the
    float32 rounding of the single-process cost fields)."""
    path = _with_plants(tmp_path, allocation)
    alone = siting.run(path, write=False, cache=False)
    tiled = run_tiled(path, client, chunks=(97, 131))
    assert alone.allocation is not None and tiled.allocation is not None
    expected = alone.allocation.plants["site_id"].astype(str).tolist()
    assert sorted(tiled.allocation.plants) == sorted(expected)
    assert tiled.allocation.objective == pytest.approx(alone.allocation.objective, rel=1e-6)
    assert tiled.allocation.gap <= 1e-4


def test_a_tiled_run_refuses_a_plant_model_it_cannot_solve_as_one_process(client, tmp_path):
    path = _with_plants(tmp_path, 'profile = "processing_plant"\ndemand = "mines"\np = 2')
    text = path.read_text(encoding="utf-8").replace(
        "[models.allocation]",
        '[models.clusters]\nlayer = "mines"\neps_m = 5000\nmin_weight = 5\n\n[models.allocation]',
        1,
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match="weber_candidates"):
        run_tiled(path, client, chunks=64)


def test_intermediates_as_zarr_give_the_same_run(client, tmp_path):
    """With ``zarr_dir`` the criteria and suitability go to Zarr on disk (chunk by chunk, by
    the workers) and are read back lazily: the same sites, the same suitability to the bit."""
    path = _scenario(tmp_path / "z")
    held = run_tiled(path, client, chunks=(83, 101))
    stored = run_tiled(path, client, chunks=(83, 101), zarr_dir=tmp_path / "zarr")
    pd.testing.assert_frame_equal(
        pd.DataFrame(held.sites.drop(columns="geometry")),
        pd.DataFrame(stored.sites.drop(columns="geometry")),
    )
    names = sorted(p.name for p in (tmp_path / "zarr").iterdir())
    assert names == sorted(
        [f"criterion_{n}.zarr" for n in held.criteria]
        + [f"suitability_{n}.zarr" for n in held.suitability]
    )
    for name, data in held.suitability.items():
        again = stored.suitability[name]
        assert again.chunks == data.chunks
        np.testing.assert_array_equal(again.compute(), data.compute())


def test_the_tiled_robustness_map_is_the_numpy_definition_and_the_command_writes_it(
    client, tmp_path
):
    """``siting sensitivity --tiles``: per eligible cell, the share of weight draws in whose
    best 10 % it lies, computed chunk by chunk; against the same definition in numpy on the
    single-process scores with the same draws (equal but for the few edge cells where the
    chunked exclusion burn differs, see the module docstring, which move the thresholds)."""
    from siting.scale.weights_mc import draw_weights

    from clitools import cli_here

    path = _scenario(tmp_path / "mc")
    out = tmp_path / "out"
    done = cli_here(
        "sensitivity", path, "--profile", "processing_plant", "--tiles", "101",
        "--draws", "8", "--seed", "4", "--workers", "2", "--output-dir", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    name = scenario_mod.load(path).name
    folder = out / f"{name}_sensitivity_processing_plant"
    weights = pd.read_csv(folder / "weights.csv")
    with rasterio.open(folder / "robustness.tif") as src:
        tiled = src.read(1, masked=True).filled(np.nan)
    single = siting.run(path, write=False, cache=False).surfaces["processing_plant"]
    profile = single.profile
    drawn = draw_weights(profile.weights, 8, seed=4)
    np.testing.assert_array_equal(weights.to_numpy(), drawn)
    eligible = np.isfinite(single.suitability.data)
    count = np.zeros(eligible.shape)
    for w in drawn:
        total = np.zeros(eligible.shape)
        for c, wc in zip(profile.criteria, w, strict=True):
            total += wc * np.nan_to_num(single.scores[c.name].data.astype(np.float64))
        cut = np.quantile(total[eligible], 0.9)
        count += eligible & (total >= cut)
    expected = np.where(eligible, count / 8, np.nan).astype(np.float32)
    both = np.isfinite(expected) & np.isfinite(tiled)
    assert (np.isfinite(expected) != np.isfinite(tiled)).sum() <= 4
    assert np.mean(tiled[both] == expected[both]) >= 0.99
    assert set(np.unique(tiled[both] * 8)) <= set(range(9))


def test_tiles_with_a_batch_or_a_national_scenario_is_refused(tmp_path):
    """``--tiles`` applies to one region: with a batch or a national scenario it would be
    ignored, so it is refused before anything runs."""
    from clitools import cli_here

    a = _scenario(tmp_path / "a")
    b = _scenario(tmp_path / "b")
    done = cli_here("run", a, b, "--tiles", "64", "--output-dir", tmp_path / "out")
    assert done.returncode == 2 and "--tiles runs one scenario" in done.stderr
    done = cli_here("run", "russia", "--tiles", "64", "--output-dir", tmp_path / "out")
    assert done.returncode == 2 and "russia is national" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()
