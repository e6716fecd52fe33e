"""Shared fixtures: a small synthetic region written as real GeoPackages, and paths to real data.

Markers (registered in pyproject.toml): ``slow``, ``qgis``, ``browser``, ``notebook``. Every test
marked ``qgis``, ``browser`` or ``notebook`` is marked ``slow`` as well (here, in
:func:`pytest_collection_modifyitems`), so that ``pytest -m "not slow"`` is the fast loop and
needs neither PyQGIS, Chromium nor a Jupyter kernel.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pytest
import shapely

if TYPE_CHECKING:
    import siting

# Tests that need an outside program are slow too: each starts it, and runs a scenario to show.
SLOW_TOO = ("qgis", "browser", "notebook")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test marked with one of :data:`SLOW_TOO`."""
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_TOO):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def client():
    """A real Dask ``LocalCluster`` of 2 worker processes (one thread each), started once per
    test process and shared by the scale-out tests; closed at the end."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CRS = "EPSG:32645"
X0, Y0 = 600_000.0, 6_100_000.0  # UTM 45N, near Kemerovo


def _write(folder: Path, name: str, rows: list[dict]) -> None:
    gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS).to_file(folder / f"{name}.gpkg")


def write_world(folder: Path) -> None:
    """A 40 × 40 km region: rail along y = 20 km, a road along x = 20 km, a river along
    y = 30 km, a reserve in the north-west corner, a lake, a town, a village and six mines."""
    folder.mkdir(parents=True, exist_ok=True)

    def p(x: float, y: float) -> shapely.Point:
        return shapely.Point(X0 + x, Y0 + y)

    def line(*xy: tuple[float, float]) -> shapely.LineString:
        return shapely.LineString([(X0 + x, Y0 + y) for x, y in xy])

    _write(
        folder,
        "boundary",
        [{"name": "Test oblast", "geometry": shapely.box(X0, Y0, X0 + 40_000, Y0 + 40_000)}],
    )
    _write(
        folder,
        "rail",
        [
            {
                "name": "Main line",
                "kind": "main",
                "geometry": line((-10_000, 20_000), (50_000, 20_000)),
            }
        ],
    )
    _write(
        folder,
        "stations",
        [
            {"name": "Junction", "kind": "junction", "geometry": p(10_000, 20_000)},
            {"name": "Halt", "kind": "station", "geometry": p(30_000, 20_000)},
        ],
    )
    _write(
        folder,
        "roads",
        [
            {
                "name": "Trunk road",
                "ref": "R-1",
                "kind": "federal",
                "geometry": line((20_000, -10_000), (20_000, 50_000)),
            }
        ],
    )
    _write(
        folder,
        "rivers",
        [
            {
                "name": "River",
                "width_m": 200.0,
                "geometry": line((-10_000, 30_000), (50_000, 30_000)),
            }
        ],
    )
    _write(
        folder,
        "water",
        [{"name": "Lake", "kind": "lake", "geometry": p(35_000, 5_000).buffer(1_500)}],
    )
    _write(
        folder,
        "protected_areas",
        [
            {
                "name": "Reserve",
                "kind": "zapovednik",
                "geometry": shapely.box(X0, Y0 + 32_000, X0 + 10_000, Y0 + 40_000),
            }
        ],
    )
    _write(
        folder,
        "settlements",
        [
            {"name": "Town", "kind": "town", "population": 100_000, "geometry": p(20_000, 22_000)},
            {
                "name": "Village",
                "kind": "village",
                "population": 5_000,
                "geometry": p(5_000, 5_000),
            },
        ],
    )
    mines = [
        ("A", 26_000, 8_000, 10.0, "open_pit"),
        ("B", 28_000, 9_000, 6.0, "underground"),
        ("C", 36_000, 12_000, 4.0, "open_pit"),
        ("D", 34_000, 15_000, 2.0, "underground"),
        ("E", 8_000, 12_000, 3.0, "underground"),
        ("F", 25_000, 35_000, 1.0, "open_pit"),
    ]
    _write(
        folder,
        "mines",
        [
            {
                "name": n,
                "output_mtpa": out,
                "status": "operating",
                "mine_type": t,
                "geometry": p(x, y),
            }
            for n, x, y, out, t in mines
        ],
    )
    _write(
        folder,
        "anchors",
        [
            {"name": "UgleNaukoGrad", "kind": "ugle_naukograd", "geometry": p(18_000, 24_000)},
            {"name": "University", "kind": "university", "geometry": p(19_000, 23_000)},
        ],
    )
    _write(
        folder,
        "power_plants",
        [{"name": "GRES", "kind": "gres", "capacity_mw": 1200, "geometry": p(32_000, 18_000)}],
    )


SCENARIO = """\
name = "synthetic"
title = "Synthetic test region"
crs = "EPSG:32645"
resolution = 250
study_area = "boundary"

