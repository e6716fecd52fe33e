"""Reading a scenario: the TOML file, the chain of scenarios it ``extends``, its relative paths,
and its tables validated into a :class:`~siting.config.schema.Scenario`.

:func:`load` reads a file, :func:`from_dict` a dictionary (the parsed TOML); both validate the
same way, and every error is one :class:`~siting.errors.ScenarioError` naming the key
(``profiles.technopark.criteria[2].weight``) and the fix, so a planner never meets a traceback for
a typo.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from siting.config import utm
from siting.config.messages import translated
from siting.config.schema import Edit, RemoveEdit, Scenario, ScenarioFile, UpdateEdit
from siting.errors import ScenarioError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# In a checkout (or an editable install) the embedded layers sit at the top of the repository; a
# wheel carries the same folder as siting/data.
_PACKAGE = Path(__file__).resolve().parents[1]
_CHECKOUT_LAYERS = _PACKAGE.parent / "layers"
LAYERS = _CHECKOUT_LAYERS if _CHECKOUT_LAYERS.is_dir() else _PACKAGE / "data"
DEFAULT_SCENARIO = LAYERS / "kuzbass" / "scenario.toml"
EMBEDDED = ("kuzbass", "russia")
"""Embedded scenarios, named by their folder of ``LAYERS``: ``siting run russia``."""
SCHEMA_FILE = LAYERS / "scenario.schema.json"

EDIT_ACTIONS = ("add", "remove", "update")
_FILE = TypeAdapter(ScenarioFile)


def load(path: str | Path | None = None) -> Scenario:
    """Read and validate a scenario TOML file.

    Parameters
    ----------
    path
        The scenario file, or an embedded scenario's name (``"russia"``, :data:`EMBEDDED`);
        ``None`` loads the embedded Kuzbass default.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        If the file is missing, is not TOML, or any key is wrong; the message names the key.
    """
    path = embedded(Path(path)) if path is not None else DEFAULT_SCENARIO
    return from_dict(read_toml(path), base_dir=path.parent, source=path)


def from_dict(
    data: dict[str, Any], base_dir: Path = Path("."), source: Path | None = None
) -> Scenario:
    """Validate a scenario given as a dictionary (the parsed TOML).

    Parameters
    ----------
    data
        The scenario's tables; an ``extends`` key reads its base from ``base_dir``.
    base_dir
        The folder relative layer paths (and ``extends``) start from.
    source
        The file the dictionary was read from, if any.

    Raises
    ------
    ScenarioError
        If any key is wrong; the message names the key and the fix.
    """
    if not isinstance(data, dict):
        raise ScenarioError("a scenario must be a table of keys", "give the TOML file's tables")
    here = source if source is not None else base_dir / "(a scenario given as a dictionary)"
    data = copy.deepcopy(data)
    extends = data.get("extends")
    data = _inherit(data, here, ())
    _anchor_paths(data, base_dir)
    _name_tables(data, "layers")
    _name_tables(data, "profiles")
    try:
        with translated():
            document = _FILE.validate_python(data)
    except ScenarioError as exc:  # a CRS in degrees or feet: the fix names the UTM zone
        raise utm.with_zone(exc, data.get("crs"), _study_area_table(data)) from None
    base = _base_path(extends, here) if isinstance(extends, str) else None
    with translated():
        return _scenario(document, source, base)


def _scenario(doc: ScenarioFile, source: Path | None, extends: Path | None) -> Scenario:
    edits = [
        Edit("add", e.layer, f"add[{i}]", e.path, e.geometry, dict(e.properties), e.crs)
        for i, e in enumerate(doc.add)
    ]
    selections: list[tuple[str, Sequence[RemoveEdit | UpdateEdit]]] = [
        ("remove", doc.remove),
        ("update", doc.update),
    ]
    for action, entries in selections:
        for i, e in enumerate(entries):
            edits.append(
                Edit(
                    action,  # type: ignore[arg-type]  # "remove" or "update"
                    e.layer,
                    f"{action}[{i}]",
                    where=e.where,
                    ids=tuple(e.ids),
                    id_field=e.id_field,
                    values=dict(e.values) if isinstance(e, UpdateEdit) else {},
                )
            )
    place_names = doc.place_names
    if place_names is None and "settlements" in doc.layers:
        place_names = "settlements"
    return Scenario(
        name=doc.name,
        title=doc.name if doc.title is None else doc.title,
        description=doc.description,
        crs=doc.crs,
        resolution=doc.resolution,
        study_area=doc.study_area,
        layers=doc.layers,
        profiles=doc.profiles,
        friction=doc.friction,
        clusters=doc.models.clusters,
        allocation=doc.models.allocation,
        covering=doc.models.covering,
        chain=doc.models.chain,
        demand=doc.models.demand,
        network=doc.network,
        haul=doc.haul,
        sensitivity=doc.sensitivity,
        outputs=doc.outputs,
        source=source,
        place_names=place_names,
        dem=doc.terrain.dem,
        edits=tuple(edits),
        extends=extends,
    )


def _study_area_table(data: dict[str, Any]) -> Any:
    layers, name = data.get("layers"), data.get("study_area")
    return layers.get(name) if isinstance(layers, dict) and isinstance(name, str) else None


def read_toml(path: Path) -> dict[str, Any]:
    """The tables of a TOML file, or a ScenarioError naming the file and the fix."""
    if not path.is_file():
        raise ScenarioError(
            f"scenario file not found: {path}",
            "give the path of a .toml scenario, or write one with 'siting init PATH'",
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            f"{path}: not valid TOML: {exc}", "fix the syntax at that line"
        ) from None


def written(path: Path) -> dict[str, Any]:
    """The keys a scenario file writes, with those of the scenarios it ``extends`` underneath
    (what :func:`load` validates, before defaults): which values a run took from the file."""
    return _inherit(read_toml(path), path, ())


def _name_tables(data: dict[str, Any], section: str) -> None:
    """A layer's or a profile's name is its table's name (``[layers.mines]``)."""
    tables = data.get(section)
    if not isinstance(tables, dict):
        return
    for name, table in tables.items():
        if isinstance(table, dict):
            if "name" in table:
                raise ScenarioError(
                    f"unknown scenario key {section}.{name}.name",
                    f"the name is the table's: [{section}.{name}]",
                )
            table["name"] = name


