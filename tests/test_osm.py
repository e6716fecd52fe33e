"""OpenStreetMap layers (siting.inputs.sources.osm and .osm_layers, ``siting fetch osm``).

Real extracts go through ``--osm-file``; the download path runs against a local HTTP server that
speaks Overpass and Nominatim (their status, interpreter and search endpoints) with answers
written in their JSON formats for a small area north of Kemerovo (tests/data/osm/). osmnx itself
is not mocked: only its ``overpass_url`` / ``nominatim_url`` point at the local server.
"""

from __future__ import annotations

import bz2
import json
import logging
import math
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import geopandas as gpd
import osmnx as ox
import pyogrio
import pytest
import shapely

import siting
from siting.cli import main
from siting.errors import LayerError, SitingError
from siting.inputs.sources import osm, osm_layers

from conftest import SHARED

DATA = Path(__file__).resolve().parent / "data" / "osm"
EXTRACTS = SHARED / "osm"
AGUASCALIENTES = EXTRACTS / "aguascalientes.osm.bz2"
OAKLAND = EXTRACTS / "West-Oakland.osm.bz2"
PLANET = EXTRACTS / "planet_10.068,48.135_10.071,48.137.osm"
ANSWERS = json.loads((DATA / "overpass_kedrovka.json").read_text(encoding="utf-8"))
GEOCODED = json.loads((DATA / "nominatim_kedrovka.json").read_text(encoding="utf-8"))
BBOX = ("85.99", "55.39", "86.15", "55.48")

# What osmnx sends for each step, found in the Overpass query text.
MARKERS = {
    "roads": '["highway"',
    "rail": "'railway'='rail'",
    "stations": "'railway'='station'",
    "settlements": "'place'=",
    "protected_areas": "'boundary'=",
    "water": "'natural'=",
    "rivers": "'waterway'=",
    "landuse": "'landuse'=",
}
STATUS = (
    "Connected as: 2130706433\nCurrent time: 2024-05-14T10:21:40Z\nAnnounced endpoint: none\n"
    "Rate limit: 2\n2 slots available now.\n"
    "Currently running queries (pid, space limit, time limit, start time):\n"
)
RUNTIME_ERROR = 'runtime error: Query timed out in "query" at line 1 after 180 seconds.'


class Server:
    """A local Overpass + Nominatim. ``answer[step]`` is "ok", an HTTP status (429, 504),
    "empty", "remark" (a query timeout reported in a 200) or "slow"; ``requests`` counts the
    interpreter queries per step."""

    def __init__(self) -> None:
        self.answer: dict[str, object] = {}
        self.requests: Counter[str] = Counter()
        self.geocoded: list[dict] = GEOCODED
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.startswith("/api/status"):
                    self.send(200, STATUS.encode(), "text/plain")
                elif self.path.startswith("/search"):
                    self.send(200, json.dumps(server.geocoded).encode())
                else:
                    self.send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                query = parse_qs(self.rfile.read(length).decode())["data"][0]
                step = next(s for s, marker in MARKERS.items() if marker in query)
                server.requests[step] += 1
                self.reply(step, server.answer.get(step, "ok"))

            def reply(self, step: str, answer: object) -> None:
                head = {k: v for k, v in ANSWERS[step].items() if k != "elements"}
                if answer == 429:
                    self.send(429, b"<html><body>rate_limited</body></html>", "text/html")
                elif answer == 504:
                    self.send(504, b"<html><body>Gateway Timeout</body></html>", "text/html")
                elif answer == "empty":
                    self.send(200, json.dumps({**head, "elements": []}).encode())
                elif answer == "remark":
                    body = {**head, "elements": [], "remark": RUNTIME_ERROR}
                    self.send(200, json.dumps(body).encode())
                else:
                    if answer == "slow":
                        time.sleep(2.5)
                    self.send(200, json.dumps(ANSWERS[step]).encode())

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that timed out and left: expected with "slow"

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def overpass(self) -> str:
        return f"{self.url}/api"


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    s.thread.start()
    saved = (ox.settings.overpass_url, ox.settings.nominatim_url, ox.settings.requests_kwargs)
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
    assert (ox.settings.overpass_url, ox.settings.nominatim_url) == saved[:2]
    assert ox.settings.requests_kwargs == saved[2]


