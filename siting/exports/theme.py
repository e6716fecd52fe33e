"""The look and the words every exporter shares: colours, line and marker classes, legend groups,
units and their labels, field aliases and layer abstracts.

The web map (:mod:`siting.exports.webmap`), the QGIS styles (:mod:`siting.exports.qgis`), the
report (:mod:`siting.exports.report`), ``run.json`` and the CLI all take them from here, so they
draw a layer in the same colours and name a quantity in the same units. Plain data (constants,
frozen dataclasses, read-only mappings) and small lookups over a scenario; nothing from folium or
QGIS.

Nothing here belongs to one region. What does comes from the scenario:

- **Units of a field** are those its layer's kind defines (:data:`KIND_UNITS`: a ``mines`` layer's
  ``output`` is annual production in Mt/yr, as :data:`siting.config.scenario.LAYER_KINDS` says);
  any other field is unitless and its name stands for its unit ("population").
- **Classes of a layer** (road and rail classes, kinds of anchor) are the values of its ``kind``
  found in the data, ranked as the scenario ranks them where it does (the ``[network]`` speeds:
  the fastest road class first), else in the order they first appear in the layer. The n-th class
  takes the n-th style of a neutral ranked palette (:class:`Palette`); its label is the value made
  readable ("main" → "Main line").

A layer's *role* is its scenario kind, or its name for a ``generic`` layer (a generic layer named
``roads`` is styled as roads).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

# --- colours -------------------------------------------------------------------------------------

DEFAULT_COLOR = "#636363"  # anything without a colour of its own (haul routes, unknown classes)
STUDY_AREA_COLOR = "#333333"
BOUNDARY_COLOR = "#252525"
CLUSTER_COLOR = "#7b3294"  # growth poles and their Weber points
EXISTING_COLOR = "#e7298a"  # existing facilities the covering model keeps open
NEW_SITE_COLOR = "#2ca02c"  # new covering sites whose profile has no colour
PLANT_COLOR = "#d62728"  # allocation plants whose profile has no colour
SETTLEMENT_COLOR = "#6a51a3"
EXCLUSION_COLOR = "#b2182b"
PROTECTED_COLOR = "#1a9850"
WATER_COLOR = "#2171b5"
RIVER_COLOR = "#4292c6"
COAL_AREA_COLOR = "#8c510a"
POWER_COLOR = "#fec44f"
STATION_COLOR = "#000000"
BAR_COLOR = "#2b8cbe"  # a criterion's contribution in a site's popup
STATUS_COLORS: Mapping[str, str] = MappingProxyType(
    {  # a mine's status (the Global Coal Mine Tracker's words)
        "operating": "#252525",
        "mothballed": "#8c6d31",
        "proposed": "#1f77b4",
        "closed": "#969696",
    }
)
#: The value chain's stages: coal, concentrate, coke (the map's layer and the report's figure).
CHAIN_STAGE_COLORS: Mapping[str, str] = MappingProxyType(
    {"mine_prep": "#5d4037", "prep_coke": "#1565c0", "coke_market": "#c62828"}
)
#: A site of the plan by its robustness class (the map, the QGIS project, the report).
ROBUSTNESS_COLORS: Mapping[str, str] = MappingProxyType(
    {"robust": "#1a9850", "moderate": "#fdae61", "fragile": "#d73027", "": "#9e9e9e"}
)
COVERED_COLORS: Mapping[bool, str] = MappingProxyType(
    {True: "#1a9850", False: "#d73027"}  # demand reached in time, or not
)
SUITABILITY_CMAP = "viridis"  # 0 worst – 1 best
CRITERION_CMAP = "magma_r"  # raw criteria: dark = far or costly

# --- legend groups -------------------------------------------------------------------------------

PROPOSALS_GROUP = "Proposals"
COVERING_GROUP = "Technoparks (covering)"
SUITABILITY_GROUP = "Suitability"
CRITERIA_GROUP = "Criteria"
CONSTRAINTS_GROUP = "Constraints"
INPUTS_GROUP = "Inputs"

# --- classes of a layer --------------------------------------------------------------------------

CLASS_FIELD = "kind"  # the field a line or anchor layer is classed by

S = TypeVar("S")


@dataclass(frozen=True)
class LineStyle:
    """A line's colour and width: ``web_px`` on the web map, ``mm`` in QGIS and SLD."""

    color: str
    web_px: float
    mm: float


