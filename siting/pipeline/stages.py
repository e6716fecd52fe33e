"""The run: scenario → layers → grid → criteria → suitability → sites → models → exports.

:func:`run` is the Python API; the ``siting run`` command calls it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache as memoize
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting.allocation import Allocation, Covering, allocate, cover, weights_of
from siting.config import scenario as scenario_mod
from siting.config.scenario import Criterion, Profile, Scenario
from siting.errors import ScenarioError
from siting.inputs.layers import attribute, load_layers
from siting.mcda import criteria as criteria_mod
from siting.mcda.sites import locate, propose
from siting.mcda.suitability import Surface, evaluate
from siting.models.facility import GrowthPoles, weber_point
from siting.network import traveltime
from siting.network.traveltime import TravelTimes
from siting.pipeline import cache as cache_mod
from siting.pipeline.cache import Cache, fingerprint
from siting.raster import terrain
from siting.raster.cost import CostField, friction_surface
from siting.raster.grid import Grid, Raster, make_grid, nearest_cell

log = logging.getLogger("siting")
DEFAULT_CACHE_GB = 10.0


@dataclass
class Result:
    """Everything a run produced, in memory.

    Attributes
    ----------
    scenario
        The scenario that was run (after overrides).
    layers
        Input layers as used: reprojected and clipped to the padded study area (the clustered
        layer gains a ``cluster`` column, -1 outside any growth pole).
    study_area
        The study-area polygon.
    grid
        The raster template shared by all surfaces.
    friction
        Cost per metre (on the coarser friction grid), if any criterion used it.
    criteria
        Raw criterion rasters by criterion name (metres, cost units, people …).
    surfaces
        Per profile: standardised scores, suitability, exclusions.
    patches, sites
        Candidate patches and ranked proposed sites of all profiles.
    clusters
        Growth-pole outlines with their output, centroid and Weber point (or None).
    allocation
        Processing plants from location-allocation (or None).
    covering
        Technoparks from maximal covering (or None).
    timings
        Seconds per stage.
    output_dir
        Where the outputs were written (None when not written).
    slope
        Terrain slope in degrees, when the scenario gives a DEM.
    cache
        The run's on-disk cache of intermediate results, with what it reused and computed
        (``cache.summary()``); the exports use it too.
    """

    scenario: Scenario
    layers: dict[str, gpd.GeoDataFrame]
    study_area: shapely.Geometry
    grid: Grid
    friction: Raster | None
    criteria: dict[str, Raster]
    surfaces: dict[str, Surface]
    patches: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    clusters: gpd.GeoDataFrame | None
    allocation: Allocation | None
    timings: dict[str, float] = field(default_factory=dict)
    covering: Covering | None = None
    output_dir: Path | None = None
    slope: Raster | None = None
    cost_fields: dict[str, CostField] = field(default_factory=dict, repr=False)
    cache: Cache = field(default_factory=lambda: Cache(None), repr=False)

    def suitability(self, profile: str) -> Raster:
        """The suitability raster of a profile."""
        return self.surfaces[profile].suitability

    def sites_of(self, profile: str) -> gpd.GeoDataFrame:
        """One profile's proposed sites, with only that profile's criterion columns."""
        own = {
            f"{prefix}_{c.name}"
            for c in self.scenario.profiles[profile].criteria
            for prefix in ("w", "raw")
        }
        sites = self.sites[self.sites["profile"] == profile]
        keep = [c for c in sites.columns if not c.startswith(("w_", "raw_")) or c in own]
        return sites[keep].reset_index(drop=True)

    def write(self, output_dir: str | Path | None = None) -> Path:
        """Write this result's outputs (atomically) to ``<output_dir>/<scenario name>/``.

        ``output_dir`` defaults to the scenario's ``outputs.dir``. Returns the folder written.
        """
        from siting.exports import write_outputs

        if output_dir is not None:
            self.scenario = self.scenario.with_overrides(output_dir=output_dir)
        self.output_dir = write_outputs(self)
        return self.output_dir


class _Stages:
    """Times each stage and reports progress through the ``siting`` logger."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.done += 1
        log.info("[%d/%d] %s …", self.done, self.total, name)
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)
        log.info("      %s done in %.1f s", name, self.timings[name])


