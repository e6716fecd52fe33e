"""The tables of a scenario file, and the objects the package reads: a layer, a profile with its
criteria and exclusions, the friction surface, the road network, the models, the outputs and
the what-if edits. Design notes: :mod:`siting.config.schema`."""

from __future__ import annotations

import math
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Lt, MinLen
from pydantic import Strict, WithJsonSchema, model_validator
from pydantic.dataclasses import dataclass
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import ArgsKwargs

from siting.config.chain import ChainModel
from siting.config.messages import Problem, key_of
from siting.config.values import (
    CONFIG,
    ID_FIELD,
    LONLAT,
    AnyCrs,
    AtLeastOne,
    Attributes,
    ClusterMethod,
    Count,
    CriterionKind,
    Direction,
    EditAction,
    Filter,
    Finite,
    Flag,
    Function,
    Label,
    LayerKind,
    NonNegative,
    Number,
    Outline,
    Positive,
    Reader,
    Resolution,
    Route,
    Share,
    Solver,
    Speeds,
    Text,
    Weighting,
    finite_coordinates,
)
from siting.errors import ScenarioError


@dataclass(frozen=True, config=CONFIG)
class Standardization:
    """How a raw criterion value becomes a score in [0, 1] (``standardize = { fn = … }``)."""

    fn: Function
    """`linear` ramps between `low` and `high`; `sigmoid` is a logistic curve centred on
    `midpoint` with width `spread`; `threshold` is 1 on the good side of `value`; `target` is a
    Gaussian around `optimum` with standard deviation `spread`."""
    direction: Direction = "lower"
    """Which raw values are better: `lower` or `higher`."""
    low: Number | None = None
    """`linear`: start of the ramp. Give `low` and `high` together, or neither to stretch the
    ramp over the study area's range."""
    high: Number | None = None
    """`linear`: end of the ramp, greater than `low`."""
    midpoint: Number | None = None
    """`sigmoid`: the raw value that scores 0.5."""
    spread: Positive | None = None
    """`sigmoid`: the width of the curve; `target`: the standard deviation of the Gaussian."""
    value: Number | None = None
    """`threshold`: the raw value where the score turns from 0 to 1."""
    optimum: Number | None = None
    """`target`: the raw value that scores 1."""

    @model_validator(mode="after")
    def _keys_of_fn(self) -> Standardization:
        needs = {
            "linear": (),
            "sigmoid": ("midpoint", "spread"),
            "threshold": ("value",),
            "target": ("optimum", "spread"),
        }[self.fn]
        takes = ("low", "high") if self.fn == "linear" else needs
        for name in ("low", "high", "midpoint", "spread", "value", "optimum"):
            given = getattr(self, name) is not None
            if name in needs and not given:
                raise Problem(
                    f"missing key {key_of(name)}",
                    f"add {key_of(name)} = ... (fn = {self.fn!r} takes {', '.join(needs)})",
                )
            if given and name not in takes:
                raise Problem(
                    f"{key_of(name)} does not belong to fn = {self.fn!r}",
                    f"{self.fn} takes {', '.join(takes) or 'low and high'}: drop {name}",
                )
        if (self.low is None) != (self.high is None):
            raise Problem(
                f"{key_of('low')} and {key_of('high')} go together",
                "give both, or neither to stretch over the study area's range",
            )
        if self.low is not None and self.high is not None:
            if not self.high > self.low:
                raise Problem(
                    f"{key_of('high')} = {self.high:g} must be greater than "
                    f"{key_of('low')} = {self.low:g}",
                    "swap them, and set direction to say which end is better",
                )
            if not math.isfinite(self.high - self.low):
                raise Problem(
                    f"{key_of('low')} = {self.low:g} and {key_of('high')} = {self.high:g} are "
                    "too far apart: every value would score the same",
                    "give the raw values where the score starts and stops changing",
                )
        return self

    @property
    def reach(self) -> float:
        """Raw value beyond which the score no longer changes (used to pad the layers)."""
        if self.fn == "linear":
            if self.low is None or self.high is None:
                return 0.0
            return float(max(abs(self.low), abs(self.high)))
        if self.fn == "threshold":
            return float(abs(self.value or 0.0))
        spread = abs(self.spread or 0.0)
        if self.fn == "sigmoid":
            return float(abs(self.midpoint or 0.0) + 6 * spread)
        return float(abs(self.optimum or 0.0) + 3 * spread)


