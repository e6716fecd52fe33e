"""The cached steps of a run, declared once: what each computes and from which inputs.

Each :class:`~siting.pipeline.cache.Step` names a function of keyword inputs; the run
(:mod:`siting.pipeline.stages`) calls it through :meth:`Cache.run
<siting.pipeline.cache.Cache.run>`, which keys the result on exactly those inputs. Where a
function reads only part of an input, the step's ``project`` says which part, and that part
alone stands for the input in the key; inputs that cannot change the result are ``unkeyed``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import Counter
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from siting import robustness, valuechain
from siting.allocation import Allocation, Covering, allocate, cover, haul_matrix
from siting.config.scenario import (
    ClusterModel,
    Criterion,
    Friction,
    Network,
    Profile,
    Scenario,
)
from siting.demand import weights_of
from siting.mcda import criteria as criteria_mod
from siting.mcda.sites import propose
from siting.mcda.standardize import standardize
from siting.mcda.suitability import Surface, evaluate
from siting.models import GrowthPoles
from siting.network import traveltime
from siting.network.multimodal import HaulMatrix
from siting.network.traveltime import TravelTimes
from siting.pipeline.cache import Cache, Deferred, Step
from siting.raster.cost import CostField, friction_surface
from siting.raster.grid import Grid, Raster

log = logging.getLogger("siting")


def _without(*names: str) -> Any:
    """A projection of a config object onto its fields other than ``names``."""

    def project(obj: Any) -> dict[str, Any]:
        return {
            f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name not in names
        }

    return project


def _friction(spec: Friction, grid: Grid, layers: dict[str, gpd.GeoDataFrame]) -> Raster:
    return friction_surface(spec, layers, grid)


#: Cost per metre on the coarser friction grid, from the layers it routes over and avoids.
FRICTION = Step("friction", _friction)


def _road_network(
    spec: Network, roads: gpd.GeoDataFrame, friction: Raster, passable: np.ndarray
) -> TravelTimes:
    network = traveltime.road_network(spec, roads, friction.grid.res)
    return traveltime.TravelTimes(network, friction, spec.off_road_kmh)


#: The road network with its off-road legs. Its off-road leg asks only which cells are passable,
#: not at what cost: the key takes the friction's grid and ``passable``, not its values.
ROAD_NETWORK = Step(
    "road_network",
    _road_network,
    project={"friction": lambda r: (r.grid, r.name, r.units)},
)


def _study_area(grid: Grid, area: shapely.Geometry) -> np.ndarray:
    return grid.mask([area])


#: The cells of the study area (made, not stored: cheaper than reading back).
STUDY_AREA = Step("study_area", _study_area)


def _criterion(
    criterion: Criterion,
    features: gpd.GeoDataFrame,
    grid: Grid,
    friction: Raster | None,
    travel: Deferred[TravelTimes] | None,
    cost_fields: dict[str, CostField],
) -> Raster:
    network = travel.get() if travel is not None else None
    return criteria_mod.rasterize(criterion, features, grid, friction, cost_fields, network)


def _raw_part(criterion: Criterion) -> tuple[str, str]:
    """What makes a criterion's raw raster: its name and how it is measured (not its weight
    or standardisation, which only the profiles' scores read)."""
    return criterion.name, criterion.key


#: Distance rasters remembered per criterion and grid as bases for later runs to update.
LINEAGE = 8


def _lineage_of(criterion: Criterion, grid: Grid) -> dict[str, Any]:
    return {"criterion": _raw_part(criterion), "grid": grid}


#: Where a criterion's lineage (the keys and feature digests of its last distance rasters) is
#: kept; never computed, only read and written by :func:`_update_distance`.
_LINEAGE = Step("lineage", _lineage_of)


