"""Mine areas as exclusions (issue #19, item 2): no plant or proposed site inside a mine's
licence polygon, checked against Global Energy Monitor's licence boundaries of Kuzbass mines
(outside the repository, `../shared/data/gem/`; like tests/test_default_layers.py, the tests
fail rather than skip without it)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

import siting

GEM = (
    Path(__file__).resolve().parents[1]
    / "../shared/data/gem/gem_coal_mine_boundaries_methane_kuzbass.geojson"
).resolve()


def _licences(crs: str) -> gpd.GeoDataFrame:
    """The GEM licence polygons (the file's points are methane sources, not areas)."""
    gem = gpd.read_file(GEM)
    polygons = gem[gem.geom_type.isin(["Polygon", "MultiPolygon"])]
    assert len(polygons) == 23  # the file as MANIFEST.md describes it
    return polygons.to_crs(crs)


def _inside(points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> list[str]:
    hits = gpd.sjoin(points[["site_id", "geometry"]], areas[["geometry"]], predicate="within")
    return sorted(set(hits["site_id"]))


@pytest.mark.slow
def test_kuzbass_default_keeps_sites_and_new_plants_off_mine_licences() -> None:
    result = siting.run(resolution=1000, write=False)
    licences = _licences(result.scenario.crs)
    assert _inside(result.sites, licences) == []
    # The plants the run builds are proposed sites (or Weber points); existing preparation
    # plants, when the scenario has them, stand where they stand (often on a mine's land).
    plants = result.allocation.plants
    new = plants[plants["site_id"].isin(result.sites["site_id"])]
    assert len(new) >= 1
    assert _inside(new, licences) == []


SCENARIO = """\
extends = "kuzbass"
resolution = 1000

[layers.mine_licences]
path = "{path}"
kind = "generic"
fields = {{ category = "mine feature category" }}
where = "category == 'mine boundary'"

[[profiles.processing_plant.exclusions]]
layer = "mine_licences"
reason = "mine licence area (GEM)"
"""


@pytest.mark.slow
def test_a_scenario_can_exclude_the_gem_licence_polygons(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO.format(path=GEM.as_posix()), encoding="utf-8")
    result = siting.run(path, write=False)
    # The file's exclusion list replaces the default's: the licences alone exclude mine land.
    assert [e.layer for e in result.scenario.profiles["processing_plant"].exclusions] == [
        "mine_licences"
    ]
    # Only the 23 polygons are read: the `where` drops the file's methane-source points.
    assert len(result.layers["mine_licences"]) == 23
    licences = _licences(result.scenario.crs)
    suit = result.surfaces["processing_plant"].suitability
    # Every cell whose centre lies in a licence polygon is excluded land of the profile.
    xs, ys = np.meshgrid(*suit.grid.centers())
    cells = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(xs.ravel(), ys.ravel()), crs=result.scenario.crs
    )
    hit = gpd.sjoin(cells, licences[["geometry"]], predicate="within").index.unique()
    assert len(hit) > 400  # ≈ 523 km² at 1 km² a cell
    assert not np.isfinite(suit.data.ravel()[hit]).any()
    sites = result.sites_of("processing_plant")
    assert _inside(sites, licences) == []