@dataclass(frozen=True, config=CONFIG)
class LayerSpec:
    """An input layer, ``[layers.NAME]``: any file GDAL reads (GeoPackage, GeoJSON, shapefile …)
    with a CRS, or a Global Coal Mine Tracker CSV. What its ``kind`` needs is checked on reading:
    the geometry type and the fields."""

    name: SkipJsonSchema[Label]
    """The layer's name: its table's name."""
    path: Path
    """The file; a relative path starts at the scenario file's folder."""
    reader: Reader = "vector"
    """`vector`: any file GDAL reads; `gem`: Global Energy Monitor's Global Coal Mine Tracker CSV
    (decimal commas, one row per mine, status in lower case)."""
    where: Filter | None = None
    """Row filter on the names after `fields`, e.g. `"status == 'operating'"` (a filter
    expression: fields, literals, comparisons, and/or/not, in, .str methods; see the guide)."""
    fields: dict[str, Text] = field(default_factory=dict)
    """Column renames, name used here = column in the file, e.g. `{ output = "output_mtpa" }`."""
    kind: LayerKind = "generic"
    """What the layer holds: boundary, settlements (fields name, population), mines (name,
    output in Mt/yr), coal_areas, rail, stations, roads, rivers, water, protected_areas, anchors
    (kind), power_plants; `generic` is not checked."""
    layer: Text | None = None
    """Which layer of a file that holds several (a GeoPackage)."""
    boundaries: Path | None = None
    """`reader = "gem"` only: a GEM mine-boundaries GeoJSON whose licence polygons replace the
    mines' points."""
    units: dict[Text, Text] = field(default_factory=dict)
    """Units of the layer's fields, field = unit, e.g. `{ output = "Mt/yr" }`, shown in the map's
    popups, the QGIS aliases and the report; a field of a `mines` layer named `output` is in
    Mt/yr unless given here."""
    classes: dict[Text, Text] = field(default_factory=dict)
    """Legend labels of the values of the layer's `kind` field (road classes, kinds of anchor),
    most important first, e.g. `{ ugle_naukograd = "UgleNaukoGrad" }`. Values not listed follow
    in the order of the `[network]` speeds, then as found, labelled as written."""
    exactness: Literal["measured", "placed", "schematic"] | None = None
    """How exact the geometry is: `measured` (copied from a dataset with stated coordinates),
    `placed` (by hand from addresses or maps), `schematic` (generalised lines or areas, for
    regional screening only: the map and the report warn); left out: not stated."""
    error_m: NonNegative | None = None
    """Typical positional error of the features, in metres (shown with the exactness)."""
    source: Text | None = None
    """Where the data come from, in a few words (the report's and the map's caveats)."""

    @model_validator(mode="after")
    def _gem_only(self) -> LayerSpec:
        if self.boundaries is not None and self.reader != "gem":
            raise Problem(
                f"{key_of('boundaries')} is for GEM tracker layers only",
                'add reader = "gem", or drop boundaries',
            )
        return self


