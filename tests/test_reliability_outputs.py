"""Outputs never touch what is not theirs, and a run stopped at any moment leaves the previous
outputs as they were (issue 18, items 1, 6 and 7).

Each bad case asserts the exit code, the one message naming the folder or key and its fix, that
nothing outside the output folder changed (a snapshot of names and bytes before and after) and
that the previous outputs survive. The interruption and concurrency tests run the real command
in other processes and stop them with real signals.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import importlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyogrio
import pytest

import siting as siting_api
from siting.errors import ScenarioError, SitingError
from siting.exports import folder

from clitools import cli_here, siting
from conftest import make_world

RES = "2000"  # coarse: only the writing counts here


# --- Helpers ------------------------------------------------------------------------------------


def tree(root: Path) -> dict[str, str]:
    """Every entry below ``root``: a file's SHA-256, a folder, or a link's target."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def one_error(proc: subprocess.CompletedProcess, *fragments: str, fix: str = "") -> None:
    """Exit 2, one ``siting: error:`` line and one ``fix:`` line, no traceback."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("siting: error:")]
    fixes = [line for line in proc.stderr.splitlines() if line.startswith("  fix: ")]
    assert len(errors) == 1 and len(fixes) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert fix in fixes[0], fixes[0]


def hidden_leftovers(parent: Path, name: str = "synthetic") -> list[str]:
    """Staging or old folders of ``name`` in ``parent``."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(tmp|old)-.*")
    return sorted(p.name for p in parent.iterdir() if pattern.fullmatch(p.name))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A world whose outputs were written once (``out/synthetic``, cache in ``out/.cache``)."""
    world = make_world(tmp_path_factory.mktemp("reliability"))
    proc = cli_here("run", world / "scenario.toml", "--resolution", RES, "-q")
    assert proc.returncode == 0, proc.stderr
    return world


@pytest.fixture
def root(base: Path) -> Path:
    """The folder holding the world and its outputs: what no bad run may change."""
    return base.parent


def run_here(base: Path, *args: str | Path) -> subprocess.CompletedProcess:
    """``siting run`` of the base world in this process, its steps from the base's cache."""
    return cli_here(
        "run",
        base / "scenario.toml",
        "--resolution",
        RES,
        "--cache-dir",
        base.parent / "out" / ".cache",
        *args,
    )


# --- 1. Names are one plain folder name ---------------------------------------------------------

BAD_NAMES = [
    "",
    " ",
    ".",
    "..",
    "../../x",
    "a/b",
    "a\\b",
    "/tmp",
    ".hidden",
    "trailing.",
    " padded",
    "a\x00b",
    "a\nb",
    "a\rb",
    "a\x7fb",
    "a\u202eb",  # right-to-left override: the name would display reversed
    "CON",
    "nul.txt",
    "x" * 101,
    "я" * 101,
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:20] for n in BAD_NAMES])
def test_a_name_that_is_not_one_plain_folder_name_is_refused(base, root, name):
    before = tree(root)
    proc = run_here(base, "--output-dir", root / "out", "--name", name)
    one_error(proc, "name = ", "cannot be a folder name", fix="one plain folder name")
    assert tree(root) == before


def test_the_name_of_an_existing_folder_elsewhere_is_refused(base, root, tmp_path):
    """The reported bug: --name /some/folder deleted that folder's contents."""
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("mine")
    before, theirs = tree(root), tree(tmp_path)
    proc = run_here(base, "--name", tmp_path / "theirs")
    one_error(proc, "name = '/", "cannot be a folder name", fix="one plain folder name")
    assert tree(root) == before and tree(tmp_path) == theirs


def test_names_are_checked_in_the_scenario_file_and_the_api_too(base, tmp_path):
    text = (base / "scenario.toml").read_text(encoding="utf-8")
    for bad in ('"a\\nb"', '".."', '"' + "x" * 101 + '"'):
        path = tmp_path / "bad.toml"
        path.write_text(text.replace('name = "synthetic"', f"name = {bad}", 1), encoding="utf-8")
        with pytest.raises(ScenarioError, match="cannot be a folder name") as caught:
            siting_api.load(path)
        assert "one plain folder name" in caught.value.fix
    with pytest.raises(ScenarioError, match=r"name = '\.\./x' cannot be a folder name"):
        siting_api.run(base / "scenario.toml", name="../x")
    long = siting_api.load(base / "scenario.toml").with_overrides(name="я" * 100)
    assert long.name == "я" * 100  # 100 characters, 200 bytes: allowed


# --- 2. Only a folder siting wrote is replaced --------------------------------------------------


