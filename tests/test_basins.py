"""Basins (siting.scale.basins): mines grouped into study areas with their own CRS, and the
embedded Russia layers (layers/russia/) they are made from.

The hand-made mines have known answers (distances from the haversine formula, checked against
pyproj's geodesic where it matters); the Russian ones are the shipped layers, re-derived from
../shared/data/russia by scripts/russia_layers.py.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod

from siting.config.scenario import LAYERS, Scenario, from_dict, load
from siting.errors import LayerError, ScenarioError
from siting.inputs.place import working_crs
from siting.pipeline.stages import run
from siting.scale.basins import (
    Basin,
    basin_scenario,
    basins_from_polygons,
    basins_of,
    scenario_mines,
    split_basins,
    write_areas,
)

ROOT = Path(__file__).resolve().parents[1]
RUSSIA = ROOT / "layers" / "russia"
GEOD = Geod(ellps="WGS84")


def mines(*rows: tuple[str, float, float, str]) -> gpd.GeoDataFrame:
    """Mines (id, lon, lat, province) in lon/lat, output 1 Mt/yr each."""
    return gpd.GeoDataFrame(
        {
            "gem_id": [r[0] for r in rows],
            "name": [r[0] for r in rows],
            "province": [r[3] for r in rows],
            "output": [1.0] * len(rows),
        },
        geometry=[shapely.Point(r[1], r[2]) for r in rows],
        crs="EPSG:4326",
    )


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2] / 1000


# --- grouping -----------------------------------------------------------------------------


def test_two_clusters_far_apart_are_two_basins() -> None:
    m = mines(
        ("A1", 86.0, 54.0, "Kemerovo"),
        ("A2", 86.3, 54.1, "Kemerovo"),
        ("A3", 86.1, 54.3, "Kemerovo"),
        ("B1", 124.7, 56.7, "Sakha"),
        ("B2", 125.0, 56.9, "Sakha"),
    )
    found = split_basins(m, link_km=100, buffer_km=10)
    assert [(b.name, list(b.mines["gem_id"])) for b in found] == [
        ("kemerovo", ["A1", "A2", "A3"]),
        ("sakha", ["B1", "B2"]),
    ]
    assert [b.title for b in found] == ["Kemerovo basin", "Sakha basin"]


def test_a_chain_under_the_link_is_one_basin() -> None:
    # 0.9° of latitude apart: 100 km (geodesic), so links of 100.5 km chain A-B-C-D; A and D
    # are 300 km apart.
    m = mines(*[(f"C{i}", 90.0, 50.0 + 0.9 * i, "Tyva") for i in range(4)])
    steps = [km((90.0, 50.0 + 0.9 * i), (90.0, 50.9 + 0.9 * i)) for i in range(3)]
    assert all(99.8 < s < 100.5 for s in steps)
    assert [len(b.mines) for b in split_basins(m, link_km=101, buffer_km=5)] == [4]
    # Below the step, every mine is its own basin, numbered in the order of their ids.
    alone = split_basins(m, link_km=99, buffer_km=5)
    assert [b.name for b in alone] == ["tyva-1", "tyva-2", "tyva-3", "tyva-4"]
    assert [list(b.mines["gem_id"]) for b in alone] == [["C0"], ["C1"], ["C2"], ["C3"]]


def test_min_mines_leaves_small_groups_out(caplog: pytest.LogCaptureFixture) -> None:
    m = mines(("A", 86.0, 54.0, "X"), ("B", 86.2, 54.0, "X"), ("C", 100.0, 60.0, "Y"))
    with caplog.at_level(logging.WARNING, logger="siting"):
        found = split_basins(m, link_km=50, buffer_km=5, min_mines=2)
    assert [(b.name, len(b.mines)) for b in found] == [("x", 2)]
    assert "left out 1 group(s) of fewer than 2 mine(s) (1 mine(s) in all)" in caplog.text


def test_names_and_order_do_not_depend_on_the_rows_order() -> None:
    rows = [
        ("M3", 86.0, 54.0, "Kemerovo"),
        ("M1", 86.2, 54.1, "Kemerovo"),
        ("M7", 95.0, 56.0, "Krasnoyarsk"),
        ("M2", 91.2, 53.5, "Khakassia"),
        ("M5", 91.3, 53.6, "Khakassia"),
        ("M4", 40.5, 48.0, "Rostov"),
        ("M6", 96.0, 55.5, "Krasnoyarsk"),  # 80 km from M7
    ]
    expected = [
        ("kemerovo", ["M1", "M3"]),
        ("khakassia", ["M2", "M5"]),
        ("krasnoyarsk", ["M6", "M7"]),
        ("rostov", ["M4"]),
    ]
    rng = np.random.default_rng(7)
    for _ in range(3):
        order = rng.permutation(len(rows))
        found = split_basins(mines(*[rows[i] for i in order]), link_km=100, buffer_km=20)
        assert [(b.name, list(b.mines["gem_id"])) for b in found] == expected


def test_a_tie_in_provinces_names_the_basin_alphabetically() -> None:
    m = mines(("A", 120.0, 55.0, "Zabaykalsky"), ("B", 120.3, 55.0, "Amur"))
    assert split_basins(m, link_km=50, buffer_km=5)[0].name == "amur"


def test_bad_parameters_are_refused() -> None:
    m = mines(("A", 86.0, 54.0, "X"))
    with pytest.raises(ScenarioError, match="link_km = 0"):
        split_basins(m, link_km=0)
    with pytest.raises(ScenarioError, match="buffer_km = -1"):
        split_basins(m, buffer_km=-1)
    with pytest.raises(LayerError, match="no CRS"):
        split_basins(m.set_crs(None, allow_override=True))


# --- CRS and study area --------------------------------------------------------------------


def test_a_small_basin_works_in_its_utm_zone() -> None:
    m = mines(("A", 86.0, 54.0, "Kemerovo"), ("B", 87.0, 54.5, "Kemerovo"))
    (b,) = split_basins(m, link_km=100, buffer_km=30)
    assert b.crs == "EPSG:32645"  # zone 45 = floor((86.5 + 180) / 6) + 1
    # The study area: the segment A-B plus 30 km on every side, a capsule (2 r L + π r²).
    length = km((86.0, 54.0), (87.0, 54.5))
    expected = 2 * 30 * length + math.pi * 30**2
    assert b.area.area / 1e6 == pytest.approx(expected, rel=0.01)


def test_a_wide_basin_works_in_a_projection_centred_on_it() -> None:
    # Mines every 0.9° of longitude at 62° N (47 km apart) across 12°: one basin too wide for
    # one UTM zone.
    m = mines(*[(f"W{i:02d}", 100.0 + 0.9 * i, 62.0, "Sakha") for i in range(14)])
    (b,) = split_basins(m, link_km=60, buffer_km=20)
    assert b.span_deg > 12
    assert b.crs.startswith("+proj=aeqd +lat_0=62.") and "+lon_0=105.85 " in b.crs
    assert CRS.from_user_input(b.crs).is_projected
    assert b.lon == pytest.approx(105.85, abs=0.01)


def test_a_basin_across_180_degrees_is_not_360_degrees_wide() -> None:
    # 179.5° E and 179.5° W at 65° N: 47 km apart across the antimeridian.
    m = mines(("E", 179.5, 65.0, "Chukotka"), ("W", -179.5, 65.0, "Chukotka"))
    apart = km((179.5, 65.0), (-179.5, 65.0))
    assert 46 < apart < 48
    (b,) = split_basins(m, link_km=60, buffer_km=20)
    assert list(b.mines["gem_id"]) == ["E", "W"]
    assert abs(abs(b.lon) - 180.0) < 1e-6 and b.lat == pytest.approx(65.0, abs=0.01)
    assert b.crs in ("EPSG:32601", "EPSG:32660")  # the zones either side of 180°
    # 1° of longitude plus 20 km either side (0.42° at 65° N): about 1.85°, not 360.
    assert 1.7 < b.span_deg < 2.0
    assert b.area.area / 1e6 == pytest.approx(2 * 20 * apart + math.pi * 20**2, rel=0.01)
    # In lon/lat, one polygon across the centre's meridian (180° or -180°).
    minx, _, maxx, _ = b.area_lonlat.bounds
    assert minx < b.lon < maxx and maxx - minx == pytest.approx(b.span_deg, rel=1e-3)


def test_given_polygons_take_the_mines_they_contain(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    m = mines(
        ("A", 86.0, 54.0, "K"),
        ("B", 86.1, 54.1, "K"),
        ("C", 179.8, 64.0, "C"),
        ("D", -179.8, 64.0, "C"),
        ("E", 40.0, 48.0, "R"),
    )
    polygons = gpd.GeoDataFrame(
        {"basin": ["kuzbass", "chukotka"]},
        # The second continues past 180° (as write_areas writes a basin across it).
        geometry=[shapely.box(85.5, 53.5, 86.5, 54.5), shapely.box(179.0, 63.5, 181.0, 64.5)],
        crs="EPSG:4326",
    )
    with caplog.at_level(logging.WARNING, logger="siting"):
        found = basins_from_polygons(m, polygons)
    assert [(b.name, list(b.mines["gem_id"])) for b in found] == [
        ("kuzbass", ["A", "B"]),
        ("chukotka", ["C", "D"]),
    ]
    assert found[0].crs == "EPSG:32645"
    assert "1 mine(s) outside every polygon" in caplog.text
    # The areas written and read back give the same basins.
    path = write_areas(found, tmp_path / "areas.geojson")
    again = basins_from_polygons(m, gpd.read_file(path))
    assert [(b.name, len(b.mines), b.crs) for b in again] == [
        (b.name, len(b.mines), b.crs) for b in found
    ]


# --- the embedded Russia layers -------------------------------------------------------------


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "russia_layers", ROOT / "scripts" / "russia_layers.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_layers_are_what_the_script_derives(tmp_path: Path) -> None:
    counts = _script().main(tmp_path)
    for name in ("mines.geojson", "settlements.geojson", "basins.geojson"):
        assert (tmp_path / name).read_bytes() == (RUSSIA / name).read_bytes(), name
    # The counts PROVENANCE.md gives.
    assert counts["mines"]["rows"] == 279
    assert counts["mines"]["dropped_rows"] == 22
    assert counts["mines"]["mines"] == 202
    assert counts["mines"]["status"]["operating"] == 162
    assert counts["mines"]["operating_without_output"] == ["M0781", "M1264", "M1358", "M4254"]
    assert counts["settlements"]["kept"] == 949
    assert len(counts["settlements"]["sections_dropped"]) == 7
    assert not (RUSSIA / ".keep").exists()
    assert not (RUSSIA / "russia_regions.geojson").exists()


def test_the_mine_layer_matches_gem() -> None:
    m = gpd.read_file(RUSSIA / "mines.geojson")
    assert len(m) == 202 and m["gem_id"].is_unique
    raspadskaya = m[m["gem_id"] == "M0836"].iloc[0]  # MANIFEST's check
    assert raspadskaya.geometry.y == pytest.approx(53.784, abs=0.001)
    assert raspadskaya.geometry.x == pytest.approx(88.082, abs=0.001)
    assert raspadskaya["capacity_mtpa"] == 5.0
    assert set(m["province"]) >= {"Kemerovo", "Sakha", "Tyva", "Chukotka"}
    assert "Tuva" not in set(m["province"]) and m["province"].notna().all()


@pytest.fixture(scope="module")
def national() -> Scenario:
    return load("russia")


def shipped_basin(national: Scenario, name: str) -> Basin:
    """One basin of the shipped basins.geojson, with the national scenario's mines (one
    polygon: the UTM zone of each basin takes pyproj's database a tenth of a second)."""
    areas = gpd.read_file(RUSSIA / "basins.geojson")
    (basin,) = basins_from_polygons(scenario_mines(national), areas[areas["basin"] == name])
    return basin


