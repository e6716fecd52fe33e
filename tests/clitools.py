"""The command line as a user meets it, for the tests of bad input in several files: the real
``siting`` command in a new process, the same in this process, and the checks that an error is
one clear message with its fix and that nothing was written."""

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

import siting.pipeline.cache as siting_cache
from siting import cli, load
from siting.errors import ScenarioError


def siting(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The ``siting`` command in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "siting.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def cli_here(*args: str | Path) -> subprocess.CompletedProcess:
    """The ``siting`` command run in this process (``siting.cli.main``), its output captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def edit(world: Path, old: str, new: str) -> Path:
    path = world / "scenario.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "fix:" in proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


def assert_scenario_error(path: Path, *fragments: str) -> ScenarioError:
    """Loading the scenario fails with one message holding every fragment, and a fix."""
    with pytest.raises(ScenarioError) as caught:
        load(path)
    text = str(caught.value)
    assert caught.value.fix, text
    for fragment in fragments:
        assert fragment in text, text
    return caught.value


def assert_nothing_written(world: Path) -> None:
    """No output folder, nothing staged; the cache may keep the steps that succeeded (so that the
    run after the fix reuses them), each a complete entry."""
    out = world.parent / "out"
    assert not out.exists() or [p.name for p in out.iterdir() if p.name != ".cache"] == []
    cache = out / ".cache"
    for entry in cache.rglob("*") if cache.exists() else []:
        assert not entry.name.startswith(".tmp-"), entry
        if entry.suffix == ".pkl":
            siting_cache.load(entry)
