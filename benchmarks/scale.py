"""Exact cost-distance on a raster larger than one process: siting.scale.tiled_cost on Dask.

Usage: python benchmarks/scale.py [--size 20000] [--chunk 2000] [--workers 2]
                                  [--memory-limit 5GB] [--check-size 4096] [--check-chunk 1024]
                                  [--sources 50] [--seed 0] [--compare-full] [--docs]

The friction is generated lazily, block by block on the workers, from ``--seed`` and the block's
place: float32 cost per metre uniform in [1, 10], about 5 % of the cells impassable (``inf``),
100 m cells; ``--sources`` random cells (50), made passable, are the sources. It runs on a
``distributed.LocalCluster`` of ``--workers`` processes with one thread each and
``--memory-limit`` each. Tiles are pinned working state, so the workers neither spill them to
disk nor pause (``distributed.worker.memory.target/spill/pause`` off); the nanny still ends a
worker that passes 95 % of its limit, so a run that completes stayed under it.

1. The check grid, ``--check-size`` cells a side (4096), in chunks of ``--check-chunk``: the
   single-process engine (``siting.raster.cost.cost_distance`` on the friction computed into
   this process, numba warmed up first, the time of the call alone) against
   ``tiled_cost_distance`` (the time from the call until every tile's cost is final on its
   worker, generating the friction blocks on the workers included; the time to generate them
   alone is printed beside it). The tiled result is read
   back and compared: ``max_rel_diff`` is the largest ``|tiled − single| / single`` over cells
   finite in both (0 at a source is 0 in both), and the unreachable (``inf``) masks must be
   equal.
2. The full grid, ``--size`` cells a side (20000: 4e8 cells), chunks of ``--chunk``, timed the
   same way. Its cost is checked without gathering it: blockwise on the workers (with a
   one-cell overlap), every finite cell must be the cheapest of its sources' start and its
   neighbours' cost plus the step (the fixed point that defines the least cost; ``residual``
   is the largest relative difference), and a cell is ``inf`` exactly where every neighbour
   step is. With ``--compare-full`` the cluster is closed, the tiled cost having been read block
   by block into a temporary ``.npy`` file, and the single-process engine runs on the whole grid
   in this process (about 30 bytes a cell of memory) to compare as on the check grid.

Peak worker memory is the largest peak RSS of a worker process over the full-grid run: before
it, each worker resets its kernel high-water mark (writing 5 to ``/proc/self/clear_refs``),
after it reads ``VmHWM`` from ``/proc/self/status`` (both through ``Client.run``); where the
reset is not allowed, the largest RSS sampled by ``psutil`` every 0.2 s stands in.

The last line sums up: ``scale cells=<N> workers=<w> chunks=<c> rounds=<r> seconds=<s>
peak_worker_gb=<g> max_rel_diff=<e>`` for the full grid, ``max_rel_diff`` from the comparison with
the single-process engine there with ``--compare-full``, else the larger of the check grid's
difference and the full grid's residual. With ``--docs`` the printed lines are also written to
``docs/performance/scale.md`` (by ``benchmarks/_report.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import psutil
from affine import Affine
from dask.utils import parse_bytes
from distributed import Client, LocalCluster, wait

from siting.raster.cost import cost_distance
from siting.scale.tiled_cost import TiledCost, tiled_cost_distance

from _report import PACKAGES, record

CELL_M = 100.0


def transform() -> Affine:
    """North-up, 100 m cells."""
    return Affine(CELL_M, 0.0, 300_000.0, 0.0, -CELL_M, 6_000_000.0)


def random_sources(size: int, n: int, seed: int) -> np.ndarray:
    """``n`` distinct random cells of a ``size``² grid, as (row, col)."""
    rng = np.random.default_rng([seed, size, 1])
    flat = rng.choice(size * size, n, replace=False)
    return np.column_stack([flat // size, flat % size]).astype(np.int64)


def _friction_block(sources: np.ndarray, seed: int, block_info: dict | None = None) -> np.ndarray:
    """One block of the synthetic friction, from the seed and the block's place."""
    assert block_info is not None
    (r0, r1), (c0, c1) = block_info[None]["array-location"]
    rng = np.random.default_rng([seed, r0, c0])
    block = rng.uniform(1.0, 10.0, (r1 - r0, c1 - c0)).astype(np.float32)
    block[rng.random(block.shape) < 0.05] = np.inf
    inside = (sources[:, 0] >= r0) & (sources[:, 0] < r1)
    inside &= (sources[:, 1] >= c0) & (sources[:, 1] < c1)
    block[sources[inside, 0] - r0, sources[inside, 1] - c0] = 1.0
    return block