def _update_distance(cache: Cache, inputs: dict[str, Any]) -> Raster | None:
    """A distance criterion updated from a cached one whose features are all among this run's
    (a what-if that adds a rail spur), or ``None``.

    The cache keeps, per criterion and grid, the keys and feature digests (SHA-256 of the WKB)
    of the last :data:`LINEAGE` distance rasters computed; the update equals computing afresh
    (``criteria.distance_update``, tested bit for bit).
    """
    criterion: Criterion = inputs["criterion"]
    if criterion.kind != "distance":
        return None
    grid: Grid = inputs["grid"]
    geoms = inputs["features"].geometry.to_numpy()
    digests = [hashlib.sha256(wkb or b"").hexdigest() for wkb in shapely.to_wkb(geoms)]
    key = cache.key(CRITERION, inputs)
    lineage_key = cache.key(_LINEAGE, _lineage_of(criterion, grid))
    lineage: list[tuple[str, list[str]]] = cache.find(_LINEAGE.name, lineage_key) or []
    made = None
    have = Counter(digests)
    for base_key, base_digests in lineage:
        extra, had = have - Counter(base_digests), Counter(base_digests)
        if had - have:  # the base has a feature this run lacks
            continue
        base = cache.find(CRITERION.name, base_key)
        if base is None:  # pruned meanwhile
            continue
        added = [g for g, d in zip(geoms, digests, strict=True) if extra.pop(d, 0)]
        made = dataclasses.replace(base, data=criteria_mod.distance_update(grid, base.data, added))
        log.info("      criterion %s: updated with %d added feature(s)", criterion.name, len(added))
        break
    older = [entry for entry in lineage if entry[0] != key][: LINEAGE - 1]
    cache.put(_LINEAGE.name, lineage_key, [(key, digests), *older])
    return made


#: One criterion's raw raster (metres, cost, people …). ``cost_fields`` is the run's in-memory
#: memo of per-feature cost surfaces (the models read it too): it changes no value.
CRITERION = Step(
    "criterion",
    _criterion,
    unkeyed=frozenset({"cost_fields"}),
    project={"criterion": _raw_part},
    update=_update_distance,
)


def _score(raster: Raster, standardization: Any, area: np.ndarray) -> np.ndarray:
    return standardize(raster.data, standardization, area)


#: A criterion's standardised score (0–1) as a profile uses it. The suitability stage computes
#: scores and their weighted sum in one pass (:func:`siting.mcda.suitability.evaluate`); each
#: score is stored apart under this step's key, so that a what-if stores again only the scores
#: it changed (92 MB each at 100 m over Kuzbass).
SCORE = Step("score", _score)


def _surface(
    profile: Profile,
    criteria: dict[str, Raster],
    layers: dict[str, gpd.GeoDataFrame],
    grid: Grid,
    area: np.ndarray,
    slope: Raster | None,
) -> Surface:
    return evaluate(profile, criteria, layers, grid, area, slope)


#: What only picks sites among the scored cells, or draws them, does not change the scores.
SITE_PICKING = ("color", "n_sites", "min_area_ha", "min_separation_m", "candidate_quantile")

#: A profile's suitability, exclusions and mask (its scores are stored apart: :data:`SCORE`).
SURFACE = Step("surface", _surface, project={"profile": _without(*SITE_PICKING)})