@pytest.mark.slow
def test_the_russian_mines_split_into_37_basins(national: Scenario) -> None:
    m = gpd.read_file(RUSSIA / "mines.geojson")
    found = split_basins(m[m["status"] == "operating"], link_km=100, buffer_km=30)
    assert len(found) == 37
    assert sum(len(b.mines) for b in found) == 162
    assert [(b.name, len(b.mines), b.crs) for b in found[:5]] == [
        ("kemerovo-1", 78, "EPSG:32645"),
        ("khakassia", 9, "EPSG:32646"),
        ("sakha-1", 9, "EPSG:32651"),
        ("kemerovo-2", 7, "EPSG:32645"),
        ("krasnoyarsk-1", 6, "EPSG:32646"),
    ]
    assert sum(len(b.mines) == 1 for b in found) == 21
    assert all(b.crs.startswith("EPSG:326") for b in found)  # each under 6° of longitude
    # The shipped basins.geojson is this split, and the national scenario reads it.
    assert [(b.name, len(b.mines), b.crs) for b in basins_of(national)] == [
        (b.name, len(b.mines), b.crs) for b in found
    ]


def test_russia_resolves_to_the_embedded_scenario(national: Scenario) -> None:
    s = national
    assert s.source == LAYERS / "russia" / "scenario.toml"
    assert s.name == "russia" and s.study_area == "basins"
    assert len(scenario_mines(s)) == 162  # layers.mines.where: the operating mines


