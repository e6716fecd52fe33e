"""Tests for the Global Energy Monitor coal mine tracker reader, on the real Kuzbass extracts."""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from siting.errors import LayerError
from siting.inputs.sources.gem import SCHEMA, clean_name, read_gcmt_table, read_gem
from siting.pipeline.cache import Cache, using

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GEM = DATA / "gem"
NON_CLOSED = GEM / "gcmt_non_closed_kuzbass_bbox.csv"
CLOSED = GEM / "gcmt_closed_kuzbass_bbox.csv"
BOUNDARIES = GEM / "gem_coal_mine_boundaries_methane_kuzbass.geojson"

# Mines of the GeoJSON with "mine boundary" polygons (23 polygons for 17 mines, counted by hand).
BOUNDARY_MINES = {
    "M0767",
    "M0772",
    "M0773",
    "M0809",
    "M0812",
    "M0833",
    "M0836",
    "M0837",
    "M0838",
    "M0856",
    "M0864",
    "M0877",
    "M1271",
    "M1343",
    "M1518",
    "M1520",
    "M2344",
}


@pytest.fixture(scope="module")
def mines() -> gpd.GeoDataFrame:
    return read_gem(NON_CLOSED)


@pytest.fixture(scope="module")
def mines_with_boundaries() -> gpd.GeoDataFrame:
    return read_gem(NON_CLOSED, boundaries=BOUNDARIES)


def _mine(gdf: gpd.GeoDataFrame, gem_id: str) -> pd.Series:
    rows = gdf[gdf["gem_id"] == gem_id]
    assert len(rows) == 1, f"{gem_id} should appear once"
    return rows.iloc[0]


def test_one_row_per_mine_in_schema(mines: gpd.GeoDataFrame) -> None:
    raw = pd.read_csv(NON_CLOSED, dtype=str, keep_default_na=False)
    assert len(raw) == 135
    assert len(mines) == 111 == raw["GEM Mine ID"].nunique()
    assert mines["gem_id"].is_unique
    assert list(mines.columns) == list(SCHEMA)
    assert mines.crs.to_epsg() == 4326
    assert set(mines.geom_type) == {"Point"}
    assert mines["n_rows"].sum() == 135
    assert mines["n_rows"].value_counts().to_dict() == {1: 87, 2: 24}
    assert mines["capacity_mtpa"].dtype == float
    assert mines["output_mtpa"].dtype == float


def test_status_counts_per_mine(mines: gpd.GeoDataFrame) -> None:
    # Row counts are Operating 86, Proposed 18, Mothballed 11, Cancelled 11, Shelved 9; the
    # 24 expansion rows (Proposed 12, Cancelled 7, Shelved 5) belong to 22 operating and 2
    # mothballed mines, so per mine (checked by hand with pandas):
    assert mines["status"].value_counts().to_dict() == {
        "operating": 86,
        "mothballed": 11,
        "proposed": 6,
        "shelved": 4,
        "cancelled": 4,
    }


def test_raspadskaya(mines: gpd.GeoDataFrame) -> None:
    m = _mine(mines, "M0836")
    assert m["name"] == "Raspadskaya"
    assert m["name_ru"] == "шахта Распадская"
    assert m["geometry"].y == pytest.approx(53.784, abs=0.001)
    assert m["geometry"].x == pytest.approx(88.082, abs=0.001)
    assert m["capacity_mtpa"] == 5.0
    assert m["output_mtpa"] == 4.7
    # Two rows: Operating and a Proposed expansion (Construction); the expansion does not win.
    assert m["n_rows"] == 2
    assert m["status"] == "operating"
    assert m["mine_type"] == "underground"
    assert m["coal_grade"] == "coking"
    assert m["district"] == "Mezhdurechensky"