def synthetic_friction(size: int, chunk: int, sources: np.ndarray, seed: int) -> da.Array:
    """The lazily generated float32 friction of ``size``² cells in ``chunk``² blocks."""
    blocks = (chunk,) * (size // chunk) + ((size % chunk,) if size % chunk else ())
    return da.map_blocks(
        _friction_block,
        sources,
        seed,
        chunks=(blocks, blocks),
        dtype=np.float32,
        meta=np.empty((0, 0), dtype=np.float32),
    )


def timed_tiled(friction: da.Array, sources: np.ndarray, client: Client) -> tuple[TiledCost, float]:
    """The tiled result, and the seconds until every tile's cost is final on its worker."""
    start = time.perf_counter()
    result = tiled_cost_distance(friction, sources, transform=transform(), client=client)
    result.cost = client.persist(result.cost)
    wait(result.cost)
    return result, time.perf_counter() - start


def generation_seconds(friction: da.Array, client: Client) -> float:
    """Seconds to generate the friction on the workers alone (reduced to its maximum): the
    part of the tiled time that the single-process time, given the friction, does not have."""
    start = time.perf_counter()
    client.compute(friction.max()).result()
    return time.perf_counter() - start


def compare(got: np.ndarray, want: np.ndarray) -> tuple[float, bool]:
    """Largest relative difference over cells finite in both, and whether the masks agree;
    in strips of rows, so that a full-grid comparison needs no grid-sized temporaries."""
    worst, same = 0.0, True
    for top in range(0, len(want), 1024):
        a, b = np.asarray(got[top : top + 1024]), want[top : top + 1024]
        finite = np.isfinite(b)
        same &= bool(np.array_equal(np.isfinite(a), finite))
        diff = np.abs(a[finite] - b[finite]) / np.maximum(b[finite], np.finfo(float).tiny)
        worst = max(worst, float(diff.max(initial=0.0)))
    return worst, same


def _residual_block(cost: np.ndarray, friction: np.ndarray, is_source: np.ndarray) -> np.ndarray:
    """Per block (with a one-cell overlap): the largest relative gap between a cell's cost and
    the cheapest of its neighbours' cost plus the step, and whether ``inf`` is where it should
    be (``inf`` residual if not). A source's own start (0 here) also counts."""
    f = friction.astype(np.float64)
    f[~np.isfinite(f)] = np.inf
    inner = (slice(1, -1), slice(1, -1))
    best = np.where(is_source[inner], 0.0, np.inf)
    h, w = cost.shape
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == dc == 0:
                continue
            length = float(np.hypot(dr * CELL_M, dc * CELL_M))
            near = (slice(1 + dr, h - 1 + dr), slice(1 + dc, w - 1 + dc))
            with np.errstate(invalid="ignore"):
                step = cost[near] + length * (0.5 * (f[near] + f[inner]))
            best = np.fmin(best, step)
    here = cost[inner]
    best[~np.isfinite(f[inner])] = np.inf
    finite = np.isfinite(here)
    if not np.array_equal(finite, np.isfinite(best)):
        return np.array([[np.inf]])
    gap = np.abs(here[finite] - best[finite]) / np.maximum(best[finite], np.finfo(float).tiny)
    return np.array([[gap.max(initial=0.0)]])


def residual(result: TiledCost, friction: da.Array, sources: np.ndarray) -> float:
    """The full grid's fixed-point residual, computed blockwise on the workers."""
    is_source = da.zeros(friction.shape, dtype=bool, chunks=friction.chunks)
    is_source = is_source.map_blocks(_mark, sources, dtype=bool, meta=np.empty((0, 0), dtype=bool))
    depth = {0: 1, 1: 1}
    padded = [
        da.overlap.overlap(a, depth=depth, boundary=fill)
        for a, fill in ((result.cost, np.inf), (friction, np.inf), (is_source, False))
    ]
    per_block = da.map_blocks(
        _residual_block, *padded, dtype=np.float64, chunks=(1, 1), meta=np.empty((0, 0))
    )
    return float(per_block.max().compute())


def _mark(block: np.ndarray, sources: np.ndarray, block_info: dict | None = None) -> np.ndarray:
    assert block_info is not None
    (r0, r1), (c0, c1) = block_info[0]["array-location"]
    out = np.zeros(block.shape, dtype=bool)
    inside = (sources[:, 0] >= r0) & (sources[:, 0] < r1)
    inside &= (sources[:, 1] >= c0) & (sources[:, 1] < c1)
    out[sources[inside, 0] - r0, sources[inside, 1] - c0] = True
    return out


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


class MemoryWatch:
    """The largest RSS of any worker, sampled every 0.2 s through ``Client.run``."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            rss = self.client.run(_rss)
            self.peak = max(self.peak, *rss.values())

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000, help="full grid side (20000)")
    parser.add_argument("--chunk", type=int, default=2000, help="full grid chunk side (2000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument("--memory-limit", default="5GB", help="per worker (5GB)")
    parser.add_argument("--check-size", type=int, default=4096, help="check grid side (4096)")
    parser.add_argument("--check-chunk", type=int, default=1024, help="its chunk side (1024)")
    parser.add_argument("--sources", type=int, default=50, help="random source cells (50)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--compare-full",
        action="store_true",
        help="also run the single-process engine on the full grid (about 30 bytes a cell)",
    )
    parser.add_argument("--docs", action="store_true", help="also write docs/performance/scale.md")
    return parser.parse_args(argv)


def on_cluster(args: argparse.Namespace, lines: list[str], stored: Path | None) -> dict:
    """The check grid and the full grid on a local cluster; the full grid's tiled cost is
    copied into the ``stored`` .npy file if given. Returns the summary's figures."""
    config = {
        "distributed.worker.memory.target": False,
        "distributed.worker.memory.spill": False,
        "distributed.worker.memory.pause": False,
    }
    with (
        dask.config.set(config),
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            memory_limit=parse_bytes(args.memory_limit),
            dashboard_address=None,
            processes=True,
        ) as cluster,
        Client(cluster) as client,
    ):
        # Warm the workers' numba (compile or load the cache) on a small grid.
        small = synthetic_friction(64, 16, np.array([[3, 3]]), args.seed)
        tiled_cost_distance(small, np.array([[3, 3]]), client=client).cost.compute()

        size = args.check_size
        sources = random_sources(size, args.sources, args.seed)
        friction = synthetic_friction(size, args.check_chunk, sources, args.seed)
        local = friction.compute()
        start = time.perf_counter()
        single = cost_distance(local, sources, transform=transform()).cost
        single_s = time.perf_counter() - start
        del local
        generate_s = generation_seconds(friction, client)
        result, tiled_s = timed_tiled(friction, sources, client)
        check_diff, same = compare(result.cost.compute(), single)
        del single, result
        cells = size * size
        lines += [
            f"check grid {size}² ({cells / 1e6:.1f} M cells), chunks {args.check_chunk}²:",
            f"  single process {single_s:.2f} s, {cells / single_s / 1e6:.2f} M cells/s",
            f"  tiled          {tiled_s:.2f} s, {cells / tiled_s / 1e6:.2f} M cells/s "
            f"({single_s / tiled_s:.2f} of single; generating the friction alone "
            f"{generate_s:.2f} s)",
            f"  max_rel_diff {check_diff:.3g}, same unreachable cells: {same}",
        ]
        print("\n".join(lines[-4:]), flush=True)

        size = args.size
        sources = random_sources(size, args.sources, args.seed)
        friction = synthetic_friction(size, args.chunk, sources, args.seed)
        generate_s = generation_seconds(friction, client)
        reset = all(client.run(_reset_peak).values())
        with MemoryWatch(client) as watch:
            result, full_s = timed_tiled(friction, sources, client)
        peaks = client.run(_peak_rss) if reset else {}
        peak = max([watch.peak, *peaks.values()])
        cells = size * size
        lines += [
            f"full grid {size}² ({cells / 1e6:.0f} M cells), chunks {args.chunk}², "
            f"{result.chunks} tiles on {args.workers} workers of {args.memory_limit}:",
            f"  tiled {full_s:.1f} s, {cells / full_s / 1e6:.2f} M cells/s, {result.rounds} "
            f"rounds, {result.tile_runs} tile runs, {result.seam_bytes / 1e6:.1f} MB of seams "
            f"(generating the friction alone {generate_s:.1f} s)",
            f"  peak worker RSS {peak / 1e9:.2f} GB "
            f"({'VmHWM' if reset else 'sampled'}; sampled {watch.peak / 1e9:.2f} GB)",
        ]
        print("\n".join(lines[-3:]), flush=True)
        start = time.perf_counter()
        gap = residual(result, friction, sources)
        lines.append(f"  fixed-point residual {gap:.3g} ({time.perf_counter() - start:.1f} s)")
        print(lines[-1], flush=True)
        if stored is not None:
            out = np.lib.format.open_memmap(stored, "w+", dtype=np.float64, shape=(size, size))
            # Block by block through this process: a memmap cannot go to the workers.
            tops, lefts = (np.cumsum((0, *c)) for c in result.cost.chunks)
            for i, j in np.ndindex(*result.cost.numblocks):
                rows, cols = slice(tops[i], tops[i + 1]), slice(lefts[j], lefts[j + 1])
                out[rows, cols] = result.cost.blocks[i, j].compute()
            out.flush()
            del out
    return {
        "cells": cells,
        "chunks": result.chunks,
        "rounds": result.rounds,
        "seconds": full_s,
        "peak": peak,
        "max_rel_diff": max(check_diff, gap) if same else float("inf"),
    }