@dataclass(frozen=True)
class MarkerStyle:
    """A point's marker: a QGIS SimpleMarker ``shape``, its fill colour and size in mm."""

    shape: str  # circle, square, star, triangle, diamond
    color: str
    mm: float


@dataclass(frozen=True)
class Palette(Generic[S]):
    """Styles of a classed layer by rank: the most important class takes ``ranks[0]``.

    Attributes
    ----------
    single, single_label
        The style and legend entry of a layer without a class field.
    ranks
        One style per class rank, boldest first.
    other
        The style of a class ranked beyond ``ranks``.
    noun
        Appended to a class's readable value in the legend ("main" → "Main line").
    """

    single: S
    single_label: str
    ranks: tuple[S, ...]
    other: S
    noun: str = ""

    def style(self, rank: int) -> S:
        """The style of the class of rank ``rank`` (0 = most important)."""
        return self.ranks[rank] if 0 <= rank < len(self.ranks) else self.other


LINES: Mapping[str, Palette[LineStyle]] = MappingProxyType(
    {  # by layer role
        "rail": Palette(
            LineStyle("#000000", 2.5, 0.6),
            "Railway",
            (LineStyle("#000000", 3.5, 0.8), LineStyle("#525252", 2.0, 0.5)),
            LineStyle(DEFAULT_COLOR, 2.0, 0.4),
            "line",
        ),
        "roads": Palette(
            LineStyle("#d94801", 2.0, 0.5),
            "Road",
            (LineStyle("#d94801", 3.0, 0.7), LineStyle("#fd8d3c", 2.0, 0.45)),
            LineStyle(DEFAULT_COLOR, 2.0, 0.4),
            "road",
        ),
    }
)
ANCHORS: Palette[MarkerStyle] = Palette(
    MarkerStyle("star", EXISTING_COLOR, 4.5),
    "Anchor",
    (
        MarkerStyle("star", EXISTING_COLOR, 6.0),
        MarkerStyle("diamond", NEW_SITE_COLOR, 4.5),
        MarkerStyle("triangle", "#1f78b4", 3.5),
        MarkerStyle("triangle", "#6a3d9a", 3.5),
    ),
    MarkerStyle("circle", DEFAULT_COLOR, 3.0),
)


def role(scenario: Any, layer: str) -> str:
    """A layer's role: its scenario kind, or its name when it is ``generic`` (or not listed)."""
    spec = scenario.layers.get(layer)
    kind = getattr(spec, "kind", "generic")
    return layer if kind == "generic" else str(kind)


def classes(scenario: Any, layer: str, values: Iterable[Any]) -> list[str]:
    """The distinct class values of a layer, most important first.

    Parameters
    ----------
    scenario
        The run's scenario (or the same read back from ``run.json``).
    layer
        The layer's name in the scenario.
    values
        The layer's class field (:data:`CLASS_FIELD`), in the layer's order; missing values are
        skipped.

    Returns
    -------
    list of str
        The classes the layer's ``classes`` lists, in its order; then, when the scenario's
        ``[network]`` runs on ``layer`` and is classed by the same field, its classes fastest
        first (ties and classes without a speed in data order); otherwise the values in the
        order they first appear.
    """
    present = list(
        dict.fromkeys(
            str(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))
        )
    )
    given = list(getattr(scenario.layers.get(layer), "classes", None) or {})
    first = [v for v in given if v in present]
    present = [v for v in present if v not in first]
    network = getattr(scenario, "network", None)
    if network is None or network.layer != layer or network.class_field != CLASS_FIELD:
        return first + present
    speeds = {str(name): float(kmh) for name, kmh in network.speeds}
    return first + sorted(present, key=lambda v: -speeds.get(v, -math.inf))


def class_label(scenario: Any, layer: str, value: str, noun: str = "") -> str:
    """The legend label of a class value: the layer's ``classes`` label, else the value made
    readable with ``noun`` ("main" → "Main line")."""
    given = getattr(scenario.layers.get(layer), "classes", None) or {}
    return given.get(value) or f"{humanize(value)} {noun}".strip()


