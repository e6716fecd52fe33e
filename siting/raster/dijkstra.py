"""The compiled kernel of :mod:`siting.raster.cost`: multi-source Dijkstra on a raster.

Hand-written because it is the hot loop of every run and nothing in the stack does all of it:
scikit-image's ``MCP_Geometric`` (which it is tested against) has no start costs, no working
``max_cost``, no 16-connectivity and no direction-dependent cost. A Δ-stepping bucket queue whose
buckets are settled in memory order (:func:`spread`); cells are flat indices into the row-major
raster.

The cost of a step is its length times the mean friction of the cells it passes through (the two
end cells; for a knight's move also the two cells its segment crosses), times a slope factor of
the step's grade when a DEM is given. Forbidden steps (a slope factor of ``inf``) are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import binding, ir
from numba import njit, types
from numba.extending import intrinsic

ISOTROPIC = 0
VEHICLE = 1
TOBLER = 2

# Moves as (row offset, column offset). The first 8 are the king's moves, the last 8 the knight's
# moves of 16-connectivity; a knight's move also passes through the two cells in ``CROSSED``.
MOVES = np.array(
    [
        (-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1),
        (-1, -2), (-1, 2), (1, -2), (1, 2), (-2, -1), (-2, 1), (2, -1), (2, 1),
    ],
    dtype=np.int64,
)  # fmt: skip

#: Bits sorted per pass of :func:`_sort_cells` (4096 counters: they stay in the L1 cache).
_DIGIT_BITS = 12
#: How many cells of a bucket ahead :func:`spread` prefetches the neighbourhood of (16 to 128
#: measured alike at 9 M cells).
_AHEAD = 32


def crossed(moves: np.ndarray) -> np.ndarray:
    """The two cells (row, col offsets) the segment of each knight's move crosses."""
    out = np.zeros((len(moves), 2, 2), dtype=np.int64)
    for k, (dr, dc) in enumerate(moves):
        if abs(dc) == 2:
            out[k] = ((0, dc // 2), (dr, dc // 2))
        elif abs(dr) == 2:
            out[k] = ((dr // 2, 0), (dr // 2, dc))
    return out


#: Whether :func:`_prefetch` emits LLVM's prefetch intrinsic. From LLVM 17 on, pointers are
#: opaque and its one spelling is ``llvm.prefetch.p0`` on a ``ptr``. An older LLVM (llvmlite
#: 0.44 has LLVM 15, whose numba emits typed pointers) gets no prefetch instead: it is only a
#: hint, so costs are the same and only rasters much larger than the cache are slower.
PREFETCH = binding.llvm_version_info >= (17,)


def _prefetch_typing(typingctx: object, address: types.Type) -> tuple | None:
    """Typing of :func:`_prefetch_address` for numba: ``(address) -> None`` for an integer
    address, ``None`` (not supported) otherwise."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: list[ir.Value]) -> ir.Value:
        if PREFETCH:
            # Only llvmlite's IR builder and numba.extending.intrinsic, both public: the address
            # comes computed from ``array.ctypes.data`` and the strides in jitted code.
            opaque = ir.PointerType()
            i32 = ir.IntType(32)
            # llvmlite names the overload from the pointer type: llvm.prefetch.p0.
            llvm_prefetch = builder.module.declare_intrinsic(
                "llvm.prefetch", [opaque], ir.FunctionType(ir.VoidType(), [opaque, i32, i32, i32])
            )
            pointer = builder.inttoptr(args[0], opaque)
            # Arguments: address, 0 = for a read, 3 = keep in all cache levels, 1 = data cache.
            builder.call(llvm_prefetch, [pointer, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(address), codegen


#: Hint the CPU to fetch the cache line at ``address`` and carry on: unlike a load it waits for
#: nothing, and it never faults. Callable from jitted code only. The cast: numba's stub types an
#: intrinsic's call like its typing function (with ``typingctx``, returning ``Never``).
_prefetch_address = cast(Callable[[int], None], intrinsic(_prefetch_typing))


@njit(inline="always")
def _prefetch(array: np.ndarray, row: int) -> None:
    """Prefetch the first element of ``array[row]`` (a row index within bounds or not: a
    prefetch never faults)."""
    _prefetch_address(array.ctypes.data + row * array.strides[0])


@njit(cache=True, nogil=True)
def impassable(friction: np.ndarray, nodata: float, out: np.ndarray) -> int:
    """Mark in ``out`` (bool, shaped like the 2-D ``friction``) the cells that are not finite or
    equal ``nodata`` (NaN: none); return the flat index of the first negative other cell (-1 if
    none). One pass over the raster."""
    height, width = friction.shape
    negative = -1
    for r in range(height):
        for c in range(width):
            value = friction[r, c]
            blocked = not math.isfinite(value) or value == nodata
            out[r, c] = blocked
            if value < 0.0 and not blocked and negative < 0:
                negative = r * width + c
    return negative


@njit(cache=True, nogil=True)
def load_state(
    state: np.ndarray, friction: np.ndarray, blocked: np.ndarray, pad: int
) -> tuple[float, float]:
    """Fill the (uninitialised) ``state`` of :func:`spread` for the 2-D ``friction`` padded by
    ``pad`` impassable cells: costs ``inf``, friction ``inf`` on the border and ``blocked``
    cells. Returns the smallest positive and the largest friction of the other cells (``inf``
    and 0 if there are none), which set the bucket width.

    One pass, row by row, instead of numpy's fill, copy, mask and two masked reductions over the
    raster.
    """
    height, width = friction.shape
    padded_width = width + 2 * pad
    smallest, largest = math.inf, 0.0
    for i in range(len(state)):
        r = i // padded_width - pad
        c = i % padded_width - pad
        state[i, 0] = math.inf
        if r < 0 or r >= height or c < 0 or c >= width or blocked[r, c]:
            state[i, 1] = math.inf
            continue
        value = friction[r, c]
        state[i, 1] = value
        largest = max(largest, value)
        if value > 0.0:
            smallest = min(smallest, value)
    return smallest, largest


@njit(cache=True, nogil=True)
def steepest(dem: np.ndarray, moves: np.ndarray, lengths: np.ndarray) -> float:
    """Largest absolute grade (rise over ``lengths[m]``) of any of the ``moves`` between two cells
    of the 2-D ``dem`` that both have elevation (0 if none): it bounds the slope factors."""
    height, width = dem.shape
    out = 0.0
    for m in range(len(moves)):
        dr, dc = moves[m, 0], moves[m, 1]
        if dr < 0 or (dr == 0 and dc < 0):
            continue  # the opposite move has the same grades
        for r in range(height - dr):
            for c in range(max(0, -dc), min(width, width - dc)):
                grade = abs(dem[r + dr, c + dc] - dem[r, c]) / lengths[m]
                if grade > out:  # false for NaN
                    out = grade
    return out


@njit(cache=True, nogil=True)
def gather_costs(state: np.ndarray, height: int, width: int, pad: int) -> None:
    """Move the costs of the ``height`` × ``width`` raster's cells, row-major and without the
    ``pad`` border, to the first ``height · width`` float64 values of ``state``'s buffer.

    In place: a value moves to a lower place than any it has still to read (there are two
    float64 values per padded cell), so nothing is overwritten before it is read.
    """
    flat = state.reshape(-1)
    padded_width = width + 2 * pad
    k = 0
    for r in range(height):
        row = 2 * ((r + pad) * padded_width + pad)
        for c in range(width):
            flat[k] = flat[row + 2 * c]
            k += 1


@njit(cache=True, nogil=True)
def unpack(origin: np.ndarray, pad: int, allocation: np.ndarray, direction: np.ndarray) -> None:
    """Fill the 2-D ``allocation`` (source label, -1 where not reached) and ``direction`` (move,
    -1 at a start cell and where not reached) from the ``origin`` of :func:`spread`, padded by
    ``pad`` cells."""
    height, width = allocation.shape
    padded_width = width + 2 * pad
    for r in range(height):
        row = (r + pad) * padded_width + pad
        for c in range(width):
            packed = origin[row + c]
            allocation[r, c] = packed >> 5
            direction[r, c] = (packed & 31) - 1 if packed >= 0 else -1


@njit(cache=True, nogil=True)
def _slope_factor(grade: float, model: int, up: float, down: float, per_grade: float) -> float:
    """Multiplier of a step's cost at ``grade`` (rise over run): VEHICLE forbids steps steeper
    than ``up`` uphill or ``down`` downhill and adds ``per_grade`` per unit of uphill grade;
    TOBLER is the walking time of Tobler's hiking function relative to the flat."""
    if model == VEHICLE:
        if grade > up or -grade > down:
            return math.inf
        if grade > 0.0:
            return 1.0 + per_grade * grade
        return 1.0
    # Tobler: speed 6·exp(-3.5·|S + 0.05|) km/h, so time relative to the flat grows as below.
    return math.exp(3.5 * (abs(grade + 0.05) - 0.05))


@njit(cache=True, nogil=True)
def spread(
    state: np.ndarray,
    origin: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    crossing: np.ndarray,
    starts: np.ndarray,
    start_costs: np.ndarray,
    labels: np.ndarray,
    max_cost: float,
    elevation: np.ndarray,
    model: int,
    params: np.ndarray,
    delta: float,
    n_buckets: int,
    warm: bool = False,
) -> None:
    """Accumulated cost from the ``starts`` cells, written into ``state`` and ``origin``.

    The raster is flat and padded with impassable cells wide enough that no move leaves it, so
    a move is an offset: ``offsets[m]`` to the target, ``crossing[m]`` to the two cells a
    knight's move (m ≥ 8) passes through. ``state[i] = (cost, friction)`` side by side, because
    the loop always reads both and one memory fetch then brings both; costs come in as ``inf``.
    ``origin[i]`` comes in as -1 and leaves as ``label · 32 + move + 1`` of the cell's source
    label and the move that reached it (0: a start cell), which is what path tracing follows.

    ``starts`` are distinct cells sorted by ``start_costs`` (each within ``max_cost``). With a
    ``model`` other than ISOTROPIC, ``elevation`` (flat, padded like the friction) and
    ``params`` (up, down, per_grade of :func:`_slope_factor`) make the cost of a step depend on
    its direction.

    The queue is Δ-stepping's (Meyer & Sanders 2003): cells wait in buckets of width ``delta``
    (absolute bucket ``⌊cost · (1 / delta)⌋`` in ``n_buckets`` circular slots, a power of two
    that must exceed the dearest step over ``delta``). The lowest bucket is emptied in memory
    order, again until none of its cells is lowered: a cell may be settled more than once, but
    every value ends as the minimum over its neighbours' final values, so the result is exact
    for any ``delta``.
    With ``warm``, costs may come in finite (a previous result, as the tiles of
    :mod:`siting.scale.tiled_cost` re-run from theirs): only cells the starts make cheaper are
    expanded, and a lowered cell is always queued, since its old value was never queued here.
    Visiting big buckets in memory order is what makes it faster than a heap on rasters much
    larger than the cache, where a heap's scattered reads dominate. A cell lowered within a
    bucket still to come is not queued again: its entry there is read with the new value.
    """
    up, down, per_grade = params[0], params[1], params[2]
    # Multiplications and a mask instead of divisions: this is the innermost loop.
    per_bucket = 1.0 / delta
    mask = n_buckets - 1
    n_moves = len(offsets)
    row_step = offsets[1]  # MOVES[1] is one row down
    reach = 2 if n_moves > 8 else 1  # rows and columns a move spans
    # Each slot holds a chain of blocks of cells (head → … → tail; ``fill`` cells in the tail).
    block = 4096
    pool = np.empty((64, block), dtype=np.int64)
    chain = np.full(64, -1, dtype=np.int64)
    spare = np.empty(64, dtype=np.int64)
    n_spare = 0
    n_used = 0
    head = np.full(n_buckets, -1, dtype=np.int64)
    tail = np.full(n_buckets, -1, dtype=np.int64)
    fill = np.zeros(n_buckets, dtype=np.int64)
    todo = np.empty(block, dtype=np.int64)
    scratch = np.empty(block, dtype=np.int64)
    digits = np.empty(1 << _DIGIT_BITS, dtype=np.int64)
    cell_bits = 1
    while (1 << cell_bits) < len(state):
        cell_bits += 1
    next_start = 0
    current = int(start_costs[0] * per_bucket)
    pending = 0
    while pending > 0 or next_start < len(starts):
        if pending == 0:
            current = max(current, int(start_costs[next_start] * per_bucket))
        # This bucket's cells: the start cells that fall in it, then the queued cells.
        count = 0
        while next_start < len(starts) and int(start_costs[next_start] * per_bucket) <= current:
            cell = starts[next_start]
            if start_costs[next_start] < state[cell, 0]:
                state[cell, 0] = start_costs[next_start]
                origin[cell] = labels[next_start] * 32
                if count == len(todo):
                    todo = np.concatenate((todo, np.empty(len(todo), dtype=np.int64)))
                    scratch = np.empty(len(todo), dtype=np.int64)
                todo[count] = cell
                count += 1
            next_start += 1
        slot = current & mask
        b = head[slot]
        while b >= 0:
            n_cells = fill[slot] if b == tail[slot] else block
            if count + n_cells > len(todo):
                todo = np.concatenate((todo, np.empty(len(todo) + n_cells, dtype=np.int64)))
                scratch = np.empty(len(todo), dtype=np.int64)
            todo[count : count + n_cells] = pool[b, :n_cells]
            count += n_cells
            pending -= n_cells
            spare[n_spare] = b
            n_spare += 1
            b = chain[b]
        head[slot] = -1
        tail[slot] = -1
        if count == 0:
            current += 1
            continue
        batch = _sort_cells(todo, scratch, count, cell_bits, digits)
        for i in range(count):
            # Consecutive cells of a bucket lie rows apart, mostly in the last cache level or
            # beyond: fetching a later cell's neighbourhood now overlaps those waits (it halves
            # the time at 9 M cells).
            if i + _AHEAD < count:
                ahead = batch[i + _AHEAD]
                for row in range(ahead - reach * row_step, ahead + reach * row_step + 1, row_step):
                    _prefetch(state, row - reach)
                    _prefetch(state, row + reach)
                    _prefetch(origin, row)
                    if model != ISOTROPIC:
                        _prefetch(elevation, row)
            cell = batch[i]
            here = state[cell, 0]
            # Skip repeats and cells lowered into an earlier bucket since they were queued; the
            # check waits until here, where cells are read in memory order.
            if (i > 0 and cell == batch[i - 1]) or int(here * per_bucket) != current:
                continue
            friction_here = state[cell, 1]
            source = origin[cell] & ~31
            for m in range(n_moves):
                target = cell + offsets[m]
                # Cells already cheaper are left before any arithmetic.
                if state[target, 0] <= here:
                    continue
                if m < 8:
                    mean = 0.5 * (friction_here + state[target, 1])
                else:
                    crossed_a = state[cell + crossing[m, 0], 1]
                    crossed_b = state[cell + crossing[m, 1], 1]
                    mean = 0.25 * (friction_here + crossed_a + crossed_b + state[target, 1])
                step = lengths[m] * mean
                if model != ISOTROPIC:
                    grade = (elevation[target] - elevation[cell]) / lengths[m]
                    step *= _slope_factor(grade, model, up, down, per_grade)
                new = here + step
                # NaN and inf steps fail this test: impassable cells and forbidden grades.
                old = state[target, 0]
                if not (new < old and new <= max_cost):
                    continue
                state[target, 0] = new
                origin[target] = source + m + 1
                bucket = int(new * per_bucket)
                # A finite value in a later bucket has never been settled (values only fall and
                # settled ones are at most in this bucket), so its cell waits there already.
                if (
                    not warm
                    and bucket > current
                    and old < math.inf
                    and int(old * per_bucket) == bucket
                ):
                    continue
                slot = bucket & mask
                if tail[slot] < 0 or fill[slot] == block:
                    if n_spare > 0:
                        n_spare -= 1
                        fresh = spare[n_spare]
                    else:
                        if n_used == len(pool):
                            pool, chain, spare = _grow(pool, chain, spare)
                        fresh = n_used
                        n_used += 1
                    chain[fresh] = -1
                    if tail[slot] < 0:
                        head[slot] = fresh
                    else:
                        chain[tail[slot]] = fresh
                    tail[slot] = fresh
                    fill[slot] = 0
                pool[tail[slot], fill[slot]] = target
                fill[slot] += 1
                pending += 1


@njit(cache=True, nogil=True)
def _sort_cells(
    cells: np.ndarray, scratch: np.ndarray, count: int, cell_bits: int, digits: np.ndarray
) -> np.ndarray:
    """``cells[:count]`` sorted ascending, in ``cells`` or ``scratch`` (both are overwritten).

    A bucket holds thousands of cells drawn from the whole raster: a least-significant-digit
    radix sort, in as few passes of at most :data:`_DIGIT_BITS` bits as the ``cell_bits`` of the
    largest index need (two up to 16 M cells), is linear and several times faster there than a
    comparison sort, which only wins on small batches.
    """
    if count < 256:
        return np.sort(cells[:count])
    passes = (cell_bits + _DIGIT_BITS - 1) // _DIGIT_BITS
    source, target = cells, scratch
    shift = 0
    for p in range(passes):
        width = (cell_bits - shift + passes - p - 1) // (passes - p)
        mask = (1 << width) - 1
        digits[: mask + 1] = 0
        for i in range(count):
            digits[(source[i] >> shift) & mask] += 1
        total = 0
        for d in range(mask + 1):
            n_digit = digits[d]
            digits[d] = total
            total += n_digit
        for i in range(count):
            value = source[i]
            d = (value >> shift) & mask
            target[digits[d]] = value
            digits[d] += 1
        source, target = target, source
        shift += width
    return source[:count]


@njit(cache=True, nogil=True)
def _grow(
    pool: np.ndarray, chain: np.ndarray, spare: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Double the block pool and its bookkeeping."""
    bigger = np.empty((2 * len(pool), pool.shape[1]), dtype=pool.dtype)
    bigger[: len(pool)] = pool
    more_chain = np.full(len(bigger), -1, dtype=chain.dtype)
    more_chain[: len(chain)] = chain
    more_spare = np.empty(len(bigger), dtype=spare.dtype)
    more_spare[: len(spare)] = spare
    return bigger, more_chain, more_spare
