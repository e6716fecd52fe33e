"""The grid stages as chunked Dask arrays (issue #21) equal the single-process ones: burnt layers,
capped distances, standardisation and suitability bit for bit; quantiles exactly; patch labels
label for label; the weights Monte Carlo as its numpy definition and whatever the chunking; the
tiled COG as the single-process export. On a real two-worker cluster, with odd, non-square
chunks."""

from __future__ import annotations

import dask.array as da
import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from dask_image import ndmeasure
from scipy import ndimage

from siting.config.scenario import Criterion, Exclusion, Profile, Standardization
from siting.errors import InfeasibleError
from siting.exports.rasters import write_geotiff
from siting.mcda import criteria, sites, standardize
from siting.mcda.suitability import Surface, evaluate
from siting.raster.grid import Grid, Raster
from siting.scale import blockwise, labels, select, weights_mc
from siting.whatif.sensitivity import sensitivity

CRS = "EPSG:32645"
X0, Y0 = 600_000.0, 6_100_000.0
GRID = Grid.from_bounds((X0, Y0, X0 + 9_700, Y0 + 7_300), 100.0, CRS)  # 73 rows × 97 columns
CHUNKS = (17, 23)  # odd, non-square, neither dividing the grid


def _points(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform([X0, Y0], [X0 + 9_700, Y0 + 7_300], (n, 2))


def _geometries(seed: int = 1) -> list[shapely.Geometry]:
    """Discs, lines and points scattered over the grid, some overlapping chunk edges."""
    rng = np.random.default_rng(seed)
    discs = [
        shapely.Point(p).buffer(r)
        for p, r in zip(_points(rng, 15), rng.uniform(50, 900, 15), strict=True)
    ]
    lines = [shapely.LineString(_points(rng, 4)) for _ in range(3)]
    return discs + lines + [shapely.Point(p) for p in _points(rng, 5)]


def _field(seed: int, nan_share: float = 0.05) -> np.ndarray:
    """A smooth float32 field with some NaN cells."""
    rng = np.random.default_rng(seed)
    out = ndimage.gaussian_filter(rng.normal(size=GRID.shape), 2).astype(np.float32)
    out[rng.random(GRID.shape) < nan_share] = np.nan
    return out


@pytest.mark.parametrize("all_touched", [False, True])
def test_burnt_layers_equal_the_whole_grid_burn(client, all_touched):
    geoms = _geometries()
    got = blockwise.rasterize(GRID, geoms, CHUNKS, value=7, fill=2, all_touched=all_touched)
    assert got.chunks[0][:2] == (17, 17) and got.chunks[1][:2] == (23, 23)
    expected = GRID.rasterize(geoms, value=7, fill=2, all_touched=all_touched)
    assert got.dtype == expected.dtype
    result = got.compute()
    assert np.array_equal(result, expected)
    assert 0 < (result == 7).mean() < 0.5  # the burn covers some cells, in several chunks
    assert np.array_equal(
        blockwise.mask(GRID, geoms, CHUNKS, all_touched=all_touched).compute(),
        GRID.mask(geoms, all_touched=all_touched),
    )


def test_burnt_boxes_on_cell_edges_and_centres_equal_the_whole_grid_burn(client, caplog):
    # Edges exactly on cell boundaries and through cell centres, on a grid snapped at 100 m and
    # one snapped at 30 m: the cases where a rounding of the cell coordinates would show.
    for res in (100.0, 30.0):
        grid = Grid.from_bounds(
            (352_310, 5_943_710, 352_310 + 97 * res, 5_943_710 + 73 * res), res, CRS
        )
        x0, y1 = grid.transform.c, grid.transform.f
        boxes = [
            shapely.box(
                x0 + (k + h) * res,
                y1 - (k + 9 + h) * res,
                x0 + (k + 5 + h) * res,
                y1 - (k + h) * res,
            )
            for k in range(0, 60, 7)
            for h in (0.0, 0.5)
        ]
        for all_touched in (False, True):
            got = blockwise.mask(grid, boxes, (8, 13), all_touched=all_touched).compute()
            assert np.array_equal(got, grid.mask(boxes, all_touched=all_touched))
    assert "may differ" not in caplog.text
    odd = Grid.from_bounds((-123.4, 56.7, -123.3, 56.8), 0.001, "EPSG:4326")
    with caplog.at_level("WARNING", logger="siting"):
        blockwise.mask(odd, boxes, (8, 13))
    assert "may differ from a whole-grid one" in caplog.text


@pytest.mark.parametrize("cap", [1_250.0, 2_550.0])  # a halo within a chunk, and wider than one
def test_capped_distance_equals_the_whole_grid_distance_capped(client, cap):
    geoms = _geometries()[15:18]  # the three lines
    got = blockwise.distance(GRID, geoms, cap, CHUNKS).compute()
    expected = np.minimum(criteria.distance(GRID, np.array(geoms)), cap)
    assert got.dtype == expected.dtype == np.float64
    assert np.array_equal(got, expected)
    assert 0.3 < (got < cap).mean() < 1  # both capped and uncapped cells are compared


@pytest.mark.parametrize(
    "spec",
    [
        Standardization("linear"),
        Standardization("linear", "higher"),
        Standardization("linear", low=-0.2, high=0.3),
        Standardization("sigmoid", midpoint=0.1, spread=0.2),
        Standardization("threshold", value=0.05, direction="higher"),
        Standardization("target", optimum=0.0, spread=0.1),
    ],
)
def test_standardisation_equals_the_single_process_one(client, spec):
    values = _field(2)
    within = np.zeros(GRID.shape, dtype=bool)
    within[5:60, 10:80] = True  # the stretch's range comes from this window only
    got = blockwise.standardize(
        da.from_array(values, chunks=CHUNKS), spec, da.from_array(within, chunks=(31, 19))
    ).compute()
    expected = standardize.standardize(values, spec, within)
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected, equal_nan=True)


