"""Patches of the best land across chunks: the labelling of :mod:`siting.mcda.sites` on chunked
suitability, equal to it label for label.

The best land is cut at an exact quantile (:func:`siting.scale.select.quantile`, a radix select
instead of a sort). :func:`label` is the algorithm of :func:`dask_image.ndmeasure.label`: each
chunk labelled on its own (:func:`scipy.ndimage.label`, the eight-connected structure of
``sites.py``), its labels offset to be unique, and labels that meet across chunk faces (and
corners) joined as connected components of a graph. dask-image's graph of tasks grows faster
than the number of chunks (402, 4,634 and 59,754 tasks for 4, 16 and 64 chunks, dask-image
2026.5), too many for a national grid; here each pass has one task per chunk (plus one per
chunk boundary line), and the joining runs on the per-label summaries alone.

The labels are then numbered in the order of each patch's first cell in row-major order, the
order :func:`scipy.ndimage.label` gives, so they equal the single-process ones exactly, not only
up to renumbering.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from siting.config.scenario import Profile
from siting.mcda.sites import EIGHT_CONNECTED
from siting.scale.blockwise import windows
from siting.scale.select import quantile


def best_land(suitability: da.Array, candidate_quantile: float) -> da.Array:
    """Eligible cells (finite suitability) reaching the ``candidate_quantile`` of them, as
    ``sites._labelled`` cuts them (``candidate_quantile`` a Python float, as a profile's is:
    numpy interpolates float32 values in float32 then).

    Raises
    ------
    ValueError
        If no cell is eligible.
    """
    cut = quantile(suitability, float(candidate_quantile))
    eligible = da.isfinite(suitability)
    return eligible & (suitability >= suitability.dtype.type(cut))


def _count(block: np.ndarray) -> np.ndarray:
    return np.array([[ndimage.label(block, structure=EIGHT_CONNECTED)[1]]], dtype=np.int64)


def _provisional(
    block: np.ndarray, offsets: np.ndarray, block_id: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """A chunk's own labels, offset by the labels of the chunks before it (0 stays 0)."""
    labels = ndimage.label(block, structure=EIGHT_CONNECTED)[0].astype(np.int64)
    labels[labels > 0] += offsets[block_id]
    return labels


def _final(
    block: np.ndarray, offsets: np.ndarray, table: np.ndarray, block_id: tuple[int, int] = (0, 0)
) -> np.ndarray:
    return table[_provisional(block, offsets, block_id)]


def _summary(
    block: np.ndarray, row: int, col: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A chunk's labels, the row-major index in the grid of each one's first cell (row-major
    within a chunk is row-major within the grid) and its number of cells."""
    ids, first, cells = np.unique(block.ravel(), return_index=True, return_counts=True)
    r, c = np.divmod(first, block.shape[1])
    keep = ids > 0
    return ids[keep], ((row + r) * width + col + c)[keep], cells[keep]


def _edges(strip: np.ndarray) -> np.ndarray:
    """Pairs of labels that touch across a chunk boundary, from its two lines of cells (2, n):
    each cell meets the three cells of the other line beside it (eight-connected)."""
    a, b = strip
    n = len(a)
    pairs = []
    for d in (-1, 0, 1):
        x = a[max(0, -d) : n - max(0, d)]
        y = b[max(0, d) : n - max(0, -d)]
        keep = (x > 0) & (y > 0) & (x != y)
        pairs.append(np.stack([x[keep], y[keep]]))
    return np.concatenate(pairs, axis=1)


@dataclass
class Joined:
    """The labelling of a chunked mask, ready to map chunk by chunk.

    Attributes
    ----------
    offsets
        Per chunk, the number of labels of the chunks before it (row-major).
    table
        Final label (row-major order of first cells, 1..n; 0 background) of each provisional
        one.
    cells
        Number of cells of each final label (index 0: background, not counted).
    """

    offsets: np.ndarray
    table: np.ndarray
    cells: np.ndarray

    @property
    def n(self) -> int:
        """Number of labels."""
        return len(self.cells) - 1

    def apply(self, image: da.Array, table: np.ndarray | None = None) -> da.Array:
        """The labels of ``image`` through ``table`` (default: the final labels), int32."""
        out = self.table if table is None else table
        lookup = dask.delayed(out.astype(np.int32), pure=True)
        meta = np.empty((0, 0), dtype=np.int32)
        return da.map_blocks(_final, image, self.offsets, lookup, dtype=np.int32, meta=meta)


def join(image: da.Array) -> Joined:
    """Label a chunked boolean array (two passes over it) and join the labels across chunks."""
    rows, cols = image.numblocks
    counts = da.map_blocks(
        _count, image, dtype=np.int64, chunks=((1,) * rows, (1,) * cols)
    ).compute()
    offsets = (np.cumsum(counts.ravel()) - counts.ravel()).reshape(counts.shape)
    total = int(counts.sum())
    provisional = da.map_blocks(_provisional, image, offsets, dtype=np.int64)
    blocks = provisional.to_delayed()
    width = image.shape[1]
    summaries = [
        dask.delayed(_summary)(blocks[i, j], row, col, width)
        for (i, j), (row, col, _, _) in windows(image.chunks)
    ]
    cuts = [list(itertools.accumulate(c))[:-1] for c in image.chunks]
    strips = [provisional[r - 1 : r + 1, :] for r in cuts[0]]
    strips += [provisional[:, c - 1 : c + 1].T for c in cuts[1]]
    parts, edges = dask.compute(summaries, [dask.delayed(_edges)(s) for s in strips])
    first = np.full(total + 1, np.iinfo(np.int64).max, dtype=np.int64)
    cells = np.zeros(total + 1, dtype=np.int64)
    for ids, at, n in parts:
        first[ids], cells[ids] = at, n
    pairs = np.concatenate([np.empty((2, 0), dtype=np.int64), *edges], axis=1)
    graph = sparse.coo_matrix(
        (np.ones(pairs.shape[1], dtype=np.int8), (pairs[0], pairs[1])), shape=(total + 1,) * 2
    )
    _, component = csgraph.connected_components(graph, directed=False)
    # A component's first cell is its earliest label's; number them in that order.
    start = np.full(component.max() + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(start, component[1:], first[1:])
    start[component[0]] = -1  # the background, numbered 0
    rank = np.empty_like(start)
    rank[np.argsort(start, kind="stable")] = np.arange(len(start))
    table = rank[component]
    sizes = np.zeros(len(start), dtype=np.int64)
    np.add.at(sizes, table[1:], cells[1:])
    return Joined(offsets, table, sizes)


def label(image: da.Array) -> tuple[da.Array, int]:
    """:func:`scipy.ndimage.label` of a chunked boolean array with the eight-connected
    structure: labels (int32, 0 = background, lazy) numbered in row-major order of each
    patch's first cell, and their number."""
    joined = join(image)
    return joined.apply(image), joined.n


def candidate_labels(suitability: da.Array, profile: Profile, cell_area: float) -> da.Array:
    """:func:`siting.mcda.sites.candidate_labels` of a chunked suitability: patches of the best
    land at least ``min_area_ha`` large, renumbered 1..k in label order (0 = no patch)."""
    best = best_land(suitability, profile.candidate_quantile)
    joined = join(best)
    keep = joined.cells * cell_area / 10_000 >= profile.min_area_ha
    keep[0] = False
    new_id = np.zeros(len(keep), dtype=np.int32)
    new_id[keep] = np.arange(1, int(keep.sum()) + 1)
    return joined.apply(best, new_id[joined.table])
