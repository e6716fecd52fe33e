"""National runs: a scenario split into basins, each run on its own, merged into one output.

A scenario whose study-area layer has a ``basin`` field (``layers/russia/basins.geojson``, or
the areas :func:`siting.scale.basins.write_areas` writes) is national: :func:`run_national`
runs every basin of it (:func:`siting.scale.basins.basin_scenario`: the basin's study area and
its own UTM zone) as an independent task — on a Dask cluster when given a client
(:mod:`siting.scale.cluster`), else one after another — and writes one national output folder:

- ``basins/<basin>/``: each basin's full outputs, as a single run writes them (map, GeoPackage,
  GeoTIFFs, QGIS project, report);
- ``siting.gpkg``, ``map.html``, ``report.md``/``.html``, ``run.json``: the national ones
  (:mod:`siting.exports.national`), every table with a ``basin`` column.

A basin that a user error stops (e.g. no town within reach of its mines) is skipped, and the
outputs list it with the reason; any other error stops the national run. The basins write into
the national folder's staging copy, which replaces the previous outputs only once every basin and
the national files are complete (:func:`siting.exports.folder.staged`). Workers of an existing
cluster must therefore see the output folder (a shared file system).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pyogrio

from siting.config.scenario import Scenario
from siting.config.values import LONLAT
from siting.errors import SitingError
from siting.exports import folder, inputs_of
from siting.exports import national as national_exports
from siting.pipeline.result import BasinRun, NationalResult
from siting.pipeline.stages import open_cache, run
from siting.scale.basins import BASIN_FIELD, Basin, basin_scenario, basins_of

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger("siting")

#: Columns of a basin's sites kept in the national tables (besides ``basin`` and geometry).
SITE_COLUMNS = ("site_id", "profile", "rank", "score", "near", "lon", "lat")
#: The sub-folder of the national output that holds the basins' own outputs.
BASINS_DIR = "basins"


def is_national(scenario: Scenario) -> bool:
    """Whether the scenario's study-area layer names basins (has a ``basin`` field)."""
    spec = scenario.layers[scenario.study_area]
    try:
        fields = pyogrio.read_info(spec.path, layer=spec.layer)["fields"]
    except Exception:  # unreadable: the run's own checks say why, with the key named
        return False
    return BASIN_FIELD in set(fields)


def run_basin(
    scenario: Scenario,
    basin: Basin,
    output_dir: Path | None,
    cache: bool | str | Path,
) -> BasinRun:
    """Run one basin (in a worker, or here) and sum it up as plain data.

    A :class:`~siting.errors.SitingError` (a user error: the basin's data do not allow a run)
    makes the basin ``"skipped"`` with its message; anything else propagates.
    """
    start = time.perf_counter()
    output = float(basin.mines["output"].sum()) if "output" in basin.mines else math.nan
    summary = dict(
        name=basin.name,
        title=basin.title,
        crs=basin.crs,
        mines=len(basin.mines),
        output=output,
        area=basin.area_lonlat,
    )
    try:
        if output_dir is not None:
            scenario = scenario.with_overrides(output_dir=output_dir)
        result = run(scenario, write=output_dir is not None, cache=cache)
    except SitingError as exc:
        return BasinRun(
            status="skipped",
            message=exc.message,
            sites=_sites(None, basin.name),
            seconds=time.perf_counter() - start,
            **summary,
        )
    sites = _sites(result.sites, basin.name)
    written = None
    if output_dir is not None and result.output_dir is not None:
        written = f"{BASINS_DIR}/{result.output_dir.name}"
    return BasinRun(
        status="ok",
        message="",
        sites=sites,
        seconds=time.perf_counter() - start,
        folder=written,
        **summary,
    )


def _sites(sites: gpd.GeoDataFrame | None, basin: str) -> gpd.GeoDataFrame:
    """A basin's sites in lon/lat with the national columns."""
    if sites is None or not len(sites):
        columns: dict[str, Any] = {"basin": [], **{c: [] for c in SITE_COLUMNS}}
        return gpd.GeoDataFrame(columns, geometry=[], crs=LONLAT)
    out = sites.to_crs(LONLAT)
    keep = [c for c in SITE_COLUMNS if c in out.columns]
    out = gpd.GeoDataFrame(out[keep], geometry=out.geometry.values, crs=LONLAT)
    out.insert(0, "basin", basin)
    return out.reset_index(drop=True)