def embedded(path: Path) -> Path:
    """An embedded scenario's name (``russia``) as its file, unless a file of that name is
    there; any other path as given."""
    if str(path) in EMBEDDED and not path.exists():
        return LAYERS / str(path) / "scenario.toml"
    return path


def _base_path(ref: str, path: Path) -> Path:
    """``extends = "kuzbass"`` (or another embedded name) is the embedded scenario; anything
    else a path from the file."""
    if ref in EMBEDDED:
        return LAYERS / ref / "scenario.toml"
    base = Path(ref)
    return (base if base.is_absolute() else path.parent / base).resolve()


def _inherit(data: dict[str, Any], path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The scenario ``data`` with the scenario it ``extends`` underneath (recursively).

    The base's relative file paths are made absolute from the base's folder, so that they keep
    pointing at the base's files. Tables merge key by key; arrays of tables whose entries have a
    ``name`` (criteria) merge entry by entry by name (``drop = true`` removes one); the what-if
    edits ([[add]], [[remove]], [[update]]) accumulate, the base's first; other values replace.
    """
    ref = data.pop("extends", None)
    if ref is None:
        return data
    if not isinstance(ref, str):
        raise ScenarioError(
            f"{path}: extends = {ref!r} must be a string", 'give a scenario file, e.g. "base.toml"'
        )
    base_path = _base_path(ref, path)
    if not base_path.is_file():
        raise ScenarioError(
            f"{path}: extends = {ref!r}: no scenario file at {base_path}",
            'give the base scenario\'s path relative to this file, or "kuzbass" for the default',
        )
    if base_path.resolve() in chain or base_path.resolve() == path.resolve():
        raise ScenarioError(
            f"{path}: extends = {ref!r} makes a cycle ({' → '.join(p.name for p in chain)})",
            "a scenario cannot extend itself, directly or through others",
        )
    base = _inherit(read_toml(base_path), base_path, (*chain, path.resolve()))
    _anchor_paths(base, base_path.parent)
    if "name" in data and "title" not in data:
        base.pop("title", None)  # a what-if named anew is not titled as its base
    return _merge(base, data)


def _anchor_paths(data: dict[str, Any], folder: Path) -> None:
    """Make the relative file paths of ``data`` start at ``folder`` (the file's folder)."""

    def anchor(table: Any, key: str) -> None:
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, str) and not Path(value).is_absolute():
            table[key] = str(folder / value)

    layers = data.get("layers")
    for layer in layers.values() if isinstance(layers, dict) else ():
        anchor(layer, "path")
        anchor(layer, "boundaries")
    anchor(data.get("terrain"), "dem")
    adds = data.get("add")
    for edit in adds if isinstance(adds, list) else ():
        anchor(edit, "path")


def _merge(base: Any, over: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v, k) if k in base else v
        return out
    if key in EDIT_ACTIONS and isinstance(base, list) and isinstance(over, list):
        return [*base, *over]
    named = isinstance(base, list) and isinstance(over, list)
    named = named and all(isinstance(t, dict) and "name" in t for t in (*base, *over))
    if named:
        out = {t["name"]: t for t in base}
        for t in over:
            out[t["name"]] = _merge(out[t["name"]], t) if t["name"] in out else t
        return [
            {k: v for k, v in t.items() if k != "drop"} for t in out.values() if not t.get("drop")
        ]
    return over
