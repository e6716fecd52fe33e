"""Every assumed number of a scenario as run: the report's assumptions table, ``assumptions.csv``
and ``run.json``'s ``assumptions``.

The rows are not listed by hand: :func:`table` walks the scenario's typed tables alongside the
JSON Schema of the scenario file (:func:`siting.config.schema.document_schema`), so a key added
to the schema appears here without a change. Each number gets its key as the file writes it
(``models.allocation.capacity``, ``network.speeds.federal``, ``friction.routes[1].cost``), its
value, its units (from the key's suffix, ``_m``, ``_kmh``, …, from the few names that say no
unit, or from the layer a model weighs), whether the scenario file (or the one it ``extends``)
wrote it, the schema's default supplied it, or the run changed it (a command-line override),
and the schema's description of the key. Numbers the loader derives rather
than reads (the AHP weights and their consistency ratio) are rows too, marked ``derived``.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siting.config.loader import written
from siting.config.scenario import Scenario, ScenarioFile
from siting.config.schema import document_schema
from siting.errors import SitingError
from siting.exports import theme

if TYPE_CHECKING:
    from siting.pipeline.result import Result

#: Where a value came from.
SCENARIO, DEFAULT, RUN, DERIVED = "scenario", "default", "run", "derived"
ORIGINS: Mapping[str, str] = {
    SCENARIO: "written in the scenario file or the one it extends",
    DEFAULT: "the schema's default: the scenario does not set it",
    RUN: "changed for this run: a command-line override such as --resolution",
    DERIVED: "computed from other keys: AHP or rescaled weights, the consistency ratio",
}
COLUMNS = ("key", "value", "units", "origin", "description")

# Units by the key's suffix, longest first; then by the key's name.
_SUFFIXES = (
    ("_m2_per_person", "m²/person"),
    ("_rub_tkm", "RUB/(t·km)"),
    ("_rub_t", "RUB/t"),
    ("_mtpa", "Mt/yr"),
    ("_kmh", "km/h"),
    ("_deg", "°"),
    ("_km", "km"),
    ("_ha", "ha"),
    ("_m", "m"),
)
_NAMES: Mapping[str, str] = {
    "resolution": "m",
    "minutes": "min",
    "max_minutes": "min",
    "time_limit": "s",
    "speeds": "km/h",
    "weight": "share of the score",
    "weights": "share of the score",
    "candidate_quantile": "quantile of suitability",
    "concave_ratio": "0–1",
    "suitability_weight": "0–1",
    "off_road": "cost per m (road = 1)",
    "cost": "cost per m (road = 1)",
    "n_sites": "sites",
    "p": "sites",
    "n_clusters": "clusters",
    "min_cluster_size": "members",
    "bootstrap": "resamplings",
    "pareto_steps": "suitability weights",
    "pareto_time_limit": "s",
}
# [sensitivity]: ranges of factors on the scenario's own values, shares of draws.
_SENSITIVITY: Mapping[str, str] = {
    "draws": "draws",
    "capacity": "factor (low, high)",
    "opening_cost": "factor (low, high)",
    "tariffs": "factor (low, high)",
    "robust": "share of draws",
    "fragile": "share of draws",
    "tol": "relative gap",
    "concentration": "Dirichlet concentration",
    "judgement_sd": "log-scale SD",
}
_STANDARDIZE = ("low", "high", "midpoint", "spread", "value", "optimum")
_RAW_UNITS = {"distance": "m", "cost_distance": "cost units", "travel_time": "min"}
# A derived matrix repeats the judgements the file writes (ahp.matrix): not a row of its own.
_NOT_ROWS = frozenset({"ahp_matrix"})


@dataclass(frozen=True)
class Assumption:
    """One assumed number of the run (a list of numbers for a row of an AHP matrix or derived
    weights)."""

    key: str
    """The scenario key, as the file writes it: ``models.allocation.capacity``."""
    value: str
    """The value as text (numbers in full precision; a matrix row as ``1, 1/2, 3``)."""
    units: str
    """Its units ("" when it has none)."""
    origin: str
    """One of :data:`ORIGINS`."""
    description: str
    """The schema's description of the key."""

    @property
    def number(self) -> float | None:
        """The value as a number (None for a list)."""
        try:
            return float(self.value)
        except ValueError:
            return None