@dataclass(frozen=True, config=CONFIG)
class Criterion:
    """One factor of a profile's suitability, ``[[profiles.NAME.criteria]]``."""

    name: Label
    """Unique in the profile. Profiles share a criterion's raw raster by name, so one name means
    one measurement (its `standardize` and `weight` may differ between profiles)."""
    kind: CriterionKind
    """`distance`: Euclidean distance (m) to the nearest feature of `layer`. `cost_distance`:
    accumulated cost over the friction surface from the features of `layer`; with
    `weight_field`, the weight-averaged cost from all of them (Weber's transport cost).
    `within_radius`: the sum of `weight_field` (e.g. population) of the features within
    `radius_m`. `travel_time`: minutes from the nearest feature of `layer` over the road network
    (`[network]`) plus the off-network leg; with `minutes`, the sum of `weight_field` (or the
    count) of the features reachable within that many minutes (a labour pool)."""
    layer: Text
    """The layer measured from."""
    standardize: Standardization
    """How the raw value becomes a score in [0, 1], e.g.
    `{ fn = "linear", low = 0, high = 15000, direction = "lower" }`."""
    weight: NonNegative | None = None
    """The weight with `weighting = "direct"`: a profile's weights sum to 1 (or set
    `normalize = true`). Left out with `weighting = "ahp"`."""
    where: Filter | None = None
    """Only the features of `layer` that match (a filter expression)."""
    weight_field: Text | None = None
    """`cost_distance`: the weights of the mean cost; `within_radius`, and `travel_time` with
    `minutes`: what is summed."""
    radius_m: Positive | None = None
    """`within_radius`: the search radius in metres."""
    title: Text | None = None
    """Label for the map and the report."""
    minutes: Positive | None = None
    """`travel_time` only: sum what is reachable within this many minutes, instead of the time
    to the nearest feature."""

    @model_validator(mode="after")
    def _kind_keys(self) -> Criterion:
        if self.minutes is not None and self.kind != "travel_time":
            raise Problem(
                f"{key_of('minutes')} = {self.minutes:g}: minutes belongs to kind = 'travel_time'",
                "give the travel time limit in minutes for a travel_time criterion, or drop it",
            )
        if self.kind == "within_radius" and self.radius_m is None:
            raise Problem(
                f"{key_of('radius_m')} is required for kind = 'within_radius'",
                "give the search radius in metres, e.g. radius_m = 30000",
            )
        return self

    @property
    def key(self) -> str:
        """Identity of the raw raster, shared by profiles that use the same criterion."""
        parts = [self.kind, self.layer, self.where or "", self.weight_field or ""]
        if self.radius_m is not None:
            parts.append(f"{self.radius_m:g}")
        if self.minutes is not None:
            parts.append(f"{self.minutes:g}min")
        return "|".join(parts)


@dataclass(frozen=True, config=CONFIG)
class Exclusion:
    """Land a profile may not use: the features of a layer grown by a buffer."""

    layer: Text
    """The layer whose features are excluded."""
    buffer_m: NonNegative = 0.0
    """Grown by this many metres (e.g. a sanitary protection zone)."""
    where: Filter | None = None
    """Only the features that match (a filter expression)."""
    footprint_m2_per_person: Positive | None = None
    """Points first become discs of population × this area (a settlement's built-up area)."""
    width_field: Text | None = None
    """Lines are first widened to the width in this field (a river's channel)."""
    reason: Text | None = None
    """Why, for the report."""


Matrix = Annotated[
    list[list[Any]],
    WithJsonSchema(
        {"type": "array", "items": {"type": "array", "items": {"type": ["number", "string"]}}}
    ),
]


@dataclass(frozen=True, config=CONFIG)
class Ahp:
    """Pairwise judgements of a profile's criteria, ``[profiles.NAME.ahp]``; the weights are the
    principal eigenvector of the matrix."""

    matrix: Matrix
    """Saaty's 1–9 scale: entry (i, j) says how much more important criterion i is than j, rows
    and columns in the criteria's order; fractions as strings, e.g. `[[1, 3], ["1/3", 1]]`."""
    max_cr: NonNegative = 0.1
    """Largest consistency ratio accepted."""


