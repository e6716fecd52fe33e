"""``siting init``: a commented scenario that runs as written on the embedded layers.

The template (``templates/scenario.toml``) holds the example tables; each ``#@keys Table`` line
becomes the list of that table's keys with their defaults and what they mean, taken from the
schema, so the comments cannot drift from what :mod:`siting.config.schema` does. The written file
starts with a ``#:schema`` line pointing at the installed JSON Schema (as a ``file://`` URL: the
file may be written anywhere), so that an editor with Taplo (VS Code's Even Better TOML) completes
and checks its keys.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from siting.config.loader import DEFAULT_SCENARIO, SCHEMA_FILE
from siting.config.schema import document_schema
from siting.errors import ScenarioError

TEMPLATE = Path(__file__).resolve().parent / "templates" / "scenario.toml"
_WIDTH = 100
_VALUE_COLUMN = 32
_KEYS = re.compile(r"^#@keys (\w+)$", re.MULTILINE)


def write_template(path: str | Path) -> Path:
    """Write a commented scenario template to ``path`` (refusing to overwrite).

    The template reads the embedded Kuzbass layers, so it runs as written; its comments list
    every key with its default.

    Raises
    ------
    ScenarioError
        If ``path`` already exists.
    """
    path = Path(path)
    if path.exists():
        raise ScenarioError(f"{path} already exists", "choose a new file name or delete it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    return path


def render() -> str:
    """The template's text as ``siting init`` writes it."""
    text = TEMPLATE.read_text(encoding="utf-8")
    text = _KEYS.sub(lambda m: key_lines(m.group(1)), text)
    text = text.replace("{schema}", SCHEMA_FILE.resolve().as_uri(), 1)
    return text.replace("{layers}", DEFAULT_SCENARIO.parent.as_posix())


def key_lines(table: str) -> str:
    """Comment lines listing the keys of a table of the schema (``Profile``): ``# key = default``
    and the key's description."""
    schema = document_schema()
    node = schema if table == "ScenarioFile" else schema["$defs"][table]
    required = set(node.get("required", ()))
    lines = []
    for name, prop in node["properties"].items():
        if table == "ScenarioFile" and _is_table(prop):
            continue  # the file's sections, each with its own heading
        if "default" in prop and prop["default"] is not None:
            assignment = f"# {name} = {toml_value(prop['default'])}"
        else:
            assignment = f"# {name} = …"
        about = " ".join(prop.get("description", "").split())
        if name in required:
            about = f"(required) {about}"
        lines += _wrapped(assignment, about)
    return "\n".join(lines)


def _is_table(prop: dict[str, Any]) -> bool:
    branches = [prop, *prop.get("anyOf", ()), prop.get("items", {})]
    branches.append(prop.get("additionalProperties") or {})
    return any(isinstance(b, dict) and "$ref" in b for b in branches)


def toml_value(value: Any) -> str:
    """A JSON value (a schema's default) written as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return repr(value)


def _wrapped(assignment: str, about: str) -> list[str]:
    if not about:
        return [assignment]
    head = assignment.ljust(_VALUE_COLUMN - 1) + " # "
    rest = _WIDTH - len(head)
    if rest < 30:  # a long default: the description on the lines below
        head, rest = (
            assignment + "\n" + "#".ljust(_VALUE_COLUMN - 1) + " # ",
            _WIDTH - _VALUE_COLUMN - 2,
        )
    parts = textwrap.wrap(about, rest, break_on_hyphens=False) or [""]
    indent = "#".ljust(_VALUE_COLUMN - 1) + " #   "
    more = textwrap.wrap(" ".join(parts[1:]), rest - 2, break_on_hyphens=False)
    return [head + parts[0]] + [indent + p for p in more]