def _profile(**changes) -> Profile:
    specs = [
        Standardization("linear"),
        Standardization("sigmoid", midpoint=0.0, spread=0.15, direction="higher"),
        Standardization("target", optimum=0.05, spread=0.2),
    ]
    crits = tuple(Criterion(f"c{k}", "distance", "towns", spec) for k, spec in enumerate(specs))
    base = {
        "name": "plant",
        "title": "Plant",
        "criteria": crits,
        "exclusions": (Exclusion("towns", buffer_m=300.0),),
        "weights": (0.5, 0.3, 0.2),
        "max_slope_deg": 0.1,
        "min_area_ha": 20.0,
        "candidate_quantile": 0.8,
    }
    return Profile(**{**base, **changes})


def _inputs():
    rng = np.random.default_rng(4)
    towns = gpd.GeoDataFrame(geometry=shapely.points(_points(rng, 6)), crs=CRS)
    in_area = GRID.mask([shapely.box(X0 + 450, Y0 + 250, X0 + 9_300, Y0 + 7_000)])
    raw = {f"c{k}": _field(10 + k, nan_share=0.02) for k in range(3)}
    return {"towns": towns}, in_area, raw, _field(20, nan_share=0.01)


def test_suitability_equals_evaluate(client):
    layers, in_area, raw, slope = _inputs()
    profile = _profile()
    expected = evaluate(
        profile, {k: Raster(v, GRID, k) for k, v in raw.items()}, layers, GRID, in_area,
        Raster(slope, GRID, "slope"),
    )  # fmt: skip
    got = blockwise.surface(
        profile,
        {k: da.from_array(v, chunks=CHUNKS) for k, v in raw.items()},
        layers,
        GRID,
        da.from_array(in_area, chunks=CHUNKS),
        da.from_array(slope, chunks=(29, 13)),
    )
    suit = got.suitability.compute()
    assert suit.dtype == np.float32
    assert np.array_equal(suit, expected.suitability.data, equal_nan=True)
    assert np.array_equal(got.excluded.compute(), expected.excluded)
    for name, score in expected.scores.items():
        assert np.array_equal(got.scores[name].compute(), score.data, equal_nan=True)
    # Exclusions, steep land and the area's edge all leave holes; most of the area is eligible.
    assert 0.3 < np.isfinite(suit).mean() < 0.9


