"""Write a benchmark's figures for the documentation's performance page.

A benchmark run with ``--docs`` ends with one call::

    from _report import record

    record("cost_distance", rows, command=None, notes="...")

which writes ``docs/performance/<name>.md``: the figures (a Markdown table from a list of rows,
or the printed lines as a text block), then when, how and where they were measured — the date,
the command, the machine (CPU model from ``/proc/cpuinfo``, cores, memory, load average), the
operating system, Python and the versions of the packages that matter, and the git commit.
``docs/performance.md`` includes each file (``pymdownx.snippets``), so the page shows what the
benchmarks measured and nothing copied by hand. The benchmarks import this module as ``_report``:
they run as scripts, with ``benchmarks/`` first on ``sys.path``.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where the figures go: one Markdown fragment per benchmark, included by docs/performance.md.
DOCS_DIR = ROOT / "docs" / "performance"
#: Packages whose versions are listed with every figure (those installed).
PACKAGES = (
    "siting", "numpy", "scipy", "numba", "scikit-image", "scikit-learn", "networkx", "osmnx",
    "geopandas", "shapely", "rasterio", "pyogrio",
)  # fmt: skip
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_NUMERIC = re.compile(r"[-+−]?[\d,]*\.?\d+(e[-+]?\d+)?\s*(×|%|s|M|GB|MB)?")

Row = Mapping[str, object]


def record(
    name: str,
    figures: str | Sequence[str] | Sequence[Row],
    *,
    command: str | None = None,
    notes: str | None = None,
    packages: Iterable[str] = PACKAGES,
    out_dir: Path = DOCS_DIR,
) -> Path:
    """Write ``<out_dir>/<name>.md``: the figures, then when and where they were measured.

    Parameters
    ----------
    name
        The benchmark, e.g. ``"cost_distance"``: lower case, digits and ``_``. The file it writes
        is ``docs/performance/<name>.md``, which ``docs/performance.md`` includes.
    figures
        A list of rows (mappings with the same keys, in column order) becomes a Markdown table;
        a string or a list of lines (what the benchmark printed) becomes a text block.
    command
        The command that produced the figures, as a reader should type it; by default this
        process's own command line, with paths relative to the repository.
    notes
        Markdown put between the figures and the run details (what a column means, what was
        skipped).
    packages
        Distributions whose installed versions are listed.
    out_dir
        Folder of the file (the documentation's by default).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"benchmark name {name!r}: use lower case letters, digits and '_'")
    parts = [
        f"<!-- Written by benchmarks/_report.py ({name}); run the command below to update. -->",
        _figures(figures),
    ]
    if notes:
        parts.append(notes.strip())
    parts.append(_details(command or default_command(), packages))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.md"
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    partial.replace(path)  # a reader (mkdocs serve) never sees half a file
    return path


def markdown_table(rows: Sequence[Row]) -> str:
    """Rows with the same keys as a Markdown table.

    Numbers (and strings that read as numbers) are right-aligned; floats are shown with 4
    significant digits (pass a string for other formatting); ``None`` is shown as "–".
    """
    if not rows:
        raise ValueError("no rows to tabulate")
    columns = list(rows[0])
    for row in rows[1:]:
        if list(row) != columns:
            raise ValueError(f"rows differ in their columns: {list(row)} and {columns}")
    numeric = [all(row[c] is None or _is_number(row[c]) for row in rows) for c in columns]
    lines = [
        "| " + " | ".join(_escape(str(c)) for c in columns) + " |",
        "|" + "|".join("---:" if num else "---" for num in numeric) + "|",
    ]
    lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def default_command() -> str:
    """This process's command line, the interpreter and script relative to the repository."""
    argv = [_relative(sys.executable), *(_relative(a) for a in sys.argv[:1]), *sys.argv[1:]]
    return shlex.join(argv)


def machine() -> dict[str, str]:
    """Where the figures were measured: CPU, cores, memory, load, operating system, Python."""
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    info = {
        "CPU": _cpu_model(),
        "cores": f"{usable} usable of {cores}" if usable != cores else str(cores),
    }
    memory = _meminfo_gb()
    if memory is not None:
        info["memory"] = f"{memory:.1f} GB"
    if hasattr(os, "getloadavg"):
        one, five, fifteen = os.getloadavg()
        info["load average"] = (
            f"{one:.2f} / {five:.2f} / {fifteen:.2f} over 1 / 5 / 15 min when written "
            "(the benchmark's own work included)"
        )
    info["system"] = platform.platform()
    info["Python"] = f"{platform.python_implementation()} {platform.python_version()}"
    return info


def versions(packages: Iterable[str]) -> dict[str, str]:
    """Installed versions of ``packages`` (those not installed are left out)."""
    found = {}
    for package in packages:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def git_revision() -> str | None:
    """The checkout's commit, with "+ uncommitted changes" when tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None  # not a git checkout (an unpacked release), or no git
    return f"{head} + uncommitted changes" if dirty else head


def _figures(figures: str | Sequence[str] | Sequence[Row]) -> str:
    if isinstance(figures, str):
        return _text_block(figures.splitlines())
    if figures and all(isinstance(f, Mapping) for f in figures):
        return markdown_table(figures)  # type: ignore[arg-type]
    if all(isinstance(f, str) for f in figures):
        return _text_block(figures)  # type: ignore[arg-type]
    raise TypeError("figures must be a string, a list of lines or a list of rows (mappings)")


def _details(command: str, packages: Iterable[str]) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Measured {when} with:", "", "```bash", command, "```", ""]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    found = versions(packages)
    if found:
        lines.append("- packages: " + ", ".join(f"{p} {v}" for p, v in found.items()))
    revision = git_revision()
    if revision is not None:
        lines.append(f"- git: {revision}")
    return "\n".join(lines)


def _text_block(lines: Iterable[str]) -> str:
    body = "\n".join(line.rstrip() for line in lines)
    fence = "````" if "```" in body else "```"
    return f"{fence}text\n{body}\n{fence}"


def _is_number(value: object) -> bool:
    """A number, or a string that reads as one (a benchmark's own formatting: "1.63", "8.9×")."""
    if isinstance(value, str):
        return _NUMERIC.fullmatch(value.strip()) is not None
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return _escape(str(value))


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _relative(path: str) -> str:
    # abspath, not resolve: the venv's python is a symlink out of the repository
    try:
        return str(Path(os.path.abspath(path)).relative_to(ROOT))
    except ValueError:
        return path  # outside the repository (a system Python): as given


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _meminfo_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None
