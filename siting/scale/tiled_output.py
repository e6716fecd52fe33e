"""A tiled run written to its output folder: :func:`siting.scale.tiled_run.run_tiled` with the
outputs of :mod:`siting.exports.tiled`."""

from __future__ import annotations

import shutil
from pathlib import Path

from distributed import Client

from siting.config.scenario import Scenario
from siting.exports import folder, inputs_of
from siting.exports import tiled as tiled_exports
from siting.scale.tiled_run import TiledRun, run_tiled

#: The staging folder's sub-folder of Zarr intermediates (criteria, suitability).
INTERMEDIATES = "intermediates.zarr"


def write_tiled(
    scenario: Scenario, client: Client, chunks: int | tuple[int, int] = 1024
) -> tuple[TiledRun, Path]:
    """Run ``scenario`` tiled (:func:`run_tiled`) and write its outputs
    (:mod:`siting.exports.tiled`) to ``<outputs.dir>/<name>/``, atomically: the intermediates
    as Zarr and the COGs tile by tile into the staging copy, which replaces the previous outputs
    once complete (without the intermediates).

    Returns
    -------
    TiledRun, Path
        The run and the folder written.
    """
    final = scenario.output_dir
    with folder.staged(final, inputs_of(scenario, None)) as staging:
        # The intermediates go to Zarr beside the outputs being written (the workers see the
        # folder), not into the workers' memory; they are gone before the folder is swapped in.
        intermediates = staging / INTERMEDIATES
        run = run_tiled(scenario, client, chunks, cog_dir=staging, zarr_dir=intermediates)
        tiled_exports.write(run, staging)
        shutil.rmtree(intermediates, ignore_errors=True)
    return run, final