[layers.boundary]
path = "boundary.gpkg"
[layers.rail]
path = "rail.gpkg"
[layers.stations]
path = "stations.gpkg"
[layers.roads]
path = "roads.gpkg"
[layers.rivers]
path = "rivers.gpkg"
[layers.water]
path = "water.gpkg"
[layers.protected_areas]
path = "protected_areas.gpkg"
[layers.settlements]
path = "settlements.gpkg"
[layers.mines]
path = "mines.gpkg"
fields = { output = "output_mtpa" }
[layers.anchors]
path = "anchors.gpkg"
[layers.power_plants]
path = "power_plants.gpkg"

[friction]
resolution = 1000
off_road = 4.0
routes = [{ layer = "roads", cost = 1.0 }, { layer = "rail", cost = 0.5 }]
impassable = [{ layer = "water" }, { layer = "rivers", width_field = "width_m" }]

[profiles.processing_plant]
title = "Processing plant"
min_area_ha = 10
n_sites = 4
min_separation_m = 4000
candidate_quantile = 0.8

[[profiles.processing_plant.criteria]]
name = "haul_cost"
kind = "cost_distance"
layer = "mines"
weight_field = "output"
standardize = { fn = "linear", direction = "lower" }
weight = 0.5

[[profiles.processing_plant.criteria]]
name = "rail"
kind = "distance"
layer = "rail"
standardize = { fn = "linear", low = 0, high = 10000, direction = "lower" }
weight = 0.3

[[profiles.processing_plant.criteria]]
name = "power"
kind = "distance"
layer = "power_plants"
standardize = { fn = "sigmoid", midpoint = 8000, spread = 2000, direction = "lower" }
weight = 0.2

[[profiles.processing_plant.exclusions]]
layer = "protected_areas"
buffer_m = 1000

[[profiles.processing_plant.exclusions]]
layer = "water"
buffer_m = 500

[[profiles.processing_plant.exclusions]]
layer = "rivers"
width_field = "width_m"
buffer_m = 200

[[profiles.processing_plant.exclusions]]
layer = "settlements"
footprint_m2_per_person = 250
buffer_m = 1000

[[profiles.processing_plant.exclusions]]
layer = "mines"
buffer_m = 1500

[profiles.technopark]
title = "Technopark"
min_area_ha = 10
n_sites = 3
min_separation_m = 3000
candidate_quantile = 0.9
weighting = "ahp"

[[profiles.technopark.criteria]]
name = "uglenaukograd"
kind = "distance"
layer = "anchors"
where = "kind == 'ugle_naukograd'"
standardize = { fn = "linear", low = 0, high = 15000, direction = "lower" }

[[profiles.technopark.criteria]]
name = "labour"
kind = "within_radius"
layer = "settlements"
weight_field = "population"
radius_m = 10000
standardize = { fn = "linear", direction = "higher" }

[[profiles.technopark.criteria]]
name = "road"
kind = "distance"
layer = "roads"
standardize = { fn = "threshold", value = 3000, direction = "lower" }

[profiles.technopark.ahp]
matrix = [[1, 3, 5], ["1/3", 1, 3], ["1/5", "1/3", 1]]

[[profiles.technopark.exclusions]]
layer = "protected_areas"
buffer_m = 500

[[profiles.technopark.exclusions]]
layer = "mines"
buffer_m = 3000

[models.clusters]
layer = "mines"
eps_m = 5000
min_weight = 5

[models.allocation]
profile = "processing_plant"
demand = "mines"
p = 2
"""


def make_world(root: Path) -> Path:
    """Write the synthetic layers and ``scenario.toml`` to ``root/world`` (outputs to
    ``root/out``); returns the folder."""
    folder = root / "world"
    write_world(folder)
    text = SCENARIO + f'\n[outputs]\ndir = "{(root / "out").as_posix()}"\n'
    (folder / "scenario.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """Folder with the synthetic layers and ``scenario.toml`` (outputs go to ``tmp_path/out``)."""
    return make_world(tmp_path)


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> siting.Result:
    """The synthetic region's run with its outputs written, for the tests that only read it:
    one run per session (per pytest-xdist worker) rather than one per test."""
    import siting

    return siting.run(make_world(tmp_path_factory.mktemp("synthetic")) / "scenario.toml")
