"""Candidate sites: contiguous suitable patches, and ranked proposed sites within them."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import rasterio.features
import shapely
from scipy import ndimage

from siting.config.scenario import Profile
from siting.mcda.suitability import Surface
from siting.raster.grid import Grid, Raster

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
log = logging.getLogger("siting")


def candidate_patches(surface: Surface) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Contiguous patches of the best land at least ``min_area_ha`` large.

    The best land is the eligible cells whose suitability reaches the profile's
    ``candidate_quantile`` of all eligible cells.

    Returns
    -------
    patches, labels
        Patch polygons (``patch_id``, ``area_ha``, ``mean_score``, ``max_score``) and the label
        array (0 = no patch).

    Raises
    ------
    Notes
    -----
    When no patch reaches the minimum area the profile simply has no candidates: a warning says
    so (with the largest patch found) and the map and report show it; it is not an error.
    """
    profile = surface.profile
    suit = surface.suitability
    values = suit.data
    labels, cells = _labelled(surface)
    area_ha = cells * suit.grid.cell_area / 10_000
    keep = area_ha >= profile.min_area_ha
    keep[0] = False
    if not keep.any():
        log.warning(
            "profile %r: no patch of suitable land reaches min_area_ha = %g (largest: %.1f ha), "
            "so it proposes no site; lower profiles.%s.min_area_ha or candidate_quantile",
            profile.name,
            profile.min_area_ha,
            area_ha[1:].max(initial=0),
            profile.name,
        )
    labels, ids = _renumbered(labels, keep)
    counts = cells[keep]
    # Per-patch sums and maxima over the patch cells only (ndimage's label statistics sort the
    # whole grid, the slowest step of a 100 m run).
    inside = labels > 0
    patch = labels[inside] - 1
    score = np.nan_to_num(values[inside]).astype(float)
    sums = np.bincount(patch, weights=score, minlength=len(ids))
    maxima = np.full(len(ids), -np.inf)
    np.maximum.at(maxima, patch, score)
    polygons: dict[int, list] = {}
    for geom, value in rasterio.features.shapes(
        labels, mask=labels > 0, transform=suit.grid.transform
    ):
        polygons.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    patches = gpd.GeoDataFrame(
        {
            "profile": profile.name,
            "patch_id": ids,
            "area_ha": counts * suit.grid.cell_area / 10_000,
            "mean_score": sums / counts,
            "max_score": maxima,
        },
        geometry=[shapely.union_all(polygons[i]) for i in ids.tolist()],
        crs=suit.grid.crs,
    )
    return patches, labels


def _labelled(surface: Surface) -> tuple[np.ndarray, np.ndarray]:
    """Patches of the best land (every size) and each label's number of cells (label 0: none)."""
    suit = surface.suitability
    values = suit.data
    eligible = np.isfinite(values)
    cut = float(np.quantile(values[eligible], surface.profile.candidate_quantile))
    labels, n = ndimage.label(eligible & (values >= cut), structure=EIGHT_CONNECTED)
    return labels, np.bincount(labels.ravel(), minlength=n + 1)