# --- a basin's scenario ---------------------------------------------------------------------


def test_a_basin_scenario_runs(national: Scenario) -> None:
    basin = shipped_basin(national, "khakassia")
    assert len(basin.mines) == 9
    s = basin_scenario(national, basin)
    assert (s.name, s.crs, s.title) == (
        "russia-khakassia",
        "EPSG:32646",
        f"{national.title}: Khakassia basin",
    )
    assert s.layers["basins"].where == "basin == 'khakassia'"
    assert s.profiles == national.profiles and s.layers["mines"] == national.layers["mines"]
    result = run(s, write=False, resolution=2000)
    assert len(result.sites) > 0
    assert set(result.sites["profile"]) == {"processing_plant", "coal_chemical_plant"}
    inside = result.sites.to_crs(s.crs).within(basin.area.buffer(1))
    assert bool(inside.all())


def test_a_basin_without_a_town_is_refused_when_its_layers_are_read(national: Scenario) -> None:
    kamchatka = shipped_basin(national, "kamchatka")
    with pytest.raises(LayerError, match="'settlements' has no feature within 50 km"):
        run(basin_scenario(national, kamchatka), write=False, resolution=2000)


def test_a_basin_not_in_the_areas_file_is_refused(tmp_path: Path, national: Scenario) -> None:
    (first,) = split_basins(mines(("A", 86.0, 54.0, "Elsewhere")), buffer_km=5)
    with pytest.raises(ScenarioError, match="no feature with basin = 'elsewhere'"):
        basin_scenario(national, first)
    path = write_areas([first], tmp_path / "areas.geojson")
    assert basin_scenario(national, first, path).layers["basins"].path == path


