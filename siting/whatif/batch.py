"""Batches: many scenarios run by parallel worker processes (or on a Dask cluster), summed up in
one table.

Each scenario runs in its own process (a run holds gigabytes at fine resolutions and numpy
releases little memory back), writes its outputs as a single run would, and reports one row:
what it proposes and decides, or the message of the user error that stopped it. One failing
scenario does not stop the others.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from siting.errors import SitingError


def summary_row(path: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """Run one scenario and sum it up (in a worker process)."""
    from siting.pipeline.stages import run

    start = time.perf_counter()
    row: dict[str, Any] = {"scenario": str(path)}
    try:
        result = run(path, **overrides)
    except SitingError as exc:
        return {**row, "status": "error", "error": exc.message, "seconds": _since(start)}
    s = result.scenario
    row.update(name=s.name, title=s.title, status="ok", error="")
    for profile in s.profiles:
        row[f"sites_{profile}"] = int((result.sites["profile"] == profile).sum())
        top = result.sites_of(profile)
        if len(top):
            # "near" needs named places (the scenario's place_names layer); else lat, lon.
            best = top.iloc[0]
            near = best.get("near") or f"{best['lat']:.4f} N, {best['lon']:.4f} E"
            row[f"best_{profile}"] = near
    if result.allocation is not None:
        a = result.allocation
        row.update(plants=a.p, transport=a.transport, mean_suitability=a.mean_suitability)
    if result.covering is not None:
        row["covered_share"] = result.covering.coverage / result.covering.total
    row.update(output_dir=str(result.output_dir), seconds=_since(start))
    return row


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 1)


def run_batch(
    scenarios: Sequence[str | Path],
    workers: int = 2,
    executor: Executor | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Run scenarios in parallel and return one summary row per scenario (in the given order).

    Parameters
    ----------
    scenarios
        Scenario TOML files.
    workers
        Worker processes (each run is single-threaded but memory-hungry: at most the cores).
    executor
        Run the scenarios with this executor instead of ``workers`` processes (e.g. a Dask
        client's ``get_executor()``: each scenario a task on its cluster, whose workers must see
        the scenario files and the output folder).
    **overrides
        Applied to every scenario, as in :func:`siting.run` (e.g. ``resolution``,
        ``output_dir``).

    Returns
    -------
    pandas.DataFrame
        ``scenario``, ``name``, ``title``, ``status`` ("ok" or "error"), ``error``, per profile
        the number of sites and where the best one is, ``plants``, ``transport``,
        ``mean_suitability``, ``covered_share`` (when the scenario has those models),
        ``output_dir`` and ``seconds``.

    Raises
    ------
    SitingError
        If no scenario is given or two share a name (their outputs would overwrite each other).
    """
    from siting.config import scenario as scenario_mod

    paths = [Path(p) for p in scenarios]
    if not paths:
        raise SitingError("no scenario to run", "give one or more scenario .toml files")
    names: dict[str, Path] = {}
    for path in paths:
        try:
            name = overrides.get("name") or scenario_mod.load(path).name
        except SitingError:
            continue  # reported by its own row
        if name in names:
            raise SitingError(
                f"{path} and {names[name]} both have name = {name!r}: their outputs would "
                "overwrite each other",
                "give each scenario its own name",
            )
        names[name] = path
    if executor is not None:
        rows = list(executor.map(summary_row, paths, [overrides] * len(paths)))
        return pd.DataFrame(rows)
    context = multiprocessing.get_context("spawn")  # a clean interpreter per worker
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
        rows = list(pool.map(summary_row, paths, [overrides] * len(paths)))
    return pd.DataFrame(rows)