@dataclass(frozen=True, config=CONFIG, kw_only=True)
class Profile:
    """A facility type, ``[profiles.NAME]``: its criteria, weights, exclusions and how sites are
    picked (contiguous patches of the best land, then the best cells, greedily, far enough
    apart)."""

    name: SkipJsonSchema[Label]
    """The profile's name: its table's name."""
    title: Text = ""
    """For the map and the report; the profile's name by default."""
    criteria: Annotated[tuple[Criterion, ...], MinLen(1)]
    """The factors of suitability, `[[profiles.NAME.criteria]]`."""
    exclusions: tuple[Exclusion, ...] = ()
    """Land the profile may not use, `[[profiles.NAME.exclusions]]`; a cell that touches an
    exclusion is excluded."""
    weights: SkipJsonSchema[tuple[float, ...]] = ()
    """One weight per criterion, summing to 1 (from the criteria's weights or the AHP matrix)."""
    weighting: Weighting = "direct"
    """`direct`: each criterion's `weight`; `ahp`: pairwise judgements in
    `[profiles.NAME.ahp]`."""
    ahp_matrix: SkipJsonSchema[tuple[tuple[float, ...], ...] | None] = None
    """The AHP matrix as numbers."""
    ahp_cr: SkipJsonSchema[float | None] = None
    """The AHP matrix's consistency ratio."""
    min_area_ha: Positive = 25.0
    """Smallest contiguous (8-connected) patch of good land that can host a site, in hectares."""
    n_sites: AtLeastOne = 10
    """How many ranked sites to propose."""
    min_separation_m: NonNegative = 10_000.0
    """Least distance between proposed sites, in metres."""
    candidate_quantile: Annotated[float, Strict(), Finite, Ge(0), Lt(1)] = 0.9
    """Candidate land is the eligible land above this quantile of suitability (0.9: the best
    10 %)."""
    color: Text = "#d62728"
    """Colour on the map and in the report (CSS)."""
    max_slope_deg: Annotated[float, Strict(), Finite, Gt(0), Lt(90)] | None = None
    """Steepest slope allowed, in degrees; needs `[terrain] dem`."""
    normalize: Flag = False
    """`true` rescales direct weights that do not sum to 1."""
    ahp: Ahp | None = None
    """The pairwise judgements, with `weighting = "ahp"`."""

    @model_validator(mode="after")
    def _weigh(self) -> Profile:
        if not self.title:
            object.__setattr__(self, "title", self.name)
        names = [c.name for c in self.criteria]
        if len(set(names)) != len(names):
            raise Problem(
                f"{key_of('criteria')}: criterion names repeat: {names}",
                "give each criterion a unique name",
            )
        if self.weights:  # given (a copy of a validated profile, or a sensitivity draw)
            if len(self.weights) != len(self.criteria):
                raise Problem(
                    f"{key_of('weights')} has {len(self.weights)} values for "
                    f"{len(self.criteria)} criteria",
                    "give one weight per criterion",
                )
            return self
        if self.weighting == "ahp":
            weights, cr, matrix = self._ahp()
            object.__setattr__(self, "ahp_matrix", matrix)
            object.__setattr__(self, "ahp_cr", cr)
        else:
            weights = self._direct()
        object.__setattr__(self, "weights", weights)
        return self

    def _ahp(self) -> tuple[tuple[float, ...], float, tuple[tuple[float, ...], ...]]:
        from siting.mcda.weights import ahp_weights

        if self.ahp is None:
            raise Problem(
                f"missing key {key_of('ahp')}",
                f'add [{key_of("ahp")}] matrix = [[1, 3], ["1/3", 1]] (one row per criterion)',
            )
        if any(c.weight is not None for c in self.criteria):
            raise Problem(
                f"{key_of('criteria')}: weights given with weighting = 'ahp'",
                "drop the criterion weights, or set weighting = 'direct'",
            )
        for i, row in enumerate(self.ahp.matrix):
            for j, entry in enumerate(row if isinstance(row, list) else ()):
                if isinstance(entry, float) and not math.isfinite(entry):
                    raise Problem(
                        f"{key_of('ahp.matrix')}[{i}][{j}] = {entry!r} is not a finite number",
                        "use Saaty's judgements from 1/9 to 9",
                    )
        try:
            weights, cr, matrix = ahp_weights(
                self.ahp.matrix, key=key_of("ahp.matrix"), n=len(self.criteria)
            )
        except ScenarioError as exc:  # its message names the key relative to this profile
            raise Problem(exc.message, exc.fix) from None
        if cr > self.ahp.max_cr:
            raise Problem(
                f"{key_of('ahp.matrix')}: consistency ratio CR = {cr:.3f} exceeds "
                f"max_cr = {self.ahp.max_cr:g}: the pairwise judgements contradict each other",
                f"revise the judgements, or accept them with {key_of('ahp.max_cr')} = {cr:.2f}",
            )
        return weights, cr, matrix

    def _direct(self) -> tuple[float, ...]:
        if self.ahp is not None:
            raise Problem(
                f"{key_of('ahp')} is for weighting = 'ahp'",
                "set weighting = 'ahp', or drop the ahp table",
            )
        missing = [c.name for c in self.criteria if c.weight is None]
        if missing:
            raise Problem(
                f"{key_of('criteria')}: no weight for {', '.join(missing)}",
                "give each criterion a weight, or use weighting = 'ahp'",
            )
        raw = [float(c.weight or 0.0) for c in self.criteria]
        total = sum(raw)
        if not math.isfinite(total):
            raise Problem(
                f"{key_of('criteria')}: the weights sum to {total:g}",
                "give weights of a usual size, e.g. shares that sum to 1",
            )
        if total <= 0:
            raise Problem(f"{key_of('criteria')}: the weights sum to 0", "give positive weights")
        if self.normalize:
            return tuple(w / total for w in raw)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            listed = ", ".join(f"{c.name}={c.weight:g}" for c in self.criteria)
            raise Problem(
                f"{key_of('criteria')}: the weights sum to {total:g}, not 1 ({listed})",
                f"make them sum to 1, or set {key_of('normalize')} = true to rescale them",
            )
        return tuple(raw)