@pytest.fixture(autouse=True)
def cli_log_handlers() -> Iterator[None]:
    """main() adds a handler on the stderr of its time: drop it before capsys closes that."""
    handlers = list(logging.getLogger("siting").handlers)
    yield
    logging.getLogger("siting").handlers = handlers


def layer(path: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(path, layer=name)


def layer_names(path: Path) -> list[str]:
    return [str(n) for n in pyogrio.list_layers(path)[:, 0]]


def way_ids(roads: gpd.GeoDataFrame) -> set[str]:
    return {i for ids in roads["osm_id"] for i in ids.split(";")}


def fetch_cli(server: Server, tmp_path: Path, *extra: str) -> int:
    return main(
        [
            "fetch",
            "osm",
            *extra,
            "--output",
            str(tmp_path / "out" / "kedrovka.gpkg"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--overpass-url",
            server.overpass,
            "--nominatim-url",
            server.url,
        ]
    )


def assert_user_error(capsys: pytest.CaptureFixture, status: int, *fragments: str) -> None:
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and "fix:" in err
    for fragment in fragments:
        assert fragment in err, err


def assert_nothing_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


# --- Real extracts through --osm-file --------------------------------------------------------


@pytest.fixture(scope="module")
def aguascalientes(tmp_path_factory: pytest.TempPathFactory) -> osm.Fetched:
    return osm.from_osm_file(AGUASCALIENTES, tmp_path_factory.mktemp("ags") / "ags.gpkg")


def test_extract_rail_is_osmnx_rail_in_use_by_kind(aguascalientes: osm.Fetched) -> None:
    rail = layer(aguascalientes.gpkg, "rail")
    features = ox.features_from_xml(AGUASCALIENTES, tags={"railway": True})
    lines = features[features.geom_type == "LineString"]
    expected = {f"way/{i}" for (_, i), r in lines.iterrows() if r["railway"] == "rail"}
    assert len(rail) == len(expected) == 5
    assert set(rail["osm_id"]) == expected
    # way 411211019 is railway=abandoned (abandoned:railway=rail, service=spur): left out
    assert "way/411211019" not in set(rail["osm_id"])
    assert sorted(rail["kind"]) == ["main", "main", "main", "spur", "yard"]
    main_line = rail[rail["osm_id"] == "way/411211007"].iloc[0]
    assert (main_line["name"], main_line["operator"], main_line["usage"]) == (
        "Línea A",
        "Ferromex",
        "main",
    )
    assert not rail["electrified"].any()  # electrified=no on every line
    assert rail.crs == "EPSG:4326"


def test_extract_roads_are_the_main_roads_with_travel_times(aguascalientes: osm.Fetched) -> None:
    roads = layer(aguascalientes.gpkg, "roads")
    features = ox.features_from_xml(AGUASCALIENTES, tags={"highway": list(osm_layers.MAIN_ROADS)})
    expected = {f"way/{i}" for element, i in features.index if element == "way"}
    assert way_ids(roads) == expected
    assert set(roads["highway"]) <= set(osm_layers.MAIN_ROADS)
    assert roads["travel_time"].to_numpy() == pytest.approx(
        roads["length"].to_numpy() / (roads["speed_kph"].to_numpy() / 3.6)
    )
    # maxspeed where tagged, else the class default
    tagged = roads[roads["maxspeed"] == "50"]
    assert len(tagged) and (tagged["speed_kph"] == 50).all()
    untagged = roads[roads["maxspeed"].isna()]
    assert len(untagged)
    assert list(untagged["speed_kph"]) == [
        osm_layers.DEFAULT_SPEEDS[h] for h in untagged["highway"]
    ]
    # the GraphML holds the directed graph with the same speeds, for osmnx routing
    G = ox.load_graphml(aguascalientes.graphml)
    graph_ways = set()
    for *_, d in G.edges(data=True):
        graph_ways |= {
            f"way/{i}" for i in (d["osmid"] if isinstance(d["osmid"], list) else [d["osmid"]])
        }
    assert graph_ways == expected
    assert sum(d["length"] for *_, d in G.edges(data=True)) >= roads["length"].sum()
    assert all(d["travel_time"] > 0 for *_, d in G.edges(data=True))


def test_extract_layers_and_snippet(aguascalientes: osm.Fetched) -> None:
    assert layer_names(aguascalientes.gpkg) == ["boundary", "roads", "rail", "industrial"]
    industrial = layer(aguascalientes.gpkg, "industrial")
    assert list(industrial["name"]) == ["Sensata Technologies Mexico"]
    boundary = layer(aguascalientes.gpkg, "boundary").geometry.iloc[0]
    roads = layer(aguascalientes.gpkg, "roads")
    assert boundary.covers(shapely.union_all(roads.geometry.values))
    text = aguascalientes.snippet.read_text(encoding="utf-8")
    assert 'layer = "rail"' in text and 'crs = "EPSG:32613"' in text  # UTM 13N
    assert 'class_field = "highway"' in text and "primary = 80" in text
    assert "settlements" not in text  # no place in the extract


def test_oakland_has_main_roads_but_no_rail(tmp_path: Path) -> None:
    done = osm.from_osm_file(OAKLAND, tmp_path / "oakland.gpkg")
    # the BART viaduct is railway=subway: not a freight line
    assert layer_names(done.gpkg) == ["boundary", "roads"]
    roads = layer(done.gpkg, "roads")
    assert set(roads["highway"]) == {"secondary"}
    assert set(roads["name"]) == {"7th Street"}


def test_planet_extract_has_only_minor_roads(tmp_path: Path) -> None:
    with pytest.raises(SitingError, match="none of the features sought"):
        osm.from_osm_file(PLANET, tmp_path / "main.gpkg")
    assert list(tmp_path.iterdir()) == []
    done = osm.from_osm_file(PLANET, tmp_path / "drive.gpkg", roads="drive")
    roads = layer(done.gpkg, "roads")
    assert set(roads["highway"]) == {"residential"}
    assert (roads["speed_kph"] == 30).all()  # maxspeed=30 on every street
    assert "Goethestraße" in set(roads["name"])


SCENARIO = """\
extends = "ags.toml"
name = "ags-osm"
resolution = 50

[friction]
resolution = 50

[profiles.plant]
title = "Plant by the main line"
min_area_ha = 1
n_sites = 2
min_separation_m = 300
candidate_quantile = 0.5

[[profiles.plant.criteria]]
name = "main_line"
kind = "distance"
layer = "rail"
where = "kind == 'main'"
standardize = { fn = "linear", low = 0, high = 1500, direction = "lower" }
weight = 0.6

[[profiles.plant.criteria]]
name = "industry"
kind = "travel_time"
layer = "industrial"
standardize = { fn = "linear", direction = "lower" }
weight = 0.4

[[profiles.plant.exclusions]]
layer = "industrial"
buffer_m = 50

[outputs]
dir = "out"
map = false
report = false
offline_map = false
qgis = false
rasters = false
"""


def test_a_scenario_on_the_extract_runs(aguascalientes: osm.Fetched, tmp_path: Path) -> None:
    folder = aguascalientes.gpkg.parent
    path = folder / "scenario.toml"
    path.write_text(SCENARIO.replace('"out"', f'"{(tmp_path / "out").as_posix()}"'), "utf-8")
    result = siting.run(path)
    sites = result.sites
    assert len(sites) >= 1
    area = result.study_area
    assert shapely.contains(area, shapely.points(sites["x"], sites["y"])).all()
    assert (sites["raw_main_line"] <= 1500).all()  # on the better side of the main line
    assert result.scenario.layers["rail"].layer == "rail"
    assert (tmp_path / "out" / "ags-osm").is_dir()


def test_a_layer_name_the_geopackage_lacks(aguascalientes: osm.Fetched) -> None:
    from siting.config.scenario import LayerSpec
    from siting.inputs.layers import read_layer

    spec = LayerSpec(name="stations", path=aguascalientes.gpkg, layer="stations")
    with pytest.raises(LayerError, match="has no layer 'stations'") as err:
        read_layer(spec, "EPSG:32613")
    assert "boundary, roads, rail, industrial" in err.value.fix


# --- Download (local Overpass) ---------------------------------------------------------------


def test_download_of_a_bbox(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture):
    status = fetch_cli(server, tmp_path, "--bbox", *BBOX)
    assert status == 0, capsys.readouterr().err
    gpkg = tmp_path / "out" / "kedrovka.gpkg"
    assert server.requests == Counter({step: 1 for step in MARKERS})
    assert layer_names(gpkg) == list(osm_layers.LAYERS)

    rail = layer(gpkg, "rail").set_index("osm_id")
    assert dict(rail["kind"]) == {
        "way/98765401": "main",
        "way/98765402": "main",
        "way/98765410": "siding",
        "way/98765420": "spur",
    }  # way 98765430 is railway=rail with disused=yes: left out
    assert rail["electrified"].to_dict() == {
        "way/98765401": True,
        "way/98765402": True,
        "way/98765410": True,
        "way/98765420": False,
    }
    stations = layer(gpkg, "stations").set_index("name")
    assert dict(stations["kind"]) == {"Предзаводская": "station", "платформа 12 км": "halt"}

    places = layer(gpkg, "settlements").set_index("name")
    assert list(places.index).count("Кедровка") == 1  # node and outline: kept once
    assert places.loc["Кедровка"].geometry.equals(shapely.Point(86.1, 55.448))
    population = places["population"].to_dict()
    assert math.isnan(population.pop("Сухово"))  # a hamlet without a population tag
    assert population == {
        "Кедровка": 1234.0,
        "Берёзовский": 12000.0,
        "Лесной": 800.0,
        "Ягуново": 450.0,
    }
    assert dict(places["place"])["Берёзовский"] == "town"

    protected = layer(gpkg, "protected_areas").set_index("name")
    assert dict(protected["kind"]) == {
        "Памятник природы «Сосновый бор»": "nature_reserve",
        "Заказник «Караканский»": "protected_area",
    }
    assert protected.loc["Заказник «Караканский»", "protect_class"] == "4"
    water = layer(gpkg, "water").set_index("name")
    assert dict(water["kind"]) == {"озеро Круглое": "lake", "Шахтный пруд": "reservoir"}
    rivers = layer(gpkg, "rivers").set_index("name")
    assert rivers[["width_m", "width_source"]].to_dict("index") == {
        "Шурап": {"width_m": 12.0, "width_source": "tag"},
        "Кедровка": {"width_m": 20.0, "width_source": "default"},
        "водоотводный канал": {"width_m": 6.0, "width_source": "tag"},
    }
    quarries = layer(gpkg, "quarries")
    assert list(quarries[["name", "resource"]].itertuples(index=False, name=None)) == [
        ("Разрез Кедровский", "coal")
    ]
    assert list(layer(gpkg, "industrial")["name"]) == ["ОФ «Кедровская»"]

    roads = layer(gpkg, "roads")
    speeds = roads.groupby("highway")["speed_kph"].unique().map(list).to_dict()
    # trunk: maxspeed=90 on one way, untagged on the other (class default 90); primary: RU:rural
    # (osmnx knows it: 90); secondary: untagged (class default); tertiary: maxspeed=60
    assert speeds == {"trunk": [90.0], "primary": [90.0], "secondary": [70.0], "tertiary": [60.0]}
    assert way_ids(roads) == {
        "way/24880011",
        "way/24880012",
        "way/31270455",
        "way/31270890",
        "way/41730512",
    }
    assert roads["travel_time"].to_numpy() == pytest.approx(
        roads["length"].to_numpy() / (roads["speed_kph"].to_numpy() / 3.6)
    )
    assert (tmp_path / "out" / "kedrovka.graphml").is_file()
    text = (tmp_path / "out" / "kedrovka.toml").read_text(encoding="utf-8")
    assert 'crs = "EPSG:32645"' in text  # Kuzbass: UTM zone 45N
    assert "speeds = { trunk = 90, primary = 80, secondary = 70, tertiary = 60 }" in text
    assert 'where = "population > 0"' in text


def test_download_of_a_place(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture):
    status = fetch_cli(server, tmp_path, "--place", "Кедровка, Кемерово")
    assert status == 0, capsys.readouterr().err
    boundary = layer(tmp_path / "out" / "kedrovka.gpkg", "boundary")
    assert boundary["name"].iloc[0] == "Кедровка, Кемерово"
    assert boundary.geometry.iloc[0].equals(shapely.geometry.shape(GEOCODED[0]["geojson"]))
    assert len(layer(tmp_path / "out" / "kedrovka.gpkg", "settlements")) == 5


def test_an_interrupted_download_resumes(server: Server, tmp_path: Path) -> None:
    region = osm.region_from_bbox(*map(float, BBOX))
    out = tmp_path / "out" / "kedrovka.gpkg"
    cache = tmp_path / "cache"
    server.answer["settlements"] = 429
    with pytest.raises(SitingError, match="HTTP 429") as err:
        osm.fetch(region, out, cache_dir=cache, overpass_url=server.overpass)
    assert "wait a few minutes" in err.value.fix
    assert_nothing_written(tmp_path)
    assert server.requests == Counter(roads=1, rail=1, stations=1, settlements=1)

    # osmnx's HTTP cache would spare the requests too: without it, the layer cache must.
    shutil.rmtree(cache / "http")
    server.answer.clear()
    server.requests.clear()
    done = osm.fetch(region, out, cache_dir=cache, overpass_url=server.overpass)
    assert server.requests == Counter(
        settlements=1, protected_areas=1, water=1, rivers=1, landuse=1
    )
    assert done.counts["roads"] == 7 and done.counts["rail"] == 4
    assert layer(out, "rail")["kind"].value_counts().to_dict() == {
        "main": 2,
        "siding": 1,
        "spur": 1,
    }
    assert ox.load_graphml(done.graphml).number_of_edges() == 14  # 7 roads, both directions


@pytest.mark.parametrize(
    ("answer", "fragments"),
    [
        (429, ["Overpass refused the request (HTTP 429 Too Many Requests)", "wait"]),
        (504, ["HTTP 504 Gateway Timeout", "--osm-file"]),
        ("remark", ["Query timed out", "smaller --bbox"]),
        ("slow", ["Overpass did not answer within 1 s", "wait"]),
    ],
)
def test_overpass_refusals_are_user_errors(
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    answer: object,
    fragments: list[str],
) -> None:
    server.answer["rail"] = answer
    status = fetch_cli(server, tmp_path, "--bbox", *BBOX, "--timeout", "1")
    assert_user_error(capsys, status, *fragments)
    assert_nothing_written(tmp_path)


def test_an_empty_download_is_a_user_error(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    server.answer.update(dict.fromkeys(MARKERS, "empty"))
    status = fetch_cli(server, tmp_path, "--bbox", *BBOX)
    assert_user_error(capsys, status, "none of the features sought", "bbox 85.99,55.39")
    assert_nothing_written(tmp_path)
    assert server.requests == Counter(dict.fromkeys(MARKERS, 1))


def test_a_place_that_does_not_geocode(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    server.geocoded = []
    status = fetch_cli(server, tmp_path, "--place", "Nowhere-upon-Tom")
    assert_user_error(capsys, status, "'Nowhere-upon-Tom' was not found", "--bbox")
    assert_nothing_written(tmp_path)
    assert server.requests == Counter()


def test_a_swapped_bbox(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = main(["fetch", "osm", "--bbox", "86.1", "55.4", "86.0", "55.5"])
    assert_user_error(capsys, status, "is not a box in degrees", "WEST SOUTH EAST NORTH")


# --- Bad files -------------------------------------------------------------------------------


def _truncated(folder: Path) -> Path:
    path = folder / "truncated.osm.bz2"
    path.write_bytes(AGUASCALIENTES.read_bytes()[:30_000])
    return path


def _garbage(folder: Path) -> Path:
    path = folder / "garbage.osm.bz2"
    path.write_bytes(b"this is not bzip2 data at all" * 10)
    return path


def _broken_xml(folder: Path) -> Path:
    text = bz2.decompress(AGUASCALIENTES.read_bytes()).decode()
    path = folder / "broken.osm"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    return path


def _pbf(folder: Path) -> Path:
    return EXTRACTS / "aguascalientes.osm.pbf"


@pytest.mark.parametrize("make", [_truncated, _garbage, _broken_xml, _pbf])
def test_corrupt_osm_files_are_user_errors(
    make, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source = make(tmp_path)
    status = main(
        ["fetch", "osm", "--osm-file", str(source), "--output", str(tmp_path / "out" / "x.gpkg")]
    )
    assert_user_error(capsys, status, "is not a readable OSM XML file", source.name)
    assert_nothing_written(tmp_path)


def test_a_missing_osm_file(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="OSM file not found"):
        osm.from_osm_file(tmp_path / "nope.osm", tmp_path / "x.gpkg")


# --- Tag parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("12000", 12000.0),
        ("12 000", 12000.0),
        ("12\u00a0000", 12000.0),
        ("12,000", 12000.0),
        ("12.000", 12000.0),
        ("1,234,567", 1234567.0),
        ("~5000", 5000.0),
        ("ок. 450", 450.0),
        ("1200;1300", 1200.0),
        ("3500 (2010)", 3500.0),
        ("", math.nan),
        ("unknown", math.nan),
        (None, math.nan),
    ],
)
def test_population_tags(tag: str | None, value: float) -> None:
    assert osm_layers.parse_population(tag) == pytest.approx(value, nan_ok=True)


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("15", 15.0),
        ("15 m", 15.0),
        (" 7.5m ", 7.5),
        ("3,5", 3.5),
        ("15 ft", math.nan),
        ("10-20", math.nan),
        ("wide", math.nan),
        (None, math.nan),
    ],
)
def test_width_tags(tag: str | None, value: float) -> None:
    assert osm_layers.parse_width(tag) == pytest.approx(value, nan_ok=True)


def test_region_of_a_scenario_is_its_study_area_padded(world: Path) -> None:
    region = osm.region_from_scenario(world / "scenario.toml", pad_km=5)
    assert region.label == "synthetic + 5 km"
    boundary = gpd.read_file(world / "boundary.gpkg")
    padded = gpd.GeoSeries([region.polygon], crs="EPSG:4326").to_crs(boundary.crs).iloc[0]
    assert padded.contains(boundary.geometry.iloc[0].buffer(5000 * 0.74))
    assert not padded.contains(boundary.geometry.iloc[0].buffer(5000 * 1.01))
    # by default its largest buffer or search distance (a criterion's 20 km reach here)
    assert siting.config.scenario.load(world / "scenario.toml").pad == 20_000
    assert osm.region_from_scenario(world / "scenario.toml").label == "synthetic + 20 km"