def run(
    scenario: Scenario | str | Path | None = None,
    write: bool = True,
    cache: bool | str | Path | None = None,
    cache_max_gb: float = DEFAULT_CACHE_GB,
    **overrides: Any,
) -> Result:
    """Run a siting scenario.

    Parameters
    ----------
    scenario
        A :class:`~siting.config.scenario.Scenario`, the path of a scenario TOML file, or ``None``
        for the
        embedded Kuzbass default.
    write
        Write the outputs to ``<outputs.dir>/<name>/`` (atomically: a failed run leaves the
        previous outputs as they were).
    cache
        Reuse intermediate results (criterion rasters, suitability, sites, model solutions,
        exported files) computed earlier from exactly the same inputs
        (:mod:`siting.pipeline.cache`):
        ``True`` keeps them in ``<outputs.dir>/.cache``, a path elsewhere, ``False`` turns the
        cache off; by default it is on when the run writes its outputs (an in-memory run writes
        nothing). Results are the same either way.
    cache_max_gb
        After the run, the least recently used cache entries are deleted down to this size.
    **overrides
        Top-level scenario values to replace: ``resolution``, ``name``, ``title``, ``crs``,
        ``output_dir``.

    Returns
    -------
    Result

    Raises
    ------
    siting.errors.SitingError
        For any problem with the input, with a message naming the file or key and the fix.

    Examples
    --------
    >>> import siting
    >>> result = siting.run(resolution=1000, write=False)  # doctest: +SKIP
    >>> result.sites[["site_id", "score"]].head()  # doctest: +SKIP
    """
    if not isinstance(scenario, Scenario):
        scenario = scenario_mod.load(scenario)
    if overrides:
        scenario = scenario.with_overrides(**overrides)
    _check_model_profiles(scenario)
    store = open_cache(scenario, write if cache is None else cache)
    stages = _Stages(total=6 + int(write))
    wall = time.perf_counter()

    with stages("layers"):
        layers, area = load_layers(scenario)
        # Taken before the models add columns (clusters): keys see the layers as read.
        prints = {name: fingerprint(gdf) for name, gdf in layers.items()} if store.folder else {}
    with stages("grid"):
        grid = make_grid(area, scenario.pad, scenario.resolution, scenario.crs)
        in_area = grid.mask([area])
        slope = terrain.slope(terrain.read_dem(scenario.dem, grid)) if scenario.dem else None
        log.info(
            "      %d × %d cells of %g m (%.1f M)",
            grid.width,
            grid.height,
            grid.res,
            grid.width * grid.height / 1e6,
        )
    with stages("criteria"):
        inputs = _criteria(scenario, layers, grid, store, prints)
        raw = inputs.raw
    with stages("suitability"):
        area_key = store.key("study area", grid, in_area)  # hashed once, not per profile
        surface_keys = {
            name: store.key(
                "surface",
                # What only picks sites among the scored cells does not change the scores.
                dataclasses.replace(
                    p, color="", n_sites=0, min_area_ha=0, min_separation_m=0, candidate_quantile=0
                ),
                [inputs.keys[c.name] for c in p.criteria],
                [prints.get(rule.layer) for rule in p.exclusions],
                area_key,
                slope,
            )
            for name, p in scenario.profiles.items()
        }
        surfaces = {
            name: _keyed(
                _surface(
                    store,
                    name,
                    surface_keys[name],
                    {
                        c.name: store.key(
                            "score", c.name, inputs.keys[c.name], c.standardize, area_key
                        )
                        for c in p.criteria
                    },
                    lambda p=p: evaluate(p, raw, layers, grid, in_area, slope),
                ),
                surface_keys[name],
                p,
            )
            for name, p in scenario.profiles.items()
        }
    with stages("sites"):
        proposals = [
            store.get(
                "sites",
                f"sites {name}",
                store.key("sites", surface_keys[name], dataclasses.replace(s.profile, color="")),
                lambda s=s: propose(s, raw),
            )
            for name, s in surfaces.items()
        ]
        patches = pd.concat([p for p, _ in proposals], ignore_index=True)
        sites = pd.concat([s for _, s in proposals], ignore_index=True)
        sites = locate(
            gpd.GeoDataFrame(sites, crs=scenario.crs),
            layers.get(scenario.place_names) if scenario.place_names else None,
        )
    with stages("models"):
        clusters = _clusters(scenario, layers, surfaces, store, prints)
        allocation = covering = None
        if scenario.allocation is not None:
            plants = scenario.allocation
            allocation = store.get(
                "allocation",
                "allocation",
                store.key(
                    "allocation",
                    plants,
                    scenario.crs,
                    prints.get(plants.demand),
                    _sites_key(sites, plants.profile),
                    inputs.friction_key,
                ),
                lambda: allocate(scenario, layers, sites, inputs.cost_fields, inputs.friction),
            )
        if scenario.covering is not None:
            parks = scenario.covering
            covering = store.get(
                "covering",
                "covering",
                store.key(
                    "covering",
                    parks,
                    scenario.crs,
                    prints.get(parks.demand),
                    prints.get(parks.existing) if parks.existing else None,
                    _sites_key(sites, parks.profile),
                    inputs.travel_key if scenario.network else inputs.friction_key,
                ),
                lambda: cover(
                    scenario,
                    layers,
                    sites,
                    inputs.cost_fields,
                    inputs.friction,
                    inputs.travel() if scenario.network else None,
                ),
            )

    stages.timings["compute_total"] = round(time.perf_counter() - wall, 3)
    result = Result(
        scenario,
        layers,
        area,
        grid,
        inputs.friction,
        raw,
        surfaces,
        gpd.GeoDataFrame(patches, crs=scenario.crs),
        sites,
        clusters,
        allocation,
        stages.timings,
        covering=covering,
        slope=slope,
        cost_fields=inputs.cost_fields,
        cache=store,
    )
    if write:
        with stages("outputs"):
            result.write()
    if store.folder is not None:
        summary = store.summary()
        log.info(
            "cache %s: %d step(s) reused, %d computed",
            store.folder,
            len(summary["hits"]),
            len(summary["misses"]),
        )
        cache_mod.prune(store.folder, int(cache_max_gb * 1e9))
    return result