@dataclass(frozen=True, config=CONFIG)
class Friction:
    """The surface that ``cost_distance`` criteria travel over: cost per metre, relative to a
    road (1). Open water is impassable except where a route crosses it (a bridge)."""

    resolution: Resolution = 1000.0
    """Cost surfaces are computed on this coarser grid (metres), then resampled."""
    off_road: Positive = 5.0
    """Cost per metre across country."""
    routes: tuple[Route, ...] = ()
    """Cheaper along these lines, which also bridge impassable water, e.g.
    `[{ layer = "roads", cost = 1.0 }, { layer = "rail", cost = 0.5 }]`."""
    impassable: tuple[Exclusion, ...] = ()
    """Never crossed, except on a route, e.g. `[{ layer = "water" }, { layer = "rivers",
    width_field = "width_m" }]`."""


@dataclass(frozen=True, config=CONFIG)
class Network:
    """The road network that ``travel_time`` criteria travel over: the lines of a layer joined
    into a graph, each edge at the speed of its class. Off the network, travel crosses the
    friction surface's passable cells."""

    layer: Text
    """The road lines."""
    class_field: Text | None = None
    """The field whose value picks an edge's speed in `speeds`."""
    speeds: Speeds = ()
    """Speed (km/h) by road class, e.g. `{ federal = 80, regional = 60 }`."""
    default_kmh: Positive = 60.0
    """Speed of a road whose class is not in `speeds`."""
    off_road_kmh: Positive = 15.0
    """Speed off the network, across the friction surface's passable cells."""
    snap_m: NonNegative = 500.0
    """Line ends within this distance (metres) of another line are connected to it."""

    @model_validator(mode="after")
    def _class_field(self) -> Network:
        if self.speeds and self.class_field is None:
            raise Problem(
                f"{key_of('speeds')} needs {key_of('class_field')}",
                'name the field the speeds are keyed by, e.g. class_field = "kind"',
            )
        return self


