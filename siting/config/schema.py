"""The scenario as types: every table and key of a scenario file, its type, default and meaning.

Each table is a frozen :func:`pydantic.dataclasses.dataclass` (:mod:`siting.config.tables`, the
values they hold in :mod:`siting.config.values`). That choice, rather than pydantic's
``BaseModel``, keeps the objects the rest of the package reads plain dataclasses: consumers read
``scenario.profiles[name].criteria[i].standardize.midpoint`` as before, ``dataclasses.replace``,
``dataclasses.fields``, the cache's fingerprints and ``run.json`` work unchanged, and pydantic
validates every construction, so ``replace(scenario.allocation, p=3)`` is checked as the TOML
file is.

- Each default is written once, in those classes; the template (:mod:`siting.config.template`),
  the JSON Schema (:func:`json_schema`, ``siting schema``) and the reference in the docs
  (:mod:`siting.config.reference`) are generated from them.
- Each key's description is its attribute docstring (``use_attribute_docstrings``).
- Enumerations are ``Literal`` types; numbers are checked by ``annotated_types`` bounds.
- Checks that involve several keys of one table are that table's validators; checks across
  tables (a criterion's layer exists, ``p`` fits the profile's ``n_sites``,
  :func:`check_references`) belong to :class:`Scenario`, the only object that sees them
  all, so they run again on a copy made with ``dataclasses.replace`` or ``with_overrides``.

Where the file's shape differs from what the package reads, tables describe the file only
(:class:`ScenarioFile`, :class:`~siting.config.tables.Models`,
:class:`~siting.config.tables.Terrain`, the what-if edits :class:`~siting.config.tables.AddEdit`,
:class:`~siting.config.tables.RemoveEdit` and :class:`~siting.config.tables.UpdateEdit`) and
:mod:`siting.config.loader` turns them into a :class:`Scenario`. Keys the file does not write (a
layer's or a profile's ``name`` is its table's name; a profile's ``weights`` come from its
criteria or its AHP matrix) are left out of the JSON Schema.

Errors are pydantic's; :mod:`siting.config.messages` tells them as one
:class:`~siting.errors.ScenarioError` naming the key and the fix.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
from dataclasses import field
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter, model_validator
from pydantic.dataclasses import dataclass
from pydantic.json_schema import GenerateJsonSchema

from siting.config import memory, utm
from siting.config.chain import ChainModel
from siting.config.haul import Haul
from siting.config.messages import translated, use_schema
from siting.config.sensitivity import Sensitivity
from siting.config.tables import (
    AddEdit,
    Ahp,
    AllocationModel,
    ClusterModel,
    CoveringModel,
    Criterion,
    Edit,
    Exclusion,
    Friction,
    LayerSpec,
    Models,
    Network,
    Outputs,
    Profile,
    RemoveEdit,
    Standardization,
    Terrain,
    UpdateEdit,
)
from siting.config.values import (
    CONFIG,
    LAYER_KINDS,
    MAX_CELLS,
    MAX_PAD,
    MIN_RESOLUTION,
    CriterionKind,
    Crs,
    Direction,
    EditAction,
    Function,
    Name,
    Reader,
    Resolution,
    Route,
    Text,
)
from siting.errors import ScenarioError

__all__ = [
    "LAYER_KINDS",
    "MAX_CELLS",
    "MIN_RESOLUTION",
    "AddEdit",
    "Ahp",
    "AllocationModel",
    "Amount",
    "ClusterModel",
    "CoveringModel",
    "Criterion",
    "CriterionKind",
    "Direction",
    "Edit",
    "EditAction",
    "Exclusion",
    "Friction",
    "Function",
    "Haul",
    "LayerSpec",
    "Models",
    "Network",
    "Outputs",
    "Profile",
    "Reader",
    "RemoveEdit",
    "Route",
    "Scenario",
    "ScenarioFile",
    "Standardization",
    "Terrain",
    "UpdateEdit",
    "amounts",
    "check_grid",
    "document_schema",
    "json_schema",
    "schema_text",
]


@dataclass(frozen=True, config=CONFIG, kw_only=True)
class ScenarioFile:
    """A siting scenario: one TOML file describing a run. Every key is checked when the file is
    loaded (``siting run``, ``siting.load``)."""

    extends: Text | None = None
    """The scenario this one changes (a what-if): `"kuzbass"` for the embedded default, or a
    scenario file's path relative to this one. Tables merge key by key; criteria merge by `name`
    (`drop = true` removes one); `[[add]]`, `[[remove]]` and `[[update]]` add up; the base's
    relative paths keep pointing at the base's files."""
    name: Name
    """One plain folder name: the run writes to `<outputs.dir>/<name>/`."""
    title: Text | None = None
    """For the map and the report; the name by default."""
    description: Text = ""
    """What the scenario asks (in the report)."""
    crs: Crs
    """The working CRS, projected and in metres: `"auto"` picks the UTM zone of the study area's
    centre (the run records the one chosen), or e.g. `"EPSG:32645"` (UTM zone 45N, Kuzbass). The
    study area's centre must lie in the CRS's area of use, and distances over the study area
    must stay within 2 % of true."""
    resolution: Resolution
    """Grid cell size in metres, at least 1 (250 for the Kuzbass default); the grid over the
    padded study area must also fit in memory."""
    study_area: Text
    """The layer whose polygons are the study area."""
    place_names: Text | None = None
    """A layer with a `name` field, to describe sites ("4 km from …"); `"settlements"` by
    default when the scenario has that layer."""
    layers: dict[str, LayerSpec]
    """The input layers, `[layers.NAME]`."""
    terrain: Terrain = field(default_factory=Terrain)
    """The terrain, `[terrain]`."""
    friction: Friction = field(default_factory=Friction)
    """The friction surface for `cost_distance` criteria, `[friction]`."""
    network: Network | None = None
    """The road network for `travel_time` criteria, `[network]`."""
    haul: Haul = field(default_factory=Haul)
    """How the location-allocation prices a haul, `[haul]`."""
    profiles: dict[str, Profile]
    """The facility types, `[profiles.NAME]`."""
    models: Models = field(default_factory=Models)
    """Models run on the proposed sites, `[models.*]`."""
    sensitivity: Sensitivity = field(default_factory=Sensitivity)
    """How robust the plan is to its assumptions, `[sensitivity]`."""
    add: list[AddEdit] = field(default_factory=list)
    """What-if: new features for a layer, `[[add]]`."""
    remove: list[RemoveEdit] = field(default_factory=list)
    """What-if: features removed from a layer, `[[remove]]`."""
    update: list[UpdateEdit] = field(default_factory=list)
    """What-if: attributes changed, `[[update]]`."""
    outputs: Outputs = field(default_factory=Outputs)
    """What a run writes, and where, `[outputs]`."""