def compare_full(args: argparse.Namespace, lines: list[str], stored: Path) -> float:
    """The single-process engine on the full grid in this process, against the ``stored``
    tiled cost; the largest relative difference (``inf`` if the unreachable cells differ)."""
    sources = random_sources(args.size, args.sources, args.seed)
    friction = synthetic_friction(args.size, args.chunk, sources, args.seed)
    local = friction.compute(scheduler="threads")
    start = time.perf_counter()
    single = cost_distance(local, sources, transform=transform()).cost
    single_s = time.perf_counter() - start
    del local
    diff, same = compare(np.load(stored, mmap_mode="r"), single)
    cells = args.size**2
    lines.append(
        f"  single process on the full grid {single_s:.1f} s, {cells / single_s / 1e6:.2f} M "
        f"cells/s; max_rel_diff {diff:.3g}, same unreachable cells: {same}"
    )
    print(lines[-1], flush=True)
    return diff if same else float("inf")


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    lines = [
        f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GB, "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    ]
    print(lines[0], flush=True)
    tiny = np.ones((20, 20), dtype=np.float32)
    cost_distance(tiny, np.array([[0, 0]]), transform=transform())  # compile or load numba
    with tempfile.TemporaryDirectory() as tmp:
        stored = Path(tmp) / "tiled.npy" if args.compare_full else None
        run = on_cluster(args, lines, stored)
        if stored is not None:  # after the cluster has closed, with its memory
            run["max_rel_diff"] = compare_full(args, lines, stored)
    lines.append(
        f"scale cells={run['cells']} workers={args.workers} chunks={run['chunks']} "
        f"rounds={run['rounds']} seconds={run['seconds']:.1f} "
        f"peak_worker_gb={run['peak'] / 1e9:.2f} max_rel_diff={run['max_rel_diff']:.3g}"
    )
    print(lines[-1], flush=True)
    if args.docs:
        notes = __doc__.split("\n\n")[2]
        packages = (*PACKAGES, "dask", "distributed", "psutil")
        print(f"wrote {record('scale', lines, notes=notes, packages=packages)}")


if __name__ == "__main__":
    main(sys.argv[1:])