def table(scenario: Scenario, criterion_units: Mapping[str, str] | None = None) -> list[Assumption]:
    """Every number of ``scenario`` that is a modelling choice, in the order of the file's
    schema.

    Parameters
    ----------
    scenario
        The scenario as run (after overrides).
    criterion_units
        Each raw criterion's units by name (a run's ``result.criteria``): the units of its
        standardisation bounds; by default from the criterion's kind.

    Returns
    -------
    list of Assumption
        One row per number; rows of switched-off tables (no ``[network]``) and unset optional
        keys are left out.
    """
    schema = document_schema()
    try:
        raw: Any = written(scenario.source) if scenario.source is not None else None
    except SitingError:  # the file changed or went since the run: values only, no origins
        raw = None
    walk = _Walk(scenario, schema["$defs"], raw is not None, dict(criterion_units or {}))
    walk.table(_as_file(scenario), schema, "", raw or {})
    return walk.rows


def of(result: Result) -> list[Assumption]:
    """The assumptions of a run: :func:`table` of its scenario, with its criteria's units."""
    return table(result.scenario, {name: r.units or "" for name, r in result.criteria.items()})


def write_csv(rows: list[Assumption], path: Path) -> Path:
    """Write the rows as ``assumptions.csv`` (UTF-8, one header line)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows([getattr(row, c) for c in COLUMNS] for row in rows)
    return path


def records(rows: list[Assumption]) -> list[dict[str, Any]]:
    """The rows as ``run.json`` records, the value a number where it is one."""
    out = []
    for row in rows:
        record: dict[str, Any] = {c: getattr(row, c) for c in COLUMNS}
        if row.number is not None:
            record["value"] = row.number
        out.append(record)
    return out


def _as_file(s: Scenario) -> dict[str, Any]:
    """The scenario's values in the shape of the file: the tables the loader spreads over the
    scenario (``[models]``, ``[terrain]``) gathered again by their fields' names."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(ScenarioFile):
        if hasattr(s, f.name):
            out[f.name] = getattr(s, f.name)
        elif f.default_factory is not dataclasses.MISSING:
            made = f.default_factory()
            if dataclasses.is_dataclass(made):
                out[f.name] = {g.name: getattr(s, g.name, None) for g in dataclasses.fields(made)}
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A number in full precision (``40``, ``0.35``), or a value as written (``1/2``)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return repr(value) if isinstance(value, float) else str(value)


