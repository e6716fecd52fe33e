"""User-facing errors.

Every problem a user can fix (a bad scenario key, a missing file, an empty layer) is raised as a
:class:`SitingError`. The command line prints its message and exits with status 2; anything else
is a bug and keeps its traceback.
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


class ScenarioError(SitingError):
    """The scenario file is malformed or inconsistent."""


class LayerError(SitingError):
    """A layer cannot be read or is unusable (no CRS, empty, invalid)."""


class InfeasibleError(SitingError):
    """The scenario is valid but admits no solution (no suitable cell, too few sites)."""