@dataclass(frozen=True, config=CONFIG)
class ClusterModel:
    """Growth poles, ``[models.clusters]``: clusters of enterprises on coordinates in metres,
    each with its outline, total weight, weighted Weber point and bootstrap stability."""

    layer: Text = "mines"
    """The enterprises clustered."""
    weight_field: Text | None = "output"
    """Sample weight (a mine's output, Mt/yr)."""
    eps_m: Positive = 15_000.0
    """`dbscan`: neighbourhood radius in metres."""
    min_weight: Positive = 5.0
    """`dbscan`: total weight a neighbourhood needs to seed a cluster."""
    method: ClusterMethod = "dbscan"
    """`dbscan` (weighted), `hdbscan` (`min_cluster_size`) or weighted `kmeans`
    (`n_clusters`)."""
    min_cluster_size: Annotated[int, Strict(), Ge(2)] = 3
    """`hdbscan`: the smallest cluster."""
    n_clusters: AtLeastOne = 8
    """`kmeans`: the number of clusters."""
    bootstrap: Count = 50
    """Resamplings for each pole's stability (mean Jaccard similarity); 0: none."""
    outline: Outline = "concave"
    """Hull around each pole's members (+ 2 km)."""
    concave_ratio: Share = 0.4
    """`concave`: 0 hugs the members most tightly, 1 is the convex hull."""
    snap_profile: Text | None = None
    """Also move each pole's Weber point to that profile's nearest eligible cell."""
    capacity_field: Text | None = None
    """Also sum this field per pole (e.g. design capacity)."""


@dataclass(frozen=True, config=CONFIG)
class AllocationModel:
    """Plants among a profile's sites serving weighted demand over cost-distance,
    ``[models.allocation]``: a p-median, or with a ``capacity`` capacitated facility location
    with opening costs (``p`` left out: the opening cost decides how many plants pay off)."""

    profile: Text
    """The profile whose proposed sites are the candidate plants."""
    demand: Text = "mines"
    """The layer served."""
    weight_field: Text | None = "output"
    """Each feature's demand (a mine's output, Mt/yr)."""
    p: AtLeastOne | None = 4
    """The number of plants. With `capacity` and no `p`, the opening cost decides how many."""
    capacity: Positive | None = None
    """Per plant, in the weight's units: turns on the capacitated model."""
    opening_cost: NonNegative = 0.0
    """Per plant, in weight × road-km (e.g. Mt·km/yr); needs `capacity`."""
    single_sourcing: Flag = True
    """Each demand feature ships to one plant (`false`: it may split)."""
    method: Solver = "exact"
    """p-median solver: `exact`, `milp`, or `heuristic` (no proof, for huge cases)."""
    time_limit: Positive = 60.0
    """Seconds per solve; the proven gap is reported either way."""
    pareto_time_limit: Positive = 3.0
    """Seconds per solve of the Pareto sweep (each point's proven gap is reported)."""
    suitability_weight: Share = 0.0
    """Site unsuitability mixed into the objective: 0 = least transport, 1 = best land first."""
    pareto_steps: Count = 0
    """k ≥ 2 also solves suitability weights 0, 1/(k−1), …, 1: the Pareto front; 0: off."""
    weber_candidates: Flag = True
    """Growth poles' snapped Weber points on eligible land are candidates too (origin `weber`)."""
    existing: Text | None = None
    """A layer of existing plants: open already, no opening cost (expand-or-build)."""
    existing_where: Filter | None = None
    """Only the existing plants that match (a filter expression)."""
    existing_capacity_field: Text | None = None
    """The existing plants' capacity field; an empty value takes `existing_capacity`."""
    existing_capacity: Positive | None = None
    """Capacity of an existing plant without one (an assumption; none: `capacity`)."""
    expansion_cost: NonNegative | None = None
    """Per unit of capacity added to an existing plant, up to `capacity` added; none: no growth."""

    @model_validator(mode="before")
    @classmethod
    def _p_by_default(cls, data: Any) -> Any:
        """A capacitated model without ``p`` lets the opening costs decide how many plants."""
        if isinstance(data, dict) and data.get("capacity") is not None and "p" not in data:
            return {**data, "p": None}
        if isinstance(data, ArgsKwargs) and len(data.args) < 4:
            kwargs = data.kwargs or {}
            if kwargs.get("capacity") is not None and "p" not in kwargs:
                return ArgsKwargs(data.args, {**kwargs, "p": None})
        return data

    @model_validator(mode="after")
    def _capacitated(self) -> AllocationModel:
        if self.capacity is None and self.opening_cost:
            raise Problem(
                f"{key_of('opening_cost')} needs {key_of('capacity')} (the capacitated model)",
                "add capacity = <plant capacity>, or drop opening_cost for a plain p-median",
            )
        if self.pareto_steps == 1:
            raise Problem(
                f"{key_of('pareto_steps')} = 1 must be 0 (off) or >= 2",
                "e.g. pareto_steps = 11 solves suitability weights 0, 0.1, …, 1",
            )
        return self

    @property
    def model(self) -> str:
        return "p-median" if self.capacity is None else "capacitated"


