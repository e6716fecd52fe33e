"""Exports: write a run's outputs to ``<outputs.dir>/<name>/``, atomically.

Everything is first written to a hidden sibling folder, which then replaces the previous output
folder in one atomic step; a run that fails or is interrupted leaves the previous outputs intact
and no half-written files behind, and only a folder siting wrote is ever replaced
(:mod:`siting.exports.folder`).
"""

from __future__ import annotations

import contextvars
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from siting.config.scenario import Scenario
from siting.exports import assumptions, folder, gpkg, rasters, runinfo
from siting.exports.folder import staged
from siting.exports.qgis import project as qgis_project
from siting.exports.report import document as report
from siting.exports.webmap import page as webmap
from siting.pipeline.cache import Cache, using
from siting.pipeline.result import Result

__all__ = ["check", "inputs_of", "staged", "write"]


def write(
    result: Result, output_dir: str | Path | None = None, *, cache: Cache | None = None
) -> Path:
    """Write every output the scenario asks for to ``<output_dir>/<scenario name>/``, atomically.

    Parameters
    ----------
    result
        A run's result (:func:`siting.run`).
    output_dir
        The parent folder; by default the scenario's ``outputs.dir``.
    cache
        A run's cache: outputs whose inputs are unchanged since an earlier run (GeoTIFFs, map
        overlays, figures, styles) are copied from it instead of being made again.

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    SitingError
        If the output folder may not be written or replaced (:func:`check`), or the disk
        filled up; the previous outputs are then left as they were.
    """
    scenario = result.scenario
    if output_dir is not None:
        scenario = scenario.with_overrides(output_dir=output_dir)
    final = scenario.output_dir
    protected = inputs_of(scenario, cache.folder if cache is not None else None)
    with using(cache or Cache(None)):
        # The GeoTIFF thread runs in a copy of this context, so it uses the same cache.
        context = contextvars.copy_context()
        # The executor is left (waiting for its thread) before a failure removes the staging
        # folder.
        with staged(final, protected) as staging, ThreadPoolExecutor(max_workers=1) as background:
            # GDAL compresses the GeoTIFFs without holding the GIL, so they are written beside
            # the exports that are mostly Python (GeoPackage, map, report).
            tiffs = (
                background.submit(context.run, rasters.write_all, result, staging)
                if scenario.outputs.rasters
                else None
            )
            if scenario.outputs.gpkg:
                gpkg.write(result, staging / "siting.gpkg")
            gpkg.write_pareto_csv(result, staging / "pareto.csv")  # when the run swept a front
            if scenario.outputs.map:
                webmap.write(result, staging / "map.html", offline=scenario.outputs.offline_map)
            if scenario.outputs.report:
                report.write(result, staging)
            provenance = scenario.source.parent / "PROVENANCE.md" if scenario.source else None
            if provenance is not None and provenance.is_file():
                shutil.copy2(provenance, staging / "PROVENANCE.md")  # the data's caveats too
            runinfo.write(result, staging / "run.json")
            assumptions.write_csv(assumptions.of(result), staging / "assumptions.csv")
            if scenario.outputs.qgis:
                # Made from the rasters in memory, so it need not wait for their GeoTIFFs.
                written = rasters.rasters_of(result) if scenario.outputs.rasters else None
                qgis_project.write(staging, written)
            if tiffs is not None:
                tiffs.result()
    result.output_dir = final
    return final


def check(scenario: Scenario, cache_folder: Path | None = None) -> None:
    """Refuse, before the run computes anything, an output folder it may not write or replace.

    Parameters
    ----------
    scenario
        The scenario; its outputs go to ``scenario.output_dir``.
    cache_folder
        The run's cache folder, if any: the outputs may not hold it either.

    Raises
    ------
    SitingError
        If the output folder would hold the scenario file, its folder, an input layer or the
        cache, is not a folder siting wrote, lies below a file or cannot be written in
        (:func:`siting.exports.folder.check`).
    """
    folder.check(scenario.output_dir, inputs_of(scenario, cache_folder))


def inputs_of(scenario: Scenario, cache_folder: Path | None) -> list[Path | None]:
    """What a run reads or keeps, which its output folder must not hold."""
    paths: list[Path | None] = [scenario.source, scenario.extends, scenario.dem, cache_folder]
    paths += [spec.path for spec in scenario.layers.values()]
    paths += [edit.path for edit in scenario.edits]
    return paths