def test_a_basin_across_180_degrees_runs(tmp_path: Path) -> None:
    m = mines(("E", 179.6, 64.8, "Chukotka"), ("W", -179.7, 64.9, "Chukotka"))
    m.to_file(tmp_path / "mines.geojson")
    towns = gpd.GeoDataFrame(
        {"name": ["East", "West"], "population": [20000, 16000]},
        geometry=[shapely.Point(179.9, 64.7), shapely.Point(-179.4, 64.95)],
        crs="EPSG:4326",
    )
    towns.to_file(tmp_path / "towns.geojson")
    found = split_basins(m, link_km=60, buffer_km=25)
    write_areas(found, tmp_path / "basins.geojson")
    national = from_dict(
        {
            "name": "arctic",
            "crs": "auto",
            "resolution": 1000,
            "study_area": "basins",
            "layers": {
                "basins": {"path": "basins.geojson", "kind": "boundary"},
                "mines": {"path": "mines.geojson", "kind": "mines"},
                "settlements": {"path": "towns.geojson", "kind": "settlements"},
            },
            "profiles": {
                "plant": {
                    "n_sites": 3,
                    "min_separation_m": 5000,
                    "min_area_ha": 10,
                    "criteria": [
                        {
                            "name": "mine",
                            "kind": "distance",
                            "layer": "mines",
                            "standardize": {"fn": "linear", "low": 0, "high": 20000},
                            "weight": 0.5,
                        },
                        {
                            "name": "town",
                            "kind": "distance",
                            "layer": "settlements",
                            "standardize": {"fn": "linear", "low": 0, "high": 20000},
                            "weight": 0.5,
                        },
                    ],
                }
            },
        },
        base_dir=tmp_path,
    )
    (basin,) = basins_of(national)
    s = basin_scenario(national, basin)
    assert working_crs(s) == s.crs == basin.crs  # the run's own checks of the CRS pass
    result = run(s, write=False)
    assert len(result.sites) == 3
    lon = result.sites.to_crs("EPSG:4326").geometry.x
    assert bool(((lon > 178.5) | (lon < -178.5)).all())  # on both sides of 180°, not at 0°