def test_a_folder_siting_did_not_write_is_never_replaced(base, root):
    """The reported bug: name = "mydata" with [outputs] dir = "." deleted mydata/survey.csv."""
    (root / "mydata").mkdir()
    (root / "mydata" / "survey.csv").write_text("site,value\na,1\n")
    try:
        before = tree(root)
        proc = run_here(base, "--output-dir", root, "--name", "mydata")
        one_error(
            proc,
            f"{root / 'mydata'} is not a siting output folder",
            folder.MARKER,
            fix="move or delete",
        )
        assert "] layers …" not in proc.stderr  # refused before the first stage
        assert tree(root) == before
    finally:
        shutil.rmtree(root / "mydata")


def test_a_siting_folder_is_marked_and_an_older_one_by_its_run_json(base, tmp_path):
    """Folders written before the marker existed (run.json with siting's keys) are replaced;
    a run.json of something else is not siting's."""
    out = base.parent / "out" / "synthetic"
    marker = (out / folder.MARKER).read_text(encoding="utf-8")
    assert marker.splitlines()[0] == folder.SIGNATURE
    old = tmp_path / "old"
    shutil.copytree(out, old / "synthetic")
    (old / "synthetic" / folder.MARKER).unlink()  # as an earlier version wrote it
    (old / "synthetic" / "notes.txt").write_text("written by hand in an old output folder")
    assert run_here(base, "--output-dir", old, "-q").returncode == 0
    assert (old / "synthetic" / folder.MARKER).is_file()
    assert not (old / "synthetic" / "notes.txt").exists()

    (tmp_path / "other" / "synthetic").mkdir(parents=True)
    (tmp_path / "other" / "synthetic" / "run.json").write_text('{"scenario": {}, "id": 3}')
    before = tree(tmp_path / "other")
    proc = run_here(base, "--output-dir", tmp_path / "other")
    one_error(proc, "is not a siting output folder")
    assert tree(tmp_path / "other") == before


def test_an_empty_folder_is_used(base, tmp_path):
    (tmp_path / "synthetic").mkdir()
    assert run_here(base, "--output-dir", tmp_path, "-q").returncode == 0
    assert (tmp_path / "synthetic" / "run.json").is_file()


# --- 3. The outputs may not hold the scenario or its inputs -------------------------------------


def test_the_scenario_folder_is_never_the_output_folder(base, root, monkeypatch):
    """The reported bug: [outputs] dir = ".." run from the scenario's folder deleted the
    scenario and every input layer; even a marked folder is refused."""
    (base / folder.MARKER).write_text(folder.SIGNATURE + "\n")  # marked: still refused
    try:
        before = tree(root)
        monkeypatch.chdir(base)
        proc = run_here(base, "--output-dir", "..", "--name", "world")
        one_error(
            proc, "the output folder ../world would hold", "scenario.toml", fix="input layers"
        )
        proc = run_here(base, "--output-dir", root.parent, "--name", root.name)  # an ancestor
        one_error(proc, f"the output folder {root} would hold", fix="input layers")
        assert "] layers …" not in proc.stderr
        assert tree(root) == before
    finally:
        (base / folder.MARKER).unlink()


