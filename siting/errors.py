"""User-facing errors.

Every problem a user can fix (a bad scenario key, a missing file, an empty layer) is raised as a
:class:`SitingError`. The command line prints its message and exits with status 2; anything else
is a bug and keeps its traceback.

Each subclass also derives from the builtin exception that describes it, so that code using
siting as a library can catch the standard type without importing this module:

===========================  ======================================================
:class:`ScenarioError`       :class:`ValueError`: a bad value in the scenario
:class:`LayerError`          :class:`ValueError`: a layer that cannot be used (no CRS, empty,
                             a missing field, an unreadable file)
:class:`LayerNotFoundError`  also :class:`FileNotFoundError`: a layer, DEM or data file that
                             does not exist
:class:`InfeasibleError`     :class:`ValueError`: valid input that admits no solution
:class:`DataFileError`       :class:`ValueError`: a benchmark data file (OR-Library) that is
                             malformed or truncated
:class:`ConvergenceError`    :class:`RuntimeError`: an iterative computation that reached its
                             round cap before it converged
:class:`ClusterError`        :class:`ConnectionError`: a Dask cluster that cannot be started
                             or reached, or whose workers cannot run this siting
===========================  ======================================================

A missing file stays a :class:`LayerError` (and so a :class:`ValueError`), so that one
``except LayerError`` still catches every layer problem; ``except FileNotFoundError`` catches
just the missing ones. :class:`SitingError` itself is a plain :class:`Exception`: the errors the
command line raises directly (a bad option) are of no builtin kind. A :class:`ValueError` that
is not a :class:`SitingError` is still a bug, and the command line shows its traceback.
"""

from __future__ import annotations


class SitingError(Exception):
    """A problem with the user's input, with a message that names the place and the fix.

    Parameters
    ----------
    message
        What is wrong, naming the file, layer or scenario key.
    fix
        What the user should do about it.
    """

    def __init__(self, message: str, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message}\n  fix: {fix}" if fix else message)

    def __reduce__(self) -> tuple[type[SitingError], tuple[str, str | None]]:
        # Pickled by its own arguments: a Dask worker sends errors back pickled, and the
        # reducer that distributed installs (tblib's) would otherwise rebuild the class through
        # a builtin's __new__, which a class with two builtin bases refuses.
        return type(self), (self.message, self.fix)


class ScenarioError(SitingError, ValueError):
    """The scenario file is malformed or inconsistent."""


class LayerError(SitingError, ValueError):
    """A layer cannot be read or is unusable (no CRS, empty, invalid)."""


class LayerNotFoundError(LayerError, FileNotFoundError):
    """A layer's file (or a DEM, a tracker sheet, an OSM extract) does not exist."""


class InfeasibleError(SitingError, ValueError):
    """The scenario is valid but admits no solution (no suitable cell, too few sites)."""


class DataFileError(SitingError, ValueError):
    """A data file that is not a layer (an OR-Library instance) is malformed or truncated."""


class ConvergenceError(SitingError, RuntimeError):
    """An iterative computation (the rounds of a tiled cost-distance) reached its cap still
    changing: no result is returned rather than an unconverged one."""


class ClusterError(SitingError, ConnectionError):
    """The Dask cluster cannot be started or reached, or its workers cannot run siting."""