@dataclass(frozen=True, config=CONFIG)
class Scenario:
    """A validated scenario. Build it with :func:`~siting.config.loader.load` or
    :func:`~siting.config.loader.from_dict`; a copy made with ``dataclasses.replace`` is checked
    again, across its tables."""

    name: Name
    title: Text
    description: Text
    crs: Crs
    resolution: Resolution
    study_area: Text
    layers: dict[str, LayerSpec]
    profiles: dict[str, Profile]
    friction: Friction
    clusters: ClusterModel | None
    allocation: AllocationModel | None
    outputs: Outputs
    covering: CoveringModel | None = None
    chain: ChainModel | None = None
    network: Network | None = None
    haul: Haul = field(default_factory=Haul)
    sensitivity: Sensitivity = field(default_factory=Sensitivity)
    source: Path | None = None
    place_names: Text | None = None
    dem: Path | None = None
    edits: tuple[Edit, ...] = ()
    extends: Path | None = None
    demand: Literal["inside", "padded"] = "inside"

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        check_references(self)
        pad, key = self.reach()
        if pad > MAX_PAD:
            raise ScenarioError(
                f"{key} reaches {pad / 1000:,.0f} km: the grid is padded by the largest buffer, "
                f"radius or distance, and more than {MAX_PAD / 1000:,.0f} km is not a distance "
                "of a regional study",
                "give it in metres (15000 for 15 km)",
            )
        return self

    @property
    def output_dir(self) -> Path:
        """Folder this scenario's run writes to."""
        return self.outputs.dir / self.name

    @property
    def pad(self) -> float:
        """Largest buffer or search distance: how far beyond the study area layers matter."""
        return self.reach()[0]

    def reach(self) -> tuple[float, str]:
        """:attr:`pad` and the key that sets it (``profiles.p.criteria[1].radius_m``; ``""``
        for no padding)."""
        reaches = [(0.0, "")]
        for profile in self.profiles.values():
            here = f"profiles.{profile.name}"
            for k, e in enumerate(profile.exclusions):
                reaches.append((e.buffer_m, f"{here}.exclusions[{k}].buffer_m"))
            for k, c in enumerate(profile.criteria):
                reaches.append((c.radius_m or 0.0, f"{here}.criteria[{k}].radius_m"))
                if c.kind == "distance":
                    reaches.append((c.standardize.reach, f"{here}.criteria[{k}].standardize"))
        return max(reaches, key=lambda r: r[0])  # the first of equals: the order of the file

    @property
    def bytes_per_cell(self) -> int:
        """Estimated peak memory of a run per grid cell (:mod:`siting.config.memory`)."""
        names = [c.name for p in self.profiles.values() for c in p.criteria]
        return memory.bytes_per_cell(names, len(self.profiles))

    def with_overrides(self, **overrides: Any) -> Scenario:
        """A copy with top-level values replaced (``resolution``, ``name``, ``title``, ``crs``,
        ``output_dir``), validated as the scenario file is.

        Raises
        ------
        ScenarioError
            If an override is unknown or its value is not valid.
        """
        allowed = {"resolution", "name", "title", "crs", "output_dir"}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in allowed:
                raise ScenarioError(
                    f"unknown override {key!r}", f"use one of: {', '.join(sorted(allowed))}"
                )
            if key == "output_dir":
                with translated(("outputs",)):
                    changes["outputs"] = dataclasses.replace(self.outputs, dir=value)
            else:
                changes[key] = value
        try:
            with translated():
                return dataclasses.replace(self, **changes)
        except ScenarioError as exc:  # a CRS in degrees or feet: the fix names the UTM zone
            raise utm.with_zone(exc, changes.get("crs"), self.layers[self.study_area]) from None


