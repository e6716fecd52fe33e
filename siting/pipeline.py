"""The run: scenario → layers → grid → criteria → suitability → sites → models → exports.

:func:`run` is the Python API; the ``siting run`` command calls it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting import criteria as criteria_mod
from siting import scenario as scenario_mod
from siting import terrain, traveltime
from siting.allocation import Allocation, Covering, allocate, cover, weights_of
from siting.cost import CostField, friction_surface
from siting.errors import ScenarioError
from siting.grid import Grid, Raster, make_grid, nearest_cell
from siting.layers import attribute, load_layers
from siting.models import GrowthPoles, weber_point
from siting.scenario import Scenario
from siting.sites import locate, propose
from siting.suitability import Surface, evaluate
from siting.traveltime import TravelTimes

log = logging.getLogger("siting")


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
    scenario: Scenario | str | Path | None = None, write: bool = True, **overrides: Any
) -> Result:
    """Run a siting scenario.

    Parameters
    ----------
    scenario
        A :class:`~siting.scenario.Scenario`, the path of a scenario TOML file, or ``None`` for the
        embedded Kuzbass default.
    write
        Write the outputs to ``<outputs.dir>/<name>/`` (atomically: a failed run leaves the
        previous outputs as they were).
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
    stages = _Stages(total=6 + int(write))
    wall = time.perf_counter()

    with stages("layers"):
        layers, area = load_layers(scenario)
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
        friction, raw, cost_fields, travel = _criteria(scenario, layers, grid)
    with stages("suitability"):
        surfaces = {
            name: evaluate(p, raw, layers, grid, in_area, slope)
            for name, p in scenario.profiles.items()
        }
    with stages("sites"):
        proposals = [propose(s, raw) for s in surfaces.values()]
        patches = pd.concat([p for p, _ in proposals], ignore_index=True)
        sites = pd.concat([s for _, s in proposals], ignore_index=True)
        sites = locate(
            gpd.GeoDataFrame(sites, crs=scenario.crs),
            layers.get(scenario.place_names) if scenario.place_names else None,
        )
    with stages("models"):
        clusters = _clusters(scenario, layers, surfaces)
        allocation = allocate(scenario, layers, sites, cost_fields, friction)
        covering = cover(scenario, layers, sites, cost_fields, friction, travel)

    stages.timings["compute_total"] = round(time.perf_counter() - wall, 3)
    result = Result(
        scenario,
        layers,
        area,
        grid,
        friction,
        raw,
        surfaces,
        gpd.GeoDataFrame(patches, crs=scenario.crs),
        sites,
        clusters,
        allocation,
        stages.timings,
        covering=covering,
        slope=slope,
        cost_fields=cost_fields,
    )
    if write:
        with stages("outputs"):
            result.write()
    return result


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


def _criteria(
    scenario: Scenario, layers: dict[str, gpd.GeoDataFrame], grid: Grid
) -> tuple[Raster | None, dict[str, Raster], dict[str, CostField], TravelTimes | None]:
    by_name = {c.name: c for p in scenario.profiles.values() for c in p.criteria}
    needs_travel = any(c.kind == "travel_time" for c in by_name.values())
    needs_travel |= scenario.covering is not None and scenario.network is not None
    needs_cost = needs_travel or any(c.kind == "cost_distance" for c in by_name.values())
    needs_cost |= scenario.allocation is not None or scenario.covering is not None
    friction = None
    if needs_cost:
        friction = friction_surface(
            scenario.friction, layers, grid.coarsen(scenario.friction.resolution)
        )
    travel = None
    if needs_travel:
        assert scenario.network is not None and friction is not None  # checked on loading
        graph = traveltime.road_graph(
            scenario.network, layers[scenario.network.layer], friction.grid.res
        )
        travel = traveltime.TravelTimes(graph, friction, scenario.network.off_road_kmh)
    cost_fields: dict[str, CostField] = {}
    raw = {
        name: criteria_mod.compute(c, layers, grid, friction, cost_fields, travel)
        for name, c in by_name.items()
    }
    return friction, raw, cost_fields, travel


def _clusters(
    scenario: Scenario, layers: dict[str, gpd.GeoDataFrame], surfaces: dict[str, Surface]
) -> gpd.GeoDataFrame | None:
    spec = scenario.clusters
    if spec is None:
        return None
    gdf = layers[spec.layer]
    weights = weights_of(gdf, spec.weight_field, "models.clusters.weight_field", spec.layer)
    points = gdf.geometry.representative_point()
    xy = np.column_stack([points.x, points.y])
    model = GrowthPoles(
        spec.method,
        spec.eps_m,
        spec.min_weight,
        spec.min_cluster_size,
        spec.n_clusters,
        spec.bootstrap,
    ).fit(xy, weights)
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
