"""The scenario file: one declarative TOML document describing a siting run.

:func:`load` reads and validates it. Every error names the key (``profiles.technopark.criteria[2]
.weight``) and says how to fix it, so a planner never meets a traceback for a typo.
"""

from __future__ import annotations

import difflib
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from siting.errors import ScenarioError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# In a checkout (or an editable install) the embedded layers sit at the top of the repository; a
# wheel carries the same folder as siting/data.
_PACKAGE = Path(__file__).resolve().parents[1]
_CHECKOUT_LAYERS = _PACKAGE.parent / "layers"
LAYERS = _CHECKOUT_LAYERS if _CHECKOUT_LAYERS.is_dir() else _PACKAGE / "data"
DEFAULT_SCENARIO = LAYERS / "kuzbass" / "scenario.toml"
TEMPLATE = Path(__file__).resolve().parent / "templates" / "scenario.toml"

EDIT_ACTIONS = ("add", "remove", "update")
CRITERION_KINDS = ("distance", "cost_distance", "within_radius", "travel_time")
STANDARDIZE_FUNCTIONS = ("linear", "sigmoid", "threshold", "target")
DIRECTIONS = ("lower", "higher")
READERS = ("vector", "gem")
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


@dataclass(frozen=True)
class Standardization:
    """How a raw criterion value becomes a score in [0, 1].

    ``linear`` ramps between ``low`` and ``high`` (by default the minimum and maximum over the
    study area); ``sigmoid`` is a logistic curve centred on
    ``midpoint`` with width ``spread``; ``threshold`` is 1 on the good side of ``value``;
    ``target`` is a Gaussian around ``optimum`` with standard deviation ``spread``.
    ``direction`` says whether ``lower`` or ``higher`` raw values are better.
    """

    fn: str
    direction: str = "lower"
    low: float | None = None
    high: float | None = None
    midpoint: float | None = None
    spread: float | None = None
    value: float | None = None
    optimum: float | None = None

    @property
    def reach(self) -> float:
        """Raw value beyond which the score no longer changes (used to pad the layers)."""
        if self.fn == "linear":
            return 0.0 if self.low is None else float(max(abs(self.low), abs(self.high)))
        if self.fn == "threshold":
            return float(abs(self.value))
        if self.fn == "sigmoid":
            return float(abs(self.midpoint) + 6 * abs(self.spread))
        return float(abs(self.optimum) + 3 * abs(self.spread))


@dataclass(frozen=True)
class LayerSpec:
    """A named input layer: where it is, how to read it, which rows and fields to keep, and what
    kind of thing it holds (checked on reading: geometry type and required fields). ``layer``
    picks one layer of a file that holds several (a GeoPackage). ``boundaries`` (``reader =
    "gem"`` only) is a GEM mine-boundaries GeoJSON whose licence polygons replace the points."""

    name: str
    path: Path
    reader: str = "vector"
    where: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    kind: str = "generic"
    layer: str | None = None
    boundaries: Path | None = None


@dataclass(frozen=True)
class Criterion:
    """One factor of a profile's suitability.

    ``distance``: Euclidean distance (m) to the nearest feature of ``layer``.
    ``cost_distance``: accumulated cost over the friction surface from the features of ``layer``;
    with ``weight_field`` it is the weight-averaged cost from all of them (Weber's transport cost).
    ``within_radius``: sum of ``weight_field`` (e.g. population) of features within ``radius_m``.
    ``travel_time``: minutes from the nearest feature of ``layer`` over the road network
    ([network]) plus the off-network leg; with ``minutes``, the sum of ``weight_field`` (or the
    count) of features reachable within that many minutes (a labour pool).
    """

    name: str
    kind: str
    layer: str
    standardize: Standardization
    weight: float | None = None
    where: str | None = None
    weight_field: str | None = None
    radius_m: float | None = None
    title: str | None = None
    minutes: float | None = None

    @property
    def key(self) -> str:
        """Identity of the raw raster, shared by profiles that use the same criterion."""
        parts = [self.kind, self.layer, self.where or "", self.weight_field or ""]
        if self.radius_m is not None:
            parts.append(f"{self.radius_m:g}")
        if self.minutes is not None:
            parts.append(f"{self.minutes:g}min")
        return "|".join(parts)


@dataclass(frozen=True)
class Exclusion:
    """Land a profile may not use: features of ``layer`` grown by ``buffer_m``.

    Points with ``footprint_m2_per_person`` first become discs whose area is the population
    times that figure (a settlement's built-up area), then the buffer (a sanitary zone) is added.
    Lines with ``width_field`` are first widened to that width (a river's channel).
    """

    layer: str
    buffer_m: float = 0.0
    where: str | None = None
    footprint_m2_per_person: float | None = None
    width_field: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Profile:
    """A facility type: its criteria, weights, exclusions and how sites are picked."""

    name: str
    title: str
    criteria: tuple[Criterion, ...]
    exclusions: tuple[Exclusion, ...]
    weights: tuple[float, ...]
    weighting: str = "direct"
    ahp_matrix: tuple[tuple[float, ...], ...] | None = None
    ahp_cr: float | None = None
    min_area_ha: float = 25.0
    n_sites: int = 10
    min_separation_m: float = 10_000.0
    candidate_quantile: float = 0.9
    color: str = "#d62728"
    max_slope_deg: float | None = None