def open_cache(scenario: Scenario, cache: bool | str | Path) -> Cache:
    """The run's cache: ``<outputs.dir>/.cache`` for ``True``, the given folder, or none."""
    if cache is False:
        return Cache(None)
    return Cache(scenario.outputs.dir / ".cache" if cache is True else Path(cache))


def _surface(
    store: Cache,
    name: str,
    key: str,
    score_keys: dict[str, str],
    compute: Callable[[], Surface],
) -> Surface:
    """Profile ``name``'s surface, stored under ``key``, or ``compute()``'s.

    Its standardised scores are stored apart, each under ``score_keys[criterion]``, the key of
    exactly its inputs (the criterion, its standardisation, the study area): a what-if that
    changes one criterion then stores that criterion's scores again, not every score of the
    profile (92 MB each at 100 m over Kuzbass). A score pruned from the cache meanwhile makes the
    surface be computed again.
    """
    label = f"suitability {name}"
    shell = store.find("surface", key)
    if shell is not None:
        scores = {c: store.find("score", k) for c, k in score_keys.items()}
        if all(score is not None for score in scores.values()):
            store.record(label, key, hit=True)
            return dataclasses.replace(shell, scores=scores)
    surface = compute()
    store.record(label, key, hit=False)
    for c, k in score_keys.items():
        if not store.has("score", k):
            store.put("score", k, surface.scores[c])
    store.put("surface", key, dataclasses.replace(surface, scores={}))
    return surface


def _keyed(surface: Surface, key: str, profile: Profile) -> Surface:
    """The surface of this run's ``profile`` (a stored one may come from a profile that differed
    only in how sites are picked, or in colour), with its rasters named by the key of its inputs
    (see ``Raster.key``)."""
    if not key:
        return dataclasses.replace(surface, profile=profile)
    return dataclasses.replace(
        surface,
        profile=profile,
        suitability=dataclasses.replace(surface.suitability, key=f"{key}:suitability"),
        scores={n: dataclasses.replace(r, key=f"{key}:{n}") for n, r in surface.scores.items()},
    )


def _sites_key(sites: gpd.GeoDataFrame, profile: str) -> str:
    """A profile's proposed sites, as the models see them."""
    return fingerprint(sites[sites["profile"] == profile].reset_index(drop=True))


