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
import logging
import mmap
import os
import pickle
import shutil
import tempfile
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
        self.folder = folder
        self.log = CacheLog(folder)
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
        value = self._load(step.name, key)
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
        ``step.fn(dest, **inputs)``, and store a copy for next time."""
        key = self.key(step, inputs)
        path = self._path(step.name, key, dest.suffix)
        if path is not None and path.is_file():
            try:
                shutil.copyfile(path, dest)
            except OSError as exc:  # pruned by a parallel run meanwhile: make it afresh
                log.warning("cache entry %s unreadable (%s); recomputing", path, exc)
            else:
                self._touch(path)
                self.log.events.append(Event(label, key, True))
                return dest
        step.fn(dest, **inputs)
        self.log.events.append(Event(label, key, False))
        if path is not None:
            self._store(path, lambda tmp: shutil.copyfile(dest, tmp))
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

    def _load(self, kind: str, key: str) -> Any:
        """The stored result under ``key`` (marked used), or ``_ABSENT``."""
        path = self._path(kind, key, ".pkl")
        if path is None or not path.is_file():
            return _ABSENT
        try:
            value = load(path)
        except Exception as exc:  # a truncated or foreign file: as if absent, then replaced
            log.warning("cache entry %s unreadable (%s); computing afresh", path, exc)
            return _ABSENT
        self._touch(path)
        return value

    def _path(self, kind: str, key: str, suffix: str) -> Path | None:
        return None if self.folder is None else self.folder / kind / f"{key}{suffix}"

    @staticmethod
    def _touch(path: Path) -> None:
        """Mark as used, so that pruning removes the least recently used entries first."""
        with contextlib.suppress(OSError):  # a read-only cache still serves its entries
            os.utime(path)

    @staticmethod
    def _store(path: Path, write: Callable[[Path], Any]) -> None:
        """Write beside the entry, then rename: concurrent runs (batches) never read a half
        entry. A cache that cannot be written only costs time, so failures are logged, not
        raised."""
        try:
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


MAGIC = b"siting-cache-1\n\0\0"
ALIGN = 64


def dump(value: Any, path: Path) -> None:
    """Write ``value`` as a pickle whose arrays follow it as raw aligned blocks (pickle protocol
    5's out-of-band buffers), so that :func:`load` can map them instead of reading them."""
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    start = _aligned(len(MAGIC) + 16 + 16 * len(raws) + len(head))
    table, offset = [], start
    for raw in raws:
        table.append((offset, raw.nbytes))
        offset = _aligned(offset + raw.nbytes)
    with path.open("wb") as f:
        f.write(MAGIC)
        f.write(np.array([len(head), len(raws)], dtype="<u8").tobytes())
        f.write(np.array(table, dtype="<u8").reshape(-1, 2).tobytes())
        f.write(head)
        for (at, _), raw in zip(table, raws, strict=True):
            f.seek(at)
            f.write(raw)
        f.truncate(offset)


def load(path: Path) -> Any:
    """Read an entry written by :func:`dump`. Its arrays are copy-on-write maps of the file:
    pages are read when first touched (a run often needs few of a cached raster's values) and
    writes stay private to the run."""
    with path.open("rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    view = memoryview(mapped)
    if view[: len(MAGIC)] != MAGIC:
        raise ValueError("not a siting cache entry")
    n_head, n_buffers = np.frombuffer(view[len(MAGIC) : len(MAGIC) + 16], dtype="<u8")
    at = len(MAGIC) + 16
    table = np.frombuffer(view[at : at + 16 * int(n_buffers)], dtype="<u8").reshape(-1, 2)
    at += 16 * int(n_buffers)
    if at + int(n_head) > len(view) or any(o + n > len(view) for o, n in table.tolist()):
        raise ValueError("truncated")
    buffers = [view[o : o + n] for o, n in table.tolist()]
    return pickle.loads(view[at : at + int(n_head)], buffers=buffers)


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def size(folder: Path) -> tuple[int, int]:
    """Number of entries and bytes in a cache folder."""
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


def prune(folder: Path, max_bytes: int) -> int:
    """Delete the least recently used entries until the folder holds at most ``max_bytes``;
    returns the number deleted. ``max_bytes=0`` empties it."""
    if not folder.is_dir():
        return 0
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    removed = 0
    for path in files:
        if total <= max_bytes:
            break
        total -= path.stat().st_size
        path.unlink(missing_ok=True)
        removed += 1
    return removed