def _renumbered(labels: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Kept patches renumbered 1..k in order of label so that ids are stable for a given input.
    ids = np.arange(1, int(keep.sum()) + 1)
    new_id = np.zeros(len(keep), dtype=np.int32)
    new_id[keep] = ids
    return new_id[labels], ids


def candidate_labels(surface: Surface) -> np.ndarray:
    """The label array of :func:`candidate_patches` (0 = no patch), without the patches'
    outlines and statistics: what :func:`select_sites` needs, for a surface reweighted many
    times (the robustness draws)."""
    labels, cells = _labelled(surface)
    keep = cells * surface.suitability.grid.cell_area / 10_000 >= surface.profile.min_area_ha
    keep[0] = False
    return _renumbered(labels, keep)[0]


def greedy_picks(x: np.ndarray, y: np.ndarray, n_sites: int, min_separation_m: float) -> np.ndarray:
    """Indices of the cells :func:`select_sites` picks among cells at (``x``, ``y``) sorted best
    first: the first cell, then each next one at least ``min_separation_m`` from every pick, up
    to ``n_sites``. A pick depends only on the cells before it, so the picks among the first k
    cells of the order are the picks of the whole order up to there."""
    alive = np.ones(len(x), dtype=bool)
    picked: list[int] = []
    while alive.any() and len(picked) < n_sites:
        i = int(np.argmax(alive))  # first alive = best remaining, as cells are sorted
        picked.append(i)
        alive &= np.hypot(x - x[i], y - y[i]) >= min_separation_m
    return np.array(picked, dtype=int)


def select_sites(surface: Surface, raw: dict[str, Raster], labels: np.ndarray) -> gpd.GeoDataFrame:
    """Pick up to ``n_sites`` ranked sites, best first, at least ``min_separation_m`` apart.

    Greedy non-maximum suppression: take the best cell of any patch, drop every cell closer than
    the separation, repeat. Each site carries its score, the contribution of each criterion
    (weight × standardised score; they add up to the score) and each criterion's raw value.
    """
    profile = surface.profile
    grid = surface.suitability.grid
    rows, cols = np.nonzero(labels)
    score = surface.suitability.data[rows, cols].astype(float)
    order = np.argsort(-score, kind="stable")
    rows, cols, score = rows[order], cols[order], score[order]
    x, y = grid.xy(rows, cols)
    idx = greedy_picks(x, y, profile.n_sites, profile.min_separation_m)
    r, c = rows[idx], cols[idx]
    return site_table(
        profile,
        grid,
        r,
        c,
        score[idx],
        labels[r, c],
        {
            criterion.name: surface.scores[criterion.name].data[r, c]
            for criterion in profile.criteria
        },
        {criterion.name: raw[criterion.name].data[r, c] for criterion in profile.criteria},
    )


def site_table(
    profile: Profile,
    grid: Grid,
    rows: np.ndarray,
    cols: np.ndarray,
    score: np.ndarray,
    patch_id: np.ndarray,
    scores: dict[str, np.ndarray],
    raw: dict[str, np.ndarray],
) -> gpd.GeoDataFrame:
    """The ranked sites at cells (``rows``, ``cols``), best first, as :func:`select_sites`
    returns them, from their suitability ``score`` (float64), ``patch_id`` and each criterion's
    standardised score and raw value at them."""
    x, y = grid.xy(rows, cols)
    data: dict[str, object] = {
        "profile": profile.name,
        "rank": np.arange(1, len(rows) + 1),
        "score": score,
        "patch_id": patch_id,
    }
    for criterion, weight in zip(profile.criteria, profile.weights, strict=True):
        data[f"w_{criterion.name}"] = weight * np.nan_to_num(scores[criterion.name])
    for criterion in profile.criteria:
        data[f"raw_{criterion.name}"] = raw[criterion.name].astype(float)
    data["x"], data["y"] = x, y
    sites = gpd.GeoDataFrame(data, geometry=shapely.points(x, y), crs=grid.crs)
    sites.insert(0, "site_id", [f"{profile.name}-{k}" for k in sites["rank"]])
    return sites


def locate(sites: gpd.GeoDataFrame, places: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Add ``lon``/``lat`` and, given named places, ``near``: the nearest place and its distance
    ("12 km from Belovo"), so a planner can find a site without a map."""
    lonlat = sites.geometry.to_crs("EPSG:4326")
    sites = sites.assign(lon=lonlat.x.round(5), lat=lonlat.y.round(5))
    if places is None or "name" not in places.columns or sites.empty:
        return sites
    nearest = gpd.sjoin_nearest(
        sites[["geometry"]], places[["name", "geometry"]], distance_col="_d"
    )
    nearest = nearest[~nearest.index.duplicated()]
    sites["near"] = [
        f"{d / 1000:.0f} km from {n}" if d >= 1000 else f"in {n}"
        for n, d in zip(nearest["name"], nearest["_d"], strict=True)
    ]
    return sites


def propose(surface: Surface, raw: dict[str, Raster]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Patches and ranked sites for one profile."""
    patches, labels = candidate_patches(surface)
    return patches, select_sites(surface, raw, labels)
