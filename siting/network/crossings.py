"""The road lines GEOS must node: segments that meet other than at a shared vertex, found on a
uniform grid and tested in one compiled pass (used by :func:`siting.network.traveltime.pieces`).

Every segment's bounding box goes into the cells of a uniform grid it overlaps (cells about the
median segment long; where most would be empty, lines spread over a whole region, only those
with a box are kept); two boxes that meet are paired in the one cell holding the lower left
corner of their intersection, so each pair of boxes once. A segment more than four times the
median long is boxed in pieces of about that length, widened by far more than the rounding of
their ends: the box of a long diagonal would meet those of thousands of segments nowhere near
it. The pairs are those an :class:`shapely.STRtree` of the same boxes gives (:func:`box_pairs`,
tested against it), and they are tested as they are found (:func:`crossings`), with the same
decisions as the numpy tests of the tree's pairs that this replaces: on the 360,000 lines of
``benchmarks/network.py`` those took about 0.35 s, this about 0.05 s (issue #17).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

#: Relative error bound of a 2 x 2 determinant of coordinate differences in floating point:
#: Shewchuk's ``ccwerrboundA`` (3.3e-16), with room to spare. Beyond it the sign is certain.
_ERR = 1e-15
#: Segments apart by less than this times the largest coordinate (a million times the rounding
#: of a coordinate) are a hair apart: where GEOS cuts one, the other may touch the cut pieces.
_HAIR = 1e-9
#: Two segments leaving a shared end within this angle (radians) of each other go to GEOS. The
#: angles are good to about 1e-15 radians (each coordinate difference is rounded once, arctan2 to
#: an ulp or two).
_SAME_WAY = 1e-9
#: A segment longer than this many median lengths is boxed in pieces of about that length.
_PIECE = 4.0
#: At most this many grid entries per box, on average: beyond, the cells are made larger (lines
#: of no length, say, make the median length no guide to the cell size).
_ENTRIES_PER_BOX = 8

# What the sweep does with each pair of segments whose boxes meet.
_COLLECT = 0  # list it
_TEST = 1  # the crossing tests of :func:`crossings`


@dataclass(frozen=True)
class Crossings:
    """The lines GEOS must node (see :func:`crossings`)."""

    crossed: np.ndarray  # per line: to be noded
    touching: np.ndarray  # (k, 2): vertices of the lines not to be noded next to those


def crossings(coords: np.ndarray, which: np.ndarray, vertex: np.ndarray, n_lines: int) -> Crossings:
    """The lines with a segment that meets another segment (of any line) other than at a vertex
    of both (they cross, an end lies on the other, they overlap), and the lines a hair away.

    ``coords`` and ``which`` are the vertices of the ``n_lines`` lines (finite) and the line of
    each; ``vertex`` an id per vertex, the same for vertices at exactly the same point. The
    segments are paired by their bounding boxes (see the module doc). A pair sharing an end is
    set aside unless both leave it in about the same direction; one without, only where the
    orientation of their ends shows them apart for certain (the sign of each determinant beyond
    its rounding error). Any doubt goes to GEOS.
    """
    seg = np.flatnonzero(which[:-1] == which[1:])  # the first vertex of each segment
    if not len(seg):
        return Crossings(np.zeros(n_lines, dtype=bool), np.empty((0, 2)))
    crossed, near = _sweep_segments(coords, seg, _TEST, vertex, which, n_lines)
    if not crossed.any():
        return Crossings(crossed, np.empty((0, 2)))
    # And the lines a hair away from those, and from those in turn: a segment GEOS cuts is no
    # longer quite along the original (its new ends are rounded) and may meet one that was apart
    # from the original by a hair (the end of a snapping link, say), as it does when every line
    # is noded.
    near_a, near_b = near[:, 0], near[:, 1]
    while (grow := crossed[near_a] != crossed[near_b]).any():
        crossed[near_a[grow]] = True
        crossed[near_b[grow]] = True
    # The vertices that the lines left out share with those: noding every line also cuts a line
    # where another meets it at a shared vertex. (Segments sharing a vertex have meeting boxes:
    # these are all the pairs that share an end, one of them noded and the other not.)
    start, end = vertex[seg], vertex[seg + 1]
    noded = crossed[which[seg]]
    hot = np.zeros(int(max(start.max(), end.max())) + 1, dtype=bool)
    hot[start[noded]] = True
    hot[end[noded]] = True
    other = seg[~noded & (hot[start] | hot[end])]
    return Crossings(crossed, np.concatenate([coords[other], coords[other + 1]]))


def box_pairs(
    px: np.ndarray, py: np.ndarray, qx: np.ndarray, qy: np.ndarray, scale: float | None = None
) -> np.ndarray:
    """The pairs ``(a, b)``, ``a < b``, of segments from ``p`` to ``q`` whose boxes meet
    (boundaries included) as :func:`crossings` pairs them (see the module doc), each once,
    sorted. A long segment's pieces are widened by ``1e-9 * scale`` (default: the largest
    coordinate's magnitude, at least 1)."""
    p = np.stack([np.asarray(px, dtype=float), np.asarray(py, dtype=float)], 1)
    q = np.stack([np.asarray(qx, dtype=float), np.asarray(qy, dtype=float)], 1)
    if not (np.isfinite(p).all() and np.isfinite(q).all()):
        raise ValueError("segment ends must be finite")
    if not len(p):
        return np.empty((0, 2), dtype=np.int64)
    coords = np.stack([p, q], 1).reshape(-1, 2)
    seg = np.arange(0, len(coords), 2)
    none = np.zeros(len(coords), dtype=np.int64)
    _, pairs = _sweep_segments(coords, seg, _COLLECT, none, none, 0, scale)
    # A pair met through several pieces of a long segment is listed each time.
    key = np.unique(pairs[:, 0] * len(seg) + pairs[:, 1])
    return np.stack([key // len(seg), key % len(seg)], 1)


def _sweep_segments(
    coords: np.ndarray,
    seg: np.ndarray,
    action: int,
    vertex: np.ndarray,
    which: np.ndarray,
    n_lines: int,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Box the segments starting at the vertices ``seg``, grid the boxes and :func:`_sweep`
    them."""
    dx, dy = _differences(coords, seg)
    # The lengths and angles by numpy, as the tests took them before the compiled pass: the
    # same bits.
    length = np.hypot(dx, dy)
    angle = np.arctan2(dy, dx)
    median = float(np.median(length))
    if scale is None:
        scale = max(1.0, -float(coords.min()), float(coords.max()))  # the largest |coordinate|
    piece_m = _PIECE * median
    pieces, owner = _pieces(coords, seg, dx, dy, length, piece_m, 1e-9 * scale)
    return _sweep(
        coords, seg, length, angle, piece_m, pieces, owner, median,
        action, vertex, which, n_lines, _HAIR * scale,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _differences(coords: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``q - p`` of each segment, from ``p = coords[seg]`` to ``q = coords[seg + 1]``."""
    dx, dy = np.empty(len(seg)), np.empty(len(seg))
    for k in range(len(seg)):
        dx[k] = coords[seg[k] + 1, 0] - coords[seg[k], 0]
        dy[k] = coords[seg[k] + 1, 1] - coords[seg[k], 1]
    return dx, dy


@njit(inline="always")
def _parts(length: float, piece_m: float) -> int:
    """How many pieces a segment is boxed in: ``ceil(length / piece_m)``, at least 1; 1 if
    ``piece_m`` is 0, or the segment too long to measure (ends 1e308 m apart)."""
    if not piece_m > 0:
        return 1
    ratio = length / piece_m
    return max(1, math.ceil(ratio)) if ratio < 2.0**62 else 1


@njit(cache=True, nogil=True)
def _pieces(
    coords: np.ndarray,
    seg: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    length: np.ndarray,
    piece_m: float,
    pad: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The boxes (min x, min y, max x, max y) of the pieces of the segments boxed in pieces (see
    :func:`_parts`), each widened by ``pad``, and the segment of each, in the segments' order."""
    total = 0
    for k in range(len(seg)):
        parts = _parts(length[k], piece_m)
        total += parts if parts > 1 else 0
    boxes = np.empty((total, 4))
    owner = np.empty(total, dtype=np.int64)
    i = 0
    for k in range(len(seg)):
        parts = _parts(length[k], piece_m)
        if parts == 1:
            continue
        px, py = coords[seg[k], 0], coords[seg[k], 1]
        for j in range(parts):
            f0, f1 = j / parts, (j + 1) / parts
            x0, x1 = px + dx[k] * f0, px + dx[k] * f1
            y0, y1 = py + dy[k] * f0, py + dy[k] * f1
            boxes[i, 0], boxes[i, 2] = min(x0, x1) - pad, max(x0, x1) + pad
            boxes[i, 1], boxes[i, 3] = min(y0, y1) - pad, max(y0, y1) + pad
            owner[i] = k
            i += 1
    return boxes, owner


@njit(inline="always")
def _box(
    i: int,
    coords: np.ndarray,
    seg: np.ndarray,
    pieces: np.ndarray,
    owner: np.ndarray,
) -> tuple[float, float, float, float, int]:
    """Box ``i`` (min x, min y, max x, max y) and its segment: segment ``i``'s own box, or
    beyond the segments, piece ``i - len(seg)``."""
    if i < len(seg):
        v = seg[i]
        x0, y0, x1, y1 = coords[v, 0], coords[v, 1], coords[v + 1, 0], coords[v + 1, 1]
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), i
    j = i - len(seg)
    return pieces[j, 0], pieces[j, 1], pieces[j, 2], pieces[j, 3], owner[j]


@njit(inline="always")
def _cell(v: float, origin: float, per_m: float) -> int:
    """The column (or row) of the cells ``1 / per_m`` metres wide from ``origin`` that holds
    ``v`` (``v >= origin``); 0 if ``per_m`` is 0 (one cell). Truncation is the floor here, and
    monotonic: the first cell of two boxes' intersection is the larger of their first cells."""
    return int((v - origin) * per_m) if per_m > 0 else 0


@njit(cache=True, nogil=True)
def _grid(
    coords: np.ndarray,
    seg: np.ndarray,
    length: np.ndarray,
    piece_m: float,
    pieces: np.ndarray,
    owner: np.ndarray,
    cell: float,
) -> tuple[float, float, float, int, np.ndarray, np.ndarray, np.ndarray]:
    """The boxes (see :func:`_box`; a segment boxed in pieces has no box of its own) in the
    cells of a grid: its lower left corner, cells per metre and height in cells; the start of
    each bucket's entries and the box of each entry (each bucket's in the order of the boxes);
    the cell of each bucket (numbered column by column), or none where every cell is a bucket.

    The cells are ``cell`` metres wide, or wider where the boxes would otherwise make too many
    entries or the grid too many cells wide to number.
    """
    n = len(seg) + len(pieces)
    x0, y0, x1, y1 = np.inf, np.inf, -np.inf, -np.inf
    for i in range(n):
        if i < len(seg) and _parts(length[i], piece_m) > 1:
            continue
        minx, miny, maxx, maxy, _ = _box(i, coords, seg, pieces, owner)
        x0, y0, x1, y1 = min(x0, minx), min(y0, miny), max(x1, maxx), max(y1, maxy)
    # Boxes too far apart to measure (1e308 m) all go into one cell: slow, but right.
    one_cell = not (math.isfinite(x1 - x0) and math.isfinite(y1 - y0))
    # At most 2**30 cells a side: cell numbers fit an int64.
    cell = max(cell, (x1 - x0) / 2.0**30, (y1 - y0) / 2.0**30)
    if not cell > 0:
        cell = 1.0  # every box one and the same point
    most = _ENTRIES_PER_BOX * n + 64
    while True:
        per_m = 0.0 if one_cell else 1.0 / cell
        entries = 0
        for i in range(n):
            if i < len(seg) and _parts(length[i], piece_m) > 1:
                continue
            minx, miny, maxx, maxy, _ = _box(i, coords, seg, pieces, owner)
            wide = _cell(maxx, x0, per_m) - _cell(minx, x0, per_m) + 1
            high = _cell(maxy, y0, per_m) - _cell(miny, y0, per_m) + 1
            entries += wide * high
            if entries > most:
                break
        if entries <= most:
            break
        cell *= 2.0
    width = 1 if one_cell else int((x1 - x0) * per_m) + 1
    height = 1 if one_cell else int((y1 - y0) * per_m) + 1
    if width * height <= 4 * entries:
        # Not many more cells than entries: every cell a bucket, the entries counted into them.
        first = np.zeros(width * height + 1, dtype=np.int64)
        for i in range(n):
            if i < len(seg) and _parts(length[i], piece_m) > 1:
                continue
            minx, miny, maxx, maxy, _ = _box(i, coords, seg, pieces, owner)
            for cx in range(_cell(minx, x0, per_m), _cell(maxx, x0, per_m) + 1):
                for cy in range(_cell(miny, y0, per_m), _cell(maxy, y0, per_m) + 1):
                    first[cx * height + cy + 1] += 1
        for b in range(width * height):
            first[b + 1] += first[b]
        fill = first[:-1].copy()
        box = np.empty(entries, dtype=np.int32)
        for i in range(n):
            if i < len(seg) and _parts(length[i], piece_m) > 1:
                continue
            minx, miny, maxx, maxy, _ = _box(i, coords, seg, pieces, owner)
            for cx in range(_cell(minx, x0, per_m), _cell(maxx, x0, per_m) + 1):
                for cy in range(_cell(miny, y0, per_m), _cell(maxy, y0, per_m) + 1):
                    box[fill[cx * height + cy]] = i
                    fill[cx * height + cy] += 1
        return x0, y0, per_m, height, first, box, np.empty(0, dtype=np.int64)
    # Lines spread over a region, most cells empty: the entries sorted by cell number (a radix
    # sort, stable: each cell's boxes in order), a bucket per cell that has any.
    key = np.empty(entries, dtype=np.int64)
    box = np.empty(entries, dtype=np.int32)
    t = 0
    for i in range(n):
        if i < len(seg) and _parts(length[i], piece_m) > 1:
            continue
        minx, miny, maxx, maxy, _ = _box(i, coords, seg, pieces, owner)
        for cx in range(_cell(minx, x0, per_m), _cell(maxx, x0, per_m) + 1):
            for cy in range(_cell(miny, y0, per_m), _cell(maxy, y0, per_m) + 1):
                key[t], box[t] = cx * height + cy, i
                t += 1
    key, box = _radix_sort(key, box, width * height - 1)
    first = np.empty(entries + 1, dtype=np.int64)
    cells = np.empty(entries, dtype=np.int64)
    buckets = 0
    for t in range(entries):
        if t == 0 or key[t] != key[t - 1]:
            first[buckets], cells[buckets] = t, key[t]
            buckets += 1
    first[buckets] = entries
    return x0, y0, per_m, height, first[: buckets + 1], box, cells[:buckets]


@njit(cache=True, nogil=True)
def _radix_sort(key: np.ndarray, value: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """``key`` (non-negative, at most ``top``) sorted, and ``value`` in the same order; equal
    keys keep their order. Least significant 16 bits first: for a million keys of 40 bits, 17 ms
    where numpy's stable argsort takes 90 ms (and numba's 200 ms)."""
    out_key, out_value = np.empty_like(key), np.empty_like(value)
    count = np.empty((1 << 16) + 1, dtype=np.int64)
    shift = 0
    while (top >> shift) > 0:
        count[:] = 0
        for t in range(len(key)):
            count[((key[t] >> shift) & 0xFFFF) + 1] += 1
        for d in range(1 << 16):
            count[d + 1] += count[d]
        for t in range(len(key)):
            d = (key[t] >> shift) & 0xFFFF
            out_key[count[d]], out_value[count[d]] = key[t], value[t]
            count[d] += 1
        key, out_key = out_key, key
        value, out_value = out_value, value
        shift += 16
    return key, value


@njit(cache=True, nogil=True, error_model="numpy")
def _sweep(
    coords: np.ndarray,
    seg: np.ndarray,
    length: np.ndarray,
    angle: np.ndarray,
    piece_m: float,
    pieces: np.ndarray,
    owner: np.ndarray,
    cell: float,
    action: int,
    vertex: np.ndarray,
    which: np.ndarray,
    n_lines: int,
    hair: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of segments ``a < b`` with meeting boxes, once per pair of boxes: listed
    (``_COLLECT``: no crossed lines, the pairs), or tested (``_TEST``: the crossed lines, and
    the pairs of lines a hair apart)."""
    crossed = np.zeros(n_lines, dtype=np.bool_)
    out = np.empty((1024, 2), dtype=np.int64)
    n_out = 0
    grid = _grid(coords, seg, length, piece_m, pieces, owner, cell)
    x0, y0, per_m, height, first, box, cells = grid
    most = int(np.diff(first).max())
    # A bucket's boxes side by side, each compared with every other: the box, its first cell
    # column and row, the cell's; its segment's ends, their vertices and its angle (what the
    # tests need, read once per box rather than once per pair).
    here = np.empty((most, 4))
    corner = np.empty((most, 2), dtype=np.int64)
    who = np.empty(most, dtype=np.int64)
    ends = np.empty((most, 4))
    ids = np.empty((most, 2), dtype=np.int64)
    heading = np.empty(most)
    for bucket in range(len(first) - 1):
        lo, n = first[bucket], first[bucket + 1] - first[bucket]
        cell_number = cells[bucket] if len(cells) else bucket
        cx, cy = cell_number // height, cell_number % height
        for e in range(n):
            minx, miny, maxx, maxy, k = _box(box[lo + e], coords, seg, pieces, owner)
            here[e, 0], here[e, 1], here[e, 2], here[e, 3] = minx, miny, maxx, maxy
            corner[e, 0], corner[e, 1] = _cell(minx, x0, per_m), _cell(miny, y0, per_m)
            who[e] = k
            v = seg[k]
            ends[e, 0], ends[e, 1] = coords[v, 0], coords[v, 1]
            ends[e, 2], ends[e, 3] = coords[v + 1, 0], coords[v + 1, 1]
            ids[e, 0], ids[e, 1], heading[e] = vertex[v], vertex[v + 1], angle[k]
        for e in range(n):
            for f in range(e + 1, n):
                if who[e] == who[f]:
                    continue
                if (
                    here[e, 0] > here[f, 2]
                    or here[f, 0] > here[e, 2]
                    or here[e, 1] > here[f, 3]
                    or here[f, 1] > here[e, 3]
                ):
                    continue
                # Paired in the cell of the lower left corner of the boxes' intersection only.
                if max(corner[e, 0], corner[f, 0]) != cx or max(corner[e, 1], corner[f, 1]) != cy:
                    continue
                # Segments before pieces: a piece may come after a later segment.
                ea, eb = (e, f) if who[e] < who[f] else (f, e)
                if action == _COLLECT:
                    pair = True
                else:
                    pair = _test(ea, eb, who, ends, ids, heading, length, hair, crossed, which, seg)
                if pair:
                    if n_out == len(out):
                        out = _grow(out)
                    a, b = who[ea], who[eb]
                    out[n_out, 0] = a if action == _COLLECT else which[seg[a]]
                    out[n_out, 1] = b if action == _COLLECT else which[seg[b]]
                    n_out += 1
    return crossed, out[:n_out].copy()


@njit(inline="always")
def _grow(out: np.ndarray) -> np.ndarray:
    """``out`` in an array twice as long."""
    bigger = np.empty((2 * len(out), 2), dtype=out.dtype)
    bigger[: len(out)] = out
    return bigger


@njit(inline="always")
def _test(
    ea: int,
    eb: int,
    who: np.ndarray,
    ends: np.ndarray,
    ids: np.ndarray,
    heading: np.ndarray,
    length: np.ndarray,
    hair: float,
    crossed: np.ndarray,
    which: np.ndarray,
    seg: np.ndarray,
) -> bool:
    """The tests of :func:`crossings` on the segments ``a < b`` of the boxes ``ea`` and ``eb``
    of :func:`_sweep`'s bucket (``who``, their ends' coordinates and ``ids``, ``heading``):
    marks their lines ``crossed`` where in doubt; true where they are apart, but by a hair."""
    a, b = who[ea], who[eb]
    sa, ea_, sb, eb_ = ids[ea, 0], ids[ea, 1], ids[eb, 0], ids[eb, 1]
    # Bitwise, not short-circuiting: which end two segments share is anyone's guess, and a
    # mispredicted branch costs more than the comparisons.
    sa_shared = (sa == sb) | (sa == eb_)
    ea_shared = (ea_ == sb) | (ea_ == eb_)
    if sa_shared | ea_shared:
        # One shared end: each segment leaves it at its angle, or the opposite one.
        sb_shared = (sb == sa) | (sb == ea_)
        turn = heading[ea] - heading[eb] + math.pi * float(int(sb_shared) - int(sa_shared))
        same_way = abs(_wrap(turn + math.pi) - math.pi) < _SAME_WAY
        # Both ends shared: the same segment twice, or one of no length.
        if (sa_shared & ea_shared) | ((sa_shared ^ ea_shared) & same_way):
            crossed[which[seg[a]]] = True
            crossed[which[seg[b]]] = True
        return False
    # No shared end: apart if one lies wholly on one side of the other's line, and then at least
    # as far from it as the nearer of its ends.
    px, py, qx, qy = ends[ea, 0], ends[ea, 1], ends[ea, 2], ends[ea, 3]
    rx, ry, tx, ty = ends[eb, 0], ends[eb, 1], ends[eb, 2], ends[eb, 3]
    s1, d1 = _turn(px, py, qx, qy, rx, ry)
    s2, d2 = _turn(px, py, qx, qy, tx, ty)
    s3, d3 = _turn(rx, ry, tx, ty, px, py)
    s4, d4 = _turn(rx, ry, tx, ty, qx, qy)
    b_aside = s1 == s2 and s1 != 0  # b on one side of a's line
    a_aside = s3 == s4 and s3 != 0
    if not (a_aside or b_aside):
        crossed[which[seg[a]]] = True
        crossed[which[seg[b]]] = True
        return False
    gap = 0.0
    if b_aside:
        gap = min(abs(d1), abs(d2)) / length[a]
    if a_aside:
        gap = max(gap, min(abs(d3), abs(d4)) / length[b])
    return gap <= hair


@njit(inline="always")
def _wrap(x: float) -> float:
    """``numpy.remainder(x, 2π)`` for ``x`` in [-2π, 4π] (angles in [-π, π], plus or minus
    π twice), where it is near π: the same bits without a call to fmod.

    Up to 0 and from 2π, fmod is ``x`` itself, then moved up by 2π (one rounding, as here); from
    2π it is ``x - 2π``, which is exact below 4π (Sterbenz), as here; at 4π itself fmod gives 0
    and this 2π, both π away from π.
    """
    return x + 2 * math.pi if x < 0.0 else (x - 2 * math.pi if x >= 2 * math.pi else x)


@njit(inline="always")
def _turn(ox: float, oy: float, ax: float, ay: float, bx: float, by: float) -> tuple[int, float]:
    """Sign of the turn o → a → b (1 left, -1 right; 0 where rounding leaves it in doubt), and
    its determinant: twice the area of the triangle, the length of o–a times b's distance from
    its line."""
    left = (ax - ox) * (by - oy)
    right = (ay - oy) * (bx - ox)
    det = left - right
    bound = _ERR * (abs(left) + abs(right))
    return int(det > bound) - int(det < -bound), det