def _sites(
    surface: Surface, profile: Profile, criteria: dict[str, Raster]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    return propose(dataclasses.replace(surface, profile=profile), criteria)


#: A profile's candidate patches and ranked sites (its colour only draws them).
SITES = Step("sites", _sites, project={"profile": _without("color")})


def _growth_poles(spec: ClusterModel, layer: gpd.GeoDataFrame) -> GrowthPoles:
    weights = weights_of(layer, spec.weight_field, "models.clusters.weight_field", spec.layer)
    points = layer.geometry.representative_point()
    xy = np.column_stack([points.x, points.y])
    model = GrowthPoles(
        method=spec.method,
        eps_m=spec.eps_m,
        min_weight=spec.min_weight,
        min_cluster_size=spec.min_cluster_size,
        n_clusters=spec.n_clusters,
        bootstrap=spec.bootstrap,
    )
    return model.fit(xy, sample_weight=weights)


#: The DBSCAN poles and their bootstrap: they read only the layer and the clusters spec, so a
#: what-if that leaves the layer alone reuses them and only snaps their Weber points again.
GROWTH_POLES = Step("growth_poles", _growth_poles)


def _haul(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    demand: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    friction: Raster | None,
) -> HaulMatrix:
    return haul_matrix(scenario, layers, demand, sites, friction)


#: The mine → plant haul on road and rail (``[haul] mode = "network"``): cost, km by mode and
#: route of every demand feature × site. It reads the ``[haul]`` table, the road, rail and
#: station layers, the demand features' geometry, the sites' coordinates and the friction's
#: impassable cells (a road leg crosses none).
HAUL = Step(
    "haul",
    _haul,
    project={
        "scenario": lambda s: s.haul,
        "demand": lambda d: d.geometry.reset_index(drop=True),
        "sites": lambda d: d[["x", "y"]].to_numpy(dtype=float),
        "friction": lambda r: (r.grid, np.isfinite(r.data)),
    },
)


def _allocation(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    sites: gpd.GeoDataFrame,
    friction: Raster | None,
    cost_fields: dict[str, CostField],
    area: shapely.Geometry | None = None,
    haul: HaulMatrix | None = None,
) -> Allocation:
    made = allocate(scenario, layers, sites, cost_fields, friction, area, haul)
    if made is None:
        raise ValueError("the allocation step needs a scenario with [models.allocation]")
    return made


#: The value chain (``[models.chain]``): it reads the ``[models.chain]`` and ``[haul]`` tables,
#: which features are demand, the mines, haul lines, markets and existing facilities, the two
#: profiles' sites (their rank and coordinates) and the friction's impassable cells.
CHAIN = Step(
    "chain",
    valuechain.build,
    project={
        "scenario": lambda s: (s.chain, s.haul, s.crs, s.demand),
        "sites": lambda d: d[["profile", "rank", "x", "y"]].reset_index(drop=True),
        "friction": lambda r: None if r is None else (r.grid, np.isfinite(r.data)),
    },
)


def _model_part(section: str) -> Any:
    """A projection of the scenario onto one model section, the CRS and which features are
    demand (all a model reads)."""
    return lambda s: (getattr(s, section), s.crs, s.demand)


#: Which plants to open and what each serves, from the demand layer, the model's profile's
#: sites and the friction (``[haul] mode = "friction"``) or the :data:`HAUL` matrix
#: (``"network"``: the friction is then not passed). ``cost_fields`` is the in-memory memo of
#: cost surfaces.
ALLOCATION = Step(
    "allocation",
    _allocation,
    unkeyed=frozenset({"cost_fields"}),
    project={"scenario": lambda s: (s.allocation, s.crs, s.demand, s.haul.mode)},
)


def _covering(
    scenario: Scenario,
    layers: dict[str, gpd.GeoDataFrame],
    sites: gpd.GeoDataFrame,
    friction: Raster | None,
    travel: Deferred[TravelTimes] | None,
    cost_fields: dict[str, CostField],
    area: shapely.Geometry | None = None,
) -> Covering:
    network = travel.get() if travel is not None else None
    made = cover(scenario, layers, sites, cost_fields, friction, network, area)
    if made is None:
        raise ValueError("the covering step needs a scenario with [models.covering]")
    return made


#: Technoparks by maximal covering, with travel times over the friction surface.
COVERING = Step(
    "covering",
    _covering,
    unkeyed=frozenset({"cost_fields"}),
    project={"scenario": _model_part("covering")},
)

#: The same over the road network: the network's door-to-door times replace the friction's
#: costs, so the friction is not part of the key (the network's own key covers what it reads).
COVERING_BY_ROAD = Step(
    "covering",
    _covering,
    unkeyed=frozenset({"cost_fields", "friction"}),
    project={"scenario": _model_part("covering")},
)


#: The default sensitivity (``[sensitivity]``): each site's robustness over the drawn weights,
#: capacities, costs and tariffs. It reads the profiles' surfaces and criteria, every proposed
#: site, the plant model's candidates and its plan (which sites it opened), the haul and, for a
#: draw's own sites, the demand, haul layers and friction.
ROBUSTNESS = Step(
    "robustness",
    robustness.in_run,
    unkeyed=frozenset({"cost_fields"}),
    project={
        "scenario": lambda s: (
            s.sensitivity,
            s.allocation,
            s.profiles,
            s.haul,
            s.crs,
            s.demand,
        ),
        "sites": lambda d: d[["site_id", "profile", "origin", "x", "y"]].reset_index(drop=True),
        "candidates": lambda d: (
            None
            if d is None
            else d[
                [c for c in ("site_id", "origin", "x", "y", "existing_capacity") if c in d.columns]
            ].reset_index(drop=True)
        ),
        "allocation": lambda a: (
            None
            if a is None
            else a.plants[[c for c in ("site_id", "expansion") if c in a.plants.columns]]
        ),
    },
)

#: Every step a run declares.
STEPS = (
    STUDY_AREA,
    FRICTION,
    ROAD_NETWORK,
    CRITERION,
    SCORE,
    SURFACE,
    SITES,
    GROWTH_POLES,
    HAUL,
    ALLOCATION,
    COVERING,
    COVERING_BY_ROAD,
    ROBUSTNESS,
)