@dataclass(frozen=True, config=CONFIG)
class CoveringModel:
    """Maximal covering, ``[models.covering]``: ``p`` new sites of a profile that, with the
    ``existing`` facilities kept open, reach the most demand within ``max_minutes``: door to door
    over the road network when the scenario has a ``[network]``, else over the friction surface
    at ``speed_kmh``."""

    profile: Text
    """The profile whose proposed sites are the candidates."""
    demand: Text = "settlements"
    """The layer covered."""
    weight_field: Text | None = "population"
    """Each feature's demand."""
    existing: Text | None = None
    """A layer of facilities that stay open."""
    existing_where: Filter | None = None
    """Only the existing facilities that match (a filter expression); needs `existing`."""
    p: AtLeastOne = 2
    """New sites to add."""
    max_minutes: Positive = 60.0
    """Demand within this many minutes of a facility is covered."""
    speed_kmh: Positive = 60.0
    """Without `[network]`: travel time = cost-distance (road-equivalent km) / this speed."""
    time_limit: Positive = 60.0
    """Seconds for the solver."""

    @model_validator(mode="after")
    def _existing(self) -> CoveringModel:
        if self.existing_where is not None and self.existing is None:
            raise Problem(
                f"{key_of('existing_where')} needs {key_of('existing')}",
                'name the layer of existing facilities, e.g. existing = "anchors"',
            )
        return self


@dataclass(frozen=True, config=CONFIG)
class Outputs:
    """Which outputs a run writes, and where."""

    dir: Path = Path("outputs")
    """The run writes to `<dir>/<name>/`; relative to where siting runs."""
    map: Flag = True
    """`map.html`, the web map."""
    gpkg: Flag = True
    """`siting.gpkg`: sites, layers and model results."""
    rasters: Flag = True
    """GeoTIFFs of the criteria and the suitability."""
    report: Flag = True
    """`report.md` and `report.html`."""
    offline_map: Flag = True
    """Inline the map's scripts: `map.html` opens without a network."""
    qgis: Flag = True
    """Styles in the GeoPackage, `.qml` beside the GeoTIFFs, and the `siting.qgz` project."""


