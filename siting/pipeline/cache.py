"""On-disk cache of a run's intermediate results, keyed by a hash of exactly their inputs.

Each cached step (a criterion raster, a profile's suitability, its sites, a model's solution, an
exported GeoTIFF …) is stored under the SHA-256 of everything it is computed from: the layers it
reads (their features and attributes after filtering and edits, not their file names), the
scenario entries it uses, the grid, the upstream results' own keys, and the source code of the
``siting`` package. A what-if that changes the rail layer therefore recomputes the criteria that
read rail and everything downstream of them, and loads the rest. A change to ``siting`` itself
invalidates everything.

The cache lives in ``<outputs.dir>/.cache`` unless told otherwise; deleting it is always safe.
Entries are Python pickles: share a cache folder only with people whose files you would run.

Every entry begins with its format and a checksum (CRC-32) of the rest of its bytes, checked
before anything in it is used: an entry damaged after it was written (a full disk, a copy cut
short, a flipped bit) is reported, computed afresh and replaced, never reused. The folder carries
a ``CACHEDIR.TAG`` (https://bford.info/cachedir/, which backup tools honour too): only a folder
with that marker is pruned or cleared, and siting stores entries only in a folder it marked, or
may mark (new, empty, or holding only entries of a siting from before the marker).

Caching is declared, not keyed by hand: a :class:`Step` names a function, and :meth:`Cache.run`
calls it with keyword inputs and stores the result under :meth:`Cache.key`, the one place a key
is made: the hash of the code version, the step's name and every input the function receives
(but those the step declares ``unkeyed``, such as an in-memory memo). A step cannot leave an
input out of its key, since its function sees only what was hashed. A result a step returned is
remembered by identity with its key, so a later step that takes it as an input hashes that key
instead of its values (a 23 M-cell raster is not hashed again).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import logging
import mmap
import os
import pickle
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache as memoize
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
import shapely

log = logging.getLogger("siting")
T = TypeVar("T")
_ABSENT = object()  # what a lookup finds when nothing is stored (None may be a stored result)


@memoize
def code_version() -> str:
    """SHA-256 of the package's source files: results computed by other code are never reused."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]  # the whole siting package
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def fingerprint(*parts: Any, known: Mapping[int, tuple[Any, str]] | None = None) -> str:
    """SHA-256 over a canonical encoding of ``parts``.

    Arrays count by dtype, shape and bytes; (Geo)DataFrames by columns, index, values and WKB
    geometry; dataclasses by type and fields; mappings by sorted items. Two inputs that would
    give different results never share a fingerprint; equal inputs always do, across processes.
    An object found in ``known`` (by identity) counts by the key stored with it, the key of the
    inputs it was computed from.
    """
    h = hashlib.sha256()
    for part in parts:
        _feed(h, part, known or {})
    return h.hexdigest()


