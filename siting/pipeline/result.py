"""What a run produced, as plain data: :class:`Result`.

A result holds no open files, no cache and no writer: :func:`siting.exports.write` writes it,
and everything downstream (exports, comparisons, sensitivity) reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from siting.allocation import Allocation, Covering
from siting.config.scenario import Scenario
from siting.mcda.suitability import Surface
from siting.pipeline.cache import CacheLog
from siting.raster.cost import CostField
from siting.raster.grid import Grid, Raster
from siting.robustness import Robustness
from siting.valuechain import Chain


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
    cost_fields
        The per-feature accumulated-cost surfaces the criteria and models computed.
    chain
        The value chain's flows and plants (``[models.chain]``), or None.
    robustness
        Each site's robustness under the default sensitivity (``[sensitivity]``), or None with
        ``draws = 0``.
    cache
        What the run's cache reused and computed (``cache.summary()``), and its folder.
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
    cache: CacheLog = field(default_factory=lambda: CacheLog(None), repr=False)
    chain: Chain | None = None
    robustness: Robustness | None = None

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


@dataclass
class BasinRun:
    """One basin of a national run, as plain data (what a worker sends back).

    Attributes
    ----------
    name, title
        The basin's name (``kemerovo``) and title.
    crs
        The basin's working CRS.
    status
        ``"ok"``, or ``"skipped"`` when a user error stopped the basin (``message`` says which:
        e.g. no town near its mines); the other basins run on.
    message
        Why it was skipped ("" when ok).
    mines, output
        How many mines the basin holds and their output (Mt/yr, NaN where unknown).
    sites
        The basin's proposed sites in EPSG:4326: ``basin``, ``site_id``, ``profile``, ``rank``,
        ``score``, ``near``, ``lon``, ``lat`` (empty when skipped).
    area
        The basin's study area in lon/lat (longitudes may continue past ±180).
    seconds
        The basin's wall time.
    folder
        Its full outputs (map, GeoPackage, GeoTIFFs, report), relative to the national output
        folder, or None when not written.
    """

    name: str
    title: str
    crs: str
    status: str
    message: str
    mines: int
    output: float
    sites: gpd.GeoDataFrame
    area: shapely.Geometry
    seconds: float
    folder: str | None = None


@dataclass
class NationalResult:
    """A national run: its scenario and one :class:`BasinRun` per basin, in the basins' order.

    ``workers`` is where the basins ran: ``"this process"``, ``"LocalCluster of N workers"`` or
    the scheduler's address.
    """

    scenario: Scenario
    basins: list[BasinRun]
    seconds: float
    workers: str
    output_dir: Path | None = None

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """Every basin's sites in one table (EPSG:4326), with the ``basin`` column."""
        frames = [b.sites for b in self.basins if len(b.sites)]
        if not frames:
            return gpd.GeoDataFrame({"basin": []}, geometry=[], crs="EPSG:4326")
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