def humanize(name: str) -> str:
    """A field or class name as words: ``research_institute`` → ``Research institute``."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# --- units ---------------------------------------------------------------------------------------

KIND_UNITS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {  # the units a layer kind defines for its fields (siting.config.scenario.LAYER_KINDS)
        "mines": MappingProxyType({"output": "Mt/yr"}),
    }
)


def field_unit(scenario: Any, layer: str | None, field: str | None) -> str | None:
    """The unit of ``field`` of the scenario's layer ``layer``: the layer's ``units``, else the
    one its kind defines (None when it has none)."""
    if layer is None or field is None:
        return None
    given = getattr(scenario.layers.get(layer), "units", None) or {}
    return given.get(field) or KIND_UNITS.get(role(scenario, layer), {}).get(field)


def weight_unit(scenario: Any, layer: str | None, field: str | None) -> str:
    """Units of demand weights of ``layer`` taken from ``field``: its unit ("Mt/yr"), else the
    field's name ("population"), else "weight" (every feature counts 1)."""
    return field_unit(scenario, layer, field) or field or "weight"


def haul_km(scenario: Any) -> str:
    """What the haul models' "km" are, as an adjective of km: "truck-equivalent" (the price of
    the route on road and rail over the truck tariff) with ``[haul] mode = "network"``, else
    "road-equivalent" (cost-distance over the friction surface, a km of road costing 1)."""
    haul = getattr(scenario, "haul", None)
    if getattr(haul, "mode", "friction") == "network":
        return "truck-equivalent"
    return "road-equivalent"


def transport_unit(scenario: Any, layer: str | None, field: str | None) -> str:
    """Units of weight × km (the km of :func:`haul_km`): "Mt·km/yr" for weights in Mt/yr, else
    "<weight unit>·km"."""
    unit = weight_unit(scenario, layer, field)
    amount, slash, per = unit.rpartition("/")
    return f"{amount}·km/{per}" if slash else f"{unit}·km"


# --- field aliases and layer abstracts -----------------------------------------------------------

ALIASES: Mapping[str, str] = MappingProxyType(
    {  # a field's name in a legend or attribute table, where it has no unit from the scenario
        "site_id": "Site",
        "profile": "Profile",
        "rank": "Rank (1 = best)",
        "score": "Suitability score (0–1)",
        "patch_id": "Candidate patch",
        "origin": "Origin (suitability or Weber point)",
        "x": "Easting (m)",
        "y": "Northing (m)",
        "lon": "Longitude (° E)",
        "lat": "Latitude (° N)",
        "near": "Nearest place",
        "name": "Name",
        "name_ru": "Name (Russian)",
        "id": "ID",
        "kind": "Kind",
        "capacity_mtpa": "Capacity (Mt/yr)",  # the field's own name says its unit
        "status": "Status",
        "mine_type": "Mine type",
        "gem_id": "GEM tracker ID",
        "operator": "Operator",
        "coal_grade": "Coal grade",
        "district": "District",
        "population": "Population",
        "geonames_id": "GeoNames ID",
        "ref": "Road number",
        "electrified": "Electrified",
        "width_m": "Width (m)",
        "area_km2": "Area (km²)",
        "capacity_mw": "Capacity (MW)",
        "fuel": "Fuel",
        "city": "City",
        "reason": "Reason for exclusion",
        "layer": "Excluded by layer",
        "buffer_m": "Buffer (m)",
        "area_ha": "Area (ha)",
        "mean_score": "Mean suitability (0–1)",
        "max_score": "Maximum suitability (0–1)",
        "cluster": "Growth pole (−1 = none)",
        "n_members": "Number of members",
        "stability": "Bootstrap stability (Jaccard, 0–1)",
        "centroid_x": "Weighted centroid easting (m)",
        "centroid_y": "Weighted centroid northing (m)",
        "weber_x": "Weber point easting (m)",
        "weber_y": "Weber point northing (m)",
        "weber_snap_x": "Snapped Weber point easting (m)",
        "weber_snap_y": "Snapped Weber point northing (m)",
        "snap_m": "Weber point moved to eligible land (m)",
        "snap_profile": "Eligible land of profile",
        "members": "Members",
        "n_served": "Mines served",
        "demand": "Served feature",
        "share": "Share of the feature's demand (0–1)",
        "km": "Haul cost (road- or truck-equivalent km, see run.json)",
        "route_km": "Route length (km)",
        "km_rail": "Route by rail, incl. sidings (km)",
        "km_road": "Route by road, incl. station access roads (km)",
        "km_offroad": "Route off the network: a mine's or plant's road leg (km)",
        "transfers": "Truck ↔ rail transfers",
        "cost_rub_t": "Haul cost (RUB/t)",
        "utilisation": "Utilisation (served / capacity, 0–1)",
        "cost": "Haul cost (cost units)",
        "suitability_weight": "Suitability weight α (0 = transport only, 1 = suitability only)",
        "mean_suitability": "Mean suitability of the plants, demand-weighted (0–1)",
        "n_plants": "Plants opened",
        "plants": "Plants opened (site ids)",
        "gap": "Proven optimality gap (0–1)",
        "seconds": "Solver time (s)",
        "pareto_optimal": "Pareto-optimal",
        "n_covered": "Features covered",
        "minutes": "Travel time to the nearest open site (min)",
        "served_by": "Nearest open site within the limit",
        "stage": "Value-chain stage (mine_prep, prep_coke, coke_market)",
        "from": "From",
        "to": "To",
        "coal_type": "Coal type",
        "tonnes": "Tonnes (the mines' supply units, e.g. Mt/yr)",
        "echelon": "Echelon (prep: preparation, coke: coke / coal-chemical)",
        "plant": "Plant index within its echelon",
        "existing": "Existing facility",
        "open": "Open",
        "capacity": "Capacity (input, the supply units)",
        "expansion": "Capacity added",
        "input": "Input (tonnes)",
        "output": "Output (yield × input)",
        "onward": "Output shipped to the next echelon",
        "leaves": "Output leaving the chain at the plant",
    }
)

