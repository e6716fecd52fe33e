"""Exact accumulated cost-distance over a raster too large for one process: tiles on Dask.

:func:`tiled_cost_distance` is the method of GeoTrellis' ``IterativeCostDistance`` on
``dask.distributed``. Each chunk of the friction array is a tile that lives on one worker for the
whole computation (its tasks are pinned there). A tile holds the kernel state of
:mod:`siting.raster.dijkstra` for its cells plus a *halo*: the ring of neighbouring tiles' cells
one move away (one cell wide for 8-connectivity, two for 16), with their friction. In the first
round every tile runs the kernel from the sources inside it. In each later round the client
gathers every tile's *frame* (its outermost one or two rows and columns of cost), assembles each
tile's halo from its eight neighbours' frames, and sends the halo cells that became cheaper; the
tile re-runs the kernel warm, from its previous costs, seeded with those cells, so only cells that
get cheaper are expanded. It stops when no halo cell improves anywhere.

Exact, not approximate: a step from a halo cell into the tile is computed by the same kernel from
the same float64 friction as in one process (its length times the mean friction of the cells it
passes), and a path's cost is the same left-to-right sum in both. Every value is the cost of a
real path; at the fixed point each cell is the minimum over its neighbours, which is the least
path cost, so the result equals :func:`siting.raster.cost.cost_distance` on the whole grid (equal
to the last bit in practice; the tests allow 1e-9 relative) and reaches the same cells.

Only frames and halos (float64, perimeter-sized) travel through the client; friction and cost
stay on the workers. The result is a dask array whose chunks are the tiles' costs, still held on
their workers: read it, or write it (``to_zarr``) block by block.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dask.array as da
import numpy as np
from affine import Affine
from distributed import Client, Future, get_client

from siting.errors import ConvergenceError
from siting.raster import dijkstra
from siting.raster.cost import bucket_width

log = logging.getLogger("siting")

#: Frames of a tile: its top and bottom ``reach`` rows and its left and right ``reach`` columns.
Frame = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass
class TiledCost:
    """What :func:`tiled_cost_distance` returns.

    Attributes
    ----------
    cost
        Least accumulated cost from any source (float64; ``inf`` where no source is reachable),
        chunked like the friction. Each chunk is a tile's result held on the worker that
        computed it: computing the array (or a slice, or ``to_zarr``) reads it from there.
    rounds
        Rounds of tile runs until no seam improved, the first (from the sources) included.
    chunks
        Tiles (chunks of the friction).
    tile_runs
        Tile runs over all rounds: every tile in the first, then those whose halo improved.
    seam_bytes
        Bytes of frames and halos that went through the client, all rounds together.
    """

    cost: da.Array
    rounds: int
    chunks: int
    tile_runs: int
    seam_bytes: int


class _Tile:
    """A tile's state on its worker: the kernel's padded ``(cost, friction)`` array.

    The padded grid is the tile's ``height`` × ``width`` cells, its halo of ``reach`` cells, and
    ``reach`` more impassable cells so that no move leaves the array; ``state`` is flat over it.
    Before :func:`_start` the tile holds just its friction block.
    """

    def __init__(self, block: np.ndarray, reach: int) -> None:
        self.block: np.ndarray | None = block
        self.reach = reach
        self.height, self.width = block.shape
        self.state = np.empty((0, 2))
        self.delta, self.n_buckets = 1.0, 4

    @property
    def padded_width(self) -> int:
        return self.width + 4 * self.reach

    def __sizeof__(self) -> int:
        # Dask's memory accounting reads this (sys.getsizeof): the arrays, not the object shell.
        block = 0 if self.block is None else self.block.nbytes
        return object.__sizeof__(self) + block + self.state.nbytes

    def costs(self) -> np.ndarray:
        """The costs of the padded grid without the outer impassable ring, a 2-D view."""
        r = self.reach
        grid = self.state[:, 0].reshape(self.height + 4 * r, self.padded_width)
        return grid[r:-r, r:-r]

    def halo_index(self) -> np.ndarray:
        """Flat ``state`` indices of the halo cells, in the order of :func:`_halo_cells`."""
        rows, cols = _halo_cells(self.height, self.width, self.reach)
        return (rows + self.reach) * self.padded_width + cols + self.reach


def _halo_cells(height: int, width: int, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of the halo cells of a ``height`` × ``width`` tile in its grid padded by
    ``reach``: the top band, the bottom band (both with the corners), the left and the right
    band, each row-major. The client assembles halos in the same order (:func:`_halo`)."""
    r, h, w = reach, height, width
    rows = np.arange(h + 2 * r)[:, None]
    cols = np.arange(w + 2 * r)[None, :]
    bands = [
        (rows[:r], cols),
        (rows[h + r :], cols),
        (rows[r : h + r], cols[:, :r]),
        (rows[r : h + r], cols[:, w + r :]),
    ]
    grids = [np.broadcast_arrays(a, b) for a, b in bands]
    return (
        np.concatenate([a.ravel() for a, _ in grids]).astype(np.int64),
        np.concatenate([b.ravel() for _, b in grids]).astype(np.int64),
    )


