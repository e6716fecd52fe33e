"""The run: scenario → layers → grid → criteria → suitability → sites → models → exports.

:func:`run` is the Python API; the ``siting run`` command calls it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting import existing as existing_mod
from siting import exports, valuechain
from siting.config import scenario as scenario_mod
from siting.config.scenario import Profile, Scenario
from siting.demand import is_demand, outside_demand, weights_of
from siting.inputs import place
from siting.inputs.layers import attribute, load_layers
from siting.mcda import criteria as criteria_mod
from siting.mcda.sites import locate
from siting.mcda.suitability import Surface
from siting.models import weber_point
from siting.network import multimodal
from siting.network.traveltime import TravelTimes, class_speeds
from siting.pipeline import cache as cache_mod
from siting.pipeline import steps
from siting.pipeline.cache import Cache, Deferred
from siting.pipeline.result import Result
from siting.raster import terrain
from siting.raster.cost import CostField
from siting.raster.grid import Grid, Raster, make_grid, nearest_cell

log = logging.getLogger("siting")
DEFAULT_CACHE_GB = 10.0


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
    cache: bool | str | Path | Cache | None = None,
    cache_max_gb: float = DEFAULT_CACHE_GB,
    **overrides: Any,
) -> Result:
    """Run a siting scenario.

    Parameters
    ----------
    scenario
        A :class:`~siting.config.scenario.Scenario`, the path of a scenario TOML file, or ``None``
        for the embedded Kuzbass default.
    write
        Write the outputs to ``<outputs.dir>/<name>/`` (atomically: a failed run leaves the
        previous outputs as they were).
    cache
        Reuse intermediate results (criterion rasters, suitability, sites, model solutions,
        exported files) computed earlier from exactly the same inputs
        (:mod:`siting.pipeline.cache`): ``True`` keeps them in ``<outputs.dir>/.cache``, a path
        elsewhere, a :class:`~siting.pipeline.cache.Cache` that one, ``False`` turns the cache
        off; by default it is on when the run writes its outputs (an in-memory run writes
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
    store = open_cache(scenario, write if cache is None else cache)
    if write:  # an output folder that cannot be written or replaced is refused before any work
        exports.check(scenario, store.folder)
    # The CRS ("auto" chosen) and the grid's memory, from the study area alone: in seconds.
    scenario = place.settle(scenario)
    stages = _Stages(total=7 + int(write))
    wall = time.perf_counter()

    with stages("layers"), cache_mod.using(store):  # the GEM reader caches its parsed sheet
        layers, area = load_layers(scenario)
        _check_inputs(scenario, layers, area)
    with stages("grid"):
        scenario_mod.check_grid(area.bounds, scenario.pad, scenario.resolution)
        grid = make_grid(area, scenario.pad, scenario.resolution, scenario.crs)
        in_area = store.compute(steps.STUDY_AREA, grid=grid, area=area)
        slope = terrain.slope(terrain.read_dem(scenario.dem, grid)) if scenario.dem else None
        log.info(
            "      %d × %d cells of %g m (%.1f M)",
            grid.width,
            grid.height,
            grid.res,
            grid.width * grid.height / 1e6,
        )
    with stages("criteria"):
        inputs = _criteria(scenario, layers, grid, store)
        raw = inputs.raw
    with stages("suitability"):
        surfaces = {
            name: _surface(store, name, p, raw, layers, grid, in_area, slope)
            for name, p in scenario.profiles.items()
        }
    with stages("sites"):
        proposals = [
            store.run(
                steps.SITES,
                f"sites {name}",
                surface=s,
                profile=s.profile,
                criteria={c.name: raw[c.name] for c in s.profile.criteria},
            )
            for name, s in surfaces.items()
        ]
        patches = pd.concat([p for p, _ in proposals], ignore_index=True)
        sites = pd.concat([s for _, s in proposals], ignore_index=True)
        sites = locate(
            gpd.GeoDataFrame(sites, crs=scenario.crs),
            layers.get(scenario.place_names) if scenario.place_names else None,
        )
        sites["origin"] = "suitability"
    with stages("models"):
        clusters = _clusters(scenario, layers, area, surfaces, store)
        allocation = covering = candidates = haul = None
        if scenario.allocation is not None:
            plants = scenario.allocation
            if plants.weber_candidates and clusters is not None:
                places = layers.get(scenario.place_names) if scenario.place_names else None
                sites = with_weber_sites(sites, clusters, surfaces[plants.profile], raw, places)
            candidates = _sites_of(sites, plants.profile)
            # Existing plants first, open at no opening cost (expand-or-build).
            score = existing_mod.land_score(surfaces[plants.profile])
            candidates = existing_mod.with_existing(plants, layers, candidates, score)
            if scenario.haul.mode == "network":
                spec = scenario.haul
                names = [spec.roads, spec.rail] + ([spec.stations] if spec.stations else [])
                demand = layers[plants.demand]
                haul = store.run(
                    steps.HAUL,
                    "haul",
                    scenario=scenario,
                    layers={name: layers[name] for name in names},
                    demand=demand[is_demand(scenario, demand, area)],
                    sites=candidates,
                    friction=inputs.friction,
                )
            allocation = store.run(
                steps.ALLOCATION,
                "allocation",
                scenario=scenario,
                layers={plants.demand: layers[plants.demand]},
                sites=candidates,
                friction=inputs.friction if haul is None else None,
                cost_fields=inputs.cost_fields,
                area=area,
                haul=haul,
            )
        if scenario.covering is not None:
            parks = scenario.covering
            used = [parks.demand] + ([parks.existing] if parks.existing else [])
            covering = store.run(
                steps.COVERING_BY_ROAD if inputs.travel is not None else steps.COVERING,
                "covering",
                scenario=scenario,
                layers={name: layers[name] for name in used},
                # The Weber points are plant candidates, not technopark ones.
                sites=_sites_of(sites[sites["origin"] == "suitability"], parks.profile),
                friction=inputs.friction,
                travel=inputs.travel,
                cost_fields=inputs.cost_fields,
                area=area,
            )
            # Said after the step, so that a run whose covering comes from the cache says it too.
            if covering.note():
                log.warning("      %s", covering.note())

        chain = None
        if scenario.chain is not None:
            flow, lines = scenario.chain, scenario.haul
            read: list[str | None] = [flow.demand, lines.roads, lines.rail, lines.stations]
            chain = store.run(
                steps.CHAIN,
                "chain",
                scenario=scenario,
                layers={n: layers[n] for n in [*read, flow.markets, flow.existing] if n},
                sites=sites[sites["profile"].isin([flow.prep_profile, flow.coke_profile])],
                friction=inputs.friction,
                area=area,
            )

    with stages("robustness"):
        robust = None
        if scenario.sensitivity.draws:
            model = scenario.allocation
            used = [model.demand] if model is not None else []
            if model is not None and scenario.haul.mode == "network":
                lines = scenario.haul
                used += [n for n in (lines.roads, lines.rail, lines.stations) if n]
            robust = store.run(
                steps.ROBUSTNESS,
                "robustness",
                scenario=scenario,
                layers={name: layers[name] for name in used},
                surfaces=surfaces,
                criteria=raw,
                sites=sites,
                candidates=candidates,
                allocation=allocation,
                haul=haul,
                friction=inputs.friction,
                cost_fields=inputs.cost_fields,
                area=area,
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
        cache=store.log,
        chain=chain,
        robustness=robust,
    )
    if write:
        with stages("outputs"):
            result.output_dir = exports.write(result, cache=store)
    if store.folder is not None:
        summary = store.log.summary()
        log.info(
            "cache %s: %d step(s) reused, %d computed",
            store.folder,
            len(summary["hits"]),
            len(summary["misses"]),
        )
        cache_mod.prune(store.folder, int(cache_max_gb * 1e9))
    return result


def _check_inputs(
    scenario: Scenario, layers: dict[str, gpd.GeoDataFrame], area: shapely.Geometry
) -> None:
    """What the layers as read must hold for the later stages, checked before the long
    computation: the road classes the ``[network]`` speeds name, the ``[haul]`` lines, and
    demand in the study area (and how many features around it are left out of the demand, or
    not)."""
    if scenario.network is not None:
        class_speeds(scenario.network, layers[scenario.network.layer])
    if scenario.allocation is not None:
        multimodal.check_layers(scenario.haul, layers)
        plants = scenario.allocation
        if plants.existing is not None:
            existing_mod.existing_plants(plants, layers[plants.existing])
    if scenario.chain is not None:
        # The chain routes on the road and rail lines whatever [haul] mode the allocation uses.
        multimodal.check_layers(dataclasses.replace(scenario.haul, mode="network"), layers)
        valuechain.check(scenario, layers)
    for name, n in outside_demand(scenario, layers, area).items():
        if n:
            verb = "are not" if scenario.demand == "inside" else "are"
            log.info(
                '      %d %s outside the study area %s demand (demand = "%s")',
                n,
                name,
                verb,
                scenario.demand,
            )


def open_cache(scenario: Scenario, cache: bool | str | Path | Cache) -> Cache:
    """The run's cache: ``<outputs.dir>/.cache`` for ``True``, the given folder or cache, or
    none."""
    if isinstance(cache, Cache):
        return cache
    if cache is False:
        return Cache(None)
    return Cache(scenario.outputs.dir / ".cache" if cache is True else Path(cache))


def _surface(
    store: Cache,
    name: str,
    profile: Profile,
    raw: dict[str, Raster],
    layers: dict[str, gpd.GeoDataFrame],
    grid: Grid,
    in_area: np.ndarray,
    slope: Raster | None,
) -> Surface:
    """Profile ``name``'s surface (:data:`~siting.pipeline.steps.SURFACE`), from the cache or
    computed, with this run's ``profile`` (a stored one may come from a profile that differed
    only in how sites are picked).

    Its standardised scores are stored apart, each under its own
    :data:`~siting.pipeline.steps.SCORE` key (the criterion raster, its standardisation, the
    study area): a what-if that changes one criterion then stores that criterion's scores again,
    not every score of the profile. A score pruned from the cache meanwhile makes the surface be
    computed again.
    """
    label = f"suitability {name}"
    inputs: dict[str, Any] = {
        "profile": profile,
        "criteria": {c.name: raw[c.name] for c in profile.criteria},
        "layers": {rule.layer: layers[rule.layer] for rule in profile.exclusions},
        "grid": grid,
        "area": in_area,
        "slope": slope,
    }
    key = store.key(steps.SURFACE, inputs)
    score_keys = {
        c.name: store.key(
            steps.SCORE, {"raster": raw[c.name], "standardization": c.standardize, "area": in_area}
        )
        for c in profile.criteria
    }
    shell = store.find(steps.SURFACE.name, key)
    surface = None
    if shell is not None:
        scores = {c: store.find(steps.SCORE.name, k) for c, k in score_keys.items()}
        if all(score is not None for score in scores.values()):
            surface = dataclasses.replace(shell, scores=scores, profile=profile)
    store.record(label, key, hit=surface is not None)
    if surface is None:
        surface = steps.SURFACE.fn(**inputs)
        for c, k in score_keys.items():
            if not store.has(steps.SCORE.name, k):
                store.put(steps.SCORE.name, k, surface.scores[c])
        store.put(steps.SURFACE.name, key, dataclasses.replace(surface, scores={}))
    return store.name(surface, key, inputs)


def with_weber_sites(
    sites: gpd.GeoDataFrame,
    clusters: gpd.GeoDataFrame,
    surface: Surface,
    raw: dict[str, Raster],
    places: gpd.GeoDataFrame | None,
) -> gpd.GeoDataFrame:
    """``sites`` with each growth pole's snapped Weber point added as a site of ``surface``'s
    profile (``origin = "weber"``, id ``<profile>-weber-<pole>``, ranked after the profile's
    proposed sites), so that the allocation may open it.

    A point is added only where its cell is eligible land of the profile (a finite suitability:
    not excluded, in the study area; it is snapped to another profile's land when
    ``snap_profile`` differs), with that cell's score, criterion contributions and raw values; a
    point on the cell of a proposed site is that site already and is not added twice.
    """
    profile = surface.profile
    suit = surface.suitability
    grid = suit.grid
    x = clusters["weber_snap_x"].to_numpy(dtype=float)
    y = clusters["weber_snap_y"].to_numpy(dtype=float)
    rows, cols = grid.index(x, y)
    inside = grid.contains(rows, cols)
    own = sites[sites["profile"] == profile.name]
    own_rows, own_cols = grid.index(own["x"].to_numpy(), own["y"].to_numpy())
    taken = set(zip(own_rows.tolist(), own_cols.tolist(), strict=True))
    keep = []
    for k in range(len(clusters)):
        r, c = int(rows[k]), int(cols[k])
        if not inside[k] or not np.isfinite(suit.data[r, c]):
            log.info(
                "      growth pole %d: its Weber point is not on %s land, not a candidate",
                int(clusters["cluster"].iloc[k]),
                profile.name,
            )
        elif (r, c) not in taken:
            keep.append(k)
            taken.add((r, c))
    if not keep:
        return sites
    at_rows, at_cols = rows[keep], cols[keep]
    cx, cy = grid.xy(at_rows, at_cols)
    poles = clusters["cluster"].to_numpy()[keep]
    data: dict[str, object] = {
        "site_id": [f"{profile.name}-weber-{int(k)}" for k in poles],
        "profile": profile.name,
        "rank": len(own) + np.arange(1, len(keep) + 1),
        "score": suit.data[at_rows, at_cols].astype(float),
        "patch_id": 0,  # not picked from a candidate patch
    }
    for criterion, weight in zip(profile.criteria, profile.weights, strict=True):
        data[f"w_{criterion.name}"] = weight * np.nan_to_num(
            surface.scores[criterion.name].data[at_rows, at_cols]
        )
    for criterion in profile.criteria:
        data[f"raw_{criterion.name}"] = raw[criterion.name].data[at_rows, at_cols].astype(float)
    data["x"], data["y"] = cx, cy
    weber = locate(gpd.GeoDataFrame(data, geometry=shapely.points(cx, cy), crs=grid.crs), places)
    weber["origin"] = "weber"
    log.info("      %d Weber point(s) join the %s candidates", len(keep), profile.name)
    return gpd.GeoDataFrame(pd.concat([sites, weber], ignore_index=True), crs=sites.crs)


def _sites_of(sites: gpd.GeoDataFrame, profile: str) -> gpd.GeoDataFrame:
    """A profile's proposed sites, as the models see them."""
    return sites[sites["profile"] == profile].reset_index(drop=True)


@dataclass
class _Inputs:
    """What the criteria stage hands on: the friction, the raw rasters, the in-memory memo of
    cost surfaces, and the road network (built on first use: a run whose travel-time results
    all come from the cache never builds it)."""

    friction: Raster | None
    raw: dict[str, Raster]
    cost_fields: dict[str, CostField]
    travel: Deferred[TravelTimes] | None


def _criteria(
    scenario: Scenario, layers: dict[str, gpd.GeoDataFrame], grid: Grid, store: Cache
) -> _Inputs:
    by_name = {c.name: c for p in scenario.profiles.values() for c in p.criteria}
    needs_travel = any(c.kind == "travel_time" for c in by_name.values())
    needs_travel |= scenario.covering is not None and scenario.network is not None
    needs_cost = needs_travel or any(c.kind == "cost_distance" for c in by_name.values())
    needs_cost |= scenario.allocation is not None or scenario.covering is not None
    friction = travel = None
    if needs_cost:
        spec = scenario.friction
        used = [layer for layer, _ in spec.routes] + [rule.layer for rule in spec.impassable]
        friction = store.run(
            steps.FRICTION,
            "friction",
            spec=spec,
            grid=grid.coarsen(spec.resolution),
            layers={name: layers[name] for name in used},
        )
    network = scenario.network
    if needs_travel:
        assert network is not None and friction is not None  # checked on loading
        travel = store.defer(
            steps.ROAD_NETWORK,
            spec=network,
            roads=layers[network.layer],
            friction=friction,
            passable=np.isfinite(friction.data),
        )
    cost_fields: dict[str, CostField] = {}
    raw = {
        name: store.run(
            steps.CRITERION,
            f"criterion {name}",
            criterion=c,
            features=criteria_mod.features(layers, c),
            grid=grid,
            # Only what a criterion reads is its input: a new rail spur changes the friction,
            # not the distance to a river.
            friction=friction if c.kind == "cost_distance" else None,
            travel=travel if c.kind == "travel_time" else None,
            cost_fields=cost_fields,
        )
        for name, c in by_name.items()
    }
    return _Inputs(friction, raw, cost_fields, travel)


def _clusters(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    area: shapely.Geometry,
    surfaces: dict[str, Surface],
    store: Cache,
) -> gpd.GeoDataFrame | None:
    spec = scenario.clusters
    if spec is None:
        return None
    layer = layers[spec.layer]
    keep = is_demand(scenario, layer, area)
    gdf = layer[keep].reset_index(drop=True)
    weights = weights_of(gdf, spec.weight_field, "models.clusters.weight_field", spec.layer)
    points = gdf.geometry.representative_point()
    xy = np.column_stack([points.x, points.y])
    model = store.run(steps.GROWTH_POLES, "growth poles", spec=spec, layer=gdf)
    # The layer as read keeps its features outside the study area: in no pole (-1).
    labels = np.full(len(layer), -1, dtype=model.labels_.dtype)
    labels[keep] = model.labels_
    layer["cluster"] = labels
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
        snapped = (float(weber[0]), float(weber[1]))
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
