"""The weights-only sensitivity of a tiled run: ``siting sensitivity --profile P --tiles N``.

The robustness map of :mod:`siting.whatif.sensitivity` — for each eligible cell, the share of
weight draws in which it is in the top ``top_share`` of the eligible land — computed chunk by
chunk on the cluster (:func:`siting.scale.weights_mc.robustness`): the suitability is linear in
the weights, so each chunk sums the draws from the criteria's scores where they are, and no one
holds the draws' grids. Draw ``k`` comes from ``SeedSequence(seed).spawn(n)[k]``, so the map is
the same for any number of workers and any chunking. The per-site shares and the one-at-a-time
sweeps of the single-process analysis re-pick the sites for every draw; they are not made here.
"""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import pandas as pd

from siting.exports.folder import staged
from siting.mcda.weights import ahp_matrix_of
from siting.scale import blockwise, weights_mc
from siting.scale.tiled_run import TiledRun


def weight_robustness(
    run: TiledRun,
    profile: str,
    n: int = 200,
    seed: int = 0,
    concentration: float = 50.0,
    judgement_sd: float = 0.2,
    top_share: float = 0.1,
) -> tuple[da.Array, pd.DataFrame]:
    """The robustness map of ``profile`` (float32, NaN where not eligible; lazy) and the
    weights drawn (one row per draw, one column per criterion)."""
    surface = run.surfaces[profile]
    p = surface.profile
    matrix = ahp_matrix_of(p)
    weights = weights_mc.draw_weights(p.weights, n, seed, concentration, matrix, judgement_sd)
    scores = [surface.scores[c.name] for c in p.criteria]
    eligible = da.isfinite(surface.suitability)
    share = weights_mc.robustness(scores, eligible, weights, top_share)
    return share, pd.DataFrame(weights, columns=[c.name for c in p.criteria])


def write(
    run: TiledRun, profile: str, share: da.Array, weights: pd.DataFrame, folder: Path
) -> Path:
    """Write ``folder`` atomically: ``robustness.tif`` (a COG written tile by tile) and
    ``weights.csv``."""
    with staged(folder) as staging:
        weights.to_csv(staging / "weights.csv", index=False)
        blockwise.write_cog(
            share,
            run.grid,
            staging / "robustness.tif",
            f"robustness_{profile}",
            "share",
            f"share of weight draws in which the cell is in the best land of {profile}",
        )
    return folder