def test_an_output_folder_holding_an_input_layer_or_the_cache_is_refused(base, root, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(base / "rail.gpkg", data / "rail.gpkg")
    (data / folder.MARKER).write_text(folder.SIGNATURE + "\n")
    text = (base / "scenario.toml").read_text(encoding="utf-8")
    scenario = base / "elsewhere.toml"
    scenario.write_text(
        text.replace('path = "rail.gpkg"', f'path = "{(data / "rail.gpkg").as_posix()}"', 1),
        encoding="utf-8",
    )
    try:
        before, theirs = tree(root), tree(tmp_path)
        proc = cli_here("run", scenario, "--output-dir", tmp_path, "--name", "data")
        one_error(proc, f"would hold {data / 'rail.gpkg'}", fix="input layers")
        cache = root / "out" / "synthetic" / ".cache"
        proc = run_here(base, "--cache-dir", cache)
        one_error(proc, f"the output folder {root / 'out' / 'synthetic'} would hold", fix="cache")
        assert tree(root) == before and tree(tmp_path) == theirs
    finally:
        scenario.unlink()


# --- 4. Output-folder problems are found first; a full disk is one clear error ------------------


def _read_only(path: Path) -> bool:
    """Make ``path`` read-only for this user, as a real user meets it: immutable for root
    (whom permissions do not stop), permissions otherwise."""
    if os.geteuid() == 0:
        return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    path.chmod(0o555)
    return True


def _writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    else:
        path.chmod(0o755)


@pytest.mark.parametrize("case", ["file", "below a file", "read-only", "symlink"])
def test_output_folder_problems_are_found_before_computing(base, root, tmp_path, case):
    out = tmp_path / "out"
    out.mkdir()
    if case == "file":
        (out / "synthetic").write_text("a file")
        expect, fix = f"the output folder {out / 'synthetic'} is a file", "move the file"
    elif case == "below a file":
        (out / "f").write_text("a file")
        out = out / "f" / "deeper"
        expect, fix = f"would be below {tmp_path / 'out' / 'f'}, which is a file", "not below"
    elif case == "read-only":
        if not _read_only(out):
            pytest.skip("cannot make a folder read-only here")
        expect, fix = f"cannot write in {out}: it is read-only", "writable output folder"
    else:
        (tmp_path / "real").mkdir()
        (out / "synthetic").symlink_to(tmp_path / "real")
        expect, fix = f"the output folder {out / 'synthetic'} is a symbolic link", "link points"
    try:
        before, theirs = tree(root), tree(tmp_path)
        proc = run_here(base, "--output-dir", out)
        one_error(proc, expect, fix=fix)
        assert "] layers …" not in proc.stderr  # before the first stage
        assert tree(root) == before and tree(tmp_path) == theirs
    finally:
        _writable(tmp_path / "out")


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 8 MB file system of its own (tmpfs; needs the right to mount)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True
    )
    if mount.returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.parametrize("free_kb", [30, 400, 1500])
def test_a_full_disk_is_one_clear_error_and_the_previous_outputs_survive(
    base, root, small_disk, free_kb
):
    # No cache: the test is about the output folder (the cache, beside it, has its own tests).
    args = ("run", base / "scenario.toml", "--resolution", RES, "--output-dir", small_disk)
    first = cli_here(*args, "--no-cache", "-q")
    assert first.returncode == 0, first.stderr
    previous = tree(small_disk / "synthetic")
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * (free - free_kb * 1024))
    before, on_disk = tree(root), tree(small_disk)
    proc = cli_here(*args, "--no-cache")
    one_error(
        proc,
        f"the disk is full: writing the outputs to {small_disk / 'synthetic'} stopped",
        "previous outputs were left as they were",
        fix="free some space",
    )
    assert tree(small_disk / "synthetic") == previous
    assert tree(small_disk) == on_disk  # no staging folder left, nothing else changed
    assert tree(root) == before


def test_a_full_disk_reported_by_any_writer_is_the_same_error(base, tmp_path, monkeypatch):
    """Where no small file system can be mounted: the error a writer raises on a full disk."""
    assert run_here(base, "--output-dir", tmp_path, "-q").returncode == 0
    previous = tree(tmp_path / "synthetic")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "map.html")

    monkeypatch.setattr(importlib.import_module("siting.exports.webmap.page"), "write", full)
    proc = run_here(base, "--output-dir", tmp_path)
    one_error(proc, "the disk is full", fix="free some space")
    assert tree(tmp_path / "synthetic") == previous
    assert hidden_leftovers(tmp_path) == []


# --- 5. One atomic step, one writer at a time, nothing left behind -----------------------------


def test_the_swap_is_one_exchange_on_linux(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("renameat2 is Linux's")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "new").write_text("new")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "old").write_text("old")
    assert folder._exchange(tmp_path / "a", tmp_path / "b")
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["new"]
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["old"]


def test_stale_staging_of_killed_runs_is_removed_by_the_next_run(base, tmp_path):
    assert run_here(base, "--output-dir", tmp_path, "-q").returncode == 0
    stale = [".synthetic.tmp-abcd1234", ".synthetic.old-zz_9yx87"]
    kept = [".synthetic.tmp-mine", ".synthetic2.tmp-abcd1234", ".synthetic.tmp-abcd1234.x"]
    for name in stale + kept:
        (tmp_path / name).mkdir()
        (tmp_path / name / "part.tif").write_bytes(b"half")
    assert run_here(base, "--output-dir", tmp_path, "-q").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".synthetic")) == sorted(
        kept
    )


