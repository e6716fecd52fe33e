"""The output folder: checked before a run, written beside itself, swapped in as one step.

A run writes into a hidden staging folder ``.<name>.tmp-XXXXXXXX`` next to ``<name>/`` and, once
every file is complete, swaps the two in one atomic step; the previous outputs are then deleted.
What this module promises:

- **Only siting's own folders are replaced.** Every folder siting writes holds a marker file,
  :data:`MARKER`, whose first line is :data:`SIGNATURE`. A folder at ``<name>/`` is replaced
  only if it holds the marker, is empty, or was written by an earlier version of siting (its
  ``run.json`` or ``comparison.json`` carries siting's keys); anything else (a symbolic link, a
  file, a folder of other data) is refused before the run computes anything. A separate
  marker, rather than run.json alone, also covers the folders with no run.json
  (``siting compare``, ``siting sensitivity``) and needs no parsing of a large file.
- **The output folder is not an input's.** :func:`check` refuses an output folder that holds
  (or is) any path it is given: the scenario file, its folder, its input layers, the cache.
- **One atomic step.** On Linux the staging folder and ``<name>/`` are exchanged by
  ``renameat2(RENAME_EXCHANGE)`` (glibc ≥ 2.28, Linux ≥ 3.15, most local file systems), so a
  reader or a kill sees the old complete folder or the new complete one, never none. Where the
  exchange is not available (macOS, Windows, old kernels, some network file systems) it falls
  back to two renames, ``<name>`` → ``.<name>.old-XXXXXXXX`` then staging → ``<name>``; a kill
  between the two leaves the previous outputs in the ``.old-`` folder, and the next run puts them
  back before it starts.
- **One writer at a time.** Writers of one folder take an advisory lock on
  ``.<name>.lock`` beside it (``fcntl.flock``; ``msvcrt.locking`` on Windows), held from the
  staging folder's creation to the swap; a second run waits for the first to finish writing
  (:data:`LOCK_WAIT_S` at most, then a clear error), then replaces its outputs with its own.
  The holder deletes the lock file before letting go (except on Windows), and a waiting run
  that then gets the lock of the deleted file takes the new one instead.
- **Nothing left behind.** A failure or Ctrl-C removes the staging folder; a staging folder
  left by a killed process (SIGKILL, power loss) is removed by the next run of the same folder,
  under the lock, so never one a live process is writing.
- **Ctrl-C is never lost.** While a command runs, :func:`watching_interrupts` records every
  SIGINT; a library that swallows the ``KeyboardInterrupt`` (a C callback, a finaliser) cannot
  make the run go on to replace the outputs: the swap checks the record first. During the swap
  itself an interrupt is held back, then raised, so the caller always knows whether the new
  outputs are in place (:func:`recording`).
- **A full disk** while writing is one :class:`~siting.errors.SitingError`, the previous
  outputs intact and the staging folder removed.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import FrameType
from typing import Any

from siting.errors import SitingError

__all__ = [
    "LOCK_WAIT_S",
    "MARKER",
    "SIGNATURE",
    "check",
    "recording",
    "staged",
    "watching_interrupts",
]

log = logging.getLogger("siting")

MARKER = ".siting-output"
SIGNATURE = "siting output folder v1"
_MARKER_TEXT = (
    f"{SIGNATURE}\n"
    "This folder was written by siting. The next run of the same scenario replaces it as a\n"
    "whole: keep your own files elsewhere. siting replaces only folders holding this file.\n"
)
# How long a run waits for another run writing the same folder before it gives up.
LOCK_WAIT_S = 600.0
# The longest file name most file systems allow, in bytes.
_NAME_MAX = 255
# mkdtemp's suffix: 8 characters of this alphabet. Only names of exactly this form are ever
# deleted as stale, so a scenario named "a.tmp-x" is never taken for a staging folder of "a".
_STAGING = r"\.{name}\.(tmp|old)-[a-z0-9_]{{8}}"
# Free bytes below which a failed write is taken for a full disk, whatever its message.
_ALMOST_FULL = 1 << 20
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2

_written: ContextVar[list[Path] | None] = ContextVar("siting_written", default=None)


# --------------------------------------------------------------------------------------------
# Checks before a run


def check(final: str | Path, protected: Iterable[str | Path | None] = ()) -> None:
    """Refuse an output folder this run may not replace, before anything is computed.

    Parameters
    ----------
    final
        The output folder (``<outputs.dir>/<name>``).
    protected
        Paths the output folder may neither be nor hold: the scenario file, its input layers,
        the cache folder (``None`` entries are skipped).

    Raises
    ------
    SitingError
        If ``final`` holds a protected path, is a symbolic link, a file or a folder siting did
        not write, lies below a file, cannot be written in, or its name is too long.
    """
    final = Path(final)
    where = "choose another scenario name (--name) or output folder (--output-dir, [outputs] dir)"
    if len(os.fsencode(f".{final.name}.tmp-xxxxxxxx")) > _NAME_MAX:
        raise SitingError(
            f"the output folder name {final.name!r} is too long for the file system",
            "use a shorter scenario name",
        )
    real = Path(os.path.realpath(final))
    for path in protected:
        if path is None:
            continue
        held = Path(os.path.realpath(path))
        if held == real or real in held.parents:
            raise SitingError(
                f"the output folder {final} would hold {path}, which the run reads or keeps: "
                "replacing the folder would delete it",
                f"{where}; it may hold neither the scenario, nor its input layers, nor the cache",
            )
    if os.path.islink(final):
        raise SitingError(
            f"the output folder {final} is a symbolic link; siting replaces the folder itself",
            f"{where}, e.g. the folder the link points to",
        )
    if os.path.lexists(final):
        if not final.is_dir():
            raise SitingError(
                f"the output folder {final} is a file, not a folder",
                f"{where}, or move the file away",
            )
        if not _ours(final):
            raise SitingError(
                f"{final} is not a siting output folder (it has no {MARKER} file): siting "
                "replaces only folders it wrote, and will not delete this one",
                f"{where}, or move or delete {final} yourself",
            )
    _check_writable(final)


def nearest_existing(path: Path) -> Path:
    """The nearest path above ``path`` that exists (a folder, or a file a user gave as one)."""
    above = path.absolute().parent
    while not os.path.lexists(above) and above != above.parent:
        above = above.parent
    return above


def _check_writable(final: Path) -> None:
    """The first existing folder above ``final`` must be a folder, and writable."""
    above = nearest_existing(final)
    if not above.is_dir():
        raise SitingError(
            f"the output folder {final} would be below {above}, which is a file",
            "choose an output folder (--output-dir, [outputs] dir) that is not below a file",
        )
    if not os.access(above, os.W_OK | os.X_OK):
        raise SitingError(
            f"cannot write in {above}: it is read-only for this user",
            "choose a writable output folder (--output-dir, [outputs] dir), or make it writable",
        )


def _ours(folder: Path) -> bool:
    """Whether ``folder`` may be replaced: it is empty, holds the marker, or was written by an
    earlier version of siting (a run.json or comparison.json with siting's keys)."""
    try:
        with os.scandir(folder) as entries:
            if next(entries, None) is None:
                return True
        with open(folder / MARKER, encoding="utf-8") as f:
            if f.readline().rstrip("\n") == SIGNATURE:
                return True
    except (OSError, UnicodeDecodeError):
        pass
    run = _json(folder / "run.json")
    if run is not None:
        versions = run.get("versions")
        return (
            isinstance(run.get("scenario"), dict)
            and isinstance(versions, dict)
            and ("siting" in versions)
        )
    comparison = _json(folder / "comparison.json")
    return comparison is not None and {"a", "b", "totals"} <= comparison.keys()


def _json(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > 100_000_000:  # not a file siting wrote
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------------------------
# Ctrl-C


class _Watch:
    """What SIGINT did while a command ran (the handler runs in the main thread only)."""

    def __init__(self, previous: Callable[[int, FrameType | None], Any] | None = None) -> None:
        self.previous = previous
        self.seen = False  # an interrupt came, whether or not its exception got through
        self.holding = False  # during a swap: note it, raise it after
        self.held = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.seen = True
        if self.holding:
            self.held = True
        elif self.previous is not None:
            self.previous(signum, frame)


_watch: _Watch | None = None


@contextmanager
def watching_interrupts() -> Iterator[_Watch]:
    """Record every Ctrl-C (SIGINT) while the block runs; the previous handler still runs.

    Installed only in the main thread and only over a Python handler (the default raises
    ``KeyboardInterrupt``); elsewhere, and when already watching, it watches nothing new.
    """
    global _watch
    if _watch is not None:
        yield _watch
        return
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # ignored, the OS default, or not the main thread
        yield _Watch()
        return
    watch = _Watch(previous)
    signal.signal(signal.SIGINT, watch.handle)
    _watch = watch
    try:
        yield watch
    finally:
        _watch = None
        signal.signal(signal.SIGINT, previous)


@contextmanager
def recording(written: list[Path]) -> Iterator[list[Path]]:
    """Append to ``written`` each output folder swapped in while the block runs, so that a
    caller interrupted after a swap knows the new outputs are complete and in place."""
    token = _written.set(written)
    try:
        yield written
    finally:
        _written.reset(token)


# --------------------------------------------------------------------------------------------
# Writing


@contextmanager
def staged(
    final: str | Path,
    protected: Iterable[str | Path | None] = (),
    *,
    wait_s: float = LOCK_WAIT_S,
) -> Iterator[Path]:
    """A hidden staging folder beside ``final`` to write into; on success it replaces
    ``final`` in one atomic step, on any failure it is removed and ``final`` is left as it was.

    Parameters
    ----------
    final
        The output folder.
    protected
        Paths it may neither be nor hold (:func:`check`).
    wait_s
        How long to wait for another run writing the same folder.

    Yields
    ------
    Path
        The staging folder (it already holds the :data:`MARKER`).

    Raises
    ------
    SitingError
        If ``final`` may not be replaced (:func:`check`), another run holds it longer than
        ``wait_s``, or the disk filled up while writing.
    """
    final = Path(final)
    protected = list(protected)
    check(final, protected)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SitingError(
            f"cannot make the output folder {final.parent}: {exc.strerror}",
            "choose a writable output folder (--output-dir, [outputs] dir)",
        ) from None
    with watching_interrupts() as watch, _locked(final, wait_s):
        _clean_stale(final)
        check(final, protected)  # again: the folder may have changed while this run computed
        staging = _make_staging(final)
        swapped: list[Path] = []
        try:
            (staging / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
            yield staging
            _swap(staging, final, watch, swapped)
        except BaseException as exc:
            # Before the swap the staging folder holds the partial new outputs, after it the
            # previous ones: either way it goes.
            full = None if swapped else _disk_full(exc, final)
            _remove(staging)
            if swapped:  # else an .old- folder is the previous outputs, for the next run
                _remove(_old(staging, final))
            if full is not None:
                raise full from None
            raise
        _remove(staging)  # the previous outputs
        _remove(_old(staging, final))


def _make_staging(final: Path) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the output folder should not be
    return staging


def _old(staging: Path, final: Path) -> Path:
    """Where the two-rename swap parks the previous outputs."""
    return final.with_name(f".{final.name}.old-{staging.name[-8:]}")


def _swap(staging: Path, final: Path, watch: _Watch, swapped: list[Path]) -> None:
    """Put ``staging`` in place of ``final``; the previous outputs end up at ``staging`` (or at
    :func:`_old` after two renames), and ``final`` is appended to ``swapped``. An interrupt
    during the swap is held back, then raised once ``swapped`` says what happened."""
    watch.holding = True
    try:
        if watch.seen:  # Ctrl-C came but its exception was lost in a library: do not replace
            raise KeyboardInterrupt
        if not os.path.lexists(final):
            os.rename(staging, final)
        elif not _exchange(staging, final):
            old = _old(staging, final)
            os.rename(final, old)
            try:
                os.rename(staging, final)
            except OSError:
                os.rename(old, final)
                raise
        swapped.append(final)
        written = _written.get()
        if written is not None:
            written.append(final)
    except OSError as exc:
        raise SitingError(
            f"cannot put the new outputs in place of {final}: {exc.strerror}",
            "if that folder is a mount point or open in another program, close it or choose "
            "another output folder (--output-dir, [outputs] dir)",
        ) from None
    finally:
        watch.holding = False
    if watch.held:
        watch.held = False
        raise KeyboardInterrupt


_renameat2: Any = None


def _exchange(a: Path, b: Path) -> bool:
    """Exchange two paths atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False where
    the system cannot, and nothing is changed then."""
    global _renameat2
    if not sys.platform.startswith("linux"):
        return False
    if _renameat2 is None:
        _renameat2 = False
        try:
            function: Any = ctypes.CDLL(None, use_errno=True).renameat2
        except (OSError, AttributeError):  # a C library older than glibc 2.28
            pass
        else:
            function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
            function.argtypes += (ctypes.c_uint,)
            function.restype = ctypes.c_int
            _renameat2 = function
    if _renameat2 is False:
        return False
    path_a, path_b = os.fsencode(a), os.fsencode(b)
    if _renameat2(_AT_FDCWD, path_a, _AT_FDCWD, path_b, _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # old kernel, file system
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextmanager
def _locked(final: Path, wait_s: float) -> Iterator[None]:
    """Hold the advisory lock of ``final``: the file ``.<name>.lock`` beside it, deleted by its
    holder before it lets go. A run that got the lock of a file meanwhile deleted tries again,
    so that two runs never hold two different files."""
    path = final.with_name(f".{final.name}.lock")
    start = time.monotonic()
    told = False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise SitingError(
                f"cannot write in {final.parent}: {exc.strerror}",
                "choose a writable output folder (--output-dir, [outputs] dir)",
            ) from None
        try:
            while not _try_lock(fd):
                holder = path.read_text(encoding="utf-8", errors="replace").strip() or "?"
                if time.monotonic() - start >= wait_s:
                    raise SitingError(
                        f"another siting run (process {holder}) is still writing {final} after "
                        f"{wait_s:g} s",
                        "wait for it to finish, or give this run another name (--name) or "
                        "output folder (--output-dir)",
                    )
                if not told:
                    log.info(
                        "waiting for another siting run (process %s) writing %s", holder, final
                    )
                    told = True
                time.sleep(0.1)
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            break
        os.close(fd)  # its holder deleted it as this run got the lock: take the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        if sys.platform != "win32":  # Windows cannot delete an open file: it stays
            path.unlink(missing_ok=True)
        os.close(fd)  # releases the lock


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _clean_stale(final: Path) -> None:
    """Remove the staging folders of ``final`` that dead runs left (called under the lock, so
    no live run is writing them); a previous output folder left between the two renames of
    the fallback swap is put back first."""
    pattern = re.compile(_STAGING.format(name=re.escape(final.name)))
    stale = sorted(p for p in final.parent.iterdir() if pattern.fullmatch(p.name))
    if not stale:
        return
    old = [p for p in stale if p.name[len(final.name) + 2 :].startswith("old-")]
    if old and not os.path.lexists(final):
        latest = max(old, key=lambda p: p.stat().st_mtime_ns)
        os.rename(latest, final)
        stale.remove(latest)
        log.warning("restored %s: an interrupted run had left it as %s", final, latest.name)
    for path in stale:
        _remove(path)
    if stale:
        log.info("removed %d folder(s) left by interrupted runs beside %s", len(stale), final)


def _remove(path: Path) -> None:
    if os.path.islink(path) or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _disk_full(exc: BaseException, final: Path) -> SitingError | None:
    """A clear error for a write that failed because the disk or the quota is full."""
    if not isinstance(exc, Exception) or isinstance(exc, SitingError):
        return None
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain and len(chain) < 20:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    texts = ("No space left on device", "database or disk is full", "Disk quota exceeded")
    full = any(
        (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT))
        or any(t in str(e) for t in texts)
        for e in chain
    )
    if not full:
        # Some writers report a full disk as a consequence only (SQLite: "no such table"
        # after its file could not grow), so a disk left almost full by the failed write
        # counts too; the staging folder still holds what was written.
        try:
            full = shutil.disk_usage(final.parent).free < _ALMOST_FULL
        except OSError:
            return None
    if not full:
        return None
    return SitingError(
        f"the disk is full: writing the outputs to {final} stopped; the previous outputs were "
        "left as they were",
        "free some space on that disk, or write elsewhere (--output-dir, [outputs] dir)",
    )