@dataclass(frozen=True)
class Friction:
    """The surface that cost-distance criteria travel over (cost per metre)."""

    resolution: float = 1000.0
    off_road: float = 5.0
    routes: tuple[tuple[str, float], ...] = ()
    impassable: tuple[Exclusion, ...] = ()


@dataclass(frozen=True)
class Edit:
    """A what-if change to one layer's features, applied when the layer is read (after its field
    renames, before its ``where`` filter), in the order written.

    ``add``: features from ``path`` (any GDAL file with a CRS) or one inline GeoJSON
    ``geometry`` with ``properties`` (in ``crs``, lon/lat by default). ``remove``: the features
    selected by ``where`` or by ``ids`` of ``id_field``. ``update``: set ``values`` on the
    features so selected (e.g. a mine's status to "closed").
    """

    action: str
    layer: str
    key: str
    path: Path | None = None
    geometry: dict[str, Any] | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    crs: str = "EPSG:4326"
    where: str | None = None
    ids: tuple[Any, ...] = ()
    id_field: str = "name"
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    """The road network that ``travel_time`` criteria travel over: the lines of ``layer`` joined
    into a graph (ends within ``snap_m`` of another line are connected), each edge at the speed
    of its class (``speeds`` by ``class_field``, else ``default_kmh``). Off the network, travel
    crosses the friction surface's passable cells at ``off_road_kmh``."""

    layer: str
    class_field: str | None = None
    speeds: tuple[tuple[str, float], ...] = ()
    default_kmh: float = 60.0
    off_road_kmh: float = 15.0
    snap_m: float = 500.0


@dataclass(frozen=True)
class ClusterModel:
    """Growth-pole clusters of enterprises (DBSCAN, HDBSCAN or weighted KMeans, in metres)."""

    layer: str = "mines"
    weight_field: str | None = "output"
    eps_m: float = 15_000.0
    min_weight: float = 5.0
    method: str = "dbscan"
    min_cluster_size: int = 3
    n_clusters: int = 8
    bootstrap: int = 50
    outline: str = "concave"
    concave_ratio: float = 0.4
    snap_profile: str | None = None
    capacity_field: str | None = None


@dataclass(frozen=True)
class AllocationModel:
    """Plants among a profile's sites serving weighted demand over cost-distance: a p-median, or,
    with a ``capacity``, capacitated facility location with opening costs (``p`` omitted: the
    fixed charge decides how many). ``suitability_weight`` mixes site unsuitability into the
    objective; ``pareto_steps`` > 0 also solves a sweep of that mix (the Pareto front)."""

    profile: str
    demand: str = "mines"
    weight_field: str | None = "output"
    p: int | None = 4
    capacity: float | None = None
    opening_cost: float = 0.0
    single_sourcing: bool = True
    method: str = "exact"
    time_limit: float = 60.0
    suitability_weight: float = 0.0
    pareto_steps: int = 0

    @property
    def model(self) -> str:
        return "p-median" if self.capacity is None else "capacitated"


@dataclass(frozen=True)
class CoveringModel:
    """Maximal covering: ``p`` new sites of a profile that, with the ``existing`` facilities kept
    open, reach the most demand within ``max_minutes``: door to door over the road network when
    the scenario has a [network], else over the friction surface at ``speed_kmh`` on roads."""

    profile: str
    demand: str = "settlements"
    weight_field: str | None = "population"
    existing: str | None = None
    existing_where: str | None = None
    p: int = 2
    max_minutes: float = 60.0
    speed_kmh: float = 60.0
    time_limit: float = 60.0


@dataclass(frozen=True)
class Outputs:
    """Which outputs a run writes, and where."""

    dir: Path = Path("outputs")
    map: bool = True
    gpkg: bool = True
    rasters: bool = True
    report: bool = True
    offline_map: bool = True
    qgis: bool = True


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. Build it with :func:`load` or :func:`from_dict`."""

    name: str
    title: str
    description: str
    crs: str
    resolution: float
    study_area: str
    layers: dict[str, LayerSpec]
    profiles: dict[str, Profile]
    friction: Friction
    clusters: ClusterModel | None
    allocation: AllocationModel | None
    outputs: Outputs
    covering: CoveringModel | None = None
    network: Network | None = None
    source: Path | None = None
    place_names: str | None = None
    dem: Path | None = None
    edits: tuple[Edit, ...] = ()
    extends: Path | None = None

    @property
    def output_dir(self) -> Path:
        """Folder this scenario's run writes to."""
        return self.outputs.dir / self.name

    @property
    def pad(self) -> float:
        """Largest buffer or search distance: how far beyond the study area layers matter."""
        reaches = [0.0]
        for profile in self.profiles.values():
            reaches += [e.buffer_m for e in profile.exclusions]
            for c in profile.criteria:
                reaches.append(c.radius_m or 0.0)
                if c.kind == "distance":
                    reaches.append(c.standardize.reach)
        return max(reaches)

    def with_overrides(self, **overrides: Any) -> Scenario:
        """Return a copy with top-level values replaced (``resolution``, ``name``, ``output_dir``).

        Raises
        ------
        ScenarioError
            If an override is unknown or has the wrong type.
        """
        allowed = {"resolution", "name", "title", "crs", "output_dir"}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in allowed:
                raise ScenarioError(
                    f"unknown override {key!r}", f"use one of: {', '.join(sorted(allowed))}"
                )
            if key == "output_dir":
                changes["outputs"] = replace(self.outputs, dir=Path(value))
            elif key == "resolution":
                changes[key] = _positive(value, "resolution")
            else:
                changes[key] = value
        return replace(self, **changes)