@dataclass(frozen=True, config=CONFIG)
class Edit:
    """A what-if change to one layer's features, applied when the layer is read (after its field
    renames, before its ``where`` filter), in the order written.

    ``add``: features from ``path`` (any GDAL file with a CRS) or one inline GeoJSON
    ``geometry`` with ``properties`` (in ``crs``, lon/lat by default). ``remove``: the features
    selected by ``where`` or by ``ids`` of ``id_field``. ``update``: set ``values`` on the
    features so selected (e.g. a mine's status to "closed"). ``key`` names the entry in the file
    (``add[0]``).
    """

    action: EditAction
    layer: Text
    key: Text
    path: Path | None = None
    geometry: dict[str, Any] | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    crs: AnyCrs = LONLAT
    where: Text | None = None
    ids: tuple[Any, ...] = ()
    id_field: Text = ID_FIELD
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, config=CONFIG)
class AddEdit:
    """``[[add]]``: new features for a layer, from a file or one inline GeoJSON geometry."""

    layer: Text
    """The layer that gains the features."""
    path: Path | None = None
    """Any GDAL file with a CRS; a relative path starts at the scenario file's folder."""
    geometry: dict[str, Any] | None = None
    """One GeoJSON geometry, e.g. `{ type = "LineString", coordinates = [[87.0, 54.05],
    [87.355, 54.122]] }`."""
    properties: Attributes = field(default_factory=dict)
    """The inline feature's attributes, e.g. `{ name = "New spur" }`."""
    crs: AnyCrs = LONLAT
    """The CRS of `geometry` (lon/lat by default)."""

    @model_validator(mode="after")
    def _one_source(self) -> AddEdit:
        if (self.path is None) == (self.geometry is None):
            raise Problem(
                f"{key_of()} needs either path or geometry",
                'give path = "spur.geojson", or geometry = { type = "LineString", coordinates = '
                "[[lon, lat], …] }",
            )
        finite_coordinates(self.geometry, key_of("geometry"))
        return self


def _one_selection(edit: RemoveEdit | UpdateEdit) -> None:
    if (edit.where is None) == (not edit.ids):
        raise Problem(
            f"{key_of()} needs either where or ids",
            'select the features with where = "name == \'Kedrovsky\'" or ids = ["Kedrovsky"]',
        )


@dataclass(frozen=True, config=CONFIG)
class RemoveEdit:
    """``[[remove]]``: remove the features selected by ``where`` or by ``ids``."""

    layer: Text
    """The layer edited."""
    where: Filter | None = None
    """Select the features that match (a filter expression)."""
    ids: list[Any] = field(default_factory=list)
    """Select the features by their `id_field` values, e.g. `["Taldinsky"]`."""
    id_field: Text = ID_FIELD
    """The field `ids` refers to."""

    @model_validator(mode="after")
    def _selection(self) -> RemoveEdit:
        _one_selection(self)
        return self


@dataclass(frozen=True, config=CONFIG)
class UpdateEdit:
    """``[[update]]``: set attributes of the features selected by ``where`` or by ``ids``."""

    layer: Text
    """The layer edited."""
    values: Attributes = field(default_factory=dict)
    """The fields to set, e.g. `{ status = "closed" }`."""
    where: Filter | None = None
    """Select the features that match (a filter expression)."""
    ids: list[Any] = field(default_factory=list)
    """Select the features by their `id_field` values, e.g. `["Bachatsky"]`."""
    id_field: Text = ID_FIELD
    """The field `ids` refers to."""

    @model_validator(mode="after")
    def _selection(self) -> UpdateEdit:
        _one_selection(self)
        if not self.values:
            raise Problem(
                f"{key_of('values')} is missing or empty",
                'give the fields to set, e.g. values = { status = "closed" }',
            )
        return self


@dataclass(frozen=True, config=CONFIG)
class Terrain:
    """The terrain, for slopes."""

    dem: Path | None = None
    """A digital elevation model: any GDAL raster with a CRS; enables `max_slope_deg`."""


@dataclass(frozen=True, config=CONFIG)
class Models:
    """Models run on the proposed sites."""

    clusters: ClusterModel | None = None
    """Growth poles of enterprises."""
    allocation: AllocationModel | None = None
    """Plants allocated to demand (the mines)."""
    covering: CoveringModel | None = None
    """Sites that cover the most demand (people) within a travel time."""
    chain: ChainModel | None = None
    """The value chain mines → preparation → coke plants → markets."""
    demand: Literal["inside", "padded"] = "inside"
    """Which features the models take as demand (mines, settlements): `inside`: only those in
    the study area (those in the padding still shape distances, criteria and exclusions).
    `padded`: those of the padded study area too (e.g. mines across the border)."""