def _frame(grid: np.ndarray, reach: int) -> Frame:
    """The outer ``reach`` rows and columns of a tile's cells, as float64 copies (converted
    strip by strip: no float64 copy of the whole tile)."""
    top, bottom = grid[:reach], grid[-reach:]
    left, right = grid[:, :reach], grid[:, -reach:]
    return (
        top.astype(np.float64),
        bottom.astype(np.float64),
        left.astype(np.float64),
        right.astype(np.float64),
    )


def _load(block: np.ndarray, reach: int, nodata: float, row0: int, col0: int) -> _Tile:
    """A tile holding its friction block, checked for negative values."""
    block = np.asarray(block)
    if block.dtype not in (np.float32, np.float64):  # what the kernel is compiled for
        block = block.astype(np.float64)
    blocked = np.empty(block.shape, dtype=bool)
    negative = dijkstra.impassable(block, nodata, blocked)
    if negative >= 0:
        row, col = divmod(negative, block.shape[1])
        raise ValueError(
            f"tiled_cost_distance: friction is negative at row {row0 + row}, col {col0 + col} "
            f"({block[row, col]:g}); mark impassable cells with NaN, inf or nodata instead"
        )
    return _Tile(block, reach)


def _friction_frame(tile: _Tile, sources: np.ndarray, nodata: float) -> tuple[Frame, int]:
    """The tile's friction frame and how many of its ``sources`` (local (row, col)) are
    passable."""
    assert tile.block is not None
    block = tile.block
    values = block[sources[:, 0], sources[:, 1]].astype(np.float64)
    passable = np.isfinite(values) & (values != nodata)
    return _frame(block, tile.reach), int(passable.sum())


def _start(
    tile: _Tile,
    halo: np.ndarray,
    nodata: float,
    lengths: np.ndarray,
    sources: np.ndarray,
    start_costs: np.ndarray,
) -> _Tile:
    """Build the tile's kernel state with the halo's friction and run the kernel from the
    tile's passable ``sources`` (local (row, col), with their ``start_costs``)."""
    assert tile.block is not None
    r, h, w = tile.reach, tile.height, tile.width
    friction = np.empty((h + 2 * r, w + 2 * r))
    friction[r : h + r, r : w + r] = tile.block
    tile.block = None
    friction[_halo_cells(h, w, r)] = halo
    blocked = np.empty(friction.shape, dtype=bool)
    dijkstra.impassable(friction, nodata, blocked)
    tile.state = np.empty(((h + 4 * r) * tile.padded_width, 2))
    extremes = dijkstra.load_state(tile.state, friction, blocked, r)
    del friction, blocked
    tile.delta, tile.n_buckets = bucket_width(extremes, lengths, (1.0, 1.0))
    cells = (sources[:, 0] + 2 * r) * tile.padded_width + sources[:, 1] + 2 * r
    usable = np.isfinite(tile.state[cells, 1])
    cells, start_costs = cells[usable], start_costs[usable]
    if len(cells):
        # A cell shared by sources starts from the cheapest, as in cost_distance.
        order = np.lexsort((cells, start_costs))
        cells, first = np.unique(cells[order], return_index=True)
        costs = start_costs[order][first]
        by_cost = np.argsort(costs, kind="stable")
        _spread(tile, lengths, cells[by_cost], costs[by_cost], warm=False)
    return tile


