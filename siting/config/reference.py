"""The scenario reference in the docs, generated from the schema.

:func:`markdown` writes every table and key of a scenario file, with its type, default, allowed
values and description, from :func:`siting.config.schema.document_schema`. In a checkout,
``python -m siting.config.reference`` writes it to ``docs/reference/scenario.md`` and the JSON
Schema to ``layers/scenario.schema.json`` (shipped as ``siting/data/scenario.schema.json``);
the tests check that both files equal what the schema generates.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from siting.config.schema import document_schema, schema_text
from siting.config.template import toml_value

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference" / "scenario.md"
SCHEMA = ROOT / "layers" / "scenario.schema.json"

_HEAD = """\
# Scenario reference

<!-- Generated from siting/config/schema.py by `python -m siting.config.reference`: edit the
schema's docstrings, not this file (a test checks that the two agree). -->

A scenario is one TOML file; `siting init my.toml` writes a commented one that runs as written,
and `siting schema` prints its JSON Schema (the `#:schema` line at the top of a scenario points
editors such as VS Code with Even Better TOML at it, to complete and check keys). Every key is
checked when the file is loaded; an error names the key and the fix. A what-if that `extends`
another scenario gives only what changes, so "required" below means: required in the scenario
or in the one it extends.
"""
_BOUNDS = (
    ("exclusiveMinimum", ">"),
    ("minimum", "≥"),
    ("exclusiveMaximum", "<"),
    ("maximum", "≤"),
)


def markdown() -> str:
    """The scenario reference: one section per table, one row per key."""
    schema = document_schema()
    sections = _sections(schema)
    out = [_HEAD]
    for name, paths in sections.items():
        node = schema if name == "" else schema["$defs"][name]
        heading = ", ".join(f"`{p}`" for p in paths) if name else "Top level"
        out.append(f"## {heading}\n")
        if node.get("description"):
            out.append(_text(node["description"]) + "\n")
        out.append("| Key | Type | Default | Description |\n| --- | --- | --- | --- |")
        required = set(node.get("required", ()))
        for key, prop in node["properties"].items():
            default = "required" if key in required else _default(prop)
            cells = [f"`{key}`", _type(prop, sections), default, _text(prop.get("description", ""))]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _sections(schema: dict[str, Any]) -> dict[str, list[str]]:
    """Each table of the schema ($defs name, "" for the top) with the TOML headings it appears
    under, in the order of the file."""
    found: dict[str, list[str]] = {"": [""]}

    def visit(node: dict[str, Any], path: str, inline: bool) -> None:
        for key, prop in node.get("properties", {}).items():
            here = f"{path}.{key}" if path else key
            ref, kind = _table(prop)
            if ref is None:
                continue
            if kind == "array":
                heading = f"[[{here}]]"
            elif kind == "tables":
                here = f"{here}.NAME"
                heading = f"[{here}]"
            else:  # a table of its own, or inline in an array of tables
                heading = here if inline else f"[{here}]"
            first = ref not in found
            found.setdefault(ref, []).append(heading)
            if first:
                visit(schema["$defs"][ref], here, inline or kind == "array")

    visit(schema, "", False)
    return found


def _table(prop: dict[str, Any]) -> tuple[str | None, str]:
    """The $defs name of the table a key holds, and how: "table", "tables" (by name) or
    "array" (of tables)."""
    prop = _non_null(prop)
    if "$ref" in prop:
        return _ref(prop), "table"
    extra = prop.get("additionalProperties")
    if isinstance(extra, dict) and "$ref" in extra:
        return _ref(extra), "tables"
    items = prop.get("items")
    if isinstance(items, dict) and "$ref" in items:
        return _ref(items), "array"
    return None, ""


def _ref(node: dict[str, Any]) -> str:
    return str(node["$ref"]).rsplit("/", 1)[-1]


def _non_null(prop: dict[str, Any]) -> dict[str, Any]:
    branches = [b for b in prop.get("anyOf", ()) if b.get("type") != "null"]
    if len(branches) == 1:
        return {**branches[0], **{k: v for k, v in prop.items() if k != "anyOf"}}
    return prop


def _type(prop: dict[str, Any], sections: dict[str, list[str]]) -> str:
    prop = _non_null(prop)
    if "$ref" in prop:
        return f"table: {_link(_ref(prop), sections)}"
    if "enum" in prop:
        return " \\| ".join(f"`{toml_value(v)}`" for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        items = prop.get("items", {})
        if "$ref" in items:
            return f"array of tables: {_link(_ref(items), sections)}"
        if items.get("type") == "object":
            return "array of inline tables { " + ", ".join(items.get("properties", {})) + " }"
        return f"array of {_type(items, sections)}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict) and "$ref" in extra:
            return f"tables: {_link(_ref(extra), sections)}"
        if isinstance(extra, dict) and extra:
            return f"table of {_type(extra, sections)}"
        return "table"
    if isinstance(kind, list):
        text = " or ".join(kind)
    else:
        text = "path" if prop.get("format") == "path" else str(kind or "any")
    bounds = [f"{sign} {prop[b]:g}" for b, sign in _BOUNDS if b in prop]
    return ", ".join([text, *bounds])


def _link(ref: str, sections: dict[str, list[str]]) -> str:
    heading = ", ".join(f"`{p}`" for p in sections.get(ref, [ref]))
    anchor = "".join(c for c in heading.lower() if c.isalnum() or c in " -_").replace(" ", "-")
    return f"[`{sections.get(ref, [ref])[0]}`](#{anchor})"


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop or prop["default"] is None:
        return "—"
    return f"`{toml_value(prop['default'])}`"


def _text(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    """Write the reference and the JSON Schema file of a checkout."""
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(markdown(), encoding="utf-8")
    SCHEMA.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {REFERENCE} and {SCHEMA}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