def check_grid(
    bounds: tuple[float, float, float, float],
    pad: float,
    resolution: float,
    bytes_per_cell: float = memory.BASE_BYTES,
    available: int | None = None,
) -> float:
    """Refuse a grid too large for a run before anything is allocated.

    Parameters
    ----------
    bounds
        The study area's bounds (minx, miny, maxx, maxy) in the working CRS.
    pad
        How far beyond the study area the grid reaches (:attr:`Scenario.pad`).
    resolution
        The cell size in metres.
    bytes_per_cell
        The run's estimated peak memory per cell (:attr:`Scenario.bytes_per_cell`).
    available
        The memory the run may use, in bytes; by default the machine's
        (:func:`~siting.config.memory.machine_memory`).

    Returns
    -------
    float
        The run's estimated peak memory in bytes.

    Raises
    ------
    ScenarioError
        If the grid would need more memory than available (less what the process holds before
        the grid), or have more than :data:`MAX_CELLS` cells; the fix gives the finest
        resolution that fits.
    """
    memory_bytes = memory.machine_memory() if available is None else available
    limit = MAX_CELLS
    if memory_bytes is not None:
        limit = min(limit, int(max(memory_bytes - memory.PROCESS_BYTES, 0) // bytes_per_cell))
    width = bounds[2] - bounds[0] + 2 * pad
    height = bounds[3] - bounds[1] + 2 * pad
    cols, rows = math.ceil(width / resolution), math.ceil(height / resolution)
    need = cols * rows * bytes_per_cell + memory.PROCESS_BYTES
    # The grid snaps to multiples of the resolution: one more row and column at most.
    if (cols + 1) * (rows + 1) <= limit:
        return need
    if limit < 1:
        raise ScenarioError(
            f"this machine's memory ({_gb(memory_bytes or 0)}) does not hold a run",
            "run on a machine with more memory",
        )
    finest = max(math.ceil(math.sqrt(width * height / limit)), math.ceil(resolution))
    while (math.ceil(width / finest) + 1) * (math.ceil(height / finest) + 1) > limit:
        finest += 1
    grid = (
        f"resolution = {resolution:g} m makes a grid of {cols:,} × {rows:,} cells over the "
        f"study area (padded by {pad / 1000:g} km)"
    )
    if limit < MAX_CELLS:
        message = (
            f"{grid}: a run would need about {_gb(need)} ({bytes_per_cell:g} bytes per cell for "
            f"its criteria and profiles), more than this machine's {_gb(memory_bytes or 0)}"
        )
    else:
        message = f"{grid}, more than the {MAX_CELLS:,} a run can hold"
    raise ScenarioError(message, f"use resolution = {finest} or more (metres)")


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


class _Generator(GenerateJsonSchema):
    """Pydantic's JSON Schema without a title on every key (editors show the key itself)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


_DRAFT = "http://json-schema.org/draft-07/schema#"
_DROP = {
    "type": "boolean",
    "description": "In a what-if (`extends`): remove the base's criterion of this name.",
}


@functools.cache
def document_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file as pydantic validates it (required keys included)."""
    schema = TypeAdapter(ScenarioFile).json_schema(schema_generator=_Generator)

    def tables_default_to_tables(node: Any) -> None:
        # A table held as pairs (network.speeds) defaults to an empty tuple: {} in the file.
        if isinstance(node, dict):
            if node.get("type") == "object" and node.get("default") == []:
                node["default"] = {}
            for value in node.values():
                tables_default_to_tables(value)
        elif isinstance(node, list):
            for value in node:
                tables_default_to_tables(value)

    tables_default_to_tables(schema)
    return json.loads(json.dumps(schema).replace("``", "`"))  # docstrings' code, as markdown


@functools.cache
def json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file, for editors (``siting schema``; the ``#:schema`` line
    of a scenario points at it).

    A what-if that ``extends`` another gives any subset of the keys, so no key is required here
    (the loader reports a missing key with its fix); a criterion may carry ``drop``. Draft 7:
    Taplo (VS Code's Even Better TOML) reads it. Do not modify the returned dictionary.
    """
    schema = copy.deepcopy(document_schema())

    def drop_required(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("required", None)
            for value in node.values():
                drop_required(value)
        elif isinstance(node, list):
            for value in node:
                drop_required(value)

    drop_required(schema)
    _no_nulls(schema)
    schema["$defs"]["Criterion"]["properties"]["drop"] = _DROP
    schema["title"] = "siting scenario"
    schema["description"] += (
        " A what-if that `extends` another scenario gives only what changes, so no key is "
        "required here."
    )
    return {"$schema": _DRAFT, **schema}


def _no_nulls(node: Any) -> None:
    """TOML has no null: an optional value is its value's schema, without a default."""
    if isinstance(node, dict):
        branches = node.get("anyOf", [])
        if {"type": "null"} in branches:
            rest = [b for b in branches if b != {"type": "null"}]
            del node["anyOf"]
            if len(rest) == 1:
                node.update({k: v for k, v in rest[0].items() if k not in node})
            else:
                node["anyOf"] = rest
            if node.get("default", 0) is None:
                del node["default"]
        for value in node.values():
            _no_nulls(value)
    elif isinstance(node, list):
        for value in node:
            _no_nulls(value)


def schema_text() -> str:
    """:func:`json_schema` as the text of ``scenario.schema.json`` (and of ``siting schema``)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# --- checks across tables: every layer, profile and model a key names exists and fits -------


def check_references(s: Scenario) -> None:
    """Raise a :class:`~siting.errors.ScenarioError` for the first reference that does not hold.

    Raises
    ------
    ScenarioError
        Naming the key (``profiles.technopark.criteria[1].layer``) and the fix.
    """
    if not s.layers:
        raise ScenarioError(
            "the scenario has no [layers.*] tables", "add at least a study area layer"
        )
    layer = _Layers(s)
    layer("study_area", s.study_area)
    if s.place_names is not None:
        layer("place_names", s.place_names)
    for i, (route, _) in enumerate(s.friction.routes):
        layer(f"friction.routes[{i}].layer", route)
    for i, rule in enumerate(s.friction.impassable):
        layer(f"friction.impassable[{i}].layer", rule.layer)
    if s.network is not None:
        layer("network.layer", s.network.layer)
    if (s.haul.mode == "network" and s.allocation is not None) or s.chain is not None:
        layer("haul.roads", s.haul.roads)
        layer("haul.rail", s.haul.rail)
        if s.haul.stations is not None:
            layer("haul.stations", s.haul.stations)
    if not s.profiles:
        raise ScenarioError("the scenario has no [profiles.*] tables", "add at least one profile")
    for p in s.profiles.values():
        _profile(p, s, layer)
    _shared_criteria(s.profiles)
    _models(s, layer)
    for edit in s.edits:
        layer(f"{edit.key}.layer", edit.layer)


class _Layers:
    def __init__(self, s: Scenario) -> None:
        self.names = list(s.layers)

    def __call__(self, key: str, name: str) -> None:
        if name not in self.names:
            raise ScenarioError(
                f"{key} = {name!r} is not a layer of this scenario",
                f"use one of: {', '.join(self.names)}, or add [layers.{name}]",
            )


def _profile(p: Profile, s: Scenario, layer: _Layers) -> None:
    here = f"profiles.{p.name}"
    for k, c in enumerate(p.criteria):
        layer(f"{here}.criteria[{k}].layer", c.layer)
        if c.kind == "travel_time" and s.network is None:
            raise ScenarioError(
                f"{here}.criteria[{k}] ({c.name!r}) is a travel_time criterion but the scenario "
                "has no [network]",
                'add [network] layer = "roads" (the road lines to travel on)',
            )
    for k, e in enumerate(p.exclusions):
        layer(f"{here}.exclusions[{k}].layer", e.layer)
    if p.max_slope_deg is not None and s.dem is None:
        raise ScenarioError(
            f"{here}.max_slope_deg needs a DEM",
            'add [terrain] dem = "elevation.tif", or drop max_slope_deg',
        )


def _shared_criteria(profiles: dict[str, Profile]) -> None:
    """Profiles share a criterion's raw raster by name, so one name must mean one measurement."""
    seen: dict[str, tuple[str, Criterion]] = {}
    for profile in profiles.values():
        for c in profile.criteria:
            if c.name in seen and seen[c.name][1].key != c.key:
                raise ScenarioError(
                    f"profiles.{profile.name}: criterion {c.name!r} measures something else than "
                    f"the criterion of that name in profiles.{seen[c.name][0]}",
                    "rename one of them (their standardize and weight may differ, not what they "
                    "measure)",
                )
            seen.setdefault(c.name, (profile.name, c))


def _models(s: Scenario, layer: _Layers) -> None:
    def profile(key: str, name: str) -> int:
        if name not in s.profiles:
            raise ScenarioError(
                f"{key} = {name!r} is not a profile", f"use one of: {', '.join(s.profiles)}"
            )
        return s.profiles[name].n_sites

    def plants(key: str, p: int | None, n_sites: int) -> None:
        if p is not None and not 1 <= p <= n_sites:
            raise ScenarioError(
                f"{key} = {p} must be between 1 and the profile's n_sites ({n_sites})",
                "lower p or raise the profile's n_sites",
            )

    if s.clusters is not None:
        layer("models.clusters.layer", s.clusters.layer)
        if s.clusters.snap_profile is not None:
            profile("models.clusters.snap_profile", s.clusters.snap_profile)
    if s.allocation is not None:
        n_sites = profile("models.allocation.profile", s.allocation.profile)
        layer("models.allocation.demand", s.allocation.demand)
        plants("models.allocation.p", s.allocation.p, n_sites)
        _existing(s.allocation)
        if s.allocation.existing is not None:
            layer("models.allocation.existing", s.allocation.existing)
    if s.covering is not None:
        n_sites = profile("models.covering.profile", s.covering.profile)
        layer("models.covering.demand", s.covering.demand)
        if s.covering.existing is not None:
            layer("models.covering.existing", s.covering.existing)
        plants("models.covering.p", s.covering.p, n_sites)
    if s.chain is not None:
        profile("models.chain.prep_profile", s.chain.prep_profile)
        profile("models.chain.coke_profile", s.chain.coke_profile)
        layer("models.chain.demand", s.chain.demand)
        for key in ("markets", "existing"):
            if getattr(s.chain, key) is not None:
                layer(f"models.chain.{key}", getattr(s.chain, key))


def _existing(spec: AllocationModel) -> None:
    """The existing-plant keys of ``[models.allocation]`` need ``existing`` and ``capacity``."""
    here = "models.allocation"
    keys = ("existing_where", "existing_capacity_field", "existing_capacity", "expansion_cost")
    named = [k for k in keys if getattr(spec, k) is not None]
    if spec.existing is None and named:
        raise ScenarioError(
            f"{here}.{named[0]} needs {here}.existing",
            'name the layer of existing plants, e.g. existing = "facilities"',
        )
    if spec.existing is not None and spec.capacity is None:
        raise ScenarioError(
            f"{here}.existing needs {here}.capacity (the capacitated model)",
            "add capacity = <new plant capacity>, or drop existing",
        )


@dataclasses.dataclass(frozen=True)
class Amount:
    """A field the run reads as an amount (a weight, a width, a population, a capacity): its
    values must be numbers, finite and not negative, in the features ``where`` selects."""

    layer: str
    field: str
    key: str
    """The scenario key that reads it, e.g. ``profiles.p.criteria[0].weight_field``."""
    where: str | None = None
    """The filter of the features read (the criterion's or the exclusion's)."""


def amounts(s: Scenario) -> list[Amount]:
    """Every field the scenario reads as an amount, with the key that reads it."""
    out = []

    def rules(here: str, exclusions: tuple[Exclusion, ...]) -> None:
        for k, e in enumerate(exclusions):
            if e.width_field is not None:
                out.append(Amount(e.layer, e.width_field, f"{here}[{k}].width_field", e.where))
            if e.footprint_m2_per_person is not None:
                key = f"{here}[{k}].footprint_m2_per_person"
                out.append(Amount(e.layer, "population", key, e.where))

    for p in s.profiles.values():
        for k, c in enumerate(p.criteria):
            if c.weight_field is not None:
                key = f"profiles.{p.name}.criteria[{k}].weight_field"
                out.append(Amount(c.layer, c.weight_field, key, c.where))
        rules(f"profiles.{p.name}.exclusions", p.exclusions)
    rules("friction.impassable", s.friction.impassable)
    if s.clusters is not None:
        if s.clusters.weight_field is not None:
            key = "models.clusters.weight_field"
            out.append(Amount(s.clusters.layer, s.clusters.weight_field, key))
        if s.clusters.capacity_field is not None:
            key = "models.clusters.capacity_field"
            out.append(Amount(s.clusters.layer, s.clusters.capacity_field, key))
    for name, model in (("allocation", s.allocation), ("covering", s.covering)):
        if model is not None and model.weight_field is not None:
            key = f"models.{name}.weight_field"
            out.append(Amount(model.demand, model.weight_field, key))
    if s.chain is not None:
        out.append(Amount(s.chain.demand, s.chain.weight_field, "models.chain.weight_field"))
    return out


use_schema(json_schema)
