"""Pydantic's validation errors, told the way a planner needs them.

Pydantic reports a problem as a location tuple (``("profiles", "technopark", "criteria", 1,
"weight")``), a type (``greater_than``) and an input. :func:`scenario_error` turns the first of
them into one :class:`~siting.errors.ScenarioError` that names the key as it is written in the
TOML file (``profiles.technopark.criteria[1].weight``), says what is wrong and how to fix it, with
"did you mean …?" for a misspelt key.

Checks written by hand in the schema's validators raise :class:`Problem`; since a validator does
not know where its table sits in the file, its message names keys relative to the table with
:func:`key_of`, and the location of the error completes them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError

from siting.errors import ScenarioError

_MARK = "\x1f"
_MARKED = re.compile(f"{_MARK}([^{_MARK}]*){_MARK}")

_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")
_MISSING = ("missing", "missing_argument", "missing_keyword_only_argument")
_WHAT = {
    "float_type": "a number",
    "int_type": "a whole number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a table",
    "dataclass_type": "a table",
    "dataclass_exact_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "arguments_type": "a table",
    "list_type": "an array",
    "tuple_type": "an array",
    "path_type": "a file path (a string)",
}
_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}
_MORE_SHOWN = 4


class Problem(ValueError):
    """A check of the schema failed; ``message`` and ``fix`` may name keys with :func:`key_of`.

    Parameters
    ----------
    message
        What is wrong.
    fix
        What to do about it.
    """

    def __init__(self, message: str, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(render(message, ""))


def key_of(name: str = "") -> str:
    """A key of the table being validated, e.g. ``key_of("high")``; ``key_of()`` is the table
    (or the value) itself. The error's location makes it a full key path."""
    return f"{_MARK}{name}{_MARK}"


def render(text: str, prefix: str) -> str:
    """``text`` with every :func:`key_of` mark made a key path under ``prefix``."""
    return _MARKED.sub(lambda m: _join(prefix, m.group(1)), text)


def key_path(loc: tuple[int | str, ...]) -> str:
    """``("profiles", "p", "criteria", 0, "weight")`` → ``profiles.p.criteria[0].weight``."""
    out = ""
    for part in loc:
        out = _join(out, f"[{part}]" if isinstance(part, int) else str(part))
    return out


def _join(prefix: str, name: str) -> str:
    if not prefix or not name:
        return prefix or name
    return prefix + name if name.startswith("[") else f"{prefix}.{name}"


@contextmanager
def translated(prefix: tuple[int | str, ...] = ()) -> Iterator[None]:
    """Raise any pydantic :class:`~pydantic.ValidationError` of the block as a ScenarioError;
    ``prefix`` is where the validated value sits in the scenario."""
    try:
        yield
    except ValidationError as exc:
        raise scenario_error(exc, prefix) from None


def scenario_error(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> ScenarioError:
    """One ScenarioError for a validation error: its first problem with the fix, and the key
    paths of the others.

    An unknown key comes first, since it usually explains a missing one (``resolutoin`` for
    ``resolution``). A ScenarioError raised inside a validator keeps its own message.
    """
    errors = exc.errors(include_url=False)
    errors.sort(key=lambda e: e["type"] not in _UNKNOWN)
    # A list whose entries fail is also "too short" without them: the entries tell the story.
    deeper = {e["loc"][:n] for e in errors for n in range(len(e["loc"]))}
    errors = [e for e in errors if not (e["type"] == "too_short" and e["loc"] in deeper)]
    seen: set[tuple[int | str, ...]] = set()
    problems: list[tuple[str, str | None]] = []
    for error in errors:
        loc = (*prefix, *error["loc"])
        if loc in seen:  # a union's branches each complain about the same value
            continue
        seen.add(loc)
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ScenarioError) and not problems:
            return cause
        problems.append(_explain(error, loc))
    (message, fix), others = problems[0], problems[1:]
    for other, _ in others[:_MORE_SHOWN]:
        message += f"\n  also: {other}"
    if len(others) > _MORE_SHOWN:
        message += f"\n  and {len(others) - _MORE_SHOWN} more"
    return ScenarioError(message, fix)


