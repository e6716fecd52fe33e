"""MkDocs hook: put the ``siting`` command's own ``--help`` text into the pages.

In a page, a line ``<!-- siting-help: run -->`` becomes a code block with the output of
``siting run --help`` (``<!-- siting-help: -->`` for ``siting --help``), and a line
``<!-- siting-help-all -->`` becomes one section per command and sub-command (``siting run``,
``siting fetch osm`` …), found by following the choices each help text lists. The text comes
from the installed command's parser when the site is built, so the command-line reference can
neither drift from the code nor miss a command.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
from typing import Any

MARKER = re.compile(r"^<!-- siting-help:(?P<command>[a-z ]*)-->$", re.MULTILINE)
ALL_MARKER = re.compile(r"^<!-- siting-help-all -->$", re.MULTILINE)
#: The sub-commands a usage line offers: argparse shows them as ``{a,b,c} ...`` (an option's
#: choices, ``--roads {main,drive}``, have no ``...`` after them).
CHOICES = re.compile(r"\{(?P<choices>[a-z][a-z,-]*)\} \.\.\.")
#: Help is wrapped to this width, whatever the terminal that runs the build.
COLUMNS = "100"


@functools.cache
def help_text(command: str) -> str:
    """What ``siting <command> --help`` prints."""
    from siting.cli import main

    argv = [*command.split(), "--help"]
    out = io.StringIO()
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = COLUMNS  # argparse wraps to the terminal size it reads from here
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main(argv)
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before
    text = out.getvalue().rstrip()
    if not text.startswith("usage:"):
        raise ValueError(f"'siting {' '.join(argv)}' printed no help: {text[:200]!r}")
    return text


def commands(command: str = "") -> list[str]:
    """``command`` and every sub-command under it, depth first, in the order the help lists."""
    found = [command]
    usage = help_text(command).split("\n\n", 1)[0]
    choices = CHOICES.search(usage)
    if choices:
        for sub in choices["choices"].split(","):
            found += commands(f"{command} {sub}".strip())
    return found


def block(command: str) -> str:
    """A Markdown code block showing ``siting <command> --help`` and what it prints."""
    shown = f"siting {command} --help" if command else "siting --help"
    return f"```text\n$ {shown}\n{help_text(command)}\n```"


def all_sections() -> str:
    """One section per command that does something (not the bare groups such as ``fetch``)."""
    sections = []
    for command in commands():
        usage = help_text(command).split("\n\n", 1)[0]
        if command and CHOICES.search(usage):
            continue  # a group: its sub-commands have sections of their own
        sections.append(f"## siting {command}".rstrip() + "\n\n" + block(command))
    return "\n\n".join(sections)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the help markers of a page by the help texts."""
    markdown = ALL_MARKER.sub(lambda _: all_sections(), markdown)
    return MARKER.sub(lambda match: block(" ".join(match["command"].split())), markdown)
