"""Exports: write a run's outputs to ``<outputs.dir>/<name>/``, atomically.

Everything is first written to a hidden sibling folder, which then replaces the previous output
folder in one rename; a run that fails or is interrupted leaves the previous outputs intact and no
half-written files behind.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from siting.exports import gpkg, rasters, runinfo
from siting.exports.qgis import project as qgis_project
from siting.exports.report import document as report
from siting.exports.webmap import page as webmap
from siting.pipeline.cache import Cache, using
from siting.pipeline.result import Result

__all__ = ["staged", "write"]


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
    """
    scenario = result.scenario
    if output_dir is not None:
        scenario = scenario.with_overrides(output_dir=output_dir)
    final = scenario.output_dir
    with using(cache or Cache(None)):
        # The GeoTIFF thread runs in a copy of this context, so it uses the same cache.
        context = contextvars.copy_context()
        # The executor is left (waiting for its thread) before a failure removes the staging
        # folder.
        with staged(final) as staging, ThreadPoolExecutor(max_workers=1) as background:
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
            if scenario.outputs.qgis:
                # Made from the rasters in memory, so it need not wait for their GeoTIFFs.
                written = rasters.rasters_of(result) if scenario.outputs.rasters else None
                qgis_project.write(staging, written)
            if tiffs is not None:
                tiffs.result()
    result.output_dir = final
    return final


@contextmanager
def staged(final: Path) -> Iterator[Path]:
    """A hidden sibling folder to write into; on success it replaces ``final`` in one rename,
    on any failure it is removed and ``final`` is left as it was."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the output folder should not be
    try:
        yield staging
        _swap(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, final: Path) -> None:
    """Replace ``final`` by ``staging`` with renames only, so no reader sees a partial folder."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    staging.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
