"""Where a run's independent pieces run: this process, a ``LocalCluster``, or a Dask cluster.

``siting run SCENARIO --workers N`` starts a :class:`distributed.LocalCluster` of ``N`` worker
processes for the run's pieces (the basins of a national scenario, the scenarios of a batch) and
closes it at the end; ``--scheduler ADDRESS`` (or the environment variable
``DASK_SCHEDULER_ADDRESS``) connects to a cluster that is already running (SLURM through
dask-jobqueue, Kubernetes, ``dask scheduler`` by hand) and leaves it running. Without either, the
pieces run one after another in this process, as before there was a cluster.

The workers of an existing cluster must have the same ``siting`` installed and see the same files
(input layers, output folder): a shared file system, as HPC clusters have. :func:`connect` checks
the version before anything runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from siting.errors import ClusterError

if TYPE_CHECKING:
    from distributed import Client

#: Environment variable naming an existing scheduler (Dask's own name for it).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
#: Seconds to wait for an existing scheduler to answer.
CONNECT_TIMEOUT_S = 10


def _version() -> str:
    """The siting version of the process this runs in (a worker's, when submitted)."""
    import siting

    return siting.__version__


def scheduler_address(given: str | None) -> str | None:
    """The scheduler to connect to: ``given`` (``--scheduler``), else the environment's
    :data:`SCHEDULER_ENV`, else None."""
    return given or os.environ.get(SCHEDULER_ENV) or None


@contextmanager
def connect(
    workers: int | None = None, scheduler: str | None = None, default_workers: int | None = None
) -> Iterator[Client | None]:
    """A Dask client for the run's pieces, or None to run them in this process.

    Parameters
    ----------
    workers
        Start a ``LocalCluster`` of this many worker processes (one thread each: the pieces are
        memory-bound runs that start their own threads), closed on exit.
    scheduler
        Connect to the scheduler at this address instead (``tcp://host:8786``), left running on
        exit. Give one of the two, or neither.
    default_workers
        With neither: a ``LocalCluster`` of this many workers (for work that needs a cluster,
        a tiled run), or None to run here.

    Yields
    ------
    distributed.Client or None

    Raises
    ------
    ClusterError
        If both or a bad worker count are given, the scheduler cannot be reached, or its workers
        run another siting version (or none).
    """
    if workers is not None and scheduler is not None:
        raise ClusterError(
            f"--workers {workers} and --scheduler {scheduler} both given",
            "give --workers N for a cluster on this machine, or --scheduler ADDRESS for an "
            f"existing one (or unset {SCHEDULER_ENV})",
        )
    if workers is None and scheduler is None:
        workers = default_workers
    if workers is None and scheduler is None:
        yield None
        return
    if workers is not None and workers < 1:
        raise ClusterError(f"--workers {workers}: need at least 1 worker", "e.g. --workers 2")
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler!r}: {exc}",
                "start it (`dask scheduler`, dask-jobqueue, Kubernetes) and check the address, "
                f"or run on this machine with --workers N (and unset {SCHEDULER_ENV})",
            ) from None
        with client:
            _check_workers(client, scheduler)
            yield client
        return
    # Worker processes, not threads: each piece is a whole run holding its own gigabytes, and
    # the Python parts of a run hold the GIL. The nanny's notes on closing (a worker still busy
    # with its last task's threads is killed after a few seconds) are no news to the user.
    with (
        _quiet("distributed"),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: two runs on one machine do not clash
            silence_logs=logging.WARNING,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Only errors from ``logger`` while in the block."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _check_workers(client: Client, scheduler: str) -> None:
    """Every worker of an existing cluster runs this siting version."""
    try:
        found = client.run(_version)
    except Exception as exc:  # a worker without siting fails to unpickle the call
        raise ClusterError(
            f"the workers of {scheduler!r} cannot run siting: {exc}",
            "install the same siting in the workers' environment",
        ) from None
    ours = _version()
    other = sorted({str(v) for v in found.values() if v != ours})
    if not found:
        raise ClusterError(
            f"the Dask scheduler at {scheduler!r} has no workers",
            "start workers (`dask worker ADDRESS`) or scale the cluster up",
        )
    if other:
        raise ClusterError(
            f"the workers of {scheduler!r} run siting {', '.join(other)}, this is {ours}",
            "install the same siting version on the workers and here",
        )