def test_decimal_commas(mines: gpd.GeoDataFrame) -> None:
    m = _mine(mines, "M0767")
    assert m["name"] == "Alardinskaya"
    assert m["capacity_mtpa"] == 2.25
    assert m["output_mtpa"] == 1.7
    assert m["geometry"].y == pytest.approx(53.414136)
    assert m["geometry"].x == pytest.approx(87.315216)
    assert m["operator"] == "Shakhta Alardinskaya LLC"
    assert m["location_accuracy"] == "exact"
    # "Thermal & Met" with Percentage of Met Coal "55,6" → coking.
    assert _mine(mines, "M1271")["coal_grade"] == "coking"


def test_expansion_rows_do_not_add_capacity_or_change_status(mines: gpd.GeoDataFrame) -> None:
    # Barzasskoye: Operating 2.8 (production 3.2) + Proposed expansion 0.9.
    m = _mine(mines, "M0773")
    assert (m["status"], m["capacity_mtpa"], m["output_mtpa"]) == ("operating", 2.8, 3.2)
    # Pervomaisky: Mothballed 5 (production 3.1) + Cancelled expansion 2.5.
    m = _mine(mines, "M0832")
    assert (m["status"], m["capacity_mtpa"], m["output_mtpa"]) == ("mothballed", 5.0, 3.1)
    # Krasnobrodsky: the expansion row sits elsewhere (53.97 N); the existing mine's point wins.
    m = _mine(mines, "M0812")
    assert m["geometry"].y == pytest.approx(54.1996)
    assert m["coal_grade"] == "thermal"  # Thermal & Met with 35 % met
    # Bachatsky: no capacity given, production 10 → output falls back to production.
    m = _mine(mines, "M0772")
    assert math.isnan(m["capacity_mtpa"])
    assert m["output_mtpa"] == 10.0
    # Neither capacity nor production (Bryansky, M0781) → NaN output; 5 such mines in all.
    m = _mine(mines, "M0781")
    assert math.isnan(m["capacity_mtpa"]) and math.isnan(m["output_mtpa"])
    assert mines["output_mtpa"].isna().sum() == 5
    assert mines["capacity_mtpa"].isna().sum() == 36


def test_derived_fields(mines: gpd.GeoDataFrame) -> None:
    assert set(mines["mine_type"]) == {"open_pit", "underground"}
    assert set(mines["coal_grade"]) == {"coking", "thermal"}
    assert set(mines["location_accuracy"]) == {"exact", "approximate"}
    assert not mines["name"].str.endswith(" Coal Mine").any()
    assert _mine(mines, "M2344")["name"] == "V.I. Lenin Underground"


def test_status_filter(mines: gpd.GeoDataFrame) -> None:
    operating = read_gem(NON_CLOSED, status=["operating"])
    assert len(operating) == 86
    assert set(operating["status"]) == {"operating"}
    both = read_gem(NON_CLOSED, status=["Operating", "MOTHBALLED"])
    assert len(both) == 97
    assert len(read_gem(NON_CLOSED, status="proposed")) == 6


def test_bogus_status_lists_allowed_values() -> None:
    with pytest.raises(LayerError) as err:
        read_gem(NON_CLOSED, status=["operating", "bogus"])
    message = str(err.value)
    assert "bogus" in message
    for allowed in ("cancelled", "mothballed", "operating", "proposed", "shelved"):
        assert allowed in message


def test_closed_file() -> None:
    closed = read_gem(CLOSED)
    assert len(closed) == 11
    assert list(closed.columns) == list(SCHEMA)
    assert set(closed["status"]) == {"closed"}
    assert closed["geometry"].notna().all()
    m = _mine(closed, "M1373")
    assert m["name"] == "Polysaevskaya"
    assert m["capacity_mtpa"] == 2.3
    assert m["output_mtpa"] == 2.3  # no production → capacity
    m = _mine(closed, "M5665")
    assert math.isnan(m["capacity_mtpa"])
    assert m["output_mtpa"] == 2.95
    assert _mine(closed, "M0784")["mine_type"] == "underground & surface"
    assert len(read_gem(CLOSED, status=["closed"])) == 11
    with pytest.raises(LayerError, match="closed"):
        read_gem(CLOSED, status=["operating"])


