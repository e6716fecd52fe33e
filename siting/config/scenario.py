"""The scenario, as the rest of the package imports it: the types
(:mod:`siting.config.schema`), :func:`load` and :func:`from_dict`
(:mod:`siting.config.loader`) and the template (:mod:`siting.config.template`)."""

from __future__ import annotations

from typing import get_args

from siting.config.loader import (
    DEFAULT_SCENARIO,
    EDIT_ACTIONS,
    LAYERS,
    SCHEMA_FILE,
    from_dict,
    load,
    read_toml,
)
from siting.config.schema import (
    LAYER_KINDS,
    AddEdit,
    Ahp,
    AllocationModel,
    Amount,
    ClusterModel,
    CoveringModel,
    Criterion,
    CriterionKind,
    Direction,
    Edit,
    Exclusion,
    Friction,
    Function,
    Haul,
    LayerSpec,
    Models,
    Network,
    Outputs,
    Profile,
    Reader,
    RemoveEdit,
    Route,
    Scenario,
    ScenarioFile,
    Standardization,
    Terrain,
    UpdateEdit,
    amounts,
    check_grid,
    json_schema,
)
from siting.config.sensitivity import Sensitivity
from siting.config.template import TEMPLATE, write_template

CRITERION_KINDS: tuple[str, ...] = get_args(CriterionKind)
STANDARDIZE_FUNCTIONS: tuple[str, ...] = get_args(Function)
DIRECTIONS: tuple[str, ...] = get_args(Direction)
READERS: tuple[str, ...] = get_args(Reader)

__all__ = [
    "CRITERION_KINDS",
    "DEFAULT_SCENARIO",
    "DIRECTIONS",
    "EDIT_ACTIONS",
    "LAYERS",
    "LAYER_KINDS",
    "READERS",
    "SCHEMA_FILE",
    "STANDARDIZE_FUNCTIONS",
    "TEMPLATE",
    "AddEdit",
    "Ahp",
    "AllocationModel",
    "Amount",
    "ClusterModel",
    "CoveringModel",
    "Criterion",
    "Edit",
    "Exclusion",
    "Friction",
    "Haul",
    "LayerSpec",
    "Models",
    "Network",
    "Outputs",
    "Profile",
    "RemoveEdit",
    "Route",
    "Scenario",
    "ScenarioFile",
    "Sensitivity",
    "Standardization",
    "Terrain",
    "UpdateEdit",
    "amounts",
    "check_grid",
    "from_dict",
    "json_schema",
    "load",
    "read_toml",
    "write_template",
]