ABSTRACTS: Mapping[str, str] = MappingProxyType(
    {  # what each result table is, for its layer metadata
        "study_area": (
            "The study area: the outline the run's suitability and sites are confined to."
        ),
        "exclusions": (
            "Exclusions: one polygon per exclusion rule and profile (the features of a layer "
            "buffered by the rule's distance), with the reason; no site is proposed inside them."
        ),
        "candidate_patches": (
            "Candidate patches: connected areas of the best-scoring eligible land of each "
            "profile, with their area (ha) and mean and maximum suitability (0–1); the proposed "
            "sites are picked from them."
        ),
        "proposed_sites": (
            "Proposed sites, ranked per profile (rank 1 = best), with the suitability score "
            "(0–1), each criterion's weighted contribution (w_<criterion>, adding up to the "
            "score), its raw value (raw_<criterion>, in the criterion's units: metres, cost "
            "units, people …), lon/lat and the nearest place."
        ),
        "clusters": (
            "Growth poles: clusters of mines (their outline + 2 km) with their number of members, "
            "total output, weighted centroid, Weber point and the Weber point snapped to eligible "
            "land."
        ),
        "cluster_weber_points": (
            "Weber points of the growth poles: the point minimising the output-weighted distance "
            "to the pole's mines."
        ),
        "cluster_weber_snapped": (
            "Weber points of the growth poles moved to the nearest eligible cell of a profile's "
            "suitability (snap_m: how far, in m): where a plant could stand closest to the "
            "optimum."
        ),
        "allocation_plants": (
            "Plants opened by the location-allocation among the proposed sites, with the demand "
            "they serve, the number of features served and their transport (demand × road- or "
            "truck-equivalent km); in the capacitated model also their capacity and utilisation."
        ),
        "allocation_lines": (
            "Haul routes: the least-cost route over the friction surface, or on road and rail "
            "([haul] network mode), from each demand feature to the plant serving it, "
            "with the demand shipped, its share of the feature, the road-equivalent cost "
            "distance (km; truck-km equivalents on the network), demand × km and the route's "
            "length (km); on the network also its km by rail, road and off the network, its "
            "transfers and its cost (RUB/t)."
        ),
        "allocation_pareto": (
            "Pareto sweep of the location-allocation (a table, no geometry): one row per "
            "suitability weight α, with the transport (demand × km), the demand-weighted mean "
            "suitability of the plants, the plants opened, the proven gap and whether the row is "
            "Pareto-optimal."
        ),
        "covering_sites": (
            "Technoparks by maximal covering: the existing facilities kept open and the new sites "
            "chosen, each with the demand it covers (the features nearest to it within the time "
            "limit)."
        ),
        "covering_demand": (
            "Demand of the maximal covering: each feature with its travel time to the nearest "
            "open site, whether that is within the limit, and which site it is."
        ),
        "chain_flows": (
            "Value chain ([models.chain]): one line per arc that carries coal, mine → "
            "preparation plant → coke plant → market, on its road and rail route, with the "
            "coal type, the tonnes, the haul per tonne (truck-km equivalents) and tonnes × km."
        ),
        "chain_plants": (
            "Value chain ([models.chain]): the candidate preparation and coke plants, whether "
            "each is existing and open, its capacity, input, output, output shipped on and "
            "output leaving the chain."
        ),
        "robustness": (
            "Robustness ([sensitivity]): every site of the run with the share of the drawn "
            "assumptions (weights, capacity, opening cost, tariffs) in which it stays in the "
            "plan: proposed again (proposed_share), opened as a plant (planned_share), expanded "
            "(expanded_share, existing plants); robustness is the share that sets its class, "
            "robust, moderate or fragile (empty: not in the plan)."
        ),
        "robustness_draws": (
            "The draws of the default sensitivity (a table, no geometry): each draw's factors "
            "on capacity, opening cost and tariffs, the plants it opened, its transport, "
            "objective and proven gap, and each profile's drawn weights."
        ),
    }
)


