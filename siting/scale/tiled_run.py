"""One region on a tiled grid: layers → criteria → suitability → sites on a Dask cluster, equal to
the single-process run (:func:`siting.pipeline.stages.run`), for a region whose grid does not fit
one machine (issue #21).

:func:`run_tiled` reads the layers and builds the grid as the single-process run does (the
vectors are small and stay in this process), then keeps every raster a chunked array on the
workers:

- criteria by :mod:`siting.scale.tiled_criteria` (capped distances by halos, sums within a
  radius by halos, exact cost-distance across tiles); a criterion of another kind, a distance
  whose standardisation never saturates, or a DEM is refused before any computation;
- suitability by :func:`siting.scale.blockwise.surface`, bit-identical to
  :func:`siting.mcda.suitability.evaluate` on the same criteria;
- candidate patches by :func:`siting.scale.labels.candidate_labels`, label for label, and
  their table (:func:`patches_of`: per-chunk counts, sums, maxima and outline pieces);
- the ranked sites: each chunk hands over its best ``k`` candidate cells (score, then row-major
  position: the order :func:`siting.mcda.sites.select_sites` sorts them in), the client merges
  them and runs the same greedy pick (:func:`siting.mcda.sites.greedy_picks`). A pick depends
  only on the cells before it in that order, so once the best ``k`` cells yield ``n_sites``
  picks (or hold every candidate) they are the picks of the whole grid; otherwise ``k``
  doubles. Only those cells and the values at the picked cells reach the client.

What it leaves to one process: the location models (their cost matrices), the exports other
than the suitability COGs, the steep-land outline (no DEM), and ``travel_time`` criteria.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from affine import Affine
from distributed import Client

from siting.config import scenario as scenario_mod
from siting.config.scenario import Criterion, Profile, Scenario
from siting.inputs import place
from siting.inputs.layers import load_layers
from siting.mcda import criteria as criteria_mod
from siting.mcda.sites import greedy_picks, locate, site_table
from siting.raster.grid import Grid, make_grid
from siting.scale import blockwise, labels, tiled_criteria, tiled_models
from siting.scale.blockwise import ChunkedSurface
from siting.scale.tiled_models import TiledPlan

log = logging.getLogger("siting")

#: Candidate cells each chunk hands over in the first round of the site search.
FIRST_K = 256


@dataclass
class TiledRun:
    """What :func:`run_tiled` returns.

    Attributes
    ----------
    scenario
        The scenario as run (its CRS settled).
    grid
        The run's grid, as the single-process run makes it.
    sites
        The ranked proposed sites of every profile, with the columns of
        :attr:`siting.pipeline.result.Result.sites` (``origin = "suitability"``; the Weber
        points that the allocation model adds are not here).
    suitability
        Per profile, the suitability (float32, NaN where not eligible) as a dask array, held on
        the workers.
    criteria
        Raw criterion rasters (float32 dask arrays); distances are capped at :attr:`caps`.
    caps
        The distance caps (metres) by criterion name.
    chunks
        Dask's chunk sizes of the grid (rows, columns).
    patches
        The candidate patches of every profile with the columns of
        :attr:`siting.pipeline.result.Result.patches`, from per-chunk summaries (``mean_score``
        summed chunk by chunk: equal to float64 round-off, the rest exactly; outlines united
        from each chunk's pieces).
    cost_searches
        Per ``cost_distance`` criterion: tiled searches, their rounds and tile runs.
    site_rounds
        Per profile, how many rounds of candidate cells the site search took.
    cogs
        The suitability COGs written, by profile (empty unless ``cog_dir`` is given).
    timings
        Seconds per stage.
    allocation
        ``[models.allocation]`` solved on the sites (:mod:`siting.scale.tiled_models`), or None.
    surfaces
        Per profile, its chunked scores, suitability and exclusions (the scores lazy, read from
        the criteria where they are): what the weights-only sensitivity re-weighs.
    """

    scenario: Scenario
    grid: Grid
    sites: gpd.GeoDataFrame
    suitability: dict[str, da.Array]
    criteria: dict[str, da.Array]
    caps: dict[str, float]
    chunks: tuple[tuple[int, ...], ...]
    patches: gpd.GeoDataFrame | None = None
    cost_searches: dict[str, dict[str, int]] = field(default_factory=dict)
    site_rounds: dict[str, int] = field(default_factory=dict)
    cogs: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    allocation: TiledPlan | None = None
    surfaces: dict[str, ChunkedSurface] = field(default_factory=dict, repr=False)

    @property
    def n_chunks(self) -> int:
        """Number of chunks (tiles) of the grid."""
        return len(self.chunks[0]) * len(self.chunks[1])


def run_tiled(
    scenario: Scenario | str | Path | None,
    client: Client,
    chunks: int | tuple[int, int] = 1024,
    cog_dir: Path | None = None,
    zarr_dir: Path | None = None,
) -> TiledRun:
    """Run a scenario's criteria, suitability and sites on a tiled grid on ``client``'s cluster.

    Parameters
    ----------
    scenario
        A :class:`~siting.config.scenario.Scenario`, the path of a scenario TOML file, or
        ``None`` for the embedded default.
    client
        The Dask client of the cluster that holds the tiles.
    chunks
        Cells per chunk (one number: square chunks; or (rows, columns)).
    cog_dir
        If given, each profile's suitability is written there as ``suitability_<profile>.tif``
        (a COG written tile by tile, as the single-process export writes it).
    zarr_dir
        If given, the intermediates — each criterion's raw raster and each profile's
        suitability — are written there as Zarr arrays (chunk by chunk, on the workers) and read
        back lazily, instead of being held in the workers' memory; the folder must be one the
        workers see.

    Returns
    -------
    TiledRun

    Raises
    ------
    siting.errors.ScenarioError
        A criterion this run cannot compute exactly (``travel_time``: "runs only in one
        process"; a distance whose standardisation never saturates) or a DEM, before anything
        is read.
    siting.errors.SitingError
        Any problem with the input, as the single-process run raises it.
    """
    if not isinstance(scenario, Scenario):
        scenario = scenario_mod.load(scenario)
    caps = tiled_criteria.check(scenario)
    tiled_models.check(scenario)
    if scenario.covering or scenario.chain or scenario.clusters:
        log.info(
            "tiled run: covering, the value chain and growth poles run only in one process; "
            "not run here"
        )
    timings: dict[str, float] = {}
    start = time.perf_counter()
    # The CRS as the single-process run settles it, without its check that the grid fits in
    # this machine's memory: here the grid lives on the cluster.
    crs = place.working_crs(scenario)
    if crs != scenario.crs:
        scenario = dataclasses.replace(scenario, crs=crs)
    layers, area = load_layers(scenario)
    grid = make_grid(area, scenario.pad, scenario.resolution, scenario.crs)
    normal = blockwise.chunks_of(grid, chunks)
    in_area = client.persist(blockwise.mask(grid, [area], normal))
    timings["layers"] = _lap(start)
    log.info(
        "tiled run: %d × %d cells of %g m in %d × %d chunks",
        grid.width,
        grid.height,
        grid.res,
        len(normal[0]),
        len(normal[1]),
    )

    raw, searches, friction = _criteria(scenario, layers, grid, normal, caps, client, zarr_dir)
    timings["criteria"] = _lap(start) - timings["layers"]

    surfaces = {}
    for name, profile in scenario.profiles.items():
        made = blockwise.surface(profile, raw, layers, grid, in_area)
        # The suitability is read by every later pass; the scores only at the sites (lazy).
        made.suitability = _keep(made.suitability, client, zarr_dir, f"suitability_{name}", normal)
        surfaces[name] = made
    timings["suitability"] = _lap(start) - sum(timings.values())

    parts, patch_parts, rounds = [], [], {}
    for name, made in surfaces.items():
        candidates = client.persist(
            labels.candidate_labels(made.suitability, made.profile, grid.cell_area)
        )
        sites, rounds[name] = _sites(made, raw, candidates, grid, caps, layers)
        parts.append(sites)
        patch_parts.append(patches_of(made.suitability, candidates, made.profile, grid))
    sites = pd.concat(parts, ignore_index=True)
    patches = gpd.GeoDataFrame(pd.concat(patch_parts, ignore_index=True), crs=scenario.crs)
    sites = locate(
        gpd.GeoDataFrame(sites, crs=scenario.crs),
        layers.get(scenario.place_names) if scenario.place_names else None,
    )
    sites["origin"] = "suitability"
    timings["sites"] = _lap(start) - sum(timings.values())

    plan = None
    if scenario.allocation is not None and friction is not None:
        plan = tiled_models.allocate_tiled(scenario, layers, area, sites, *friction, client)
        timings["models"] = _lap(start) - sum(timings.values())

    cogs = {}
    if cog_dir is not None:
        for name, made in surfaces.items():
            cogs[name] = blockwise.write_cog(
                made.suitability,
                grid,
                Path(cog_dir) / f"suitability_{name}.tif",
                f"suitability_{name}",
                "score",
                f"suitability for {made.profile.title} (0–1); no data = excluded",
            )
        timings["cogs"] = _lap(start) - sum(timings.values())
    return TiledRun(
        scenario,
        grid,
        sites,
        {name: s.suitability for name, s in surfaces.items()},
        raw,
        caps,
        normal,
        patches,
        searches,
        rounds,
        cogs,
        timings,
        plan,
        surfaces,
    )


def _keep(
    data: da.Array, client: Client, zarr_dir: Path | None, name: str, chunks: tuple
) -> da.Array:
    """An intermediate kept for the later passes: held on the workers, or written to
    ``<zarr_dir>/<name>.zarr`` by the cluster (in the grid's regular ``chunks``, as Zarr
    stores them) and read back lazily from there."""
    if zarr_dir is None:
        return client.persist(data)
    path = str(Path(zarr_dir) / f"{name}.zarr")
    data.rechunk(chunks).to_zarr(path, overwrite=True)
    return da.from_zarr(path)


def _lap(start: float) -> float:
    return round(time.perf_counter() - start, 3)


def _criteria(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    grid: Grid,
    chunks: tuple[tuple[int, ...], ...],
    caps: dict[str, float],
    client: Client,
    zarr_dir: Path | None = None,
) -> tuple[dict[str, da.Array], dict[str, dict[str, int]], tuple[da.Array, Grid] | None]:
    """Every criterion's raw raster (float32, persisted on the workers), the cost searches'
    statistics, and the friction with its (coarse) grid when a criterion or the plant model
    needs it."""
    by_name = tiled_criteria.criteria_of(scenario)
    fric = coarse = None
    needs = scenario.allocation is not None and scenario.haul.mode != "network"
    if needs or any(c.kind == "cost_distance" for c in by_name.values()):
        coarse = grid.coarsen(scenario.friction.resolution)
        coarse_chunks = tiled_criteria.coarse_chunks(grid, coarse, chunks)
        fric = client.persist(
            tiled_criteria.friction(scenario.friction, layers, coarse, coarse_chunks)
        )
    raw: dict[str, da.Array] = {}
    searches = {}
    for name, criterion in by_name.items():
        gdf = criteria_mod.features(layers, criterion)
        if criterion.kind == "distance":
            data = tiled_criteria.distance(grid, gdf.geometry.values, caps[name], chunks)
        elif criterion.kind == "within_radius":
            data = tiled_criteria.within_radius(grid, gdf, criterion, chunks)
        else:
            assert fric is not None and coarse is not None  # made above for this kind
            data, searches[name] = tiled_criteria.cost_distance(
                grid, gdf, criterion, fric, coarse, chunks, client
            )
        raw[name] = _keep(data, client, zarr_dir, f"criterion_{name}", chunks)
    return raw, searches, None if fric is None or coarse is None else (fric, coarse)


def _sites(
    surface: ChunkedSurface,
    raw: dict[str, da.Array],
    candidates: da.Array,
    grid: Grid,
    caps: dict[str, float],
    layers: dict[str, gpd.GeoDataFrame],
) -> tuple[gpd.GeoDataFrame, int]:
    """A profile's ranked sites, as :func:`siting.mcda.sites.select_sites` picks them, and the
    rounds of candidate cells it took (see the module)."""
    profile = surface.profile
    total = int((candidates > 0).sum().compute())
    if total == 0:
        log.warning(
            "profile %r: no patch of suitable land reaches min_area_ha = %g, so it proposes no "
            "site; lower profiles.%s.min_area_ha or candidate_quantile",
            profile.name,
            profile.min_area_ha,
            profile.name,
        )
    # Every cell before the last pick is a pick or within the separation of an earlier one: the
    # picks need at most n_sites × (1 + cells of a disc of that radius) cells, whatever the grid.
    reach = int(profile.min_separation_m // grid.res) + 1
    offsets = np.arange(-reach, reach + 1) * grid.res
    disc = int((np.hypot(*np.meshgrid(offsets, offsets)) <= profile.min_separation_m).sum())
    bound = profile.n_sites * (1 + disc)
    k, rounds = min(FIRST_K, bound), 0
    while True:
        rounds += 1
        score, flat = best_cells(surface.suitability, candidates, k)
        rows, cols = np.divmod(flat, grid.width)
        x, y = grid.xy(rows, cols)
        idx = greedy_picks(x, y, profile.n_sites, profile.min_separation_m)
        if len(idx) == profile.n_sites or len(flat) >= total or k >= bound:
            break
        k = min(2 * k, bound)
    r, c = rows[idx], cols[idx]
    at = (r, c)
    names = [criterion.name for criterion in profile.criteria]
    patch, *values = dask.compute(
        candidates.vindex[at],
        *[surface.scores[n].vindex[at] for n in names],
        *[raw[n].vindex[at] for n in names],
    )
    scores = dict(zip(names, values[: len(names)], strict=True))
    raws = dict(zip(names, values[len(names) :], strict=True))
    for criterion in profile.criteria:
        if criterion.name in caps:
            raws[criterion.name] = _uncapped(
                raws[criterion.name], caps[criterion.name], criterion, layers, grid, r, c
            )
    table = site_table(profile, grid, r, c, score[idx], patch, scores, raws)
    return table, rounds


def _uncapped(
    values: np.ndarray,
    cap: float,
    criterion: Criterion,
    layers: dict[str, gpd.GeoDataFrame],
    grid: Grid,
    rows: np.ndarray,
    cols: np.ndarray,
) -> np.ndarray:
    """Capped distances at the sites with those at the cap replaced by the true ones (float32,
    as the single-process raster holds them)."""
    out = values.copy()
    capped = out >= np.float32(cap)
    if capped.any():
        geoms = criteria_mod.features(layers, criterion).geometry.values
        exact = tiled_criteria.exact_distance(grid, geoms, rows[capped], cols[capped], 2 * cap)
        out[capped] = exact.astype(np.float32)
    return out


def best_cells(
    suitability: da.Array, candidates: da.Array, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best candidate cells (label > 0) of the grid: their suitability (float64) and
    row-major index, best first, ties in row-major order; each chunk hands over its own ``k``
    best."""
    width = suitability.shape[1]
    parts = [
        dask.delayed(_best_in_block)(s, c, row, col, width, k)
        for s, c, (row, col, _, _) in _block_pairs(suitability, candidates)
    ]
    found = dask.compute(*parts)
    score = np.concatenate([np.empty(0), *[s for s, _ in found]])
    flat = np.concatenate([np.empty(0, dtype=np.int64), *[f for _, f in found]])
    order = np.lexsort((flat, -score))[:k]
    return score[order], flat[order]


def _block_pairs(
    suitability: da.Array, candidates: da.Array
) -> list[tuple[Any, Any, tuple[int, int, int, int]]]:
    """Each chunk of ``suitability`` with the same chunk of ``candidates`` (as delayed blocks)
    and its window (row, column, height, width), row by row."""
    return [
        (s, c, window)
        for s, c, (_, window) in zip(
            suitability.to_delayed().ravel(),
            candidates.rechunk(suitability.chunks).to_delayed().ravel(),
            blockwise.windows(suitability.chunks),
            strict=True,
        )
    ]


def _best_in_block(
    suitability: np.ndarray, candidates: np.ndarray, row: int, col: int, width: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    at = np.flatnonzero(candidates > 0)
    score = suitability.ravel()[at].astype(float)
    r, c = np.divmod(at, suitability.shape[1])
    flat = (row + r) * width + col + c
    order = np.lexsort((flat, -score))[:k]
    return score[order], flat[order]


def patches_of(
    suitability: da.Array, candidates: da.Array, profile: Profile, grid: Grid
) -> gpd.GeoDataFrame:
    """:func:`siting.mcda.sites.candidate_patches`' table of a chunked labelling: each chunk
    counts, sums and maximises its patches' scores and traces their outlines; the client adds
    the counts and sums, takes the maxima and unites the outlines."""
    parts = [
        dask.delayed(_patch_block)(s, c, blockwise.window_grid(grid, *window).transform)
        for s, c, window in _block_pairs(suitability, candidates)
    ]
    found = dask.compute(*parts)
    n = max([0, *[int(ids.max(initial=0)) for ids, *_ in found]])
    counts = np.zeros(n + 1, dtype=np.int64)
    sums = np.zeros(n + 1)
    maxima = np.full(n + 1, -np.inf)
    pieces: dict[int, list] = {}
    for ids, cells, total, top, shapes in found:
        counts[ids] += cells
        sums[ids] += total
        maxima[ids] = np.maximum(maxima[ids], top)
        for value, geom in shapes:
            pieces.setdefault(value, []).append(geom)
    ids = np.arange(1, n + 1)
    outlines = [shapely.union_all(pieces[i]) for i in ids.tolist()]
    return gpd.GeoDataFrame(
        {
            "profile": profile.name,
            "patch_id": ids,
            "area_ha": counts[1:] * grid.cell_area / 10_000,
            "mean_score": sums[1:] / counts[1:],
            "max_score": maxima[1:],
        },
        geometry=outlines,
        crs=grid.crs,
    )


def _patch_block(suitability: np.ndarray, candidates: np.ndarray, transform: Affine) -> tuple:
    """A chunk's patch ids, their cells, score sums and maxima, and outline pieces (in the
    chunk's own ``transform``)."""
    inside = candidates > 0
    patch = candidates[inside]
    score = np.nan_to_num(suitability[inside]).astype(float)
    ids = np.unique(patch)
    at = np.searchsorted(ids, patch)
    cells = np.bincount(at, minlength=len(ids))
    total = np.bincount(at, weights=score, minlength=len(ids))
    top = np.full(len(ids), -np.inf)
    np.maximum.at(top, at, score)
    shapes = [
        (int(value), shapely.geometry.shape(geom))
        for geom, value in rasterio.features.shapes(candidates, mask=inside, transform=transform)
    ]
    return ids, cells, total, top, shapes
