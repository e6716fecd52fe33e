"""Exact quantiles of rasters too large for one process, and of the K weighted sums of a
criteria stack without holding any of the K grids (the Monte Carlo of
:mod:`siting.scale.weights_mc`).

:func:`numpy.quantile` sorts the values; here the two order statistics it interpolates between
are found by a radix select over the values' bits instead: each pass over the chunks counts, per
chunk, the next few bits of the values that share the bits found so far, the counts are summed
over the chunks, and the digit holding the wanted rank is kept; once few values share the bits
found so far (:data:`GATHER`), one last pass fetches them to sort. Sums of counts and sorted
values do not depend on how the grid is chunked or on how many workers count, so neither does
the result; and the two order statistics are exact, so the quantile is bit-identical to
:func:`numpy.quantile` (method ``linear``) on the same values (:func:`quantile_of`).

A value is a sum ``Σ_c w_kc · s_c`` over the criteria ``c`` in their order, in float64, with the
scores' NaN taken as 0 (as the sensitivity analysis stacks them); a plain raster is the case of
one criterion with weight 1 (``0 + 1 · v`` is ``v``, and float32 widens to float64 exactly).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dask
import dask.array as da
import numpy as np
from numba import njit

#: Bits of the value decided per pass: 4,096 counts per draw and rank per chunk, 6 passes for a
#: float64 (fewer bits mean more passes; more mean bigger per-chunk counts to sum).
DIGIT_BITS = 12
#: At most this many values left to tell apart (over all draws and ranks): fetch them and sort.
GATHER = 1 << 20
_SIGN = np.uint64(1 << 63)


@njit(cache=True, nogil=True, inline="always")
def _total(stack: np.ndarray, i: int, weights: np.ndarray, k: int) -> float:
    """Draw ``k``'s value of cell ``i``: Σ_c w_kc · s_c, criteria in order, in float64."""
    total = 0.0
    for c in range(stack.shape[0]):
        total += weights[k, c] * np.float64(stack[c, i])
    return total


@njit(cache=True, nogil=True)
def _histogram(
    stack: np.ndarray,
    eligible: np.ndarray,
    weights: np.ndarray,
    prefixes: np.ndarray,
    high: int,
    bits: int,
) -> np.ndarray:
    """Counts of the digit ``bits`` wide below bit ``high`` of each eligible cell's sortable key,
    per draw and per wanted rank, among the keys whose bits from ``high`` up equal that rank's
    prefix (all keys when ``high`` is 64)."""
    n_draws, n_ranks = prefixes.shape
    out = np.zeros((n_draws, n_ranks, 1 << bits), dtype=np.int64)
    value = np.empty(1, dtype=np.float64)
    key = value.view(np.uint64)
    low = np.uint64(high - bits)
    mask = np.uint64((1 << bits) - 1)
    every = high >= 64
    up = np.uint64(high if high < 64 else 0)
    for i in range(eligible.size):
        if not eligible[i]:
            continue
        for k in range(n_draws):
            value[0] = _total(stack, i, weights, k)
            # Order-preserving map of float bits to unsigned integers.
            bits64 = key[0]
            sortable = ~bits64 if bits64 & _SIGN else bits64 | _SIGN
            digit = (sortable >> low) & mask
            for r in range(n_ranks):
                if every or (sortable >> up) == prefixes[k, r]:
                    out[k, r, digit] += 1
    return out


