"""Weber points as plant candidates (issue #19, item 5): each growth pole's snapped Weber point
joins the allocation profile's sites where its cell is eligible land."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

import siting

CLUSTERS = '[models.clusters]\nlayer = "mines"\neps_m = 5000\nmin_weight = 5\n'
SNAP = CLUSTERS + 'snap_profile = "processing_plant"\n'


def _scenario(world: Path, clusters: str = SNAP, allocation: str = "p = 2") -> Path:
    """The world's scenario with its clusters and allocation tables replaced."""
    path = world / "scenario.toml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(CLUSTERS, clusters).replace("p = 2\n", allocation + "\n")
    path.write_text(text, encoding="utf-8")
    return path


def _cell(result: siting.Result, profile: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    suit = result.surfaces[profile].suitability
    rows, cols = suit.grid.index(x, y)
    return suit.data[rows, cols]


def test_each_snapped_weber_point_is_a_candidate(world: Path) -> None:
    result = siting.run(_scenario(world), write=False)
    plants = result.sites[result.sites["profile"] == "processing_plant"]
    weber = plants[plants["origin"] == "weber"]
    assert (plants.loc[plants["origin"] != "weber", "origin"] == "suitability").all()
    assert len(result.clusters) == 2
    for pole in result.clusters.itertuples():
        at = np.hypot(plants["x"] - pole.weber_snap_x, plants["y"] - pole.weber_snap_y) < 1.0
        assert at.sum() == 1  # the Weber point, or a proposed site on its cell: once
    assert list(weber["site_id"]) == [f"processing_plant-weber-{k}" for k in (0, 1)]
    # The cell's own suitability, and ranked after the four proposed sites.
    score = _cell(result, "processing_plant", weber["x"].to_numpy(), weber["y"].to_numpy())
    assert np.allclose(weber["score"], score) and (weber["score"] > 0).all()
    assert list(weber["rank"]) == [5, 6]
    # Not a technopark candidate.
    assert not (
        result.sites.loc[result.sites["profile"] == "technopark", "origin"] == "weber"
    ).any()


def test_an_excluded_weber_point_is_no_candidate(world: Path) -> None:
    # Unsnapped, pole A–B's Weber point lies on mine A (10 of its 16 Mt/yr), inside the
    # 1.5 km mine exclusion: not eligible, so not a candidate.
    result = siting.run(_scenario(world, clusters=CLUSTERS), write=False)
    pole = result.clusters.iloc[0]
    assert pole["snap_m"] == 0.0
    assert not np.isfinite(
        _cell(result, "processing_plant", np.array([pole["weber_x"]]), np.array([pole["weber_y"]]))
    ).all()
    assert "processing_plant-weber-0" not in set(result.sites["site_id"])


def test_the_switch_turns_them_off(world: Path) -> None:
    result = siting.run(_scenario(world, allocation="p = 2\nweber_candidates = false"), write=False)
    assert set(result.sites["origin"]) == {"suitability"}
    assert len(result.sites_of("processing_plant")) == 4


def test_the_weber_point_is_the_best_plant_and_is_written(world: Path) -> None:
    # One plant: the proposed sites lie along the rail line 11–12 km north of the A–B pole
    # (16 of the 26 Mt/yr); its snapped Weber point beside the mines serves the demand with less
    # transport, so the p-median opens it.
    with_weber = siting.run(_scenario(world, allocation="p = 1"), write=True)
    plants = with_weber.allocation.plants
    assert list(plants["site_id"]) == ["processing_plant-weber-0"]
    off = world.parent / "off"
    off.mkdir()
    path = off / "scenario.toml"
    text = (world / "scenario.toml").read_text(encoding="utf-8")
    path.write_text(text.replace("p = 1\n", "p = 1\nweber_candidates = false\n"), "utf-8")
    # The same scenario without the Weber candidates opens a proposed site at a higher cost.
    for layer in world.glob("*.gpkg"):
        (off / layer.name).write_bytes(layer.read_bytes())
    without = siting.run(path, write=False)
    assert without.allocation.plants["site_id"].iloc[0].startswith("processing_plant-")
    assert "weber" not in without.allocation.plants["site_id"].iloc[0]
    assert with_weber.allocation.transport < 0.9 * without.allocation.transport
    # The written GeoPackage's proposed sites carry the origin.
    gpkg = world.parent / "out" / "synthetic" / "siting.gpkg"
    written = gpd.read_file(gpkg, layer="proposed_sites")
    weber = written[written["origin"] == "weber"]
    assert set(weber["site_id"]) == {"processing_plant-weber-0", "processing_plant-weber-1"}
    # The map says what the site is.
    page = (world.parent / "out" / "synthetic" / "map.html").read_text(encoding="utf-8")
    assert page.count("the Weber point of a growth pole") == 2


@pytest.mark.slow
def test_kuzbass_poles_weber_points_are_candidates() -> None:
    result = siting.run(resolution=1000, write=False)
    plants = result.sites[result.sites["profile"] == "processing_plant"]
    suit = result.surfaces["processing_plant"].suitability
    assert len(result.clusters) >= 5
    for pole in result.clusters.itertuples():
        row, col = (int(v[0]) for v in suit.grid.index([pole.weber_snap_x], [pole.weber_snap_y]))
        assert np.isfinite(suit.data[row, col])  # snapped to the plant profile's land
        at = np.hypot(plants["x"] - pole.weber_snap_x, plants["y"] - pole.weber_snap_y) < 1.0
        assert at.sum() == 1
    # The allocation may open them, and in the default it does.
    opened = result.allocation.plants["site_id"]
    assert opened.str.contains("-weber-").any()