def test_closed_file_country_column_found_by_content() -> None:
    table = read_gcmt_table(CLOSED)
    assert "Country / Area" in table.columns
    assert set(table["Country / Area"]) == {"Russia"}
    assert "MSHA ID" in table.columns  # the real (empty) MSHA ID column is left alone
    assert set(table["MSHA ID"]) == {""}
    assert "Mine Size (Km2)" in table.columns  # header line breaks collapsed
    # The non-closed sheet already has a proper Country / Area column.
    assert set(read_gcmt_table(NON_CLOSED)["Country / Area"]) == {"Russia"}


def test_boundaries(mines_with_boundaries: gpd.GeoDataFrame, mines: gpd.GeoDataFrame) -> None:
    gdf = mines_with_boundaries
    assert list(gdf.columns) == [*SCHEMA[:-1], "boundary_source", "geometry"]
    assert len(gdf) == 111
    polys = gdf[gdf["boundary_source"] == "gem"]
    assert set(polys["gem_id"]) == BOUNDARY_MINES
    assert len(polys) == 17
    assert set(polys.geom_type) <= {"Polygon", "MultiPolygon"}
    points = gdf[gdf["boundary_source"] == "point"]
    assert len(points) == 94
    assert set(points.geom_type) == {"Point"}
    # The 23 polygons total ~523 km² (manifest), but Alardinskaya's and Bachatsky's licence
    # polygons overlap each other, so the per-mine unions total ~485 km².
    area_km2 = polys.to_crs(32645).area.sum() / 1e6
    assert area_km2 == pytest.approx(485.1, abs=1.0)
    assert _mine(gdf, "M1518").geometry.geom_type == "MultiPolygon"  # two disjoint licences

    # Each polygon contains its GEM point or lies close to it. All but Razrez Raspadsky
    # (M0838, 1.11 km) are within 1 km.
    pts = mines.set_index("gem_id").loc[polys["gem_id"]].geometry.to_crs(32645)
    dist = dict(zip(polys["gem_id"], polys.to_crs(32645).distance(pts, align=False), strict=True))
    assert all(d <= 1000.0 for gid, d in dist.items() if gid != "M0838"), dist
    assert 1000.0 < dist["M0838"] < 1200.0
    contained = [gid for gid, d in dist.items() if d == 0.0]
    assert len(contained) == 11


def test_boundaries_after_status_filter() -> None:
    gdf = read_gem(NON_CLOSED, status=["mothballed"], boundaries=BOUNDARIES)
    assert len(gdf) == 11
    assert set(gdf["boundary_source"]) == {"point"}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="not found"):
        read_gem(tmp_path / "nope.csv")
    with pytest.raises(LayerError, match="not found"):
        read_gem(NON_CLOSED, boundaries=tmp_path / "nope.geojson")


def test_missing_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("GEM Mine ID,Mine Name,Status\nM1,Foo Coal Mine,Operating\n", encoding="utf-8")
    with pytest.raises(LayerError) as err:
        read_gem(bad)
    assert "'Latitude'" in str(err.value)
    assert "'Longitude'" in str(err.value)
    assert "Mine Name" not in str(err.value).split("lacks")[1]


