"""The weights-only Monte Carlo of the robustness map, chunk by chunk: the suitability is linear
in the weights, so each chunk computes the K draws' sums from the criteria's scores where they
are, and no one holds K full grids.

A draw's suitability is Σ_c w_kc · s_c over the criteria in their order, in float64, with the
scores' NaN as 0 (the stack :mod:`siting.whatif.sensitivity` builds); a cell is in a draw's top
``top_share`` where that reaches the draw's ``numpy.quantile`` at 1 − ``top_share`` over the
eligible cells. Two passes: the K thresholds, exact (:func:`siting.scale.select.order_statistics`:
a radix select whose per-chunk counts are summed), then the per-cell counts.

Draw ``k``'s weights come from its own generator, ``SeedSequence(seed).spawn(K)[k]``, so the
draws, and the map, are the same for any number of workers and any chunking.

The single-process analysis adds the criteria with :func:`numpy.tensordot` (BLAS), whose order
of additions is its own: its sums may differ from these in the last bit, and a cell within that
of a threshold may count differently; it also draws all weights from one generator. Compare
the two statistically, not bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import dask.array as da
import numpy as np

from siting.mcda.weights import weight_draws
from siting.scale.select import count_at_least, order_statistics, quantile_of, quantile_ranks


def draw_weights(
    weights: Sequence[float],
    n: int,
    seed: int = 0,
    concentration: float = 50.0,
    ahp_matrix: np.ndarray | None = None,
    judgement_sd: float = 0.2,
) -> np.ndarray:
    """``n`` weight vectors around ``weights`` (:func:`siting.mcda.weights.weight_draws`), draw
    ``k`` from the generator of ``SeedSequence(seed).spawn(n)[k]``; (n, criteria)."""
    children = np.random.SeedSequence(seed).spawn(n)
    w = np.asarray(weights, dtype=float)
    rows = [
        weight_draws(w, 1, np.random.default_rng(child), concentration, ahp_matrix, judgement_sd)
        for child in children
    ]
    return np.vstack(rows) if rows else np.empty((0, len(w)))


def thresholds(
    scores: Sequence[da.Array], eligible: da.Array, weights: np.ndarray, top_share: float
) -> np.ndarray:
    """Per draw, ``numpy.quantile(total[eligible], 1 - top_share)`` of its suitability, exactly.

    Raises
    ------
    ValueError
        If no cell is eligible.
    """
    q = 1 - float(top_share)
    n, found = order_statistics(
        scores, eligible, weights, lambda n: np.tile(quantile_ranks(n, q), (len(weights), 1))
    )
    return np.array([quantile_of(a, b, n, q, np.dtype(np.float64)) for a, b in found])


def robustness(
    scores: Sequence[da.Array], eligible: da.Array, weights: np.ndarray, top_share: float = 0.1
) -> da.Array:
    """Share of the draws (rows of ``weights``) in which each eligible cell is in the top
    ``top_share`` of the eligible land, float32, NaN off it (the map of
    :class:`siting.whatif.sensitivity.Sensitivity`). The thresholds are computed now; the map
    is lazy."""
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    cuts = thresholds(scores, eligible, weights, top_share)
    count = count_at_least(scores, eligible, weights, cuts)
    n = len(weights)
    return da.map_blocks(_share, count, eligible.rechunk(count.chunks), n, dtype=np.float32)


def _share(count: np.ndarray, eligible: np.ndarray, n: int) -> np.ndarray:
    return np.where(eligible, count / n, np.nan).astype(np.float32)