def _explain(error: Any, loc: tuple[int | str, ...]) -> tuple[str, str | None]:
    kind: str = error["type"]
    key = key_path(loc) or "scenario"
    value = error.get("input")
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, Problem):
        fix = None if cause.fix is None else render(cause.fix, key_path(loc))
        return render(cause.message, key_path(loc)), fix
    if isinstance(cause, ScenarioError):
        return cause.message, cause.fix
    if kind in _UNKNOWN:
        known = list(_properties(loc[:-1]))
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        if close:
            return f"unknown scenario key {key}", f"did you mean {close[0]!r}?"
        if known:
            return f"unknown scenario key {key}", f"known keys here: {', '.join(sorted(known))}"
        return f"unknown scenario key {key}", "remove it"
    if kind in _MISSING:
        return f"missing key {key}", f"add {key} = ..."
    if kind == "literal_error":
        options = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"{key} = {value!r} is not one of {options}", f"use one of: {options}"
    if kind in _WHAT:
        return f"{key} = {value!r} has the wrong type", f"give {_WHAT[kind]}"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        sign = _BOUNDS[kind]
        return f"{key} = {value!r} must be {sign} {bound:g}", f"give a number {sign} {bound:g}"
    if kind == "finite_number":  # TOML's nan and inf
        return f"{key} = {value!r} is not a finite number", f"give {_finite_number(loc)}"
    if kind == "too_short":
        item = _schema_at((*loc, 0))
        if item is not None and item.get("type") == "object":
            return f"{key} is empty", f"add [[{key}]] tables"
        return f"{key} is empty", f"give at least {ctx.get('min_length', 1)} value(s)"
    return f"{key}: {error['msg']}", None


def _finite_number(loc: tuple[int | str, ...]) -> str:
    """ "a number > 0" and the like, from the key's bounds in the JSON Schema."""
    node = _schema_at(loc) or {}
    bounds = [
        f"{sign} {node[name]:g}"
        for name, sign in (
            ("exclusiveMinimum", ">"),
            ("minimum", ">="),
            ("exclusiveMaximum", "<"),
            ("maximum", "<="),
        )
        if isinstance(node.get(name), (int, float))
    ]
    return "a finite number" + (f" {' and '.join(bounds)}" if bounds else "")


def _properties(loc: tuple[int | str, ...]) -> dict[str, Any]:
    table = _schema_at(loc)
    return {} if table is None else table.get("properties", {})


# The scenario's JSON Schema, for "did you mean …?": :mod:`siting.config.schema` hands it over
# (:func:`use_schema`) when it is imported, so that this module, which the schema's validators
# use, does not import the schema back.
_SCHEMA: list[Callable[[], dict[str, Any]]] = []


def use_schema(schema: Callable[[], dict[str, Any]]) -> None:
    """Where :func:`scenario_error` finds the keys a table may hold."""
    _SCHEMA[:] = [schema]


def _schema_at(loc: tuple[int | str, ...]) -> dict[str, Any] | None:
    """The part of the scenario's JSON Schema that describes the value at ``loc`` (``None`` if
    unknown): the keys a table may hold."""
    if not _SCHEMA:
        return None
    schema = _SCHEMA[0]()
    node: dict[str, Any] | None = _resolve(schema, schema)
    for part in loc:
        if node is None:
            return None
        if isinstance(part, int):
            items = node.get("items")
            node = items if isinstance(items, dict) else None
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
        node = _resolve(schema, node)
    return node


def _resolve(root: dict[str, Any], node: dict[str, Any] | None) -> dict[str, Any] | None:
    """Follow ``$ref`` and pick the non-null branch of an optional value."""
    while node is not None:
        if "$ref" in node:
            node = root.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1])
        elif "anyOf" in node:
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            node = branches[0] if branches else None
        else:
            return node
    return None