def load(path: str | Path | None = None) -> Scenario:
    """Read and validate a scenario TOML file.

    Parameters
    ----------
    path
        The scenario file; ``None`` loads the embedded Kuzbass default.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        If the file is missing, is not TOML, or any key is wrong; the message names the key.
    """
    path = Path(path) if path is not None else DEFAULT_SCENARIO
    data = _read_toml(path)
    extends = data.get("extends")
    data = _inherit(data, path, ())
    scenario = from_dict(data, base_dir=path.parent, source=path)
    if isinstance(extends, str):
        return replace(scenario, extends=_base_path(extends, path))
    return scenario


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ScenarioError(
            f"scenario file not found: {path}",
            "give the path of a .toml scenario, or write one with 'siting init PATH'",
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            f"{path}: not valid TOML: {exc}", "fix the syntax at that line"
        ) from None


def _base_path(ref: str, path: Path) -> Path:
    """``extends = "kuzbass"`` is the embedded default; anything else a path from the file."""
    if ref == "kuzbass":
        return DEFAULT_SCENARIO
    base = Path(ref)
    return (base if base.is_absolute() else path.parent / base).resolve()


def _inherit(data: dict[str, Any], path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The scenario ``data`` with the scenario it ``extends`` underneath (recursively).

    The base's relative file paths are made absolute from the base's folder, so that they keep
    pointing at the base's files. Tables merge key by key; arrays of tables whose entries have a
    ``name`` (criteria) merge entry by entry by name (``drop = true`` removes one); the what-if
    edits ([[add]], [[remove]], [[update]]) accumulate, the base's first; other values replace.
    """
    ref = data.pop("extends", None)
    if ref is None:
        return data
    if not isinstance(ref, str):
        raise ScenarioError(
            f"{path}: extends = {ref!r} must be a string", 'give a scenario file, e.g. "base.toml"'
        )
    base_path = _base_path(ref, path)
    if not base_path.is_file():
        raise ScenarioError(
            f"{path}: extends = {ref!r}: no scenario file at {base_path}",
            'give the base scenario\'s path relative to this file, or "kuzbass" for the default',
        )
    if base_path.resolve() in chain or base_path.resolve() == path.resolve():
        raise ScenarioError(
            f"{path}: extends = {ref!r} makes a cycle ({' → '.join(p.name for p in chain)})",
            "a scenario cannot extend itself, directly or through others",
        )
    base = _inherit(_read_toml(base_path), base_path, (*chain, path.resolve()))
    _anchor_paths(base, base_path.parent)
    if "name" in data and "title" not in data:
        base.pop("title", None)  # a what-if named anew is not titled as its base
    return _merge(base, data)


def _anchor_paths(data: dict[str, Any], folder: Path) -> None:
    def anchored(value: Any) -> Any:
        if isinstance(value, str) and not Path(value).is_absolute():
            return str(folder / value)
        return value

    for layer in (data.get("layers") or {}).values():
        if isinstance(layer, dict) and "path" in layer:
            layer["path"] = anchored(layer["path"])
    terrain = data.get("terrain")
    if isinstance(terrain, dict) and "dem" in terrain:
        terrain["dem"] = anchored(terrain["dem"])
    for edit in data.get("add") or []:
        if isinstance(edit, dict) and "path" in edit:
            edit["path"] = anchored(edit["path"])


def _merge(base: Any, over: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v, k) if k in base else v
        return out
    if key in EDIT_ACTIONS and isinstance(base, list) and isinstance(over, list):
        return [*base, *over]
    named = isinstance(base, list) and isinstance(over, list)
    named = named and all(isinstance(t, dict) and "name" in t for t in (*base, *over))
    if named:
        out = {t["name"]: t for t in base}
        for t in over:
            out[t["name"]] = _merge(out[t["name"]], t) if t["name"] in out else t
        return [
            {k: v for k, v in t.items() if k != "drop"} for t in out.values() if not t.get("drop")
        ]
    return over


def write_template(path: str | Path) -> Path:
    """Write a commented scenario template to ``path`` (refusing to overwrite).

    The template reads the embedded Kuzbass layers, so it runs as written; its comments list
    every key.

    Raises
    ------
    ScenarioError
        If ``path`` already exists.
    """
    path = Path(path)
    if path.exists():
        raise ScenarioError(f"{path} already exists", "choose a new file name or delete it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = TEMPLATE.read_text(encoding="utf-8")
    path.write_text(text.replace("{layers}", DEFAULT_SCENARIO.parent.as_posix()), encoding="utf-8")
    return path


class _Table:
    """A TOML table read key by key; leftover keys are reported as unknown."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ScenarioError(f"{where or 'scenario'} must be a table", f"write it as [{where}]")
        self.data = data
        self.where = where
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.seen.add(name)
        if name not in self.data:
            if default is ...:
                typo = difflib.get_close_matches(name, [k for k in self.data if k not in self.seen])
                if typo:
                    raise ScenarioError(
                        f"unknown scenario key {self.key(typo[0])}", f"did you mean {name!r}?"
                    )
                raise ScenarioError(f"missing key {self.key(name)}", f"add {self.key(name)} = ...")
            return default
        value = self.data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise ScenarioError(
                f"{self.key(name)} = {value!r} has the wrong type", f"give a {names}"
            )
        return value

    def choice(self, name: str, options: tuple[str, ...], default: Any = ...) -> str:
        value = self.get(name, str, default)
        if value not in options:
            raise ScenarioError(
                f"{self.key(name)} = {value!r} is not one of {', '.join(options)}",
                f"use one of: {', '.join(options)}",
            )
        return value

    def table(self, name: str, default: Any = ...) -> _Table | None:
        value = self.get(name, dict, default)
        return None if value is None else _Table(value, self.key(name))

    def tables(self, name: str) -> list[_Table]:
        items = self.get(name, list, [])
        return [_Table(item, f"{self.key(name)}[{i}]") for i, item in enumerate(items)]

    def done(self) -> None:
        for name in self.data:
            if name not in self.seen:
                close = difflib.get_close_matches(name, sorted(self.seen), n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else (f"known keys here: {', '.join(sorted(self.seen))}")
                )
                raise ScenarioError(f"unknown scenario key {self.key(name)}", hint)


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ScenarioError(f"{key} = {value!r} must be a positive number", f"set {key} > 0")
    return float(value)


def from_dict(
    data: dict[str, Any], base_dir: Path = Path("."), source: Path | None = None
) -> Scenario:
    """Validate a scenario given as a dictionary (the parsed TOML).

    Relative layer paths are resolved against ``base_dir``.
    """
    top = _Table(data, "")
    name = top.get("name", str)
    if not name or any(c in name for c in '/\\:*?"<>|') or name.startswith("."):
        raise ScenarioError(
            f"name = {name!r} cannot be a folder name", "use letters, digits, - and _"
        )
    title = top.get("title", str, name)
    description = top.get("description", str, "")
    crs = _crs(top.get("crs", str))
    resolution = _positive(top.get("resolution", (int, float)), "resolution")

    layers = {n: _layer(n, t, base_dir) for n, t in _named_tables(top, "layers")}
    if not layers:
        raise ScenarioError(
            "the scenario has no [layers.*] tables", "add at least a study area layer"
        )
    study_area = top.get("study_area", str)
    _known_layer(study_area, layers, "study_area")

    place_names = top.get("place_names", str, "settlements" if "settlements" in layers else None)
    if place_names is not None:
        _known_layer(place_names, layers, "place_names")
    friction = _friction(top.table("friction", {}), layers)
    network_t = top.table("network", None)
    network = None if network_t is None else _network(network_t, layers)
    profiles = {n: _profile(n, t, layers) for n, t in _named_tables(top, "profiles")}
    if not profiles:
        raise ScenarioError("the scenario has no [profiles.*] tables", "add at least one profile")
    for p in profiles.values():
        for k, c in enumerate(p.criteria):
            if c.kind == "travel_time" and network is None:
                raise ScenarioError(
                    f"profiles.{p.name}.criteria[{k}] ({c.name!r}) is a travel_time criterion "
                    "but the scenario has no [network]",
                    'add [network] layer = "roads" (the road lines to travel on)',
                )
    _check_shared_criteria(profiles)
    terrain = top.table("terrain", {})
    dem = terrain.get("dem", str, None)
    terrain.done()
    dem_path = None if dem is None else (Path(dem) if Path(dem).is_absolute() else base_dir / dem)
    for p in profiles.values():
        if p.max_slope_deg is not None and dem_path is None:
            raise ScenarioError(
                f"profiles.{p.name}.max_slope_deg needs a DEM",
                'add [terrain] dem = "elevation.tif", or drop max_slope_deg',
            )

    models = top.table("models", {})
    clusters_t = models.table("clusters", None)
    clusters = None
    if clusters_t is not None:
        clusters = ClusterModel(
            layer=_known_layer(
                clusters_t.get("layer", str, "mines"), layers, clusters_t.key("layer")
            ),
            weight_field=clusters_t.get("weight_field", str, "output"),
            eps_m=_positive(
                clusters_t.get("eps_m", (int, float), 15_000.0), clusters_t.key("eps_m")
            ),
            min_weight=_positive(
                clusters_t.get("min_weight", (int, float), 5.0), clusters_t.key("min_weight")
            ),
            method=clusters_t.choice("method", ("dbscan", "hdbscan", "kmeans"), "dbscan"),
            min_cluster_size=clusters_t.get("min_cluster_size", int, 3),
            n_clusters=clusters_t.get("n_clusters", int, 8),
            bootstrap=clusters_t.get("bootstrap", int, 50),
            outline=clusters_t.choice("outline", ("concave", "convex"), "concave"),
            concave_ratio=clusters_t.get("concave_ratio", (int, float), 0.4),
            snap_profile=clusters_t.get("snap_profile", str, None),
            capacity_field=clusters_t.get("capacity_field", str, None),
        )
        if clusters.snap_profile is not None:
            _known_profile(clusters.snap_profile, profiles, clusters_t.key("snap_profile"))
        if not 0 <= clusters.concave_ratio <= 1:
            raise ScenarioError(
                f"{clusters_t.key('concave_ratio')} = {clusters.concave_ratio:g} must lie in "
                "[0, 1]",
                "0 hugs the mines most tightly, 1 is the convex hull",
            )
        if clusters.min_cluster_size < 2 or clusters.n_clusters < 1 or clusters.bootstrap < 0:
            raise ScenarioError(
                f"{clusters_t.key('min_cluster_size')} must be >= 2, "
                f"{clusters_t.key('n_clusters')} >= 1 and {clusters_t.key('bootstrap')} >= 0",
                "fix the value named",
            )
        clusters_t.done()
    allocation = _allocation_model(models.table("allocation", None), layers, profiles)
    covering = _covering_model(models.table("covering", None), layers, profiles)
    models.done()

    edits = tuple(
        _edit(action, t, layers, base_dir) for action in EDIT_ACTIONS for t in top.tables(action)
    )
    out_t = top.table("outputs", {})
    out_dir = Path(out_t.get("dir", str, "outputs"))
    outputs = Outputs(
        dir=out_dir,
        map=out_t.get("map", bool, True),
        gpkg=out_t.get("gpkg", bool, True),
        rasters=out_t.get("rasters", bool, True),
        report=out_t.get("report", bool, True),
        offline_map=out_t.get("offline_map", bool, True),
        qgis=out_t.get("qgis", bool, True),
    )
    out_t.done()
    top.done()
    return Scenario(
        name=name,
        title=title,
        description=description,
        crs=crs,
        resolution=resolution,
        study_area=study_area,
        layers=layers,
        profiles=profiles,
        friction=friction,
        clusters=clusters,
        allocation=allocation,
        covering=covering,
        network=network,
        outputs=outputs,
        source=source,
        place_names=place_names,
        dem=dem_path,
        edits=edits,
    )


def _check_shared_criteria(profiles: dict[str, Profile]) -> None:
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


def _crs(value: str) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_user_input(value)
    except CRSError:
        raise ScenarioError(
            f"crs = {value!r} is not a known CRS", 'use e.g. "EPSG:32645"'
        ) from None
    if not crs.is_projected:
        raise ScenarioError(
            f"crs = {value!r} is not projected: distances and buffers need metres",
            'use a projected CRS in metres, e.g. UTM zone 45N "EPSG:32645" for Kuzbass',
        )
    return value


def _crs_any(value: str, key: str) -> str:
    """Any CRS pyproj knows (lon/lat included), for data given in it."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(value)
    except CRSError:
        raise ScenarioError(
            f"{key} = {value!r} is not a known CRS", 'use e.g. "EPSG:4326"'
        ) from None
    return value


def _named_tables(top: _Table, name: str) -> list[tuple[str, _Table]]:
    section = top.table(name, {})
    section.seen.update(section.data)
    return [(n, _Table(v, section.key(n))) for n, v in section.data.items()]


def _allocation_model(
    t: _Table | None, layers: dict[str, LayerSpec], profiles: dict[str, Profile]
) -> AllocationModel | None:
    if t is None:
        return None
    capacity = t.get("capacity", (int, float), None)
    spec = AllocationModel(
        profile=_known_profile(t.get("profile", str), profiles, t.key("profile")),
        demand=_known_layer(t.get("demand", str, "mines"), layers, t.key("demand")),
        weight_field=t.get("weight_field", str, "output"),
        # A capacitated model without p lets the opening costs decide how many plants.
        p=t.get("p", int, None if capacity is not None else 4),
        capacity=capacity,
        opening_cost=t.get("opening_cost", (int, float), 0.0),
        single_sourcing=t.get("single_sourcing", bool, True),
        method=t.choice("method", ("exact", "milp", "heuristic"), "exact"),
        time_limit=t.get("time_limit", (int, float), 60.0),
        suitability_weight=t.get("suitability_weight", (int, float), 0.0),
        pareto_steps=t.get("pareto_steps", int, 0),
    )
    n_sites = profiles[spec.profile].n_sites
    if spec.p is not None and not 1 <= spec.p <= n_sites:
        raise ScenarioError(
            f"{t.key('p')} = {spec.p} must be between 1 and the profile's n_sites ({n_sites})",
            "lower p or raise the profile's n_sites",
        )
    if spec.capacity is not None and spec.capacity <= 0:
        raise ScenarioError(
            f"{t.key('capacity')} = {spec.capacity:g} must be > 0",
            "give each plant's capacity in the weight field's units (e.g. Mt/yr)",
        )
    if spec.opening_cost < 0 or spec.time_limit <= 0:
        raise ScenarioError(
            f"{t.key('opening_cost')} must be >= 0 and {t.key('time_limit')} > 0",
            "fix the values",
        )
    if spec.capacity is None and spec.opening_cost:
        raise ScenarioError(
            f"{t.key('opening_cost')} needs {t.key('capacity')} (the capacitated model)",
            "add capacity = <plant capacity>, or drop opening_cost for a plain p-median",
        )
    if not 0 <= spec.suitability_weight <= 1:
        raise ScenarioError(
            f"{t.key('suitability_weight')} = {spec.suitability_weight:g} must lie in [0, 1]",
            "0 = transport cost only, 1 = site suitability only",
        )
    if spec.pareto_steps < 0 or spec.pareto_steps == 1:
        raise ScenarioError(
            f"{t.key('pareto_steps')} = {spec.pareto_steps} must be 0 (off) or >= 2",
            "e.g. pareto_steps = 11 solves suitability weights 0, 0.1, …, 1",
        )
    t.done()
    return spec


def _covering_model(
    t: _Table | None, layers: dict[str, LayerSpec], profiles: dict[str, Profile]
) -> CoveringModel | None:
    if t is None:
        return None
    existing = t.get("existing", str, None)
    spec = CoveringModel(
        profile=_known_profile(t.get("profile", str), profiles, t.key("profile")),
        demand=_known_layer(t.get("demand", str, "settlements"), layers, t.key("demand")),
        weight_field=t.get("weight_field", str, "population"),
        existing=None if existing is None else _known_layer(existing, layers, t.key("existing")),
        existing_where=t.get("existing_where", str, None),
        p=t.get("p", int, 2),
        max_minutes=t.get("max_minutes", (int, float), 60.0),
        speed_kmh=t.get("speed_kmh", (int, float), 60.0),
        time_limit=t.get("time_limit", (int, float), 60.0),
    )
    n_sites = profiles[spec.profile].n_sites
    if not 1 <= spec.p <= n_sites:
        raise ScenarioError(
            f"{t.key('p')} = {spec.p} must be between 1 and the profile's n_sites ({n_sites})",
            "lower p or raise the profile's n_sites",
        )
    if spec.max_minutes <= 0 or spec.speed_kmh <= 0 or spec.time_limit <= 0:
        raise ScenarioError(
            f"{t.key('max_minutes')}, {t.key('speed_kmh')} and {t.key('time_limit')} must be > 0",
            "fix the values",
        )
    if spec.existing_where is not None and spec.existing is None:
        raise ScenarioError(
            f"{t.key('existing_where')} needs {t.key('existing')}",
            'name the layer of existing facilities, e.g. existing = "anchors"',
        )
    t.done()
    return spec


def _known_profile(name: str, profiles: dict[str, Profile], key: str) -> str:
    if name not in profiles:
        raise ScenarioError(
            f"{key} = {name!r} is not a profile", f"use one of: {', '.join(profiles)}"
        )
    return name


def _known_layer(name: str, layers: dict[str, LayerSpec], key: str) -> str:
    if name not in layers:
        raise ScenarioError(
            f"{key} = {name!r} is not a layer of this scenario",
            f"use one of: {', '.join(layers)}, or add [layers.{name}]",
        )
    return name


def _layer(name: str, t: _Table, base_dir: Path) -> LayerSpec:
    path = Path(t.get("path", str))
    fields = t.get("fields", dict, {})
    for k, v in fields.items():
        if not isinstance(v, str):
            raise ScenarioError(f"{t.key('fields')}.{k} = {v!r} must be a column name (a string)")
    reader = t.choice("reader", READERS, "vector")
    boundaries = t.get("boundaries", str, None)
    if boundaries is not None and reader != "gem":
        raise ScenarioError(
            f"{t.key('boundaries')} is for GEM tracker layers only",
            'add reader = "gem", or drop boundaries',
        )
    spec = LayerSpec(
        name=name,
        path=path if path.is_absolute() else (base_dir / path),
        reader=reader,
        layer=t.get("layer", str, None),
        where=t.get("where", str, None),
        fields=dict(fields),
        kind=t.choice("kind", tuple(LAYER_KINDS), "generic"),
        boundaries=None if boundaries is None else base_dir / boundaries,
    )
    t.done()
    return spec


def _standardization(t: _Table) -> Standardization:
    fn = t.choice("fn", STANDARDIZE_FUNCTIONS)
    direction = t.choice("direction", DIRECTIONS, "lower")
    number = (int, float)
    if fn == "linear":
        s = Standardization(
            fn, direction, low=t.get("low", number, None), high=t.get("high", number, None)
        )
        if (s.low is None) != (s.high is None):
            raise ScenarioError(
                f"{t.key('low')} and {t.key('high')} go together",
                "give both, or neither to stretch over the study area's range",
            )
        if s.low is not None and not s.high > s.low:
            raise ScenarioError(f"{t.key('high')} must be greater than {t.key('low')}")
    elif fn == "sigmoid":
        s = Standardization(
            fn,
            direction,
            midpoint=t.get("midpoint", number),
            spread=_positive(t.get("spread", number), t.key("spread")),
        )
    elif fn == "threshold":
        s = Standardization(fn, direction, value=t.get("value", number))
    else:
        s = Standardization(
            fn,
            direction,
            optimum=t.get("optimum", number),
            spread=_positive(t.get("spread", number), t.key("spread")),
        )
    t.done()
    return s


def _criterion(t: _Table, layers: dict[str, LayerSpec]) -> Criterion:
    kind = t.choice("kind", CRITERION_KINDS)
    c = Criterion(
        name=t.get("name", str),
        kind=kind,
        layer=_known_layer(t.get("layer", str), layers, t.key("layer")),
        standardize=_standardization(t.table("standardize")),
        weight=t.get("weight", (int, float), None),
        where=t.get("where", str, None),
        weight_field=t.get("weight_field", str, None),
        radius_m=t.get("radius_m", (int, float), None),
        title=t.get("title", str, None),
        minutes=t.get("minutes", (int, float), None),
    )
    if c.minutes is not None and (kind != "travel_time" or c.minutes <= 0):
        raise ScenarioError(
            f"{t.key('minutes')} = {c.minutes:g}: minutes belongs to kind = 'travel_time' and "
            "must be > 0",
            "give the travel time limit in minutes, e.g. minutes = 30, or drop it",
        )
    if kind == "within_radius" and (c.radius_m is None or c.radius_m <= 0):
        raise ScenarioError(
            f"{t.key('radius_m')} is required for kind = 'within_radius'",
            "give the search radius in metres, e.g. radius_m = 30000",
        )
    if c.weight is not None and c.weight < 0:
        raise ScenarioError(f"{t.key('weight')} = {c.weight} is negative", "weights must be >= 0")
    t.done()
    return c


def _exclusion(t: _Table, layers: dict[str, LayerSpec]) -> Exclusion:
    e = Exclusion(
        layer=_known_layer(t.get("layer", str), layers, t.key("layer")),
        buffer_m=t.get("buffer_m", (int, float), 0.0),
        where=t.get("where", str, None),
        footprint_m2_per_person=t.get("footprint_m2_per_person", (int, float), None),
        width_field=t.get("width_field", str, None),
        reason=t.get("reason", str, None),
    )
    if e.buffer_m < 0:
        raise ScenarioError(
            f"{t.key('buffer_m')} = {e.buffer_m} is negative", "use 0 or more metres"
        )
    t.done()
    return e


def _profile(name: str, t: _Table, layers: dict[str, LayerSpec]) -> Profile:
    from siting.mcda.weights import ahp_weights

    criteria = tuple(_criterion(c, layers) for c in t.tables("criteria"))
    if not criteria:
        raise ScenarioError(f"{t.key('criteria')} is empty", f"add [[{t.key('criteria')}]] tables")
    names = [c.name for c in criteria]
    if len(set(names)) != len(names):
        raise ScenarioError(
            f"{t.key('criteria')}: criterion names repeat: {names}",
            "give each criterion a unique name",
        )
    exclusions = tuple(_exclusion(e, layers) for e in t.tables("exclusions"))
    weighting = t.choice("weighting", ("direct", "ahp"), "direct")
    normalize = t.get("normalize", bool, False)
    ahp_matrix = None
    ahp_cr = None
    if weighting == "ahp":
        ahp_t = t.table("ahp")
        matrix = ahp_t.get("matrix", list)
        max_cr = ahp_t.get("max_cr", (int, float), 0.1)
        ahp_t.done()
        weights, ahp_cr, ahp_matrix = ahp_weights(matrix, key=ahp_t.key("matrix"), n=len(criteria))
        if ahp_cr > max_cr:
            raise ScenarioError(
                f"{ahp_t.key('matrix')}: consistency ratio CR = {ahp_cr:.3f} exceeds "
                f"max_cr = {max_cr:g}: the pairwise judgements contradict each other",
                f"revise the judgements, or accept them with {ahp_t.key('max_cr')} = {ahp_cr:.2f}",
            )
        if any(c.weight is not None for c in criteria):
            raise ScenarioError(
                f"{t.key('criteria')}: weights given with weighting = 'ahp'",
                "drop the criterion weights, or set weighting = 'direct'",
            )
    else:
        missing = [c.name for c in criteria if c.weight is None]
        if missing:
            raise ScenarioError(
                f"{t.key('criteria')}: no weight for {', '.join(missing)}",
                "give each criterion a weight, or use weighting = 'ahp'",
            )
        raw = [float(c.weight) for c in criteria]
        total = sum(raw)
        if total <= 0:
            raise ScenarioError(
                f"{t.key('criteria')}: the weights sum to 0", "give positive weights"
            )
        if normalize:
            weights = tuple(w / total for w in raw)
        elif not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ScenarioError(
                f"{t.key('criteria')}: the weights sum to {total:g}, not 1 "
                f"({', '.join(f'{c.name}={c.weight:g}' for c in criteria)})",
                f"make them sum to 1, or set {t.key('normalize')} = true to rescale them",
            )
        else:
            weights = tuple(raw)
    quantile = t.get("candidate_quantile", (int, float), 0.9)
    if not 0 <= quantile < 1:
        raise ScenarioError(
            f"{t.key('candidate_quantile')} = {quantile} must be in [0, 1)",
            "e.g. 0.9 keeps the best 10 % of eligible land as candidates",
        )
    n_sites = t.get("n_sites", int, 10)
    if n_sites < 1:
        raise ScenarioError(f"{t.key('n_sites')} = {n_sites} must be at least 1")
    profile = Profile(
        name=name,
        title=t.get("title", str, name),
        criteria=criteria,
        exclusions=exclusions,
        weights=tuple(weights),
        weighting=weighting,
        ahp_matrix=ahp_matrix,
        ahp_cr=ahp_cr,
        min_area_ha=_positive(t.get("min_area_ha", (int, float), 25.0), t.key("min_area_ha")),
        n_sites=n_sites,
        min_separation_m=t.get("min_separation_m", (int, float), 10_000.0),
        candidate_quantile=quantile,
        color=t.get("color", str, "#d62728"),
        max_slope_deg=t.get("max_slope_deg", (int, float), None),
    )
    t.done()
    return profile


def _edit(action: str, t: _Table, layers: dict[str, LayerSpec], base_dir: Path) -> Edit:
    layer = _known_layer(t.get("layer", str), layers, t.key("layer"))
    if action == "add":
        path = t.get("path", str, None)
        edit = Edit(
            action,
            layer,
            t.where,
            path=None
            if path is None
            else (Path(path) if Path(path).is_absolute() else base_dir / path),
            geometry=t.get("geometry", dict, None),
            properties=t.get("properties", dict, {}),
            crs=_crs_any(t.get("crs", str, "EPSG:4326"), t.key("crs")),
        )
        if (edit.path is None) == (edit.geometry is None):
            raise ScenarioError(
                f"{t.where} needs either path or geometry",
                'give path = "spur.geojson", or geometry = { type = "LineString", coordinates = '
                "[[lon, lat], …] }",
            )
    else:
        edit = Edit(
            action,
            layer,
            t.where,
            where=t.get("where", str, None),
            ids=tuple(t.get("ids", list, [])),
            id_field=t.get("id_field", str, "name"),
            values=t.get("values", dict, {}) if action == "update" else {},
        )
        if (edit.where is None) == (not edit.ids):
            raise ScenarioError(
                f"{t.where} needs either where or ids",
                'select the features with where = "name == \'Kedrovsky\'" or ids = ["Kedrovsky"]',
            )
        if action == "update" and not edit.values:
            raise ScenarioError(
                f"{t.key('values')} is missing or empty",
                'give the fields to set, e.g. values = { status = "closed" }',
            )
    t.done()
    return edit


def _network(t: _Table, layers: dict[str, LayerSpec]) -> Network:
    speeds = t.table("speeds", {})
    by_class = tuple(
        (name, _positive(speeds.get(name, (int, float)), speeds.key(name)))
        for name in list(speeds.data)
    )
    speeds.done()
    network = Network(
        layer=_known_layer(t.get("layer", str), layers, t.key("layer")),
        class_field=t.get("class_field", str, None),
        speeds=by_class,
        default_kmh=_positive(t.get("default_kmh", (int, float), 60.0), t.key("default_kmh")),
        off_road_kmh=_positive(t.get("off_road_kmh", (int, float), 15.0), t.key("off_road_kmh")),
        snap_m=t.get("snap_m", (int, float), 500.0),
    )
    if by_class and network.class_field is None:
        raise ScenarioError(
            f"{t.key('speeds')} needs {t.key('class_field')}",
            'name the field the speeds are keyed by, e.g. class_field = "kind"',
        )
    if network.snap_m < 0:
        raise ScenarioError(f"{t.key('snap_m')} = {network.snap_m:g} is negative", "use 0 or more")
    t.done()
    return network


def _friction(t: _Table, layers: dict[str, LayerSpec]) -> Friction:
    routes = []
    for r in t.tables("routes"):
        layer = _known_layer(r.get("layer", str), layers, r.key("layer"))
        routes.append((layer, _positive(r.get("cost", (int, float)), r.key("cost"))))
        r.done()
    friction = Friction(
        resolution=_positive(t.get("resolution", (int, float), 1000.0), t.key("resolution")),
        off_road=_positive(t.get("off_road", (int, float), 5.0), t.key("off_road")),
        routes=tuple(routes),
        impassable=tuple(_exclusion(e, layers) for e in t.tables("impassable")),
    )
    t.done()
    return friction
