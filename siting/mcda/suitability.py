"""Suitability: exclusions and the weighted sum of standardised criteria, per profile."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.config.scenario import Profile
from siting.errors import InfeasibleError
from siting.mcda.exclusions import exclusions, steep_land
from siting.mcda.standardize import accumulate
from siting.raster.grid import Grid, Raster


@dataclass
class Surface:
    """One profile's surfaces.

    Attributes
    ----------
    scores
        Standardised criterion scores in [0, 1], by criterion name.
    suitability
        Weighted sum of the scores on eligible cells, NaN elsewhere.
    excluded
        Cells touched by any exclusion (a cell that merely touches one is excluded, so every
        eligible cell centre lies outside every exclusion).
    exclusions
        The exclusion polygons, with the rule that made each.
    """

    profile: Profile
    scores: dict[str, Raster]
    suitability: Raster
    excluded: np.ndarray
    exclusions: gpd.GeoDataFrame


def evaluate(
    profile: Profile,
    raw: dict[str, Raster],
    layers: dict[str, gpd.GeoDataFrame],
    grid: Grid,
    in_area: np.ndarray,
    slope: Raster | None = None,
) -> Surface:
    """Standardise, weight and mask one profile's criteria.

    With a ``slope`` raster and the profile's ``max_slope_deg``, steeper cells are excluded too
    (cells without elevation data are not).

    Raises
    ------
    InfeasibleError
        If no cell of the study area escapes the exclusions.
    """
    excl = exclusions(profile, layers, grid.crs)
    excluded = grid.mask(excl.geometry.values, all_touched=True)
    if slope is not None and profile.max_slope_deg is not None:
        steep, polygon = steep_land(slope, profile.max_slope_deg)
        excluded |= steep
        if polygon is not None:
            excl = pd.concat([excl, polygon.assign(profile=profile.name)], ignore_index=True)
    eligible = in_area & ~excluded
    if not eligible.any():
        raise InfeasibleError(
            f"profile {profile.name!r}: no cell of the study area is left after its exclusions "
            f"({', '.join(excl['reason'])})",
            f"reduce the buffers in profiles.{profile.name}.exclusions or drop one of them",
        )
    scores = {}
    total = np.zeros(grid.shape)
    for criterion, weight in zip(profile.criteria, profile.weights, strict=True):
        score = accumulate(
            raw[criterion.name].data, criterion.standardize, weight, total, within=in_area
        )
        scores[criterion.name] = Raster(
            score, grid, criterion.name, "score", f"standardised {criterion.name} (0 worst, 1 best)"
        )
    total[~eligible] = np.nan
    suitability = Raster(
        total.astype(np.float32),
        grid,
        f"suitability_{profile.name}",
        "score",
        f"suitability for {profile.title} (0–1); no data = excluded",
    )
    return Surface(profile, scores, suitability, excluded, excl)
