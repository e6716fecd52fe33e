"""Time accumulated cost-distance: siting.raster.cost.cost_distance against scikit-image and
GRASS r.cost.

Usage: python benchmarks/cost_distance.py [--cells N] [--sizes N [N ...]] [--sources 50]
                                          [--seed 0] [--no-grass] [--docs]

The friction raster is random and square: float64 cost per metre drawn uniformly from [1, 10],
about 5 % of the cells impassable (``inf``), 100 m cells, a north-up transform in UTM zone 45N
(EPSG:32645). ``--sources`` random passable cells (default 50) are the sources. Default sizes are
1M, 4M, 9M and 16M cells (1000², 2000², 3000², 4000²); ``--sizes`` gives other cell counts and
``--cells N`` runs one size only; each is rounded to a square of side round(√N).

On the same raster and sources, in one process, three engines compute the least accumulated cost
from the nearest source, 8-connected, a step costing its length times the mean friction of its
two cells:

- ours: ``siting.raster.cost.cost_distance(friction, cells, transform=...)`` end to end. Its
  numba kernel
  is warmed up once on a 20 × 20 raster before anything is timed, so compiling (or loading the
  on-disk compile cache) is not counted.
- scikit-image: ``MCP_Geometric(friction, sampling=(100, 100))`` then ``find_costs(starts)``,
  both timed.
- GRASS ``r.cost`` (if a ``grass`` executable is on the PATH and ``--no-grass`` is not given), in
  a temporary EPSG:32645 location driven through ``grass.script``: the friction is written as a
  GeoTIFF (impassable cells as nodata, i.e. GRASS nulls) and imported with ``r.in.gdal``, the
  region is set to it, and ``r.cost`` runs 8-connected (no ``-k``) from the sources given as
  ``start_coordinates`` (cell centres) with ``memory`` large enough to keep every segment in
  RAM. Only the ``r.cost`` call is in the GRASS time (a module run is its own process, so its
  start-up is included); import (GeoTIFF write + ``r.in.gdal``) and export (``r.out.gdal`` +
  read back) are timed apart in the "grass io s" column. r.cost charges (c₁ + c₂)/2 per cell
  width across and √2 times that diagonally, so its output is in friction × cells: it is
  multiplied by the 100 m cell size to compare with ours.

Each row gives, per engine, seconds and millions of raster cells per second; our speedup over
scikit-image and over GRASS; the largest relative difference of ours against each, over cells
finite in both (``|ours − theirs| / theirs``; a source cell is 0 in both), and whether all three
agree on which cells are reached ("same finite"). "mem/raster" is our peak memory: one more
``cost_distance`` call in a child process started with multiprocessing's 'spawn' method, which
warms up numba, loads the friction (a .npy file), resets its peak RSS (writing 5 to
/proc/self/clear_refs) and reads VmRSS, makes the call, and reads VmHWM; the ratio is
(VmHWM − VmRSS before) / friction.nbytes, the returned result (cost, allocation and direction,
1.625 × the raster) included. Where the reset is not allowed it falls back to the growth of
ru_maxrss across the call, which can only under-state it.

The last line sums up the largest size run: its cells, our speedup over scikit-image and the
largest relative difference against scikit-image. With ``--docs`` the table is also written for
the documentation's performance page (``docs/performance/cost_distance.md``, by
``benchmarks/_report.py``).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import multiprocessing.connection
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine

from siting.raster.cost import cost_distance

from _report import record

CELL_M = 100.0
EPSG = 32645
X0, Y0 = 300_000.0, 3_400_000.0  # north-west corner, in UTM zone 45N
DEFAULT_SIZES = (1_000_000, 4_000_000, 9_000_000, 16_000_000)
NODATA = -1.0


def friction_raster(side: int, seed: int) -> np.ndarray:
    """A ``side`` × ``side`` float64 friction: uniform in [1, 10], about 5 % ``inf``."""
    rng = np.random.default_rng([seed, side])
    friction = rng.uniform(1.0, 10.0, (side, side))
    friction[rng.random((side, side)) < 0.05] = np.inf
    return friction


def random_sources(friction: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` distinct random passable cells of ``friction`` as an ``(n, 2)`` array of (row, col)."""
    rng = np.random.default_rng([seed, friction.shape[0], 1])
    height, width = friction.shape
    chosen: list[int] = []
    while len(chosen) < n:
        flat = int(rng.integers(height * width))
        if np.isfinite(friction.flat[flat]) and flat not in chosen:
            chosen.append(flat)
    flat_cells = np.array(chosen, dtype=np.int64)
    return np.column_stack([flat_cells // width, flat_cells % width])


def raster_transform() -> Affine:
    """The benchmark's north-up transform: 100 m cells, north-west corner at (X0, Y0)."""
    return Affine(CELL_M, 0.0, X0, 0.0, -CELL_M, Y0)


def warm_up() -> None:
    """Compile (or load from numba's cache) our kernel on a tiny raster."""
    tiny = np.ones((20, 20))
    tiny[5, 3:15] = np.inf
    cost_distance(tiny, np.array([[0, 0], [19, 19]]), transform=raster_transform())


def run_ours(friction: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, float]:
    """Our cost surface and the seconds it took, end to end."""
    start = time.perf_counter()
    result = cost_distance(friction, sources, transform=raster_transform())
    return result.cost, time.perf_counter() - start


def run_skimage(friction: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, float]:
    """scikit-image's cost surface and the seconds it took (building the MCP included)."""
    from skimage.graph import MCP_Geometric

    starts = [(int(r), int(c)) for r, c in sources]
    start = time.perf_counter()
    mcp = MCP_Geometric(friction, sampling=(CELL_M, CELL_M))
    costs, _ = mcp.find_costs(starts)
    return costs, time.perf_counter() - start


@dataclass
class GrassRun:
    """One r.cost run: its cost surface in friction × metres, its seconds and the I/O seconds."""

    cost: np.ndarray
    seconds: float
    io_seconds: float


class Grass:
    """A temporary GRASS location in EPSG:32645 and a session in it, driven by grass.script."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        gisbase = subprocess.run(
            ["grass", "--config", "path"], capture_output=True, text=True, check=True
        ).stdout.strip()
        sys.path.insert(0, os.path.join(gisbase, "etc", "python"))
        import grass.script as gs
        from grass.script import setup as grass_setup

        self.gs = gs
        dbase = workdir / "grassdb"
        dbase.mkdir()
        subprocess.run(
            ["grass", "-c", f"EPSG:{EPSG}", "-e", str(dbase / "bench")],
            capture_output=True,
            check=True,
        )
        self.session = grass_setup.init(str(dbase), "bench", "PERMANENT")
        os.environ["GRASS_VERBOSE"] = "0"  # modules and the session's clean-up say nothing
        self.version = gs.read_command("g.version").strip()

    def run(self, friction: np.ndarray, sources: np.ndarray) -> GrassRun:
        """Import ``friction``, run r.cost from ``sources`` and read its output back."""
        import rasterio

        gs = self.gs
        height, width = friction.shape
        tif_in, tif_out = self.workdir / "friction.tif", self.workdir / "cost.tif"
        start = time.perf_counter()
        profile = {
            "driver": "GTiff", "height": height, "width": width, "count": 1,
            "dtype": "float64", "crs": f"EPSG:{EPSG}", "transform": raster_transform(),
            "nodata": NODATA, "tiled": True, "BIGTIFF": "IF_SAFER",
        }  # fmt: skip
        with rasterio.open(tif_in, "w", **profile) as dst:
            dst.write(np.where(np.isfinite(friction), friction, NODATA), 1)
        gs.run_command("r.in.gdal", input=str(tif_in), output="friction", flags="o", quiet=True)
        gs.run_command("g.region", raster="friction", quiet=True)
        io_seconds = time.perf_counter() - start

        # affine maps arrays of columns and rows at run time; its type hints say floats only
        xs, ys = raster_transform() * (sources[:, 1] + 0.5, sources[:, 0] + 0.5)  # type: ignore[operator]
        coords = ",".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        # r.cost's own estimate: 24 bytes a cell plus 160 per row and column for the queue.
        memory_mb = math.ceil((24.0 * height * width + 160.0 * (height + width)) / 2**20) + 64
        start = time.perf_counter()
        gs.run_command(
            "r.cost", input="friction", output="cost", start_coordinates=coords,
            memory=memory_mb, quiet=True,
        )  # fmt: skip
        seconds = time.perf_counter() - start

        start = time.perf_counter()
        gs.run_command(
            "r.out.gdal", input="cost", output=str(tif_out), format="GTiff", type="Float64",
            flags="cf", overwrite=True, quiet=True,
        )  # fmt: skip
        with rasterio.open(tif_out) as src:
            cost = src.read(1)
            cost[src.read_masks(1) == 0] = np.inf
        cost[np.isnan(cost)] = np.inf
        io_seconds += time.perf_counter() - start
        gs.run_command("g.remove", type="raster", name="friction,cost", flags="f", quiet=True)
        tif_in.unlink()
        tif_out.unlink()
        return GrassRun(cost * CELL_M, seconds, io_seconds)

    def close(self) -> None:
        """End the session (the location is removed with the work directory)."""
        self.session.finish()


def _vm_kb(field: str) -> int:
    """A ``Vm*`` line of /proc/self/status, in kB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _memory_child(
    path: str, sources: np.ndarray, conn: multiprocessing.connection.Connection
) -> None:
    """In a spawned process: the peak RSS growth (bytes) of one call and how it was measured."""
    warm_up()
    friction = np.load(path)
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        before = _vm_kb("VmRSS")
        result = cost_distance(friction, sources, transform=raster_transform())
        grown, method = _vm_kb("VmHWM") - before, "VmHWM after a /proc/self/clear_refs reset"
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = cost_distance(friction, sources, transform=raster_transform())
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        grown, method = after - before, "ru_maxrss growth (no reset; a lower bound)"
    del result
    conn.send((grown * 1024, method))
    conn.close()


def peak_memory(path: Path, sources: np.ndarray) -> tuple[int, str]:
    """Peak RSS growth (bytes) of ``cost_distance`` on the friction saved at ``path``, measured
    in a child started with the 'spawn' method; see the module doc."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_memory_child, args=(str(path), sources, send))
    child.start()
    send.close()
    grown, method = receive.recv()
    child.join()
    return grown, method


def compare(got: np.ndarray, want: np.ndarray) -> tuple[float, bool]:
    """Largest relative difference of ``got`` from ``want`` over cells finite in both, and
    whether both have the same finite cells. A cell where ``want`` is 0 counts 0 if ``got`` is
    0 there too, ``inf`` otherwise."""
    finite_got, finite_want = np.isfinite(got), np.isfinite(want)
    same = bool(np.array_equal(finite_got, finite_want))
    both = finite_got & finite_want
    diff = np.abs(got[both] - want[both])
    scale = np.abs(want[both])
    rel = np.divide(diff, scale, out=np.where(diff > 0, np.inf, 0.0), where=scale > 0)
    return float(rel.max(initial=0.0)), same


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line; see the module doc."""
    parser = argparse.ArgumentParser(
        description=(
            "Time siting.raster.cost.cost_distance against scikit-image MCP and GRASS r.cost."
        )
    )
    parser.add_argument("--cells", type=int, help="run one square size of about N cells")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
        help="cell counts to run, each rounded to a square (default: 1M 4M 9M 16M)",
    )  # fmt: skip
    parser.add_argument("--sources", type=int, default=50, help="random source cells (50)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--no-grass", action="store_true", help="skip GRASS r.cost")
    parser.add_argument(
        "--docs", action="store_true",
        help="also write the table to docs/performance/cost_distance.md",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.cells is not None:
        args.sizes = [args.cells]
    if any(n < 4 for n in args.sizes) or args.sources < 1:
        parser.error("sizes must be at least 4 cells and --sources at least 1")
    return args


def _cell(value: float | None, spec: str, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    sides = sorted({max(2, round(math.sqrt(n))) for n in args.sizes})
    use_grass = not args.no_grass and shutil.which("grass") is not None

    start = time.perf_counter()
    warm_up()
    print(f"ours: numba kernel warmed up on a 20x20 raster in {time.perf_counter() - start:.2f} s")
    print(
        f"raster: float64 friction U[1, 10] per metre, ~5 % inf, {CELL_M:.0f} m cells, "
        f"{args.sources} random passable sources, seed {args.seed}"
    )
    with tempfile.TemporaryDirectory(prefix="cost_distance_bench_") as tmp:
        workdir = Path(tmp)
        grass = Grass(workdir) if use_grass else None
        if grass is not None:
            print(
                f"grass: {grass.version.splitlines()[0]}; r.cost timed alone (its process "
                "included), import/export in 'grass io s'; values × 100 m"
            )
        else:
            reason = "--no-grass" if args.no_grass else "no grass executable on the PATH"
            print(f"grass: skipped ({reason})")
        print("mem/raster: peak RSS growth of one call in a spawned child / friction.nbytes")
        header = (
            f"{'cells':>10} {'ours s':>8} {'Mc/s':>6} {'skimage s':>9} {'Mc/s':>6} "
            f"{'grass s':>8} {'Mc/s':>6} {'grass io s':>10} {'vs sk':>6} {'vs grass':>8} "
            f"{'diff sk':>8} {'diff grass':>10} {'same finite':>11} {'mem/raster':>10}"
        )
        print(header)
        last: tuple[int, float, float] | None = None
        methods: set[str] = set()
        rows: list[dict[str, object]] = []
        grass_version = None if grass is None else grass.version.splitlines()[0]
        try:
            for side in sides:
                friction = friction_raster(side, args.seed)
                sources = random_sources(friction, args.sources, args.seed)
                cells = friction.size

                ours, ours_s = run_ours(friction, sources)
                theirs, skimage_s = run_skimage(friction, sources)
                diff_sk, same_sk = compare(ours, theirs)
                del theirs

                grass_s = io_s = diff_grass = None
                same_grass = True
                if grass is not None:
                    run = grass.run(friction, sources)
                    grass_s, io_s = run.seconds, run.io_seconds
                    diff_grass, same_grass = compare(ours, run.cost)
                    del run
                del ours

                npy = workdir / "friction.npy"
                np.save(npy, friction)
                grown, method = peak_memory(npy, sources)
                npy.unlink()
                methods.add(method)
                ratio = grown / friction.nbytes

                speedup_sk = skimage_s / ours_s
                speedup_grass = None if grass_s is None else grass_s / ours_s
                same = "yes" if same_sk and same_grass else "NO"
                print(
                    f"{cells:>10} {ours_s:>8.3f} {cells / ours_s / 1e6:>6.2f} "
                    f"{skimage_s:>9.3f} {cells / skimage_s / 1e6:>6.2f} "
                    f"{_cell(grass_s, '.3f', 8)} "
                    f"{_cell(None if grass_s is None else cells / grass_s / 1e6, '.2f', 6)} "
                    f"{_cell(io_s, '.2f', 10)} {speedup_sk:>6.2f} "
                    f"{_cell(speedup_grass, '.2f', 8)} {diff_sk:>8.1e} "
                    f"{_cell(diff_grass, '.1e', 10)} {same:>11} {ratio:>10.2f}",
                    flush=True,
                )
                last = (cells, speedup_sk, diff_sk)
                grass_diff = None if diff_grass is None else f"{diff_grass:.1e}"
                rows.append(
                    {
                        "cells": f"{cells / 1e6:.2f} M",
                        "ours": f"{ours_s:.3f} s",
                        "scikit-image": f"{skimage_s:.3f} s",
                        "GRASS r.cost": None if grass_s is None else f"{grass_s:.3f} s",
                        "vs scikit-image": f"{speedup_sk:.1f}×",
                        "vs GRASS": None if speedup_grass is None else f"{speedup_grass:.1f}×",
                        "max rel. diff (sk)": f"{diff_sk:.1e}",
                        "max rel. diff (GRASS)": grass_diff,
                        "same cells reached": same,
                        "peak memory / raster": f"{ratio:.2f}",
                    }
                )
        finally:
            if grass is not None:
                grass.close()
    print(f"mem/raster measured as: {'; '.join(sorted(methods))}")
    assert last is not None
    cells, speedup_sk, diff_sk = last
    print(
        f"cost_distance cells={cells} speedup_vs_skimage={speedup_sk:.2f} "
        f"max_rel_diff={diff_sk:.1e}"
    )
    if args.docs:
        grass_note = (
            f"GRASS: {grass_version}, `r.cost` timed alone (its process start included)."
            if grass_version
            else "GRASS: not run (`--no-grass`, or no `grass` executable on the PATH)."
        )
        notes = (
            f"Random friction uniform in [1, 10] per metre, about 5 % impassable, {CELL_M:.0f} m "
            f"cells, {args.sources} random sources (seed {args.seed}), 8-connected; the same "
            "raster and sources for every engine, in one process. Times are end to end "
            "(scikit-image: building the `MCP_Geometric` included). The differences are the "
            "largest relative difference of our costs from the other engine's over the cells "
            f"finite in both. {grass_note} Peak memory: {'; '.join(sorted(methods))}, over the "
            "friction raster's bytes."
        )
        print(f"wrote {record('cost_distance', rows, notes=notes)}")


if __name__ == "__main__":
    main(sys.argv[1:])
