"""The values a scenario key may hold: numbers with their bounds, enumerations, CRSs, names.

TOML has no implicit conversions, nor do these types (``Strict``): a number in quotes, or
``true`` for 1, is an error; an integer is a number (``250`` → ``250.0``). The checks written
by hand raise :class:`~siting.config.messages.Problem`, whose message names the key.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from typing import Annotated, Any, Literal, get_args

from annotated_types import Ge, Gt, Le
from pydantic import (
    AfterValidator,
    AllowInfNan,
    BeforeValidator,
    ConfigDict,
    Strict,
    WithJsonSchema,
)

from siting.config.messages import Problem, key_of
from siting.errors import ScenarioError
from siting.inputs import expression

CONFIG = ConfigDict(extra="forbid", use_attribute_docstrings=True)


def _printable(value: str) -> str:
    """Text goes into file names, XML (QGIS), HTML and GeoPackage metadata: no NUL or other
    control character (a newline or a tab is fine)."""
    bad = [c for c in value if unicodedata.category(c) == "Cc" and c not in "\t\n\r"]
    if bad:
        raise Problem(
            f"{key_of()} = {_shown(value)} holds the control character {bad[0]!r}",
            "remove it (a NUL or escape code copied from another program?)",
        )
    return value


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 40 else f"{value[:40]!r}… ({len(value)} characters)"


Text = Annotated[str, Strict(), AfterValidator(_printable)]
Flag = Annotated[bool, Strict()]
# Every number is finite: TOML writes nan and inf, and no key of a scenario means either.
Finite = AllowInfNan(False)
Number = Annotated[float, Strict(), Finite]  # an integer is a number too (250 → 250.0)
Positive = Annotated[float, Strict(), Finite, Gt(0)]
NonNegative = Annotated[float, Strict(), Finite, Ge(0)]
Share = Annotated[float, Strict(), Finite, Ge(0), Le(1)]
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
# An absolute cap on the grid, whatever the memory: ≈ 95 GB at the ≈ 190 bytes per cell of the
# default run (measured: 4.3 GB for 23 M cells at 100 m). The memory a run needs is estimated
# from the number of criteria and profiles (siting.config.schema.grid_bytes_per_cell).
MAX_CELLS = 500_000_000
# A buffer, radius or distance beyond which a criterion no longer changes pads the grid by it:
# more than 1,000 km is a unit mistake (millimetres?) in a regional study, not a distance.
MAX_PAD = 1_000_000.0

AUTO = "auto"
UTM_FIX = (
    'use crs = "auto": the UTM zone of the study area (EPSG:326NN north of the equator, '
    "EPSG:327NN south of it, NN = floor((longitude + 180) / 6) + 1)"
)


def _crs(value: str) -> Any:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise Problem(f"{key_of()} = {value!r} is not a known CRS", UTM_FIX) from None


def _any_crs(value: str) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(value)
    except CRSError:
        raise Problem(
            f"{key_of()} = {value!r} is not a known CRS", f'use e.g. "{LONLAT}" (lon, lat)'
        ) from None
    return value


def _metric_crs(value: str) -> str:
    """A projected CRS in metres, or ``"auto"`` (the UTM zone of the study area, chosen when
    the run reads it: :func:`siting.inputs.place.settle`)."""
    if value == AUTO:
        return value
    crs = _crs(value)
    named = "" if crs.name == "unknown" else f"{crs.name}, "  # a PROJ string has no name
    if not crs.is_projected:
        raise Problem(
            f"{key_of()} = {value!r} is not projected ({named}in degrees): distances, "
            "buffers and the resolution are in metres",
            UTM_FIX,
        )
    units = {axis.unit_name for axis in crs.axis_info if axis.unit_conversion_factor != 1.0}
    if units:
        raise Problem(
            f"{key_of()} = {value!r} ({named}{', '.join(sorted(units))}) is not in metres: "
            "distances, buffers and the resolution would be read in those units",
            UTM_FIX,
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


NAME_MAX = 100  # characters; and at most twice as many bytes in UTF-8 (file names: 255 bytes)
# Names Windows reserves for devices, with or without an extension.
_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10)}


def _folder_name(value: str) -> str:
    """One plain folder name on every system: no separators, no control characters (Unicode
    categories Cc, Cf, Zl, Zp: NUL, newline, bidirectional overrides), not hidden, no leading or
    trailing space and no trailing dot, no Windows device name, at most :data:`NAME_MAX`
    characters (the staging folder adds a few to it)."""
    bad = '/\\:*?"<>|'
    if (
        not value.strip()
        or value.startswith(".")
        or value.endswith(".")
        or value != value.strip()
        or any(c in bad or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value)
        or value.split(".")[0].upper() in _DEVICES
        or len(value) > NAME_MAX
        or len(value.encode("utf-8")) > 2 * NAME_MAX
    ):
        shown = repr(value) if len(value) <= 40 else f"{value[:40]!r}… ({len(value)} characters)"
        raise Problem(
            f"{key_of()} = {shown} cannot be a folder name",
            "use letters, digits, - and _: one plain folder name of at most "
            f"{NAME_MAX} characters, e.g. kuzbass_spur",
        )
    return value


Crs = Annotated[str, Strict(), AfterValidator(_metric_crs)]
AnyCrs = Annotated[str, Strict(), AfterValidator(_any_crs)]
Resolution = Annotated[float, Strict(), Finite, Gt(0), AfterValidator(_fine_enough)]
Name = Annotated[
    str,
    Strict(),
    AfterValidator(_folder_name),
    WithJsonSchema({"type": "string", "pattern": r'^[^.\s/\\:*?"<>|]([^/\\:*?"<>|]*\S)?$'}),
]


def _label(value: str) -> str:
    """A layer's, a profile's or a criterion's name: it names files and tables of the outputs
    (``criteria/<name>.tif``, ``suitability_<profile>.tif``), so it follows the rules of a
    folder name."""
    try:
        _folder_name(value)
    except Problem:
        raise Problem(
            f"{key_of()} = {_shown(value)} cannot be a name: it names files of the outputs",
            f"use letters, digits, - and _ (at most {NAME_MAX} characters), e.g. haul_cost",
        ) from None
    return value


Label = Annotated[str, Strict(), AfterValidator(_label)]


def _positive_number(value: Any) -> bool:
    """A number > 0 and finite (not ``true``, not ``inf``)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return 0 < float(value) < math.inf
    except OverflowError:  # an integer of 400 digits
        return False