def _check_model_profiles(scenario: Scenario) -> None:
    """Models edited in Python (``dataclasses.replace``) skip the TOML checks: catch a model left
    pointing at a profile the scenario no longer has."""
    for key, profile in (
        ("models.clusters.snap_profile", scenario.clusters and scenario.clusters.snap_profile),
        ("models.allocation.profile", scenario.allocation and scenario.allocation.profile),
        ("models.covering.profile", scenario.covering and scenario.covering.profile),
    ):
        if profile and profile not in scenario.profiles:
            raise ScenarioError(
                f"{key} = {profile!r} is not a profile of this scenario",
                f"use one of: {', '.join(scenario.profiles)}, or drop that model",
            )


@dataclass
class _Inputs:
    """What the criteria stage hands on: the friction, the raw rasters and their cache keys, and
    the road network (built on first use: a run whose travel-time results all come from the cache
    never builds it)."""

    friction: Raster | None
    friction_key: str
    raw: dict[str, Raster]
    keys: dict[str, str]
    cost_fields: dict[str, CostField]
    travel: Callable[[], TravelTimes]
    travel_key: str


def _criteria(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    grid: Grid,
    store: Cache,
    prints: dict[str, str],
) -> _Inputs:
    by_name = {c.name: c for p in scenario.profiles.values() for c in p.criteria}
    needs_travel = any(c.kind == "travel_time" for c in by_name.values())
    needs_travel |= scenario.covering is not None and scenario.network is not None
    needs_cost = needs_travel or any(c.kind == "cost_distance" for c in by_name.values())
    needs_cost |= scenario.allocation is not None or scenario.covering is not None
    friction = None
    friction_key = travel_key = ""
    if needs_cost:
        spec = scenario.friction
        coarse = grid.coarsen(spec.resolution)
        used = [layer for layer, _ in spec.routes] + [rule.layer for rule in spec.impassable]
        friction_key = store.key("friction", spec, coarse, [prints.get(n) for n in used])
        made = store.get(
            "friction", "friction", friction_key, lambda: friction_surface(spec, layers, coarse)
        )
        friction = dataclasses.replace(made, key=friction_key)
    network = scenario.network

    @memoize
    def travel() -> TravelTimes:
        assert network is not None and friction is not None  # checked on loading
        graph = traveltime.road_graph(network, layers[network.layer], friction.grid.res)
        return traveltime.TravelTimes(graph, friction, network.off_road_kmh)

    if needs_travel:
        assert network is not None and friction is not None
        # The off-road leg only asks which cells are passable, not at what cost.
        travel_key = store.key(
            "travel", network, prints.get(network.layer), friction.grid, np.isfinite(friction.data)
        )
    cost_fields: dict[str, CostField] = {}

    def computed(c: Criterion) -> Raster:
        return criteria_mod.compute(c, layers, grid, friction, cost_fields, _travel_of(c, travel))

    raw, keys = {}, {}
    for name, c in by_name.items():
        upstream = {"cost_distance": friction_key, "travel_time": travel_key}.get(c.kind, "")
        feats = criteria_mod.features(layers, c) if store.folder else None
        keys[name] = store.key("criterion", name, c.key, feats, grid, upstream)
        compute = partial(computed, c)
        if c.kind == "distance" and feats is not None:
            compute = partial(_distance, store, c, feats, grid, keys[name], compute)
        made = store.get("criterion", f"criterion {name}", keys[name], compute)
        raw[name] = dataclasses.replace(made, key=keys[name])
    return _Inputs(friction, friction_key, raw, keys, cost_fields, travel, travel_key)


#: Distance rasters remembered per criterion and grid as bases for later runs to update.
LINEAGE = 8