def test_suitability_with_nothing_eligible_is_infeasible(client):
    layers, in_area, raw, _ = _inputs()
    with pytest.raises(InfeasibleError, match="no cell of the study area is left"):
        blockwise.surface(
            _profile(exclusions=(Exclusion("towns", buffer_m=20_000.0),)),
            {k: da.from_array(v, chunks=CHUNKS) for k, v in raw.items()},
            layers,
            GRID,
            da.from_array(in_area, chunks=CHUNKS),
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.8, 0.937, 1.0])
def test_quantiles_equal_numpy(client, dtype, q):
    values = (_field(5, nan_share=0.1) * 3.3).astype(dtype)
    values[:3, :] = 0.25  # ties across chunks
    got = select.quantile(da.from_array(values, chunks=CHUNKS), q)
    assert got == float(np.quantile(values[np.isfinite(values)], q))


@pytest.mark.parametrize(("bits", "gather"), [(12, 0), (16, 0), (12, 500), (7, 10_000)])
def test_order_statistics_by_counting_or_fetching_equal_sorting(client, bits, gather):
    # Every pass of the radix select (gather=0), or some then a fetch of the few left.
    values = (_field(9, nan_share=0.1) * 3.3).astype(np.float64)
    values[10:12, :] = -0.5  # ties
    finite = np.sort(values[np.isfinite(values)])
    ranks = np.array([[0, 1, 700], [len(finite) // 2, 4_000, len(finite) - 1]])
    n, got = select.order_statistics(
        [da.from_array(values, chunks=CHUNKS)],
        da.from_array(np.isfinite(values), chunks=CHUNKS),
        np.array([[1.0], [1.0]]),
        lambda n: ranks,
        bits=bits,
        gather=gather,
    )
    assert n == len(finite)
    assert np.array_equal(got, finite[ranks])


def _one_to_one(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two label arrays are equal up to renumbering (0 staying 0)."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    zero = (pairs[0] == 0) | (pairs[1] == 0)
    same_background = np.array_equal(pairs[:, zero], np.zeros((2, 1), dtype=pairs.dtype))
    one = len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]
    return bool(same_background and one)


def test_patch_labels_equal_the_single_process_ones(client):
    suit = _field(6)
    best = labels.best_land(da.from_array(suit, chunks=CHUNKS), 0.7).compute()
    cut = float(np.quantile(suit[np.isfinite(suit)], 0.7))
    expected_best = np.isfinite(suit) & (suit >= cut)
    assert np.array_equal(best, expected_best)
    got, n = labels.label(da.from_array(best, chunks=(11, 29)))
    got = got.compute()
    expected, m = ndimage.label(expected_best, structure=sites.EIGHT_CONNECTED)
    assert n == m > 10
    assert _one_to_one(got, expected)
    assert np.array_equal(got, expected)  # numbered in the same (row-major) order, too
    crossing = np.intersect1d(got[:11], got[11:22])  # labels on both sides of a chunk face
    assert len(crossing[crossing > 0]) > 0


def test_patch_labels_equal_dask_images_up_to_renumbering(client):
    best = _field(6) > 0.05
    image = da.from_array(best, chunks=(37, 49))  # 2 × 2 chunks: dask-image's graph grows fast
    theirs, n = ndmeasure.label(image, structure=sites.EIGHT_CONNECTED)
    ours, m = labels.label(image)
    theirs, ours = theirs.compute(), ours.compute()
    assert n.compute() == m == ndimage.label(best, structure=sites.EIGHT_CONNECTED)[1] > 5
    assert _one_to_one(ours, theirs) and not np.array_equal(ours, theirs)


def test_candidate_labels_equal_the_single_process_ones(client):
    suit = _field(7)
    profile = _profile(min_area_ha=5.0)
    surface = Surface(profile, {}, Raster(suit, GRID, "s"), ~np.isfinite(suit), None)
    expected = sites.candidate_labels(surface)
    got = labels.candidate_labels(da.from_array(suit, chunks=CHUNKS), profile, GRID.cell_area)
    got = got.compute()
    assert np.array_equal(got, expected)
    best = np.isfinite(suit) & (suit >= np.quantile(suit[np.isfinite(suit)], 0.8))
    assert 3 <= expected.max() < ndimage.label(best, structure=sites.EIGHT_CONNECTED)[1]


def _robustness_reference(scores, eligible, weights, top_share):
    """The map's definition in numpy: each draw's sum criterion by criterion in float64."""
    stack = np.stack([np.nan_to_num(s, nan=0.0) for s in scores]).astype(np.float64)
    count = np.zeros(eligible.shape, dtype=np.int32)
    for w in weights:
        total = np.zeros(eligible.shape)
        for c in range(len(w)):
            total += w[c] * stack[c]
        cut = np.quantile(total[eligible], 1 - top_share)
        count += eligible & (total >= cut)
    return np.where(eligible, count / len(weights), np.nan).astype(np.float32)


def test_weights_monte_carlo_equals_its_numpy_definition_for_any_chunking(client):
    layers, in_area, raw, _ = _inputs()
    profile = _profile(max_slope_deg=None)
    surface = evaluate(
        profile, {k: Raster(v, GRID, k) for k, v in raw.items()}, layers, GRID, in_area
    )
    scores = [surface.scores[c.name].data for c in profile.criteria]
    eligible = np.isfinite(surface.suitability.data)
    draws = weights_mc.draw_weights(profile.weights, 12, seed=3, concentration=20.0)
    expected = _robustness_reference(scores, eligible, draws, 0.1)
    maps = [
        weights_mc.robustness(
            [da.from_array(s, chunks=chunks) for s in scores],
            da.from_array(eligible, chunks=chunks),
            draws,
            top_share=0.1,
        ).compute()
        for chunks in (CHUNKS, (40, 9))
    ]
    for got in maps:
        assert got.dtype == np.float32
        assert np.array_equal(got, expected, equal_nan=True)
    assert np.nanmax(expected) == 1.0 and 0 < np.nanmean(expected > 0) < 0.5


def test_robustness_with_the_analysis_draws_matches_the_single_process_map(client, synthetic_run):
    name = next(iter(synthetic_run.surfaces))
    analysis = sensitivity(synthetic_run, name, n=12, sweep_steps=2, seed=5)
    surface = synthetic_run.surfaces[name]
    chunks = (107, 131)
    got = weights_mc.robustness(
        [
            da.from_array(surface.scores[c.name].data, chunks=chunks)
            for c in surface.profile.criteria
        ],
        da.from_array(np.isfinite(surface.suitability.data), chunks=chunks),
        analysis.weights.to_numpy(),
        top_share=0.1,
    ).compute()
    expected = analysis.robustness.data
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    # The analysis adds the criteria by BLAS (tensordot), which may round a sum in the last bit
    # otherwise: a cell that close to a draw's threshold may count differently, nothing more.
    same = (got == expected)[np.isfinite(expected)]
    assert same.mean() > 0.999
    assert 0 < np.nanmean(expected == 1) < np.nanmean(expected > 0) < 0.5


def test_weight_draws_depend_on_the_seed_and_draw_index_only():
    w = (0.5, 0.3, 0.2)
    draws = weights_mc.draw_weights(w, 6, seed=11)
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    assert np.array_equal(weights_mc.draw_weights(w, 3, seed=11), draws[:3])
    assert not np.array_equal(weights_mc.draw_weights(w, 6, seed=12), draws)
    assert len(np.unique(draws[:, 0])) == 6


def test_the_tiled_cog_equals_the_single_process_export(client, tmp_path):
    grid = Grid.from_bounds((X0, Y0, X0 + 70_000, Y0 + 53_000), 100.0, CRS)  # 530 × 700
    rng = np.random.default_rng(8)
    data = ndimage.gaussian_filter(rng.normal(size=grid.shape), 3).astype(np.float32)
    data[rng.random(grid.shape) < 0.01] = np.nan
    raster = Raster(data, grid, "suitability_plant", "score", "suitability for Plant")
    expected = write_geotiff(raster, tmp_path / "one.tif")
    got = blockwise.write_cog(
        da.from_array(data, chunks=(301, 257)), grid, tmp_path / "tiled" / "got.tif",
        raster.name, raster.units, raster.description,
    )  # fmt: skip
    with rasterio.open(expected) as one, rasterio.open(got) as two:
        assert two.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert two.profile["tiled"] and two.block_shapes == one.block_shapes == [(512, 512)]
        assert two.overviews(1) == one.overviews(1) == [2]
        assert (two.crs, two.transform, two.nodata) == (one.crs, one.transform, one.nodata)
        assert two.descriptions == one.descriptions and two.units == one.units
        assert two.tags(1) == one.tags(1)
        assert np.array_equal(two.read(1), one.read(1))
        assert np.array_equal(two.read(1, out_shape=(265, 350)), one.read(1, out_shape=(265, 350)))
    assert list((tmp_path / "tiled").iterdir()) == [got]  # the staging file is gone