def _feed(h: Any, obj: Any, known: Mapping[int, tuple[Any, str]]) -> None:
    tag = type(obj).__name__.encode()
    h.update(b"<" + tag + b">")
    named = known.get(id(obj))
    if named is not None and named[0] is obj:
        h.update(b"key:" + named[1].encode())
    elif obj is None or isinstance(obj, bool | int | float | str | bytes | Path):
        h.update(repr(obj).encode())
    elif isinstance(obj, np.ndarray):
        h.update(f"{obj.dtype.str}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).data)
    elif isinstance(obj, pd.DataFrame):
        _feed_frame(h, obj)
    elif isinstance(obj, pd.Series):
        _feed_frame(h, obj.to_frame())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            h.update(f.name.encode())
            _feed(h, getattr(obj, f.name), known)
    elif isinstance(obj, dict):
        for key in sorted(obj, key=repr):
            _feed(h, key, known)
            _feed(h, obj[key], known)
    elif isinstance(obj, list | tuple):
        h.update(str(len(obj)).encode())
        for item in obj:
            _feed(h, item, known)
    elif isinstance(obj, shapely.Geometry):
        h.update(shapely.to_wkb(obj))
    elif isinstance(obj, np.generic):
        h.update(repr(obj.item()).encode())
    else:
        # CRS, Affine and the like: their repr is complete and stable.
        h.update(repr(obj).encode())


def _feed_frame(h: Any, df: pd.DataFrame) -> None:
    h.update(repr(list(df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df.index).to_numpy().tobytes())
    for name in df.columns:
        column = df[name]
        if hasattr(column, "geom_type"):  # a GeoSeries
            h.update(str(getattr(column, "crs", None)).encode())
            h.update(b"".join(shapely.to_wkb(column.to_numpy(), include_srid=False)))
            continue
        h.update(str(column.dtype).encode())
        try:
            h.update(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes())
        except TypeError:  # unhashable cells (lists, dicts): their repr is what the run sees
            h.update(repr(column.tolist()).encode())


@dataclass
class Event:
    """One lookup: what (``label``), under which key, and whether it was found."""

    label: str
    key: str
    hit: bool


@dataclass
class CacheLog:
    """What a run's cache did, as plain data (a :class:`~siting.pipeline.result.Result` keeps it).

    Attributes
    ----------
    folder
        The cache folder (None: the cache was off).
    events
        Every lookup of the run, in order; :meth:`summary` counts them.
    updated
        Labels of the results the run computed by updating a related cached one (a distance
        from the features a base scenario had, plus the ones a what-if added).
    """

    folder: Path | None
    events: list[Event] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, list[str]]:
        """Labels found (``hits``) and computed (``misses``) in this run, and of the misses those
        ``updated`` from a related cached result rather than computed from scratch."""
        return {
            "hits": [e.label for e in self.events if e.hit],
            "misses": [e.label for e in self.events if not e.hit],
            "updated": list(self.updated),
        }


@dataclass(frozen=True)
class Step(Generic[T]):
    """A cached step of a run: ``fn(**inputs)``, stored under the key of exactly those inputs.

    Parameters
    ----------
    name
        What the step computes; its entries live in ``<cache folder>/<name>/``.
    fn
        A function of keyword inputs only, whose result depends on nothing else (no global
        state, no file read that is not an input). For a file step (:meth:`Cache.run_file`),
        ``fn(dest, **inputs)`` writes the file ``dest``.
    unkeyed
        Inputs that do not change the result, left out of the key (each declaration says why).
    project
        For an input of which ``fn`` reads only some parts, the function giving those parts: they
        stand for the input in the key (a profile's weights, not its colour).
    update
        Optional ``update(cache, inputs)``: the result derived from a related cached one (a
        what-if's) instead of computed afresh, or ``None`` when there is none.
    """

    name: str
    fn: Callable[..., T]
    unkeyed: frozenset[str] = frozenset()
    project: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    update: Callable[[Cache, dict[str, Any]], T | None] | None = None


class Deferred(Generic[T]):
    """A step's result made on first :meth:`get` (see :meth:`Cache.defer`)."""

    def __init__(self, step: Step[T], inputs: dict[str, Any]) -> None:
        self._step, self._inputs = step, inputs
        self._value: list[T] = []

    def get(self) -> T:
        """The result, computed the first time it is asked for."""
        if not self._value:
            self._value.append(self._step.fn(**self._inputs))
        return self._value[0]


class Cache:
    """A folder of cached results (``folder=None``: a cache that never finds anything and stores
    nothing, for runs with the cache off).

    Attributes
    ----------
    folder
        Where entries live: ``<folder>/<step name>/<key>.pkl`` (or ``.tif`` and the like).
    log
        What this run reused and computed.
    """

    def __init__(self, folder: Path | None) -> None:
        if folder is not None and (reason := _not_usable(folder)) is not None:
            log.warning("cache folder %s %s: running without the cache", folder, reason)
            folder = None
        self.folder = folder
        self.log = CacheLog(folder)
        self._marked = False  # whether this run has seen the folder's CACHEDIR.TAG in place
        # id(result) -> (result, key): results of steps, named by their key in later keys. The
        # result is held so that its id cannot be taken by another object during the run.
        self._named: dict[int, tuple[Any, str]] = {}

    def key(self, step: Step[Any], inputs: Mapping[str, Any]) -> str:
        """The key of ``step`` on ``inputs``: the one place a cache key is made (empty, and not
        worth hashing, when the cache is off)."""
        if self.folder is None:
            return ""
        keyed = {
            n: step.project[n](v) if n in step.project else v
            for n, v in inputs.items()
            if n not in step.unkeyed
        }
        return fingerprint(code_version(), step.name, keyed, known=self._named)

    def compute(self, step: Step[T], /, **inputs: Any) -> T:
        """``step.fn(**inputs)``, not stored (cheaper to make than to read back), but named by
        its key so that the steps that take it as an input do not hash its values."""
        return self.name(step.fn(**inputs), self.key(step, inputs), inputs)

    def defer(self, step: Step[T], /, **inputs: Any) -> Deferred[T]:
        """``step.fn(**inputs)`` computed on first use only, and never stored: for a result that
        later steps take as an input but that only a step which misses the cache needs (the
        road network, when every travel time comes from the cache)."""
        deferred: Deferred[T] = Deferred(step, inputs)
        return self.name(deferred, self.key(step, inputs))

    def run(self, step: Step[T], label: str, /, **inputs: Any) -> T:
        """``step.fn(**inputs)``, or the result stored under the same key by an earlier run."""
        key = self.key(step, inputs)
        value = self._load(step.name, key, label)
        hit = value is not _ABSENT
        if not hit:
            updated = step.update(self, inputs) if step.update is not None and key else None
            if updated is not None:
                self.log.updated.append(label)
                value = updated
            else:
                value = step.fn(**inputs)
            self.put(step.name, key, value)
        self.log.events.append(Event(label, key, hit))
        return self.name(value, key, inputs)

    def run_file(self, step: Step[Any], label: str, dest: Path, /, **inputs: Any) -> Path:
        """Write ``dest`` by copying the file stored under the key of ``inputs``, or by
        ``step.fn(dest, **inputs)``, and store a copy for next time. The stored copy is
        checked against its checksum before a byte of it is written to ``dest``."""
        key = self.key(step, inputs)
        path = self._path(step.name, key, dest.suffix)
        if path is not None and path.is_file():
            try:
                restore_file(path, dest)
            except FileNotFoundError:  # pruned by a parallel run meanwhile: make it afresh
                pass
            except ValueError as exc:
                self._reject(path, label, exc)
            else:
                self._touch(path)
                self.log.events.append(Event(label, key, True))
                return dest
        step.fn(dest, **inputs)
        self.log.events.append(Event(label, key, False))
        if path is not None:
            self._store(path, lambda tmp: store_file(dest, tmp))
        return dest

    def name(self, value: T, key: str, inputs: Mapping[str, Any] | None = None) -> T:
        """Remember ``value``, and the arrays, rasters and frames in its fields (a surface's
        suitability, its scores), as computed from the inputs of ``key``, so that the steps
        downstream name them by that key instead of hashing them. Parts that are ``inputs``
        passed through (the grid a raster lies on) keep their own identity."""
        if not key:
            return value
        self._named[id(value)] = (value, key)
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return value
        passed = {id(v) for v in (inputs or {}).values()}
        for v in (inputs or {}).values():
            if isinstance(v, dict):
                passed |= {id(x) for x in v.values()}
        for f in dataclasses.fields(value):
            part = getattr(value, f.name)
            parts = part.items() if isinstance(part, dict) else [(None, part)]
            for k, v in parts:
                if id(v) in passed or not _is_data(v):
                    continue
                at = f"{key}:{f.name}" if k is None else f"{key}:{f.name}:{k}"
                self._named[id(v)] = (v, at)
        return value

    def find(self, kind: str, key: str) -> Any | None:
        """The stored result under ``key``, or ``None`` (not counted as a lookup: for results
        that a step may start from, not ones it returns)."""
        value = self._load(kind, key)
        return None if value is _ABSENT else value

    def has(self, kind: str, key: str) -> bool:
        """Whether a result is stored under ``key`` (marking it used, like a lookup)."""
        path = self._path(kind, key, ".pkl")
        if path is None or not path.is_file():
            return False
        self._touch(path)
        return True

    def record(self, label: str, key: str, hit: bool) -> None:
        """Count a lookup made with :meth:`find` (a result stored in parts) in the log."""
        self.log.events.append(Event(label, key, hit))

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` (nothing when the cache is off)."""
        path = self._path(kind, key, ".pkl")
        if path is not None:
            self._store(path, lambda tmp: dump(value, tmp))

    def _load(self, kind: str, key: str, label: str | None = None) -> Any:
        """The stored result under ``key`` (marked used), or ``_ABSENT``."""
        path = self._path(kind, key, ".pkl")
        if path is None or not path.is_file():
            return _ABSENT
        try:
            value = load(path)
        except FileNotFoundError:  # pruned by a parallel run meanwhile
            return _ABSENT
        except Exception as exc:  # damaged, cut short, foreign: as if absent, then replaced
            self._reject(path, label or kind, exc)
            return _ABSENT
        self._touch(path)
        return value

    @staticmethod
    def _reject(path: Path, label: str, exc: BaseException) -> None:
        """Say that the entry at ``path`` cannot be used, and delete it: the result is computed
        afresh and stored again (a result that is only looked up, not stored by the caller, such
        as a score checked with :meth:`has`, must not be left damaged in place)."""
        log.warning(
            "cache entry for %s unreadable (%s): computing it afresh and replacing %s",
            label,
            exc,
            path,
        )
        with contextlib.suppress(OSError):  # a read-only cache: recomputed on every run then
            path.unlink()

    def _path(self, kind: str, key: str, suffix: str) -> Path | None:
        return None if self.folder is None else self.folder / kind / f"{key}{suffix}"

    @staticmethod
    def _touch(path: Path) -> None:
        """Mark as used, so that pruning removes the least recently used entries first."""
        with contextlib.suppress(OSError):  # a read-only cache still serves its entries
            os.utime(path)

    def _store(self, path: Path, write: Callable[[Path], Any]) -> None:
        """Write beside the entry, then rename: concurrent runs (batches) never read a half
        entry. A cache that cannot be written only costs time, so failures are logged, not
        raised."""
        try:
            if not self._marked and self.folder is not None:
                mark(self.folder)
                self._marked = True
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            os.close(fd)
            tmp = Path(name)
            try:
                write(tmp)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        except Exception as exc:  # a full disk, an object that does not pickle …
            log.warning("could not write cache entry %s: %s", path, exc)


def _is_data(obj: Any) -> bool:
    """An array, a frame, or a dataclass holding an array (a raster): results worth naming."""
    if isinstance(obj, np.ndarray | pd.DataFrame | pd.Series):
        return True
    return (
        dataclasses.is_dataclass(obj)
        and not isinstance(obj, type)
        and any(isinstance(getattr(obj, f.name), np.ndarray) for f in dataclasses.fields(obj))
    )


# The cache of the run being exported: exporters call :func:`memo` on their declared steps and
# need not be handed the cache through every function that draws a layer or a figure.
_ACTIVE: ContextVar[Cache | None] = ContextVar("siting_cache", default=None)


@contextmanager
def using(cache: Cache) -> Iterator[Cache]:
    """Make ``cache`` the one :func:`memo` and :func:`memo_file` use, in this context."""
    token = _ACTIVE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE.reset(token)


def memo(step: Step[T], label: str, /, **inputs: Any) -> T:
    """:meth:`Cache.run` on the cache in use (:func:`using`); without one, ``step.fn(**inputs)``."""
    cache = _ACTIVE.get()
    return step.fn(**inputs) if cache is None else cache.run(step, label, **inputs)


def memo_file(step: Step[Any], label: str, dest: Path, /, **inputs: Any) -> Path:
    """:meth:`Cache.run_file` on the cache in use; without one, ``step.fn(dest, **inputs)``."""
    cache = _ACTIVE.get()
    if cache is None:
        step.fn(dest, **inputs)
        return dest
    return cache.run_file(step, label, dest, **inputs)


#: The first bytes of an entry: a pickled result (:func:`dump`) or a stored file
#: (:func:`store_file`). Each is followed by the checksum of every byte after it.
MAGIC = b"siting-cache-2\n\0"
FILE_MAGIC = b"siting-file-2\n\0\0"
_FORMATS = (b"siting-cache-", b"siting-file-")
_DIGEST = 4
HEADER = len(MAGIC) + _DIGEST
ALIGN = 64


class _Checksum:
    """CRC-32 of the bytes given to :meth:`update` (zlib's, in the manner of :mod:`hashlib`).

    A checksum, not a cryptographic hash: it guards against damage (a full disk, a copy cut
    short, a flipped bit), and catches every error burst of up to 32 bits and any other with
    probability 1 - 2**-32. Tampering is not the threat (entries are pickles: a cache folder is
    trusted or not used at all), and speed is: checking the 35 MB of entries a re-run of the
    default scenario at 1 km loads takes about 10 ms (4 GB/s), against 40 ms with BLAKE2b.
    """

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: Any) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(_DIGEST, "little")


_hasher = _Checksum


def dump(value: Any, path: Path) -> None:
    """Write ``value`` as a pickle whose arrays follow it as raw aligned blocks (pickle protocol
    5's out-of-band buffers), so that :func:`load` can map them instead of reading them; the
    header holds the checksum of everything after it."""
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    at = HEADER + 16 + 16 * len(raws) + len(head)
    table, offset = [], _aligned(at)
    for raw in raws:
        table.append((offset, raw.nbytes))
        offset = _aligned(offset + raw.nbytes)
    h = _hasher()
    with path.open("wb") as f:
        f.write(MAGIC + bytes(_DIGEST))  # the checksum, written once the rest is

        def put(chunk: Any) -> None:
            h.update(chunk)
            f.write(chunk)

        put(np.array([len(head), len(raws)], dtype="<u8").tobytes())
        put(np.array(table, dtype="<u8").reshape(-1, 2).tobytes())
        put(head)
        for (start, _), raw in zip(table, raws, strict=True):
            put(bytes(start - at))  # the padding that aligns the block
            put(raw)
            at = start + raw.nbytes
        put(bytes(offset - at))
        f.seek(len(MAGIC))
        f.write(h.digest())


def load(path: Path) -> Any:
    """Read an entry written by :func:`dump`, after checking its checksum. Its arrays are
    copy-on-write maps of the file: pages are read when first touched (the checksum is computed
    from the file read in chunks, which leaves the map untouched; a run often needs few of a
    cached raster's values) and writes stay private to the run.

    Raises
    ------
    ValueError
        If the file is not an entry of this version of siting, or is damaged or cut short.
    """
    with path.open("rb") as f:
        _check(f, MAGIC)
        # The same open file: an entry is replaced by renaming, never rewritten in place, so
        # the bytes mapped are the bytes checked.
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    view = memoryview(mapped)
    at = HEADER
    n_head, n_buffers = (int(n) for n in np.frombuffer(view[at : at + 16], dtype="<u8"))
    at += 16
    table = np.frombuffer(view[at : at + 16 * n_buffers], dtype="<u8").reshape(-1, 2)
    at += 16 * n_buffers
    if at + n_head > len(view) or any(o + n > len(view) for o, n in table.tolist()):
        raise ValueError("truncated")
    buffers = [view[o : o + n] for o, n in table.tolist()]
    return pickle.loads(view[at : at + n_head], buffers=buffers)


def store_file(src: Path, path: Path) -> None:
    """Write the bytes of the file ``src`` as an entry at ``path``, after a header with their
    checksum (:func:`restore_file` writes them back)."""
    h = _hasher()
    with src.open("rb") as f_in, path.open("wb") as f:
        f.write(FILE_MAGIC + bytes(_DIGEST))
        while chunk := f_in.read(_CHUNK):
            h.update(chunk)
            f.write(chunk)
        f.seek(len(FILE_MAGIC))
        f.write(h.digest())


def restore_file(path: Path, dest: Path) -> None:
    """Write to ``dest`` the file stored at ``path`` by :func:`store_file`, once its checksum
    is checked (``dest`` is left alone if it fails).

    Raises
    ------
    ValueError
        If the entry is not a stored file of this version of siting, is damaged or cut short, or
        cannot be read.
    FileNotFoundError
        If there is no entry at ``path``.
    """
    try:
        f = path.open("rb")  # FileNotFoundError: pruned meanwhile, absent rather than damaged
    except PermissionError as exc:
        raise ValueError(f"cannot be read: {exc.strerror}") from exc
    with f:
        try:
            _check(f, FILE_MAGIC)
        except OSError as exc:  # an I/O error in the entry: as good as damaged
            raise ValueError(f"cannot be read: {exc.strerror}") from exc
        # Errors from here on are the destination's (a full disk): raised as they are, since
        # making the file afresh would meet them too.
        f.seek(HEADER)
        with dest.open("wb") as out:
            shutil.copyfileobj(f, out, _CHUNK)


_CHUNK = 1 << 20


def _check(f: io.BufferedIOBase, magic: bytes) -> None:
    """Check the format and the checksum of the entry open as ``f`` (read to its end)."""
    head = f.read(HEADER)
    if len(head) < HEADER:
        raise ValueError(f"{len(head)} bytes, too short for an entry: cut short or emptied")
    if head[: len(magic)] != magic:
        if any(head.startswith(p) for p in _FORMATS):
            raise ValueError("written by another version of siting, or for another kind of entry")
        raise ValueError("not a siting cache entry")
    h = _hasher()
    buffer = bytearray(_CHUNK)
    with memoryview(buffer) as view:
        while n := f.readinto(buffer):
            h.update(view[:n])
    if h.digest() != head[len(magic) :]:
        raise ValueError("checksum mismatch: damaged or cut short since it was written")


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


#: The Cache Directory Tagging marker (https://bford.info/cachedir/): its first line is fixed by
#: the specification; backup tools that honour it skip the folder.
TAG_NAME = "CACHEDIR.TAG"
TAG = (
    b"Signature: 8a477f597d28d172789f06886806bc55\n"
    b"# This file is a cache directory tag created by siting: the folder holds intermediate\n"
    b"# results of siting runs; deleting it is safe. For information about cache directory\n"
    b"# tags, see https://bford.info/cachedir/\n"
)
_SIGNATURE = TAG.split(b"\n", 1)[0]
_BY_SITING = b"created by siting"
# An entry's name: ``<SHA-256 key><suffix>``; a file being written: ``.tmp-…``.
_ENTRY = re.compile(r"[0-9a-f]{64}\.[A-Za-z0-9]+|\.tmp-.*")


def is_cache(folder: Path) -> bool:
    """Whether ``folder`` carries siting's marker of a cache folder (a ``CACHEDIR.TAG`` that
    siting wrote: another program's cache is not siting's to prune)."""
    try:
        with (folder / TAG_NAME).open("rb") as f:
            text = f.read(len(TAG))
    except OSError:
        return False
    return text.startswith(_SIGNATURE) and _BY_SITING in text


def mark(folder: Path) -> None:
    """Create ``folder`` if needed and mark it as a cache folder (written beside, then renamed:
    a parallel run never sees half a marker)."""
    folder.mkdir(parents=True, exist_ok=True)
    if is_cache(folder):
        return
    fd, name = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(TAG)
        os.replace(name, folder / TAG_NAME)
    finally:
        Path(name).unlink(missing_ok=True)


def _not_usable(folder: Path) -> str | None:
    """Why siting may not keep its entries in ``folder`` (``None``: it may). A folder that is
    neither marked nor new, empty, or laid out as a cache made before the marker existed (step
    folders of ``<key>.<suffix>`` files only) may hold someone's files: storing in it would
    later let pruning delete them."""
    if is_cache(folder) or not folder.exists():
        return None
    if not folder.is_dir():
        return "is not a folder"
    try:
        legacy = all(
            (part.is_dir() and all(_ENTRY.fullmatch(p.name) for p in part.iterdir()))
            or _ENTRY.fullmatch(part.name)
            for part in folder.iterdir()
        )
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if legacy:
        return None
    return (
        f"holds files and has no {TAG_NAME} marking it as a siting cache (siting stores only "
        "in a new or empty folder, or one it marked; give --cache-dir a new folder)"
    )


def _entries(folder: Path) -> list[Path]:
    """The entries of a cache folder: the files of its step folders (not the marker)."""
    if not folder.is_dir():
        return []
    return [p for p in folder.glob("*/*") if p.is_file()]


def size(folder: Path) -> tuple[int, int]:
    """Number of entries and bytes in a cache folder."""
    files = _entries(folder)
    return len(files), sum(p.stat().st_size for p in files)


def prune(folder: Path, max_bytes: int) -> int:
    """Delete the least recently used entries until the folder holds at most ``max_bytes``;
    returns the number deleted. ``max_bytes=0`` empties it. A folder without the cache marker
    (:func:`is_cache`) is left alone: it may not be a cache."""
    if not is_cache(folder):
        return 0
    files = sorted(_entries(folder), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    removed = 0
    for path in files:
        if total <= max_bytes:
            break
        total -= path.stat().st_size
        path.unlink(missing_ok=True)
        removed += 1
    return removed