def run_national(
    scenario: Scenario,
    *,
    client: Client | None = None,
    write: bool = True,
    cache: bool | str | Path | None = None,
    progress: Callable[[BasinRun, int, int], None] | None = None,
) -> NationalResult:
    """Run every basin of a national scenario and merge them (see the module docstring).

    Parameters
    ----------
    scenario
        A national scenario (:func:`is_national`), overrides applied.
    client
        A Dask client: each basin is a task on its cluster (largest basins first). None runs
        them here, one after another.
    write
        Write the national output folder ``<outputs.dir>/<name>/`` (with ``basins/``).
    cache
        As :func:`siting.run`'s: by default ``<outputs.dir>/.cache`` when writing, shared by
        the basins (each step is keyed by its own inputs).
    progress
        Called as each basin ends, with it, how many have ended and how many there are.

    Returns
    -------
    NationalResult

    Raises
    ------
    SitingError
        If the scenario has no basins, no basin could run, or the output folder may not be
        written; a basin's own user error only skips that basin.
    """
    start = time.perf_counter()
    basins = basins_of(scenario)
    if not basins:
        raise SitingError(
            f"scenario {scenario.name!r}: no basin of {scenario.study_area!r} holds a mine",
            "check the basins' polygons and the mines layer (and its where)",
        )
    store = open_cache(scenario, write if cache is None else cache)
    shared_cache: bool | str | Path = store.folder if store.folder is not None else False
    where = "this process" if client is None else _describe(client)
    log.info("%s: %d basins on %s", scenario.name, len(basins), where)
    final = scenario.output_dir
    if not write:
        runs = _run_all(scenario, basins, None, shared_cache, client, progress)
        return NationalResult(scenario, runs, time.perf_counter() - start, where)
    protected = inputs_of(scenario, store.folder)
    with folder.staged(final, protected) as staging:
        runs = _run_all(scenario, basins, staging / BASINS_DIR, shared_cache, client, progress)
        if not any(b.status == "ok" for b in runs):
            reasons = "; ".join(f"{b.name}: {b.message}" for b in runs[:3])
            raise SitingError(
                f"scenario {scenario.name!r}: none of the {len(runs)} basins could run ({reasons})",
                "check the layers of the basins (see the messages)",
            )
        result = NationalResult(scenario, runs, time.perf_counter() - start, where)
        national_exports.write(result, staging)
    result.output_dir = final
    result.seconds = time.perf_counter() - start
    return result


def _run_all(
    scenario: Scenario,
    basins: list[Basin],
    output_dir: Path | None,
    cache: bool | str | Path,
    client: Client | None,
    progress: Callable[[BasinRun, int, int], None] | None,
) -> list[BasinRun]:
    """Each basin's run, in the basins' order (computed largest first on a cluster)."""
    scenarios = [basin_scenario(scenario, b) for b in basins]
    done: dict[str, BasinRun] = {}

    def ended(run_: BasinRun) -> None:
        done[run_.name] = run_
        if progress is not None:
            progress(run_, len(done), len(basins))

    if client is None:
        for s, b in zip(scenarios, basins, strict=True):
            ended(run_basin(s, b, output_dir, cache))
    else:
        from distributed import as_completed

        order = sorted(range(len(basins)), key=lambda i: -len(basins[i].mines))
        futures = [
            client.submit(
                run_basin,
                scenarios[i],
                basins[i],
                output_dir,
                cache,
                key=f"siting-basin-{scenario.name}-{basins[i].name}-{time.time_ns()}",
                pure=False,
            )
            for i in order
        ]
        try:
            for future in as_completed(futures):
                ended(future.result())
        finally:
            client.cancel(futures)  # on an error or Ctrl-C, the rest stop too
    return [done[b.name] for b in basins]


def _describe(client: Client) -> str:
    """Where a client's tasks run, for the log and the outputs."""
    from distributed import LocalCluster

    info = client.scheduler_info()
    workers = len(info.get("workers", {}))
    if isinstance(getattr(client, "cluster", None), LocalCluster):
        return f"a LocalCluster of {workers} workers"
    return f"the Dask cluster at {info.get('address', '?')} ({workers} workers)"