def test_without_the_exchange_a_kill_between_the_two_renames_loses_nothing(
    base, tmp_path, monkeypatch
):
    """Where renameat2 is missing the swap is two renames; killed between them, the previous
    outputs wait in .<name>.old-…, and the next run puts them back before it writes."""
    assert run_here(base, "--output-dir", tmp_path, "-q").returncode == 0
    previous = tree(tmp_path / "synthetic")
    (tmp_path / "synthetic").rename(tmp_path / ".synthetic.old-abcd1234")  # the kill
    monkeypatch.setattr(folder, "_renameat2", False)  # as on a system without it
    with pytest.raises(RuntimeError, match="failed"), folder.staged(tmp_path / "synthetic") as s:
        (s / "partial.txt").write_text("x")
        raise RuntimeError("failed")
    assert tree(tmp_path / "synthetic") == previous
    assert hidden_leftovers(tmp_path) == []
    assert run_here(base, "--output-dir", tmp_path, "-q").returncode == 0  # two renames
    assert json.loads((tmp_path / "synthetic" / "run.json").read_text())["grid"]
    assert hidden_leftovers(tmp_path) == []


def test_a_run_waits_for_another_writing_the_same_folder_then_says_so(tmp_path):
    final = tmp_path / "synthetic"
    lock = os.open(tmp_path / ".synthetic.lock", os.O_RDWR | os.O_CREAT)
    os.write(lock, b"4242\n")
    fcntl.flock(lock, fcntl.LOCK_EX)  # another run holds the folder
    try:
        with pytest.raises(SitingError) as caught, folder.staged(final, wait_s=0.3):
            pass
    finally:
        os.close(lock)
    assert f"another siting run (process 4242) is still writing {final}" in caught.value.message
    assert "another name" in caught.value.fix
    assert sorted(p.name for p in tmp_path.iterdir()) == [".synthetic.lock"]
    with folder.staged(final) as staging:  # free again
        (staging / "x.txt").write_text("x")
    assert sorted(p.name for p in final.iterdir()) == [folder.MARKER, "x.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]  # the lock file too


# --- 6. Ctrl-C ----------------------------------------------------------------------------------


def test_an_interrupt_a_library_swallowed_still_stops_the_swap(tmp_path):
    """A KeyboardInterrupt lost in a C callback or a finaliser: the real SIGINT is recorded,
    and the outputs are not replaced."""
    final = tmp_path / "out"
    with folder.staged(final) as staging:
        (staging / "v.txt").write_text("1")
    with pytest.raises(KeyboardInterrupt), folder.staged(final) as staging:
        (staging / "v.txt").write_text("2")
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler raises within this
        except KeyboardInterrupt:
            pass  # swallowed, as by a library
        (staging / "w.txt").write_text("2")
    assert (final / "v.txt").read_text() == "1" and not (final / "w.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# A process that imports the command once and forks one child per trial, so that dozens of
# trials fit in a minute: the child runs `siting run` exactly as the command does (its
# `main`), from the fork on; the test signals the child.
DRIVER = """
import json, os, sys
import siting.cli, siting.pipeline.stages
for line in sys.stdin:
    argv, log = json.loads(line)
    pid = os.fork()
    if pid == 0:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = 1
        try:
            code = siting.cli.main(argv)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(pid, flush=True)
    sys.stdin.readline()  # the test has signalled (or not): reap
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_interrupts_and_kills_while_writing_leave_old_or_new_outputs_complete(tmp_path):
    """SIGINT or SIGKILL at random moments of the writing stage, 32 trials: after each, the
    output folder is the previous complete one or the new complete one, never a mix nor none;
    SIGINT ends with 130 (or 0 if the run had finished); no staging folder survives the next
    run."""
    world = make_world(tmp_path)
    out = tmp_path / "out"
    scenario = world / "scenario.toml"
    # Two versions that differ (the resolution): each trial replaces one by the other.
    reference, layers = {}, {}
    for res in ("2000", "2500"):
        proc = siting("run", scenario, "--resolution", res, "-q")
        assert proc.returncode == 0, proc.stderr
        reference[res] = tree(out / "synthetic")
        layers[res] = _tables(out / "synthetic")
    current = "2500"
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    rng = random.Random(18)
    outcomes: list[tuple[str, int, str]] = []
    try:
        for trial in range(32):
            new = "2000" if current == "2500" else "2500"
            sig = signal.SIGINT if trial % 4 else signal.SIGKILL
            log = tmp_path / f"trial{trial}.log"
            log.touch()
            argv = ["run", str(scenario), "--resolution", new]
            previous = tree(out / "synthetic")
            driver.stdin.write(json.dumps([argv, str(log)]) + "\n")
            driver.stdin.flush()
            pid = int(driver.stdout.readline())
            deadline = time.monotonic() + 120
            while "[8/8] outputs" not in log.read_text() and not _zombie(pid):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 1.5))
            signalled = not _zombie(pid)
            if signalled:
                os.kill(pid, sig)
            driver.stdin.write("\n")
            driver.stdin.flush()
            code = int(driver.stdout.readline())
            text = log.read_text()
            assert "Traceback" not in text, text
            state = tree(out / "synthetic")
            if sig == signal.SIGINT or not signalled:
                assert code in (0, 130), text
            else:
                assert code in (0, -signal.SIGKILL), text
            last = text.splitlines()[-1] if text.strip() else ""
            if code == 0 or (code == 130 and "complete" in last):
                assert _same_run(state, reference[new]), trial  # the new outputs, complete
                assert _complete(out / "synthetic", new, layers[new]), trial
                current = new
            elif code == 130:
                assert last == "siting: interrupted; previous outputs left as they were"
                assert state == previous, trial  # the previous outputs, untouched
                assert hidden_leftovers(out) == [], trial  # SIGINT cleans up
            elif _same_run(state, reference[new]):  # killed after the swap
                assert _complete(out / "synthetic", new, layers[new]), trial
                current = new
            else:  # killed before it: the previous outputs, untouched
                assert state == previous, trial
            outcomes.append((sig.name, code, current))
    finally:
        driver.stdin.close()
        driver.wait(timeout=60)
    assert any(code == 130 for _, code, _ in outcomes), outcomes  # some interrupts landed
    proc = siting("run", scenario, "--resolution", "2000", "-q")
    assert proc.returncode == 0, proc.stderr
    assert hidden_leftovers(out) == []


def _same_run(state: dict[str, str], reference: dict[str, str]) -> bool:
    """The same complete output folder: the same files, the same bytes but in the files that
    record times (run.json's timings, the GeoPackage's last_change, …)."""
    timed = ("run.json", "report.md", "report.html", "map.html", "siting.qgz", "siting.gpkg")
    return state.keys() == reference.keys() and all(
        state[k] == reference[k] for k in state if not k.endswith(timed)
    )


def _tables(output: Path) -> list[str]:
    return sorted(pyogrio.list_layers(output / "siting.gpkg")[:, 0])


def _complete(output: Path, resolution: str, tables: list[str]) -> bool:
    """run.json of that resolution and a GeoPackage with every table can be read."""
    run = json.loads((output / "run.json").read_text(encoding="utf-8"))
    return run["grid"]["resolution_m"] == float(resolution) and _tables(output) == tables


@pytest.mark.slow
def test_ctrl_c_while_the_command_starts_is_not_a_traceback(base, root, tmp_path):
    """SIGINT while the run imports its libraries: exit 130 and the one line, no traceback."""
    before = tree(root)
    for delay in (0.6, 1.0, 1.4):  # after the interpreter started, while the run imports
        proc = subprocess.Popen(
            [sys.executable, "-m", "siting.cli", "run", str(base / "scenario.toml"), "--no-cache"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, (delay, err)
        assert "Traceback" not in err, err
        assert err.splitlines()[-1] == "siting: interrupted; previous outputs left as they were"
        assert list(tmp_path.iterdir()) == [] and tree(root) == before


@pytest.mark.slow
def test_two_runs_on_one_folder_both_finish_one_after_the_other(tmp_path):
    world = make_world(tmp_path)
    out = tmp_path / "out"
    assert siting("run", world / "scenario.toml", "--resolution", "2000", "-q").returncode == 0
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "siting.cli", "run", str(world / "scenario.toml"), "-q", res],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for res in ("--resolution=2000", "--resolution=2500")
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    assert [code for code, _ in results] == [0, 0], results
    assert all("Traceback" not in err for _, err in results)
    state = json.loads((out / "synthetic" / "run.json").read_text(encoding="utf-8"))
    assert state["grid"]["resolution_m"] in (2000.0, 2500.0)
    names = {p.relative_to(out / "synthetic").as_posix() for p in (out / "synthetic").rglob("*")}
    assert {"siting.gpkg", "map.html", "run.json", folder.MARKER} <= names
    assert hidden_leftovers(out) == []


# --- 7. siting init -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target, expect, fix",
    [
        ("afile/my.toml", "cannot write afile/my.toml: {root}/afile is a file", "existing folder"),
        ("afile/sub/my.toml", "{root}/afile is a file, not a folder", "existing folder"),
        ("missing/my.toml", "the folder missing does not exist", "mkdir -p missing"),
        ("afile", "afile already exists", "new file name"),
        ("adir", "adir already exists", "new file name"),
    ],
)
def test_init_into_a_bad_place_is_one_clear_error(tmp_path, monkeypatch, target, expect, fix):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    proc = cli_here("init", target)
    one_error(proc, expect.format(root=tmp_path), fix=fix)
    assert tree(tmp_path) == before
