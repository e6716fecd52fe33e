"""The values a scenario key may hold: numbers with their bounds, enumerations, CRSs, names.

TOML has no implicit conversions, nor do these types (``Strict``): a number in quotes, or
``true`` for 1, is an error; an integer is a number (``250`` → ``250.0``). The checks written
by hand raise :class:`~siting.config.messages.Problem`, whose message names the key.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal, get_args

from annotated_types import Ge, Gt, Le
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Strict, WithJsonSchema

from siting.config.messages import Problem, key_of

CONFIG = ConfigDict(extra="forbid", use_attribute_docstrings=True)

Text = Annotated[str, Strict()]
Flag = Annotated[bool, Strict()]
Number = Annotated[float, Strict()]  # an integer is a number too (250 → 250.0)
Positive = Annotated[float, Strict(), Gt(0)]
NonNegative = Annotated[float, Strict(), Ge(0)]
Share = Annotated[float, Strict(), Ge(0), Le(1)]
Count = Annotated[int, Strict(), Ge(0)]
AtLeastOne = Annotated[int, Strict(), Ge(1)]

Reader = Literal["vector", "gem"]
LayerKind = Literal[
    "generic",
    "boundary",
    "settlements",
    "mines",
    "coal_areas",
    "rail",
    "stations",
    "roads",
    "rivers",
    "water",
    "protected_areas",
    "anchors",
    "power_plants",
]
CriterionKind = Literal["distance", "cost_distance", "within_radius", "travel_time"]
Function = Literal["linear", "sigmoid", "threshold", "target"]
Direction = Literal["lower", "higher"]
Weighting = Literal["direct", "ahp"]
ClusterMethod = Literal["dbscan", "hdbscan", "kmeans"]
Outline = Literal["concave", "convex"]
Solver = Literal["exact", "milp", "heuristic"]
EditAction = Literal["add", "remove", "update"]

# What each kind of layer holds: geometry family and the fields (after `fields` renaming) that
# the tool reads from it. "generic" asks for nothing. A mine's `output` is in Mt/yr.
LAYER_KINDS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "generic": (None, ()),
    "boundary": ("polygon", ()),
    "settlements": (None, ("name", "population")),
    "mines": (None, ("name", "output")),
    "coal_areas": ("polygon", ()),
    "rail": ("line", ()),
    "stations": ("point", ()),
    "roads": ("line", ()),
    "rivers": ("line", ()),
    "water": ("polygon", ()),
    "protected_areas": ("polygon", ()),
    "anchors": ("point", ("kind",)),
    "power_plants": ("point", ()),
}
if tuple(LAYER_KINDS) != get_args(LayerKind):  # pragma: no cover - a programming error
    raise TypeError("LAYER_KINDS and LayerKind list different kinds")

LONLAT = "EPSG:4326"
ID_FIELD = "name"
# Cells finer than a metre are a unit mistake (degrees, kilometres) in a regional siting study.
MIN_RESOLUTION = 1.0
# ≈ 95 GB at the ≈ 190 bytes per cell the default run peaks at (4.3 GB for 23 M cells at 100 m).
MAX_CELLS = 500_000_000


def _crs(value: str, example: str) -> Any:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise Problem(
            f"{key_of()} = {value!r} is not a known CRS", f'use e.g. "{example}"'
        ) from None


def _any_crs(value: str) -> str:
    _crs(value, LONLAT)
    return value


def _metric_crs(value: str) -> str:
    crs = _crs(value, "EPSG:32645")
    if not crs.is_projected:
        raise Problem(
            f"{key_of()} = {value!r} is not projected: distances and buffers need metres",
            'use a projected CRS in metres, e.g. UTM zone 45N "EPSG:32645" for Kuzbass',
        )
    units = {axis.unit_name for axis in crs.axis_info if axis.unit_conversion_factor != 1.0}
    if units:
        raise Problem(
            f"{key_of()} = {value!r} is in {', '.join(sorted(units))}, not metres",
            "use a projected CRS in metres, e.g. the UTM zone of the study area",
        )
    return value


def _fine_enough(value: float) -> float:
    if value < MIN_RESOLUTION:
        raise Problem(
            f"{key_of()} = {value:g} m is finer than {MIN_RESOLUTION:g} m",
            "give the cell size in metres (e.g. 250); the grid over the study area must also fit "
            "in memory",
        )
    return value


def _folder_name(value: str) -> str:
    bad = '/\\:*?"<>|'
    if (
        not value.strip()
        or value.startswith(".")
        or value != value.strip()
        or any(c in bad or ord(c) < 32 for c in value)
    ):
        raise Problem(
            f"{key_of()} = {value!r} cannot be a folder name",
            "use letters, digits, - and _: one plain folder name, e.g. kuzbass_spur",
        )
    return value


Crs = Annotated[str, Strict(), AfterValidator(_metric_crs)]
AnyCrs = Annotated[str, Strict(), AfterValidator(_any_crs)]
Resolution = Annotated[float, Strict(), Gt(0), AfterValidator(_fine_enough)]
Name = Annotated[
    str,
    Strict(),
    AfterValidator(_folder_name),
    WithJsonSchema({"type": "string", "pattern": r'^[^.\s/\\:*?"<>|]([^/\\:*?"<>|]*\S)?$'}),
]


def _pairs(value: Any) -> Any:
    """``speeds = { federal = 80 }`` as ``(("federal", 80.0),)``, each speed checked here so that
    the message names it (``network.speeds.federal``)."""
    if not isinstance(value, dict):
        return value
    for name, speed in value.items():
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not speed > 0:
            raise Problem(
                f"{key_of()}.{name} = {speed!r} must be a positive number",
                f"give the speed of class {name!r} in km/h, e.g. {name} = 60",
            )
    return tuple((name, float(speed)) for name, speed in value.items())


Speeds = Annotated[
    tuple[tuple[Text, Positive], ...],
    BeforeValidator(_pairs),
    WithJsonSchema(
        {"type": "object", "additionalProperties": {"type": "number", "exclusiveMinimum": 0}}
    ),
]


def _route(value: Any) -> Any:
    """``{ layer = "roads", cost = 1.0 }`` as the pair ``("roads", 1.0)``; the keys are checked
    here so that the message names them (``friction.routes[0].cost``)."""
    if not isinstance(value, dict):
        return value
    known = ("layer", "cost")
    for name in value:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "known keys here: cost, layer"
            raise Problem(f"unknown scenario key {key_of(name)}", hint)
    for name in known:
        if name not in value:
            raise Problem(f"missing key {key_of(name)}", f"add {key_of(name)} = ...")
    cost = value["cost"]
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not cost > 0:
        raise Problem(
            f"{key_of('cost')} = {cost!r} must be a positive number",
            "give the cost per metre along the lines, relative to a road (1)",
        )
    return (value["layer"], float(cost))


# A route: the pair (layer, cost) for the package, the table { layer, cost } in the file.
Route = Annotated[
    tuple[Text, Positive],
    BeforeValidator(_route),
    WithJsonSchema(
        {
            "type": "object",
            "properties": {
                "layer": {"type": "string", "description": "The lines to travel along."},
                "cost": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "Cost per metre along them (a road is 1).",
                },
            },
            "required": ["layer", "cost"],
            "additionalProperties": False,
        }
    ),
]