def test_rows_without_coordinates(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    csv = tmp_path / "some.csv"
    csv.write_text(
        "GEM Mine ID,Mine Name,Status,Capacity (Mtpa),Latitude,Longitude\n"
        'M1,Foo Coal Mine,Operating,"1,5","54,1","86,2"\n'
        "M2,Bar Coal Mine,Operating,2,,\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="siting"):
        gdf = read_gem(csv)
    assert list(gdf["gem_id"]) == ["M1"]
    assert gdf.iloc[0]["capacity_mtpa"] == 1.5
    assert gdf.iloc[0]["geometry"].y == pytest.approx(54.1)
    assert "M2" in caplog.text

    empty = tmp_path / "none.csv"
    empty.write_text(
        "GEM Mine ID,Mine Name,Status,Latitude,Longitude\nM2,Bar,Operating,,\n", encoding="utf-8"
    )
    with pytest.raises(LayerError, match="coordinates"):
        read_gem(empty)


# --- Rows of the wrong types, region fields, names, the cache (issue 18, item 9) -------------

RUSSIA = DATA / "russia" / "gcmt_non_closed_russia.csv"
RUSSIA_CLOSED = DATA / "russia" / "gcmt_closed_russia.csv"
HEADER = "GEM Mine ID,Mine Name,Status,Capacity (Mtpa),Latitude,Longitude,State, Province\n"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_shifted_rows_are_dropped_and_counted_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The Russian sheet has 22 rows whose cells are shifted by a column (Status "Russia" or
    empty, text such as "Bituminous" under Production): all dropped, counted in one line."""
    raw = pd.read_csv(RUSSIA, dtype=str, keep_default_na=False)
    known = {"Operating", "Proposed", "Mothballed", "Shelved", "Cancelled"}
    shifted = raw[~raw["Status"].isin(known)]
    assert len(raw) == 279 and len(shifted) == 22
    assert set(shifted["Status"]) == {"Russia", ""}
    with caplog.at_level(logging.DEBUG, logger="siting"):
        mines = read_gem(RUSSIA)
    good = raw[raw["Status"].isin(known)]
    assert set(mines["status"]) <= {s.lower() for s in known}
    assert set(mines["gem_id"]) == set(good["GEM Mine ID"])  # all have coordinates
    assert len(mines) == 202
    assert mines["n_rows"].sum() == 279 - 22
    (line,) = _warnings(caplog)
    assert line.startswith(
        "GEM coal mine tracker gcmt_non_closed_russia.csv: dropped 22 of 279 row(s): 22 with "
        "shifted cells, text in a number column (Production (Mtpa) 16, Capacity (Mtpa) 6); "
        "kept 202 mine(s) (e.g. dropped: M0784, M5657, M4251, M5658, M2345 …"
    )
    assert len(line) < 400  # not every ID: those are at DEBUG level
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    dropped = {m.split(": dropped ")[1].split(":")[0] for m in debug if ": dropped " in m}
    assert dropped == set(shifted["GEM Mine ID"])


def test_a_row_with_an_unknown_status_or_text_for_a_number_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    csv = tmp_path / "world.csv"
    csv.write_text(
        HEADER
        + 'M1,Foo Coal Mine,Operating,"1,5","54,1","86,2",Kemerovo\n'
        + "M2,Bar Coal Mine,China,2,54.2,86.3,Kemerovo\n"  # a shifted row that looks valid
        + "M3,Baz Coal Mine,Operating,Exact,54.3,86.4,Kemerovo\n"
        + "M1,Foo Coal Mine,Shelved,Bituminous,54.1,86.2,Kemerovo\n"  # M1 keeps its good row
        + ",Nameless,Operating,1,54.0,86.0,Kemerovo\n"
        + "M4,Qux Coal Mine,,1,54.0,86.0,Kemerovo\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="siting"):
        gdf = read_gem(csv)
    assert list(gdf["gem_id"]) == ["M1"]
    assert (gdf.iloc[0]["status"], gdf.iloc[0]["capacity_mtpa"], gdf.iloc[0]["n_rows"]) == (
        "operating",
        1.5,
        1,
    )
    (line,) = _warnings(caplog)
    assert line.startswith(
        "GEM coal mine tracker world.csv: dropped 5 of 6 row(s): 1 with no GEM Mine ID; "
        "2 with an unknown status ('' 1, 'china' 1); 2 with shifted cells, text in a number "
        "column (Capacity (Mtpa) 2); kept 1 mine(s) (e.g. dropped: "
    )
    assert "line 6" in line  # the row without an ID is named by its line in the file
    with pytest.raises(LayerError, match="'china'"):
        read_gem(csv, status=["china"])


def test_region_fields(mines: gpd.GeoDataFrame) -> None:
    m = _mine(mines, "M0836")
    assert (m["province"], m["country"]) == ("Kemerovo", "Russia")
    assert mines["country"].eq("Russia").all()
    russia = read_gem(RUSSIA)
    assert russia["province"].value_counts()["Khakassia"] >= 5
    assert _mine(russia, "M1372")["province"] == "Khakassia"  # Abakansky
    # The closed sheet: its Country / Area column is found by content.
    closed = read_gem(RUSSIA_CLOSED)
    assert set(closed["country"]) == {"Russia"}
    assert _mine(closed, "M1373")["province"] == "Kemerovo"  # Polysaevskaya
    assert pd.isna(_mine(closed, "M1275")["province"])  # empty in the sheet


def test_names_lose_coal_mine_wherever_it_ends_the_name_proper() -> None:
    assert clean_name("Raspadskaya Coal Mine") == "Raspadskaya"
    assert clean_name("Nikolsky Coal Mine (Sakhalin)") == "Nikolsky (Sakhalin)"
    assert clean_name("Taldinskaya-Zapadnaya Coal Mine No. 1") == "Taldinskaya-Zapadnaya No. 1"
    assert clean_name("Inaglinsky Coal Mine 2") == "Inaglinsky 2"
    assert clean_name("  Bogatyr   coal\tmine  ") == "Bogatyr"
    # A group of mines, a name without the suffix, and the bare words stay.
    group = "Rover Glushinsky-Shcheglovsky-Latyshevsky Coal Mines"
    assert clean_name(group) == group
    assert clean_name("November 7th OLD Mine") == "November 7th OLD Mine"
    assert clean_name("Coal Mine") == "Coal Mine"
    russia = read_gem(RUSSIA)
    names = dict(zip(russia["gem_id"], russia["name"], strict=True))
    assert not any(" Coal Mine " in n or n.endswith(" Coal Mine") for n in names.values())
    assert "Bogatyr (Russia)" in names.values()
    closed = read_gem(RUSSIA_CLOSED)
    assert "Nikolsky (Sakhalin)" in set(closed["name"])


def test_the_parsed_sheet_is_cached_by_the_file_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_bytes(RUSSIA.read_bytes())
    cache = Cache(tmp_path / "cache")
    with using(cache):
        first = read_gem(sheet)
        caplog.clear()
        again = read_gem(sheet, status=["operating"])
    assert [(e.label, e.hit) for e in cache.log.events] == [
        ("GEM tracker sheet.csv", False),
        ("GEM tracker sheet.csv", True),
    ]
    assert len(_warnings(caplog)) == 1  # a run served from the cache still says what it dropped
    pd.testing.assert_frame_equal(first, read_gem(RUSSIA))  # the cache changes nothing
    assert len(again) == (first["status"] == "operating").sum()

    # Another copy of the same bytes is the same entry; a changed file is parsed again.
    copy = tmp_path / "copy.csv"
    copy.write_bytes(sheet.read_bytes())
    header = list(pd.read_csv(sheet, dtype=str, nrows=0).columns)
    new = dict.fromkeys(header, "") | {
        "GEM Mine ID": "M9999",
        "Mine Name": "New Coal Mine",
        "Status": "Operating",
        "Latitude": "54,5",
        "Longitude": "86,5",
    }
    assert sheet.read_bytes().endswith(b"\n")
    with sheet.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow([new[c] for c in header])
    cache = Cache(tmp_path / "cache")
    with using(cache):
        same = read_gem(copy)
        changed = read_gem(sheet)
    assert [e.hit for e in cache.log.events] == [True, False]
    pd.testing.assert_frame_equal(same, first)
    assert len(changed) == len(first) + 1
    assert _mine(changed, "M9999")["name"] == "New"