@njit(cache=True, nogil=True)
def _gather(
    stack: np.ndarray,
    eligible: np.ndarray,
    weights: np.ndarray,
    prefixes: np.ndarray,
    high: int,
    size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The values of the eligible cells whose key's bits from ``high`` up equal a rank's
    prefix, with which draw and rank (``k * ranks + r``) each is for."""
    n_draws, n_ranks = prefixes.shape
    which = np.empty(size, dtype=np.int64)
    values = np.empty(size, dtype=np.float64)
    value = np.empty(1, dtype=np.float64)
    key = value.view(np.uint64)
    up = np.uint64(high)
    m = 0
    for i in range(eligible.size):
        if not eligible[i]:
            continue
        for k in range(n_draws):
            value[0] = _total(stack, i, weights, k)
            bits64 = key[0]
            sortable = ~bits64 if bits64 & _SIGN else bits64 | _SIGN
            for r in range(n_ranks):
                if (sortable >> up) == prefixes[k, r]:
                    which[m] = k * n_ranks + r
                    values[m] = value[0]
                    m += 1
    return which[:m], values[:m]


@njit(cache=True, nogil=True)
def _at_least(
    stack: np.ndarray, eligible: np.ndarray, weights: np.ndarray, cuts: np.ndarray
) -> np.ndarray:
    """Per eligible cell, the number of draws whose value reaches that draw's cut."""
    out = np.zeros(eligible.size, dtype=np.int32)
    for i in range(eligible.size):
        if eligible[i]:
            for k in range(weights.shape[0]):
                if _total(stack, i, weights, k) >= cuts[k]:
                    out[i] += 1
    return out


def _from_key(keys: np.ndarray) -> np.ndarray:
    """The float64 values of sortable keys (the inverse of the map in :func:`_histogram`)."""
    keys = np.asarray(keys, dtype=np.uint64)
    bits = np.where(keys & _SIGN, keys & ~_SIGN, ~keys)
    return bits.view(np.float64)


def _stacked(blocks: Sequence[np.ndarray]) -> np.ndarray:
    """The criteria blocks of one chunk stacked, NaN as 0, in float32 if they all are (widened
    to float64 cell by cell, exactly), else float64."""
    dtype = np.result_type(np.float32, *[b.dtype for b in blocks])
    return np.stack([np.nan_to_num(np.asarray(b, dtype=dtype), nan=0.0) for b in blocks])


def aligned(arrays: Sequence[da.Array]) -> list[da.Array]:
    """``arrays`` rechunked like the first (so their blocks pair up)."""
    first = arrays[0]
    return [a if a.chunks == first.chunks else a.rechunk(first.chunks) for a in arrays]


def _per_chunk(
    fn: Callable[..., np.ndarray], scores: Sequence[da.Array], eligible: da.Array, shape: tuple
) -> da.Array:
    """``fn(stack, eligible)`` of every chunk, a result of ``shape`` per chunk, summed."""
    arrays = aligned([eligible, *scores])
    rows, cols = arrays[0].numblocks

    def block(mask: np.ndarray, *blocks: np.ndarray) -> np.ndarray:
        stack = _stacked(blocks).reshape(len(blocks), -1)
        return fn(stack, np.ascontiguousarray(mask).ravel()).reshape((1, 1, *shape))

    parts = da.map_blocks(
        block,
        *arrays,
        dtype=np.int64,
        new_axis=list(range(2, 2 + len(shape))),
        chunks=((1,) * rows, (1,) * cols, *((s,) for s in shape)),
    )
    return parts.sum(axis=(0, 1))


def _digit_pass(
    scores: Sequence[da.Array],
    eligible: da.Array,
    weights: np.ndarray,
    prefixes: np.ndarray,
    high: int,
    width: int,
) -> np.ndarray:
    """The summed :func:`_histogram` of every chunk."""

    def count(stack: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return _histogram(stack, mask, weights, prefixes, high, width)

    shape = (*prefixes.shape, 1 << width)
    return np.asarray(_per_chunk(count, scores, eligible, shape).compute())


def _gather_pass(
    scores: Sequence[da.Array],
    eligible: da.Array,
    weights: np.ndarray,
    prefixes: np.ndarray,
    high: int,
    size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Every eligible value whose bits from ``high`` up equal a prefix: (draw × ranks + rank,
    value) pairs, at most ``size`` of them per chunk."""
    arrays = aligned([eligible, *scores])
    delayed = [a.to_delayed().ravel() for a in arrays]

    def block(mask: np.ndarray, *blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        stack = _stacked(blocks).reshape(len(blocks), -1)
        return _gather(stack, np.ascontiguousarray(mask).ravel(), weights, prefixes, high, size)

    parts = dask.compute(*[dask.delayed(block)(*items) for items in zip(*delayed, strict=True)])
    which = np.concatenate([np.empty(0, dtype=np.int64), *[w for w, _ in parts]])
    values = np.concatenate([np.empty(0), *[v for _, v in parts]])
    return which, values


def order_statistics(
    scores: Sequence[da.Array],
    eligible: da.Array,
    weights: np.ndarray,
    ranks_of: Callable[[int], np.ndarray],
    bits: int = DIGIT_BITS,
    gather: int = GATHER,
) -> tuple[int, np.ndarray]:
    """The ``ranks[k, r]``-th smallest (0-based) value of draw ``k`` over the eligible cells.

    Parameters
    ----------
    scores
        The criteria, 2-D arrays of one shape (NaN counts as 0).
    eligible
        Boolean array: the cells that take part.
    weights
        (draws, criteria) float64.
    ranks_of
        The ranks, (draws, ranks) int, given the number of eligible cells (found by the first
        pass).
    bits
        Bits decided per pass over the data.
    gather
        Once at most this many values share the bits found so far, they are fetched and
        sorted instead of counted further (one last pass).

    Returns
    -------
    n, values
        The number of eligible cells and the (draws, ranks) float64 values.

    Raises
    ------
    ValueError
        If no cell is eligible.
    """
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    high, width = 64, min(bits, 64)
    first = _digit_pass(
        scores, eligible, weights, np.zeros((len(weights), 1), np.uint64), 64, width
    )
    n = int(first[0, 0].sum())
    if n == 0:
        raise ValueError("no eligible value to take an order statistic of")
    remaining = np.array(ranks_of(n), dtype=np.int64, copy=True)
    hist = np.broadcast_to(first, (*remaining.shape, first.shape[-1]))
    prefixes = np.zeros(remaining.shape, dtype=np.uint64)
    while True:
        below = np.cumsum(hist, axis=-1) - hist  # values with a smaller digit
        # The digit holding the rank: the last whose count of smaller values is <= the rank.
        digit = (below <= remaining[..., None]).sum(axis=-1) - 1
        remaining -= np.take_along_axis(below, digit[..., None], axis=-1)[..., 0]
        candidates = int(np.take_along_axis(hist, digit[..., None], axis=-1).sum())
        prefixes = (prefixes << np.uint64(width)) | digit.astype(np.uint64)
        high -= width
        if high == 0:
            return n, _from_key(prefixes)
        if candidates <= gather:
            break
        width = min(bits, high)
        hist = _digit_pass(scores, eligible, weights, prefixes, high, width)
    which, values = _gather_pass(scores, eligible, weights, prefixes, high, candidates)
    out = np.empty(remaining.shape)
    for index, rank in np.ndenumerate(remaining):
        group = np.sort(values[which == np.ravel_multi_index(index, remaining.shape)])
        out[index] = group[rank]
    return n, out


def count_at_least(
    scores: Sequence[da.Array], eligible: da.Array, weights: np.ndarray, cuts: np.ndarray
) -> da.Array:
    """Per cell, the number of draws ``k`` whose value reaches ``cuts[k]`` (0 where not
    eligible), int32, chunked like ``eligible``."""
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    cuts = np.ascontiguousarray(cuts, dtype=np.float64)
    arrays = aligned([eligible, *scores])

    def block(mask: np.ndarray, *blocks: np.ndarray) -> np.ndarray:
        stack = _stacked(blocks).reshape(len(blocks), -1)
        flat = _at_least(stack, np.ascontiguousarray(mask).ravel(), weights, cuts)
        return flat.reshape(mask.shape)

    return da.map_blocks(block, *arrays, dtype=np.int32)


def quantile_of(lower: float, upper: float, n: int, q: float, dtype: np.dtype) -> float:
    """:func:`numpy.quantile` (method ``linear``) of ``n`` values of ``dtype`` at ``q`` (a Python
    float), from its two order statistics ``lower`` (rank ⌊(n − 1)·q⌋) and ``upper`` (the next
    rank, or ``lower`` when there is none).

    numpy interpolates between the two with the fraction of the virtual index (n − 1)·q; two
    values at q = that fraction give the same virtual index, the same fraction and the same
    interpolation, in the same dtype, so numpy itself does the arithmetic.
    """
    virtual = (n - 1) * np.float64(q)
    fraction = float(virtual - np.floor(virtual))
    pair = np.array([lower, upper], dtype=dtype)
    return float(np.quantile(pair, fraction))


def quantile_ranks(n: int, q: float) -> tuple[int, int]:
    """The ranks of the two order statistics :func:`quantile_of` needs (numpy's indexes)."""
    virtual = (n - 1) * np.float64(q)
    lower = min(max(int(np.floor(virtual)), 0), n - 1)
    return lower, min(lower + 1, n - 1)


def quantile(values: da.Array, q: float, eligible: da.Array | None = None) -> float:
    """``numpy.quantile(values[eligible], q)``, exactly, of a float32 or float64 dask array
    (``eligible`` defaults to the finite cells).

    Raises
    ------
    ValueError
        If no cell is eligible.
    """
    dtype = np.dtype(np.float32 if values.dtype == np.float32 else np.float64)
    mask = da.isfinite(values) if eligible is None else eligible & da.isfinite(values)
    n, found = order_statistics(
        [values], mask, np.ones((1, 1)), lambda n: np.array([quantile_ranks(n, q)])
    )
    return quantile_of(found[0, 0], found[0, 1], n, q, dtype)