# --- how exact the layers are --------------------------------------------------------------------

EXACTNESS: Mapping[str, str] = MappingProxyType(
    {  # a layer's `exactness`, in words (as PROVENANCE.md defines them)
        "measured": "copied from a dataset with stated coordinates",
        "placed": "placed by hand, from addresses, maps or general knowledge",
        "schematic": "generalised lines or areas, for regional screening only",
    }
)
PROVENANCE_FILE = "PROVENANCE.md"


def exactness_note(spec: Any) -> str:
    """A layer's exactness in a few words, e.g. "schematic, ±5 km" ("" when not stated)."""
    exactness = getattr(spec, "exactness", None)
    if exactness is None:
        return ""
    error = getattr(spec, "error_m", None)
    return exactness + (f", ±{error / 1000:g} km" if error is not None else "")


def schematic_layers(scenario: Any) -> dict[str, Any]:
    """The scenario's layers whose ``exactness`` is ``schematic``, by name, in its order."""
    return {
        name: spec
        for name, spec in scenario.layers.items()
        if getattr(spec, "exactness", None) == "schematic"
    }


def schematic_caveat(scenario: Any) -> str:
    """The caveat for schematic layers ("" when the scenario has none), e.g. "Schematic layers:
    rail (±5 km), roads (±10 km): positions are approximate to 10 km; see PROVENANCE.md"."""
    layers = schematic_layers(scenario)
    if not layers:
        return ""
    listed = ", ".join(
        humanize(name).lower()
        + (f" (±{spec.error_m / 1000:g} km)" if spec.error_m is not None else "")
        for name, spec in layers.items()
    )
    errors = [spec.error_m for spec in layers.values() if spec.error_m is not None]
    within = f" to {max(errors) / 1000:g} km" if errors else ""
    return (
        f"Schematic layers: {listed}. Their positions are approximate{within}: fit for regional "
        f"screening, not for siting a plot; see {PROVENANCE_FILE}."
    )


def exactness_sentence(spec: Any) -> str:
    """A layer's exactness and source as a sentence for its metadata (a QGIS abstract), e.g.
    " Exactness: schematic, ±5 km (generalised lines …). Source: …." ("" when neither is
    stated)."""
    note = exactness_note(spec)
    text = f" Exactness: {note} ({EXACTNESS[spec.exactness]})." if note else ""
    source = getattr(spec, "source", None)
    return text + (f" Source: {source}." if source else "")
