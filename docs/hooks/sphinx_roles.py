"""Griffe extension: Sphinx cross-reference roles in docstrings shown as inline code.

The docstrings of ``siting`` name other objects the Sphinx way (``:func:`snap```,
``:class:`~siting.raster.grid.Raster```), which Markdown would show literally. This extension
rewrites each role to inline code of the name it shows (``~`` keeps only the last part, as in
Sphinx) before the docstring is parsed. Plain code, not a link: many targets (scipy, osmnx,
pyproj) are not on this site, and the build must not download their inventories.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(
    r":(?:py:)?(?:func|meth|class|mod|attr|data|exc|obj|const|type):`(?P<tilde>~?)(?P<target>[^`]+)`"
)


def plain(text: str) -> str:
    """``text`` with each Sphinx role replaced by inline code of the name it shows."""

    def code(match: re.Match[str]) -> str:
        target = match["target"].strip()
        explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^>]+)>", target)
        if explicit:  # :func:`title <target>`
            return f"`{explicit['title']}`"
        if match["tilde"]:
            target = target.rsplit(".", 1)[-1]
        return f"`{target}`"

    return ROLE.sub(code, text)


class SphinxRoles(Extension):
    """Rewrite Sphinx roles in every docstring Griffe loads."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        """Rewrite the roles of ``obj``'s docstring, before it is parsed."""
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