def _same(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _words(text: str) -> str:
    return " ".join(text.replace("``", "`").split())


class _Walk:
    """The scenario's values walked with the schema's nodes, collecting :attr:`rows`."""

    def __init__(
        self, scenario: Scenario, defs: dict[str, Any], known: bool, units: dict[str, str]
    ) -> None:
        self.scenario = scenario
        self.defs = defs
        self.known = known  # whether the file's own keys are known (a scenario read from a file)
        self.units = units
        self.rows: list[Assumption] = []

    def node(self, prop: dict[str, Any]) -> dict[str, Any]:
        """The schema node of a key: its table's definition, or its non-null branch."""
        branches = [b for b in prop.get("anyOf", ()) if b.get("type") != "null"]
        if len(branches) == 1:
            prop = {**branches[0], **{k: v for k, v in prop.items() if k != "anyOf"}}
        if "$ref" in prop:
            return {**self.defs[str(prop["$ref"]).rsplit("/", 1)[-1]], **prop}
        return prop

    def table(self, values: Any, node: dict[str, Any], key: str, raw: Any) -> None:
        """A table: each key of its schema, then the numbers derived from them."""
        names = list(node.get("properties", {}))
        for name, prop in node.get("properties", {}).items():
            value = values.get(name) if isinstance(values, dict) else getattr(values, name, None)
            here = f"{key}.{name}" if key else name
            sub = raw.get(name) if isinstance(raw, dict) else None
            self.value(value, prop, here, sub, values)
        if dataclasses.is_dataclass(values):
            self.derived(values, key, names)

    def value(self, value: Any, prop: dict[str, Any], key: str, raw: Any, owner: Any) -> None:
        node = self.node(prop)
        if value is None or isinstance(value, (str, bool, Path)):
            return
        if _is_number(value):
            self.add(key, value, raw, prop, owner)
        elif dataclasses.is_dataclass(value) or (isinstance(value, dict) and "properties" in node):
            self.table(value, node, key, raw)
        elif node.get("type") == "object" and isinstance(value, (dict, tuple)):
            # A table by name ([layers.NAME]) or of numbers held as pairs (network.speeds).
            items = value.items() if isinstance(value, dict) else value
            inner = node.get("additionalProperties")
            each = {**prop, **(inner if isinstance(inner, dict) else {})}
            for name, item in items:
                sub = raw.get(name) if isinstance(raw, dict) else None
                self.value(item, each, f"{key}.{name}", sub, owner)
        elif isinstance(value, (list, tuple)):
            self.array(value, node, prop, key, raw, owner)

    def array(
        self, value: Any, node: dict[str, Any], prop: dict[str, Any], key: str, raw: Any, owner: Any
    ) -> None:
        items = self.node(node.get("items", {}))
        row = {"description": prop.get("description", ""), **items}  # a matrix's row
        if value and all(_is_number(v) or isinstance(v, str) for v in value):
            if any(_is_number(v) for v in value):  # a row of a matrix: one row of the table
                self.add(key, list(value), raw, prop, owner)
            return
        for i, item in enumerate(value):
            sub = raw[i] if isinstance(raw, list) and i < len(raw) else None
            here = f"{key}[{i}]"
            if isinstance(item, tuple) and "properties" in items:  # { layer, cost } as a pair
                item = dict(zip(items["properties"], item, strict=False))
            if isinstance(item, dict) and "properties" in items:
                self.table(item, items, here, sub)
            else:
                self.value(item, row, here, sub, owner)

    def derived(self, values: Any, key: str, names: list[str]) -> None:
        """Numbers of a table that the file does not write (the weights an AHP matrix gives)."""
        fields = getattr(type(values), "__pydantic_fields__", {})
        for f in dataclasses.fields(values):
            value = getattr(values, f.name)
            if f.name in names or f.name in _NOT_ROWS or f.name == "name":
                continue
            listed = isinstance(value, tuple) and value and all(map(_is_number, value))
            if not (_is_number(value) or listed):
                continue
            if f.name == "weights" and _direct_weights(values):
                continue  # the criteria's own weights, already rows
            info = fields.get(f.name)
            text = _words(getattr(info, "description", None) or "")
            here = f"{key}.{f.name}"
            if f.name == "weights":
                text += " (" + ", ".join(c.name for c in values.criteria) + ")"
            shown = ", ".join(_text(v) for v in value) if isinstance(value, tuple) else value
            self.rows.append(
                Assumption(here, _text(shown), self.unit(f.name, here, values), DERIVED, text)
            )

    def add(self, key: str, value: Any, raw: Any, prop: dict[str, Any], owner: Any) -> None:
        default = prop.get("default")
        if raw is not None:
            origin = SCENARIO if _same(raw, value) else RUN
        elif default is not None and _same(default, value):
            origin = DEFAULT
        else:
            origin = RUN if self.known else SCENARIO
        shown = ", ".join(_text(v) for v in value) if isinstance(value, list) else _text(value)
        name = key.rsplit(".", 1)[-1].split("[")[0]
        self.rows.append(
            Assumption(
                key, shown, self.unit(name, key, owner), origin, _words(prop.get("description", ""))
            )
        )

    def unit(self, name: str, key: str, owner: Any) -> str:
        """The units of the key ``name`` of the table ``owner``."""
        if ".speeds." in key:
            return "km/h"
        if key.startswith("sensitivity."):
            return _SENSITIVITY.get(name, _NAMES.get(name, ""))
        s = self.scenario
        layer = getattr(owner, "demand", None) or getattr(owner, "layer", None)
        if name in ("capacity", "min_weight") and hasattr(owner, "weight_field"):
            return theme.weight_unit(s, layer, owner.weight_field)
        if name == "opening_cost":
            return theme.transport_unit(s, layer, getattr(owner, "weight_field", None))
        if name in _STANDARDIZE and ".standardize." in key:
            return self.raw_units(key)
        for suffix, unit in _SUFFIXES:
            if name.endswith(suffix):
                return unit
        return _NAMES.get(name, "")

    def raw_units(self, key: str) -> str:
        """The raw units of the criterion whose standardisation ``key`` is in."""
        profile, rest = key.split(".", 2)[1:3] if key.startswith("profiles.") else ("", "")
        index = rest.split("]", 1)[0].split("[")[-1] if rest.startswith("criteria[") else ""
        if profile not in self.scenario.profiles or not index.isdigit():
            return ""
        c = self.scenario.profiles[profile].criteria[int(index)]
        if c.name in self.units:
            return self.units[c.name]
        if c.kind == "within_radius" or c.minutes is not None:
            return c.weight_field or "count"
        return _RAW_UNITS.get(c.kind, "")


def _direct_weights(profile: Any) -> bool:
    """Whether a profile's weights are its criteria's weights as written (each a row)."""
    given = [getattr(c, "weight", None) for c in getattr(profile, "criteria", ())]
    return None not in given and _same(list(profile.weights), given)
