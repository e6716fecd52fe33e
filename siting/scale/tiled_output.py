"""A tiled run written to its output folder: :func:`siting.scale.tiled_run.run_tiled` with the
outputs of :mod:`siting.exports.tiled`."""

from __future__ import annotations

from pathlib import Path

from distributed import Client

from siting.config.scenario import Scenario
from siting.exports import folder, inputs_of
from siting.exports import tiled as tiled_exports
from siting.scale.tiled_run import TiledRun, run_tiled


def write_tiled(
    scenario: Scenario, client: Client, chunks: int | tuple[int, int] = 1024
) -> tuple[TiledRun, Path]:
    """Run ``scenario`` tiled (:func:`run_tiled`) and write its outputs
    (:mod:`siting.exports.tiled`) to ``<outputs.dir>/<name>/``, atomically: the COGs tile by
    tile into the staging copy, which replaces the previous outputs once complete.

    Returns
    -------
    TiledRun, Path
        The run and the folder written.
    """
    final = scenario.output_dir
    with folder.staged(final, inputs_of(scenario, None)) as staging:
        run = run_tiled(scenario, client, chunks, cog_dir=staging)
        tiled_exports.write(run, staging)
    return run, final