def _spread(
    tile: _Tile, lengths: np.ndarray, cells: np.ndarray, costs: np.ndarray, *, warm: bool
) -> None:
    """Run the kernel on the tile from ``cells`` (distinct, sorted by ``costs``)."""
    moves = dijkstra.MOVES[: len(lengths)]
    width = tile.padded_width
    offsets = moves[:, 0] * width + moves[:, 1]
    through = dijkstra.crossed(moves)
    crossing = through[:, :, 0] * width + through[:, :, 1]
    # Written before it is read for every cell the run lowers, and never read elsewhere, so it
    # needs no filling (and untouched pages of a large array are never even mapped).
    origin = np.empty(len(tile.state), dtype=np.int32)
    dijkstra.spread(
        tile.state, origin, offsets, lengths, crossing, cells, costs,
        np.zeros(len(cells), dtype=np.int32), math.inf, np.zeros(1), dijkstra.ISOTROPIC,
        np.zeros(3), tile.delta, tile.n_buckets, warm,
    )  # fmt: skip


def _relax(tile: _Tile, positions: np.ndarray, values: np.ndarray, lengths: np.ndarray) -> _Tile:
    """Re-run the kernel warm from the tile's costs, seeded with the halo cells at
    ``positions`` (in the order of :func:`_halo_cells`) that ``values`` make cheaper.

    Idempotent: a second call with the same seeds changes nothing, so the in-place update is
    safe should Dask ever run the task again.
    """
    cells = tile.halo_index()[positions]
    better = values < tile.state[cells, 0]
    cells, values = cells[better], values[better]
    if len(cells):
        order = np.argsort(values, kind="stable")
        _spread(tile, lengths, cells[order], values[order], warm=True)
    return tile


def _cost_frame(tile: _Tile) -> Frame:
    """The frame of the tile's own costs (without the halo)."""
    r = tile.reach
    return _frame(tile.costs()[r:-r, r:-r], r)


def _finish(tile: _Tile) -> np.ndarray:
    """The tile's ``height`` × ``width`` costs, in the state's own buffer (shrunk in place, as
    :func:`siting.raster.cost.cost_distance` does: no second copy)."""
    state, tile.state = tile.state, np.empty((0, 2))
    dijkstra.gather_costs(state, tile.height, tile.width, 2 * tile.reach)
    state.resize((tile.height, tile.width), refcheck=False)
    return state


def _halo(
    frames: dict[tuple[int, int], Frame], i: int, j: int, shape: tuple[int, int], reach: int
) -> np.ndarray:
    """The halo of tile ``(i, j)`` (``shape`` cells) from its neighbours' ``frames``, flat in
    the order of :func:`_halo_cells`; ``inf`` beyond the raster's edge."""
    r, (h, w) = reach, shape

    def part(key: tuple[int, int], side: int, cols: slice, size: tuple[int, int]) -> np.ndarray:
        frame = frames.get(key)
        return np.full(size, np.inf) if frame is None else frame[side][:, cols]

    every, first, last = slice(None), slice(None, r), slice(-r, None)
    top = np.hstack(
        [
            part((i - 1, j - 1), 1, last, (r, r)),
            part((i - 1, j), 1, every, (r, w)),
            part((i - 1, j + 1), 1, first, (r, r)),
        ]
    )
    bottom = np.hstack(
        [
            part((i + 1, j - 1), 0, last, (r, r)),
            part((i + 1, j), 0, every, (r, w)),
            part((i + 1, j + 1), 0, first, (r, r)),
        ]
    )
    left = part((i, j - 1), 3, every, (h, r))
    right = part((i, j + 1), 2, every, (h, r))
    return np.concatenate([top.ravel(), bottom.ravel(), left.ravel(), right.ravel()])