def _distance(
    store: Cache,
    criterion: Criterion,
    gdf: gpd.GeoDataFrame,
    grid: Grid,
    key: str,
    compute: Callable[[], Raster],
) -> Raster:
    """A distance criterion, updated from a cached one whose features are all among ``gdf``'s
    when there is one (a what-if that adds a rail spur), else computed.

    The cache keeps, per criterion and grid, the keys and feature geometries (as WKB digests) of
    the last :data:`LINEAGE` distance rasters computed; the result equals computing afresh.
    """
    geoms = gdf.geometry.to_numpy()
    digests = [hashlib.sha256(wkb or b"").hexdigest() for wkb in shapely.to_wkb(geoms)]
    lineage_key = store.key("lineage", criterion.name, criterion.key, grid)
    lineage: list[tuple[str, list[str]]] = store.find("lineage", lineage_key) or []
    have, made = Counter(digests), None
    for base_key, base_digests in lineage:
        extra, had = have - Counter(base_digests), Counter(base_digests)
        if had - have:  # the base has a feature this run lacks
            continue
        base = store.find("criterion", base_key)
        if base is None:  # pruned meanwhile
            continue
        added = [g for g, d in zip(geoms, digests, strict=True) if extra.pop(d, 0)]
        made = dataclasses.replace(base, data=criteria_mod.distance_update(grid, base.data, added))
        store.updated.append(f"criterion {criterion.name}")
        log.info("      criterion %s: updated with %d added feature(s)", criterion.name, len(added))
        break
    if made is None:
        made = compute()
    older = [entry for entry in lineage if entry[0] != key][: LINEAGE - 1]
    store.put("lineage", lineage_key, [(key, digests), *older])
    return made


def _travel_of(criterion: Criterion, travel: Callable[[], TravelTimes]) -> TravelTimes | None:
    return travel() if criterion.kind == "travel_time" else None


def _clusters(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    surfaces: dict[str, Surface],
    store: Cache,
    prints: dict[str, str],
) -> gpd.GeoDataFrame | None:
    spec = scenario.clusters
    if spec is None:
        return None
    gdf = layers[spec.layer]
    weights = weights_of(gdf, spec.weight_field, "models.clusters.weight_field", spec.layer)
    points = gdf.geometry.representative_point()
    xy = np.column_stack([points.x, points.y])
    # The poles and their bootstrap read only the layer: a what-if that leaves it alone reuses
    # them, and only their Weber points are snapped again to the profile's eligible land.
    model = store.get(
        "growth_poles",
        "growth poles",
        store.key("growth_poles", spec, prints.get(spec.layer)),
        lambda: GrowthPoles(
            spec.method,
            spec.eps_m,
            spec.min_weight,
            spec.min_cluster_size,
            spec.n_clusters,
            spec.bootstrap,
        ).fit(xy, weights),
    )
    gdf["cluster"] = model.labels_
    capacity = None
    if spec.capacity_field is not None:
        key = "models.clusters.capacity_field"
        capacity = attribute(gdf, spec.capacity_field, key, spec.layer).to_numpy(dtype=float)
    eligible = None
    if spec.snap_profile is not None:
        suitability = surfaces[spec.snap_profile].suitability
        eligible = np.isfinite(suitability.data)
    rows = []
    for k in range(model.n_clusters_):
        members = model.labels_ == k
        w = weights[members]
        centroid = (w[:, None] * xy[members]).sum(axis=0) / w.sum()
        weber = weber_point(xy[members], w)
        snapped = weber
        if eligible is not None and eligible.any():
            snapped = nearest_cell(eligible, suitability.grid, *weber)
        cloud = shapely.MultiPoint(xy[members])
        hull = (
            shapely.concave_hull(cloud, ratio=spec.concave_ratio)
            if spec.outline == "concave"
            else cloud.convex_hull
        ).buffer(2_000)
        names = gdf.loc[members, "name"] if "name" in gdf.columns else pd.Series(dtype=str)
        rows.append(
            {
                "cluster": k,
                "n_members": int(members.sum()),
                "total_weight": float(w.sum()),
                "total_capacity": float(capacity[members].sum()) if capacity is not None else None,
                "centroid_x": centroid[0],
                "centroid_y": centroid[1],
                "weber_x": weber[0],
                "weber_y": weber[1],
                "weber_snap_x": snapped[0],
                "weber_snap_y": snapped[1],
                "snap_m": float(np.hypot(snapped[0] - weber[0], snapped[1] - weber[1])),
                "members": ", ".join(map(str, names)),
                "stability": float(model.stability_[k]),
                "geometry": hull,
            }
        )
    columns = [
        "cluster",
        "n_members",
        "total_weight",
        "total_capacity",
        "centroid_x",
        "centroid_y",
        "weber_x",
        "weber_y",
        "weber_snap_x",
        "weber_snap_y",
        "snap_m",
        "members",
        "stability",
        "geometry",
    ]
    log.info(
        "      %d growth pole(s); %d of %d %s outside any",
        model.n_clusters_,
        int((model.labels_ < 0).sum()),
        len(gdf),
        spec.layer,
    )
    return gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs=scenario.crs)
