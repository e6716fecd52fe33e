"""Checks of the embedded default Kuzbass layers (layers/kuzbass/) against real public data.

The reference data live in ../shared/data (see its MANIFEST.md) and are read in place, never
copied. Nothing here imports the ``siting`` package.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
import shapely

REPO = Path(__file__).resolve().parents[1]
LAYERS = REPO / "layers" / "kuzbass"
SHARED = REPO / ".." / "shared" / "data"
UTM = "EPSG:32645"  # UTM zone 45N, metres

POINT, LINE, POLY = {"Point"}, {"LineString"}, {"Polygon", "MultiPolygon"}

# layer -> (allowed geometry types, exact field names, {field: allowed values})
SPEC: dict[str, tuple[set[str], list[str], dict[str, set]]] = {
    "boundary": (POLY, ["name", "name_ru"], {"name": {"Kemerovo Oblast"}}),
    "settlements": (
        POINT,
        ["name", "name_ru", "population", "kind", "geonames_id"],
        {"kind": {"city", "town", "village"}},
    ),
    "mines": (
        POINT,
        [
            "id",
            "name",
            "name_ru",
            "gem_id",
            "operator",
            "capacity_mtpa",
            "output_mtpa",
            "status",
            "mine_type",
            "coal_grade",
            "district",
        ],
        {
            "status": {"operating", "mothballed", "proposed", "closed"},
            "mine_type": {"open_pit", "underground"},
            "coal_grade": {"coking", "thermal"},
        },
    ),
    "coal_areas": (POLY, ["name", "name_ru", "kind"], {"kind": {"coal_district"}}),
    "rail": (LINE, ["id", "name", "kind", "electrified"], {"kind": {"main", "branch"}}),
    "stations": (POINT, ["name", "name_ru", "kind"], {"kind": {"junction", "station"}}),
    "roads": (LINE, ["id", "name", "ref", "kind"], {"kind": {"federal", "regional"}}),
    "protected_areas": (
        POLY,
        ["name", "name_ru", "kind", "area_km2"],
        {
            "kind": {
                "zapovednik",
                "buffer_zone",
                "national_park",
                "museum_reserve",
                "zakaznik",
                "nature_park",
            }
        },
    ),
    "rivers": (LINE, ["name", "name_ru", "width_m"], {}),
    "water": (POLY, ["name", "name_ru", "kind"], {"kind": {"reservoir", "lake"}}),
    "anchors": (
        POINT,
        ["name", "name_ru", "kind", "city"],
        {"kind": {"ugle_naukograd", "technopark", "university", "research_institute"}},
    ),
    "power_plants": (
        POINT,
        ["name", "name_ru", "kind", "capacity_mw", "fuel"],
        {"kind": {"gres", "tets"}},
    ),
}

GEONAMES_COLS = [
    "geonameid",
    "name",
    "asciiname",
    "alternatenames",
    "latitude",
    "longitude",
    "feature_class",
    "feature_code",
    "country_code",
    "cc2",
    "admin1",
    "admin2",
    "admin3",
    "admin4",
    "population",
    "elevation",
    "dem",
    "timezone",
    "modification_date",
]


def load(name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(LAYERS / f"{name}.geojson")


def utm(name: str) -> gpd.GeoDataFrame:
    return load(name).to_crs(UTM)


def norm(text: str) -> str:
    """Lower-case ASCII key for name comparison ("Kiselëvsk" == "Kiselyovsk")."""
    t = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    t = re.sub(r"\b(coal )?mines?\b", " ", t)
    t = re.sub(r"[^a-z0-9]", "", t)
    t = t.replace("yo", "e").replace("iy", "y").replace("yy", "y")
    return t


def decimal(col: pd.Series) -> pd.Series:
    return pd.to_numeric(col.astype(str).str.replace(",", ".", regex=False), errors="coerce")


@pytest.fixture(scope="session")
def shared() -> Path:
    # No skipping: the reference data must be there.
    assert SHARED.is_dir(), f"reference data folder missing: {SHARED.resolve()}"
    return SHARED


@pytest.fixture(scope="session")
def gem(shared: Path) -> gpd.GeoDataFrame:
    frames = []
    for fname in ("gcmt_non_closed_kuzbass_bbox.csv", "gcmt_closed_kuzbass_bbox.csv"):
        df = pd.read_csv(shared / "gem" / fname, dtype=str)
        frames.append(df[["GEM Mine ID", "Mine Name", "Latitude", "Longitude"]])
    df = pd.concat(frames, ignore_index=True)
    df["lat"], df["lon"] = decimal(df["Latitude"]), decimal(df["Longitude"])
    df = df.dropna(subset=["lat", "lon"])
    assert len(df) > 100
    g = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
    g["key"] = g["Mine Name"].map(norm)
    return g.to_crs(UTM)


@pytest.fixture(scope="session")
def geonames(shared: Path) -> gpd.GeoDataFrame:
    df = pd.read_csv(
        shared / "geonames" / "kemerovo.tsv",
        sep="\t",
        header=None,
        names=GEONAMES_COLS,
        dtype={"geonameid": int},
        keep_default_na=False,
        quoting=3,
    )
    assert len(df) == 27
    g = gpd.GeoDataFrame(
        df, geometry=gpd.points_from_xy(df["longitude"], df["latitude"]), crs="EPSG:4326"
    )
    return g.to_crs(UTM)


@pytest.fixture(scope="session")
def boundary_utm() -> shapely.Geometry:
    return utm("boundary").geometry.iloc[0]


# ----------------------------------------------------------------------------- structure


@pytest.mark.parametrize("name", sorted(SPEC))
def test_layer_loads_with_schema(name: str) -> None:
    types, fields, enums = SPEC[name]
    path = LAYERS / f"{name}.geojson"
    assert path.is_file(), path
    g = load(name)
    assert len(g) > 0
    assert g.crs is not None and g.crs.to_epsg() == 4326
    assert list(g.columns.drop("geometry")) == fields
    assert g.geometry.notna().all() and not g.geometry.is_empty.any()
    assert shapely.is_valid(g.geometry.values).all()
    assert set(g.geom_type) <= types, set(g.geom_type)
    for field, allowed in enums.items():
        assert set(g[field]) <= allowed, (field, set(g[field]) - allowed)
    for field in ("name", "name_ru"):
        if field in fields:
            assert g[field].map(lambda v: isinstance(v, str) and v.strip() != "").all(), field
    if "id" in fields:
        assert g["id"].is_unique
    minx, miny, maxx, maxy = g.total_bounds
    assert minx > 84.0 and maxx < 90.0 and miny > 51.8 and maxy < 57.2


def test_feature_counts() -> None:
    n = {name: len(load(name)) for name in SPEC}
    assert n["boundary"] == 1
    assert 50 <= n["mines"] <= 80
    assert 10 <= n["coal_areas"] <= 16
    assert n["settlements"] >= 35
    assert n["stations"] >= 20


def test_attribute_types_and_values() -> None:
    s = load("settlements")
    assert s["population"].map(lambda v: isinstance(v, int) and v > 0).all()
    assert s["geonames_id"].map(lambda v: v is None or pd.isna(v) or float(v).is_integer()).all()
    assert set(s.loc[s["kind"] == "city", "name"]) == {"Kemerovo", "Novokuznetsk", "Prokopyevsk"}
    assert (s.loc[s["kind"] == "city", "population"] >= 100_000).all()
    assert (s.loc[s["kind"] != "city", "population"] < 100_000).all()
    towns = {
        "Kemerovo",
        "Novokuznetsk",
        "Prokopyevsk",
        "Mezhdurechensk",
        "Leninsk-Kuznetsky",
        "Kiselyovsk",
        "Yurga",
        "Belovo",
        "Anzhero-Sudzhensk",
        "Berezovsky",
        "Osinniki",
        "Myski",
        "Mariinsk",
        "Topki",
        "Polysayevo",
        "Tashtagol",
        "Guryevsk",
        "Taiga",
        "Kaltan",
        "Salair",
    }
    assert towns <= set(s["name"])
    assert s.loc[s["name"] == "Kemerovo", "population"].iloc[0] > 500_000

    m = load("mines")
    assert (m["capacity_mtpa"] > 0).all()
    assert (m["output_mtpa"] >= 0).all()
    assert (m.loc[m["status"] == "operating", "output_mtpa"] > 0).all()
    assert (m["status"] == "operating").mean() > 0.9
    assert m["gem_id"].dropna().str.fullmatch(r"M\d{4}").all()
    assert set(m["district"]) <= set(load("coal_areas")["name"])
    raspadskaya = m.loc[m["gem_id"] == "M0836"].iloc[0]
    assert raspadskaya["name"] == "Raspadskaya"
    assert raspadskaya["capacity_mtpa"] == pytest.approx(5.0)

    assert load("rail")["electrified"].map(lambda v: isinstance(v, bool)).all()
    assert load("roads")["ref"].map(lambda v: isinstance(v, str) or pd.isna(v)).all()
    assert "R-255" in set(load("roads")["ref"])
    assert (load("rivers")["width_m"] > 0).all()
    pp = load("power_plants")
    assert pp["capacity_mw"].map(lambda v: isinstance(v, int) and v > 0).all()
    assert (load("protected_areas")["area_km2"] > 0).all()
    assert (load("anchors")["kind"] == "ugle_naukograd").sum() == 1


def test_coordinates_rounded_to_5_decimals() -> None:
    for name in SPEC:
        text = (LAYERS / f"{name}.geojson").read_text(encoding="utf-8")
        assert not re.search(r"\d\.\d{6,}", text.split('"features"', 1)[1].replace("e-", "")), name


# ----------------------------------------------------------------------------- against real data


def test_boundary_matches_reference(shared: Path, boundary_utm: shapely.Geometry) -> None:
    ref = gpd.read_file(shared / "admin" / "kemerovo_oblast_boundary.geojson").to_crs(UTM)
    ref_geom = ref.geometry.union_all()
    assert ref_geom.area / 1e6 == pytest.approx(95_735, rel=0.001)
    assert boundary_utm.area == pytest.approx(ref_geom.area, rel=0.05)
    iou = boundary_utm.intersection(ref_geom).area / boundary_utm.union(ref_geom).area
    assert iou >= 0.85, iou


def test_mines_near_gem_point_by_id(gem: gpd.GeoDataFrame) -> None:
    mines = utm("mines")
    with_id = mines[mines["gem_id"].notna()]
    assert len(with_id) >= 50
    for _, m in with_id.iterrows():
        rows = gem[gem["GEM Mine ID"] == m["gem_id"]]
        assert len(rows) > 0, f"{m['name']}: {m['gem_id']} not in GEM"
        dist = rows.distance(m.geometry).min()
        assert dist <= 5_000, (m["name"], m["gem_id"], round(dist))


def test_mines_near_gem_point_by_name(gem: gpd.GeoDataFrame) -> None:
    mines = utm("mines")
    matched = 0
    for _, m in mines.iterrows():
        rows = gem[gem["key"] == norm(m["name"])]
        if rows.empty:
            continue
        matched += 1
        dist = rows.distance(m.geometry).min()
        assert dist <= 5_000, (m["name"], round(dist))
        if pd.notna(m["gem_id"]):
            assert m["gem_id"] in set(rows["GEM Mine ID"]), (m["name"], m["gem_id"])
    assert matched >= 50, matched


def test_settlements_near_geonames(geonames: gpd.GeoDataFrame) -> None:
    s = utm("settlements")
    by_id = geonames.set_index("geonameid")
    keys = {}
    for gid, row in by_id.iterrows():
        for n in (row["name"], row["asciiname"]):
            keys[norm(n)] = gid
    checked = 0
    for _, t in s.iterrows():
        gid = t["geonames_id"]
        if gid is None or pd.isna(gid):
            gid = keys.get(norm(t["name"]))
            if gid is None:
                continue
        gid = int(gid)
        assert gid in by_id.index, (t["name"], gid)
        same = (
            norm(t["name"]).replace("i", "y")[:4]
            == norm(by_id.loc[gid, "asciiname"]).replace("i", "y")[:4]
        )
        assert same, (t["name"], gid)
        dist = by_id.loc[gid].geometry.distance(t.geometry)
        assert dist <= 3_000, (t["name"], round(dist))
        checked += 1
    assert checked >= 20, checked


def test_features_inside_boundary(boundary_utm: shapely.Geometry) -> None:
    zone = boundary_utm.buffer(5_000)
    s = utm("settlements")
    m = utm("mines")
    groups = {
        "settlements": s[s["kind"].isin(["city", "town"])],
        "mines": m[m["status"] == "operating"],
        "stations": utm("stations"),
        "anchors": utm("anchors"),
        "power_plants": utm("power_plants"),
    }
    for name, g in groups.items():
        outside = g[~g.within(zone)]
        assert outside.empty, (name, list(outside["name"]))


def test_rail_passes_stations() -> None:
    rail = utm("rail").geometry.union_all()
    for _, st in utm("stations").iterrows():
        dist = rail.distance(st.geometry)
        assert dist <= 1_500, (st["name"], round(dist))


def test_roads_pass_main_towns() -> None:
    roads = utm("roads").geometry.union_all()
    s = utm("settlements").set_index("name")
    for town in (
        "Kemerovo",
        "Novokuznetsk",
        "Leninsk-Kuznetsky",
        "Belovo",
        "Mariinsk",
        "Yurga",
        "Mezhdurechensk",
        "Tashtagol",
        "Prokopyevsk",
        "Guryevsk",
    ):
        assert roads.distance(s.loc[town].geometry) <= 5_000, town


def test_mines_inside_coal_areas() -> None:
    areas = utm("coal_areas").set_index("name")
    anywhere = areas.geometry.buffer(3_000).union_all()
    for _, m in utm("mines").iterrows():
        assert anywhere.contains(m.geometry), m["name"]
        own = areas.loc[m["district"]].geometry.buffer(3_000)
        assert own.contains(m.geometry), (m["name"], m["district"])


def test_protected_area_sizes() -> None:
    pa = utm("protected_areas")
    for _, p in pa.iterrows():
        km2 = p.geometry.area / 1e6
        assert 0.6 * p["area_km2"] <= km2 <= 1.4 * p["area_km2"], (p["name"], km2, p["area_km2"])
    names = " ".join(pa["name"])
    assert "Kuznetsk Alatau" in names and "Shorsky" in names and "Tomskaya Pisanitsa" in names


def test_the_reserve_buffer_zone_rings_the_reserve() -> None:
    """The buffer zone is a ring along the reserve's perimeter of the published 2,230 km²
    (Khakassia's part clipped off), touching the reserve and not overlapping it."""
    pa = utm("protected_areas").set_index("kind")
    reserve, zone = pa.loc["zapovednik"].geometry, pa.loc["buffer_zone"].geometry
    assert reserve.intersection(zone).area < 1e6  # at most a sliver from rounding (< 1 km²)
    assert zone.distance(reserve) < 100
    # The ring reaches 5-9 km out from the reserve everywhere it lies in the oblast.
    sample = shapely.get_coordinates(zone.exterior if zone.geom_type == "Polygon" else zone)
    far = shapely.distance(shapely.points(sample), reserve)
    assert 5_000 <= far.max() <= 9_000
    assert 1_500 <= zone.area / 1e6 <= 2_230


def test_rivers_follow_towns() -> None:
    rivers = utm("rivers").set_index("name")
    s = utm("settlements").set_index("name")
    expected = {
        "Tom": ["Mezhdurechensk", "Myski", "Novokuznetsk", "Kemerovo", "Yurga"],
        "Inya": ["Leninsk-Kuznetsky", "Polysayevo", "Promyshlennaya"],
        "Kondoma": ["Kaltan", "Tashtagol"],
        "Kiya": ["Mariinsk"],
    }
    for river, towns in expected.items():
        for town in towns:
            dist = rivers.loc[river].geometry.distance(s.loc[town].geometry)
            assert dist <= 6_000, (river, town, round(dist))


# ------------------------------------------------------------- haul network (issue #19, item 2)

# [haul] station_km's default: a station joins road and rail only when both lie this near.
STATION_KM = 5.0


def road_km(a: shapely.Point, b: shapely.Point) -> float:
    """Length (km) of the shortest path over the road lines, noded where they meet, between
    the line vertices nearest to ``a`` and ``b`` (UTM)."""
    noded = shapely.node(utm("roads").geometry.union_all())
    graph = nx.Graph()
    for part in shapely.get_parts(noded):
        xy = [tuple(round(v, 1) for v in c) for c in shapely.get_coordinates(part)]
        for u, v in itertools.pairwise(xy):
            graph.add_edge(u, v, length=shapely.distance(shapely.Point(u), shapely.Point(v)))
    nodes = list(graph.nodes)
    points = shapely.points(nodes)

    def nearest(p: shapely.Point) -> tuple[float, float]:
        return nodes[int(shapely.distance(points, p).argmin())]

    return nx.shortest_path_length(graph, nearest(a), nearest(b), weight="length") / 1000.0


def test_every_station_within_station_km_of_a_road() -> None:
    roads = utm("roads").geometry.union_all()
    far = {
        st["name"]: round(roads.distance(st.geometry) / 1000.0, 1)
        for _, st in utm("stations").iterrows()
        if roads.distance(st.geometry) > STATION_KM * 1000.0
    }
    assert far == {}


def test_r255_joined_to_central_kemerovo() -> None:
    s = utm("settlements").set_index("name")
    # Kemerovo - Berezovsky is about 25-30 km by road; before the link the lines made it ~170.
    km = road_km(s.loc["Kemerovo"].geometry, s.loc["Berezovsky"].geometry)
    assert 20.0 <= km <= 40.0, km


def test_yashkino_on_the_trans_siberian() -> None:
    rail = utm("rail").set_index("id")
    yashkino = utm("settlements").set_index("name").loc["Yashkino"].geometry
    assert rail.loc["transsib-central"].geometry.distance(yashkino) <= 1_000
    station = utm("stations").set_index("name").loc["Yashkino"].geometry
    assert rail.loc["transsib-central"].geometry.distance(station) <= 1_000


def test_novokuznetsk_northern_bypass() -> None:
    line = utm("rail").set_index("id").loc["yuzhsib-north-bypass"].geometry
    st = utm("stations").set_index("name")
    for name in ("Artyshta II", "Bardino", "Tomusinskaya"):
        assert line.distance(st.loc[name].geometry) <= 1_500, name
    # Bardino at its published position (kem.guidebook.ru: 53.872884 N, 87.558548 E).
    published = gpd.GeoSeries([shapely.Point(87.558548, 53.872884)], crs="EPSG:4326")
    assert published.to_crs(UTM).iloc[0].distance(st.loc["Bardino"].geometry) <= 1_000


def test_technopark_on_the_right_bank_of_the_tom() -> None:
    # Site No. 1 of the Kuzbass Technopark is in Kemerovo's Rudnichny district, north of the
    # Tom; the centre (Kemerovo's point) is south of it.
    tom = utm("rivers").set_index("name").loc["Tom"].geometry
    park = utm("anchors").set_index("name").loc["Kuzbass Technopark"].geometry
    centre = utm("settlements").set_index("name").loc["Kemerovo"].geometry

    def side(p: shapely.Point) -> float:
        at = tom.project(p)
        a, b = tom.interpolate(at - 50.0), tom.interpolate(at + 50.0)
        return (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x)

    assert side(park) * side(centre) < 0