def tiled_cost_distance(
    friction: da.Array,
    sources: np.ndarray,
    *,
    transform: Affine | None = None,
    start_costs: Sequence[float] | np.ndarray | None = None,
    connectivity: int = 8,
    nodata: float | None = None,
    client: Client | None = None,
    max_rounds: int = 1000,
) -> TiledCost:
    """Least accumulated cost from many sources over a chunked friction raster, on a Dask
    cluster, equal to :func:`siting.raster.cost.cost_distance` on the whole grid.

    Each chunk is a tile kept on one worker; tiles exchange only their border costs through
    the client, round after round, until no border improves (see the module's docstring).

    Parameters
    ----------
    friction
        Cost per metre, a 2-D dask array (each chunk is a tile; ``benchmarks/scale.py`` runs
        chunks of 1,024 and 2,000 cells a side). NaN, ``inf`` and ``nodata`` cells are
        impassable; a negative value is an error. It is computed chunk by chunk on the workers,
        never on the client.
    sources
        An ``(n, 2)`` integer array of (row, col) source cells. Impassable ones are left out.
    transform
        The raster's affine transform (north-up); by default unit cells. Only the cell size
        matters.
    start_costs
        Cost already paid at each source; 0 by default.
    connectivity
        8 (king's moves) or 16 (also knight's moves; the halo is then two cells wide, so every
        chunk must be at least 2 cells a side).
    nodata
        A friction value meaning impassable.
    client
        The Dask client whose workers hold the tiles; by default the current one
        (:func:`distributed.get_client`).
    max_rounds
        Most rounds of tile runs, the first included; reaching it with a border still improving
        raises :class:`~siting.errors.ConvergenceError`.

    Returns
    -------
    TiledCost
        The cost as a dask array backed by the tiles on the workers, and the rounds, tiles, tile
        runs and seam bytes it took.

    Raises
    ------
    ValueError
        Friction that is not a 2-D dask array, a negative friction, a source outside the raster
        or every source impassable, bad start costs or a bad parameter.
    ConvergenceError
        Borders still improved after ``max_rounds`` rounds.

    Notes
    -----
    A tile takes 16 bytes a cell on its worker (float64 cost and friction side by side, the
    kernel's layout), plus 4 bytes a cell of the tile being run; the friction chunk itself is
    freed once its tile is built. Once converged, each tile shrinks in place to its 8-byte
    costs.
    """
    if not isinstance(friction, da.Array) or friction.ndim != 2 or friction.size == 0:
        raise ValueError("tiled_cost_distance: friction must be a non-empty 2-D dask array")
    if friction.dtype.kind not in "fiu":
        raise ValueError(f"tiled_cost_distance: friction must be numeric, not {friction.dtype}")
    transform = Affine.identity() if transform is None else transform
    if transform.b != 0 or transform.d != 0:
        raise ValueError(
            "tiled_cost_distance: the transform is rotated; warp the raster north-up first"
        )
    if connectivity not in (8, 16):
        raise ValueError(f"tiled_cost_distance: connectivity must be 8 or 16, got {connectivity}")
    if max_rounds < 1:
        raise ValueError(f"tiled_cost_distance: max_rounds must be ≥ 1, got {max_rounds}")
    reach = 2 if connectivity == 16 else 1
    row_chunks, col_chunks = (tuple(int(c) for c in cs) for cs in friction.chunks)
    if min(row_chunks + col_chunks) < reach:
        raise ValueError(
            f"tiled_cost_distance: connectivity {connectivity} needs chunks of at least "
            f"{reach} cells a side; rechunk the friction"
        )
    height, width = friction.shape
    sources = np.asarray(sources)
    if sources.dtype.kind not in "iu" or sources.ndim != 2 or sources.shape[1] != 2:
        raise ValueError("tiled_cost_distance: sources must be an (n, 2) integer array")
    if len(sources) == 0:
        raise ValueError("tiled_cost_distance: no sources given")
    rows, cols = sources[:, 0].astype(np.int64), sources[:, 1].astype(np.int64)
    outside = (rows < 0) | (rows >= height) | (cols < 0) | (cols >= width)
    if outside.any():
        bad = int(np.argmax(outside))
        raise ValueError(
            f"tiled_cost_distance: source {bad} (row {rows[bad]}, col {cols[bad]}) is outside the "
            f"{height}×{width} raster"
        )
    costs = np.zeros(len(sources)) if start_costs is None else np.asarray(start_costs, dtype=float)
    if costs.shape != (len(sources),) or not np.all(np.isfinite(costs) & (costs >= 0)):
        raise ValueError(
            f"tiled_cost_distance: start_costs must be {len(sources)} finite values ≥ 0, one "
            "per source"
        )
    client = get_client() if client is None else client
    workers = sorted(client.nthreads())
    if not workers:
        raise ValueError("tiled_cost_distance: the Dask cluster has no workers; start some")

    moves = dijkstra.MOVES[:connectivity]
    lengths = np.hypot(moves[:, 0] * abs(transform.e), moves[:, 1] * abs(transform.a))
    no_value = math.nan if nodata is None else float(nodata)
    row0 = np.cumsum((0, *row_chunks))
    col0 = np.cumsum((0, *col_chunks))
    tile_i = np.searchsorted(row0, rows, side="right") - 1
    tile_j = np.searchsorted(col0, cols, side="right") - 1
    keys = [(i, j) for i in range(len(row_chunks)) for j in range(len(col_chunks))]
    shapes = {(i, j): (row_chunks[i], col_chunks[j]) for i, j in keys}
    # Alternate workers like a chessboard: a front of improving tiles then keeps both busy.
    home = {(i, j): [workers[(i + j) % len(workers)]] for i, j in keys}
    local: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for i, j in keys:
        mine = (tile_i == i) & (tile_j == j)
        cells = np.column_stack([rows[mine] - row0[i], cols[mine] - col0[j]])
        local[(i, j)] = (cells.astype(np.int64), costs[mine])

    def pinned(function: Callable[..., object], *args: object, key: tuple[int, int]) -> Future:
        return client.submit(
            function, *args, workers=home[key], allow_other_workers=False, pure=False
        )

    began = time.perf_counter()
    tiles: dict[tuple[int, int], Future] = {}
    for i, j in keys:
        block = client.compute(
            friction.blocks[i, j], workers=home[(i, j)], allow_other_workers=False
        )
        tiles[(i, j)] = pinned(_load, block, reach, no_value, row0[i], col0[j], key=(i, j))
    checked = client.gather(
        [pinned(_friction_frame, tiles[k], local[k][0], no_value, key=k) for k in keys]
    )
    friction_frames = {k: frame for k, (frame, _) in zip(keys, checked, strict=True)}
    if sum(n for _, n in checked) == 0:
        raise ValueError(
            "tiled_cost_distance: every source cell is impassable (NaN, inf or nodata); move "
            "the sources onto passable cells"
        )
    seam_bytes = sum(a.nbytes for frame in friction_frames.values() for a in frame)
    log.debug("tiled cost: %d tiles loaded in %.2f s", len(keys), time.perf_counter() - began)
    for k in keys:
        halo = _halo(friction_frames, *k, shapes[k], reach)
        seam_bytes += halo.nbytes
        tiles[k] = pinned(_start, tiles[k], halo, no_value, lengths, *local[k], key=k)
    del friction_frames
    sent = {k: np.full(len(_halo_cells(*shapes[k], reach)[0]), np.inf) for k in keys}
    changed = keys
    frames: dict[tuple[int, int], Frame] = {}
    rounds, tile_runs = 1, len(keys)
    while True:
        fresh = client.gather([pinned(_cost_frame, tiles[k], key=k) for k in changed])
        seam_bytes += sum(a.nbytes for frame in fresh for a in frame)
        frames.update(zip(changed, fresh, strict=True))
        log.debug(
            "tiled cost: round %d, %d tiles run, %.2f s", rounds, len(changed),
            time.perf_counter() - began,
        )  # fmt: skip
        seeds = {}
        for k in keys:
            halo = _halo(frames, *k, shapes[k], reach)
            # Frames only fall, so a halo cell either improved or is what was sent before.
            improved = np.flatnonzero(halo < sent[k])
            if len(improved):
                seeds[k] = (improved, halo[improved])
                sent[k] = halo
        if not seeds:
            break
        if rounds == max_rounds:
            raise ConvergenceError(
                f"tiled_cost_distance: tile borders still improved after max_rounds="
                f"{max_rounds} rounds ({len(seeds)} of {len(keys)} tiles)",
                "raise max_rounds, or use larger chunks (fewer seams to cross)",
            )
        for k, (positions, values) in seeds.items():
            seam_bytes += positions.nbytes + values.nbytes
            tiles[k] = pinned(_relax, tiles[k], positions, values, lengths, key=k)
        changed = list(seeds)
        rounds += 1
        tile_runs += len(seeds)
    blocks = {k: pinned(_finish, tiles[k], key=k) for k in keys}
    del tiles
    cost = da.block(
        [
            [
                da.from_delayed(blocks[(i, j)], shape=shapes[(i, j)], dtype=np.float64)
                for j in range(len(col_chunks))
            ]
            for i in range(len(row_chunks))
        ]
    )
    return TiledCost(cost, rounds, len(keys), tile_runs, seam_bytes)