def _pairs(value: Any) -> Any:
    """``speeds = { federal = 80 }`` as ``(("federal", 80.0),)``, each speed checked here so that
    the message names it (``network.speeds.federal``)."""
    if not isinstance(value, dict):
        return value
    for name, speed in value.items():
        if not _positive_number(speed):
            raise Problem(
                f"{key_of()}.{name} = {speed!r} must be a positive, finite number",
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
    if not _positive_number(cost):
        raise Problem(
            f"{key_of('cost')} = {cost!r} must be a positive, finite number",
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


def _filter(value: str) -> str:
    """A ``where`` filter: its syntax checked at load, in milliseconds (its fields when the
    layer is read); see :mod:`siting.inputs.expression`."""
    try:
        expression.parse(value, key_of())
    except ScenarioError as exc:
        raise Problem(exc.message, exc.fix) from None
    return value


Filter = Annotated[str, Strict(), AfterValidator(_filter)]


def _attributes(value: dict[str, Any]) -> dict[str, Any]:
    """Attribute values set by a what-if (``properties``, ``values``): a string, a finite number
    or true/false, as a field of a GeoPackage holds them."""
    for name, item in value.items():
        if isinstance(item, float) and not math.isfinite(item):
            raise Problem(
                f"{key_of(name)} = {item!r} is not a finite number", "give a finite number"
            )
        if isinstance(item, str):
            _printable(item)
        elif not isinstance(item, (bool, int, float)):
            raise Problem(
                f"{key_of(name)} = {item!r} is not a string, a number or true/false",
                'give one value per field, e.g. status = "closed" or output = 2.5',
            )
    return value


Attributes = Annotated[dict[Text, Any], AfterValidator(_attributes)]


def finite_coordinates(geometry: Any, key: str) -> None:
    """Raise a :class:`Problem` naming ``key`` if a coordinate of a GeoJSON ``geometry`` (nested
    lists of numbers) is not a finite number."""

    def walk(node: Any) -> None:
        if isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
        elif isinstance(node, bool) or not isinstance(node, (int, float)):
            raise Problem(f"{key}: coordinate {node!r} is not a number", "give lon, lat numbers")
        elif not math.isfinite(node):
            raise Problem(
                f"{key}: coordinate {node!r} is not a finite number", "give lon, lat numbers"
            )

    if isinstance(geometry, dict) and "coordinates" in geometry:
        walk(geometry["coordinates"])
