"""Units and places checked at load (issue #18, item 4): every number finite and of the right
sign, the CRS projected, in metres and meant for the study area (``crs = "auto"`` picks its UTM
zone), the grid's memory estimated before anything is allocated, the fields read as amounts
checked when their layer is read, and invalid polygons repaired into polygons.

Each bad input is one error of the right type, naming the key (or the layer and the field) and
the fix, with nothing written. Most run in this process through ``siting.run`` on the synthetic
region (``world``); a few through ``siting.cli.main`` (``cli_here``) for the exit status.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

import siting
from siting.config import memory, schema, template
from siting.config.scenario import LayerSpec, from_dict, load
from siting.errors import LayerError, ScenarioError, SitingError
from siting.inputs import place
from siting.inputs.layers import read_layer
from siting.whatif.compare import check_match_m

from clitools import assert_nothing_written, assert_user_error, cli_here, edit
from conftest import CRS, SHARED

REGIONS = SHARED / "russia" / "russia_regions.geojson"

# --- Bad input: (edits of scenario.toml, error type, fragments of the message, of the fix) -----

PP = "profiles.processing_plant"
NETWORK = '[network]\nlayer = "roads"\nclass_field = "kind"\nspeeds = {{ federal = {} }}\n\n'
UPDATE = '[[update]]\nlayer = "{}"\n{}\nvalues = {{ {} }}\n\n[models.clusters]'


def _update(layer: str, select: str, values: str) -> tuple[str, str]:
    return "[models.clusters]", UPDATE.format(layer, select, values)


def _rewrite(layer: str, change: Callable[[gpd.GeoDataFrame], None]) -> Callable[[Path], None]:
    """Rewrite a layer file of the world (a value or a coordinate no scenario key can write)."""

    def apply(world: Path) -> None:
        gdf = gpd.read_file(world / f"{layer}.gpkg")
        change(gdf)
        gdf.to_file(world / f"{layer}.gpkg")

    return apply


def _nan_station(gdf: gpd.GeoDataFrame) -> None:
    gdf.loc[1, "geometry"] = shapely.Point(math.nan, gdf.geometry[1].y)


def _infinite_output(gdf: gpd.GeoDataFrame) -> None:
    gdf.loc[2, "output_mtpa"] = math.inf


def _gem_like_capacities(gdf: gpd.GeoDataFrame) -> None:
    # GEM's tracker leaves the capacity of many mines empty.
    gdf["capacity_mtpa"] = [12.0, None, 5.0, None, 3.0, 1.5]


def bad(
    edits: list[tuple[str, str]],
    error: type[SitingError],
    message: str,
    fix: str,
    files: Callable[[Path], None] | None = None,
) -> object:
    """One bad input: the edits of scenario.toml (and of a layer file), what is raised, and
    fragments of its message and its fix."""
    name = re.sub(r"\W+", "-", message[:48]).strip("-")
    return pytest.param(edits, error, message, fix, files, id=name)


# fmt: off
CASES = [
    # Resolutions: finite, > 0, at least a metre.
    bad([("resolution = 250", "resolution = inf")], ScenarioError,
     "resolution = inf is not a finite number", "a finite number > 0"),
    bad([("resolution = 250", "resolution = nan")], ScenarioError,
     "resolution = nan is not a finite number", "a finite number > 0"),
    bad([("resolution = 250", "resolution = -250")], ScenarioError,
     "resolution = -250 must be > 0", "give a number > 0"),
    bad([("resolution = 250", "resolution = 0.01")], ScenarioError,
     "resolution = 0.01 m is finer than 1 m", "cell size in metres"),
    bad([("resolution = 1000\noff_road", "resolution = inf\noff_road")], ScenarioError,
     "friction.resolution = inf is not a finite number", "a finite number > 0"),
    # Buffers, radii, separations: finite, not negative.
    bad([("buffer_m = 1000\n", "buffer_m = nan\n")], ScenarioError,
     f"{PP}.exclusions[0].buffer_m = nan is not a finite number", "a finite number >= 0"),
    bad([("buffer_m = 1000\n", "buffer_m = inf\n")], ScenarioError,
     f"{PP}.exclusions[0].buffer_m = inf is not a finite number", "a finite number >= 0"),
    bad([("buffer_m = 1000\n", "buffer_m = -1000\n")], ScenarioError,
     f"{PP}.exclusions[0].buffer_m = -1000 must be >= 0", "give a number >= 0"),
    bad([("min_separation_m = 4000", "min_separation_m = -12000")], ScenarioError,
     f"{PP}.min_separation_m = -12000 must be >= 0", "give a number >= 0"),
    bad([("radius_m = 10000", "radius_m = inf")], ScenarioError,
     "profiles.technopark.criteria[1].radius_m = inf is not a finite number", "> 0"),
    bad([("eps_m = 5000", "eps_m = -5000")], ScenarioError,
     "models.clusters.eps_m = -5000 must be > 0", "give a number > 0"),
    # A reach that pads the grid by a million kilometres.
    bad([("low = 0, high = 10000", "low = 0, high = 1e12")], ScenarioError,
     f"{PP}.criteria[1].standardize reaches 1,000,000,000 km", "in metres"),
    # Weights: finite, not negative; their sum too.
    bad([("weight = 0.5", "weight = inf"), ("candidate_quantile = 0.8", "normalize = true")],
     ScenarioError, f"{PP}.criteria[0].weight = inf is not a finite number", ">= 0"),
    bad([("weight = 0.5", "weight = nan")], ScenarioError,
     f"{PP}.criteria[0].weight = nan is not a finite number", ">= 0"),
    bad([("weight = 0.5", "weight = -0.5")], ScenarioError,
     f"{PP}.criteria[0].weight = -0.5 must be >= 0", ">= 0"),
    bad([("weight = 0.5", "weight = 1e308"), ("weight = 0.3", "weight = 1e308"),
      ("candidate_quantile = 0.8", "normalize = true")], ScenarioError,
     f"{PP}.criteria: the weights sum to inf", "shares that sum to 1"),
    # Standardisation bounds: finite, low < high, not so far apart that all scores are equal.
    bad([("low = 0, high = 10000", "low = -1e308, high = 1e308")], ScenarioError,
     f"{PP}.criteria[1].standardize.low = -1e+308 and", "where the score starts"),
    bad([("low = 0, high = 10000", "low = 0, high = inf")], ScenarioError,
     f"{PP}.criteria[1].standardize.high = inf is not a finite number", "a finite number"),
    bad([("low = 0, high = 10000", "low = 10000, high = 0")], ScenarioError,
     f"{PP}.criteria[1].standardize.high = 0 must be greater than", "swap them"),
    bad([("midpoint = 8000", "midpoint = nan")], ScenarioError,
     f"{PP}.criteria[2].standardize.midpoint = nan is not a finite number", "a finite number"),
    bad([("spread = 2000", "spread = inf")], ScenarioError,
     f"{PP}.criteria[2].standardize.spread = inf is not a finite number", "> 0"),
    # Costs, speeds, capacities, shares.
    bad([("off_road = 4.0", "off_road = inf")], ScenarioError,
     "friction.off_road = inf is not a finite number", "> 0"),
    bad([('{ layer = "roads", cost = 1.0 }', '{ layer = "roads", cost = inf }')], ScenarioError,
     "friction.routes[0].cost = inf must be a positive, finite number", "cost per metre"),
    bad([("[profiles.processing_plant]", NETWORK.format("inf") + "[profiles.processing_plant]")],
     ScenarioError, "network.speeds.federal = inf must be a positive, finite number",
     "federal = 60"),
    bad([("p = 2", "capacity = -40")], ScenarioError,
     "models.allocation.capacity = -40 must be > 0", "> 0"),
    bad([("matrix = [[1, 3, 5]", "matrix = [[1, nan, 5]")], ScenarioError,
     "profiles.technopark.ahp.matrix[0][1] = nan is not a finite number", "from 1/9 to 9"),
    bad([("candidate_quantile = 0.8", "candidate_quantile = nan")], ScenarioError,
     f"{PP}.candidate_quantile = nan is not a finite number", ">= 0 and < 1"),
    # What-if values and coordinates.
    bad([_update("mines", 'ids = ["A"]', "output = nan")], ScenarioError,
     "update[0].values.output = nan is not a finite number", "a finite number"),
    bad([_update("mines", 'ids = ["A"]', 'output = "a lot"')], ScenarioError,
     "update[0].values.output = 'a lot': field 'output' of layer 'mines' holds numbers",
     "e.g. 10.0"),
    bad([("[models.clusters]", '[[add]]\nlayer = "mines"\ngeometry = { type = "Point", '
       'coordinates = [nan, 55.1] }\n\n[models.clusters]')], ScenarioError,
     "add[0].geometry: coordinate nan is not a finite number", "lon, lat"),
    # Names: they name folders and files.
    bad([('name = "synthetic"', 'name = "syn\\u0000thetic"')], ScenarioError,
     "name = 'syn\\x00thetic' cannot be a folder name", "one plain folder name"),
    bad([('name = "synthetic"', 'name = "' + "s" * 300 + '"')], ScenarioError,
     "(300 characters) cannot be a folder name", "at most 100 characters"),
    bad([('title = "Synthetic test region"', 'title = "Synthetic\\u0000region"')], ScenarioError,
     "title = 'Synthetic\\x00region' holds the control character '\\x00'", "remove it"),
    bad([('name = "rail"', 'name = "../../rail"')], ScenarioError,
     f"{PP}.criteria[1].name = '../../rail' cannot be a name", "e.g. haul_cost"),
    bad([('name = "rail"', 'name = "ra\\nil"')], ScenarioError,
     f"{PP}.criteria[1].name = 'ra\\nil' cannot be a name", "e.g. haul_cost"),
    # The CRS: projected and in metres; the fix names the study area's UTM zone.
    bad([(f'crs = "{CRS}"', 'crs = "EPSG:4326"')], ScenarioError,
     "crs = 'EPSG:4326' is not projected (WGS 84, in degrees)",
     'use crs = "EPSG:32645" (UTM zone 45N, where the study area lies), or crs = "auto"'),
    bad([(f'crs = "{CRS}"', 'crs = "EPSG:2229"')], ScenarioError,
     "crs = 'EPSG:2229' (NAD83 / California zone 5 (ftUS), US survey foot) is not in metres",
     'use crs = "EPSG:32645" (UTM zone 45N'),
    bad([(f'crs = "{CRS}"', 'crs = "+proj=utm +zone=45 +units=ft +datum=WGS84"')], ScenarioError,
     "crs = '+proj=utm +zone=45 +units=ft +datum=WGS84' (foot) is not in metres",
     'use crs = "EPSG:32645" (UTM zone 45N'),
    # The CRS meant for the place: checked from the study area when the run starts.
    bad([(f'crs = "{CRS}"', 'crs = "EPSG:32755"')], ScenarioError,
     "crs = 'EPSG:32755' is meant for 'Between 144°E and 150°E, southern hemisphere",
     'use crs = "EPSG:32645" (UTM zone 45N'),
    bad([(f'crs = "{CRS}"', 'crs = "EPSG:32643"')], ScenarioError,
     "crs = 'EPSG:32643' is meant for 'Between 72°E and 78°E", 'use crs = "EPSG:32645"'),
    bad([(f'crs = "{CRS}"', 'crs = "EPSG:3857"')], ScenarioError,
     "crs = 'EPSG:3857' (WGS 84 / Pseudo-Mercator) distorts distances by 7",
     'use crs = "EPSG:32645" (UTM zone 45N'),
    bad([(f'crs = "{CRS}"', 'crs = "+proj=tmerc +lon_0=30 +datum=WGS84 +units=m"')],
     ScenarioError, "crs = '+proj=tmerc +lon_0=30 +datum=WGS84 +units=m' distorts distances",
     'use crs = "EPSG:32645" (UTM zone 45N'),
    # Fields read as amounts, checked as their layer is read.
    bad([_update("mines", 'ids = ["A"]', "output = -5.0")], LayerError,
     f"layer 'mines': field 'output' (read by {PP}.criteria[0].weight_field) must be a finite "
     "number >= 0; 1 of 6 features are not: -5.0 at 'A' (row 1)", "layers.mines.where"),
    bad([_update("rivers", "where = \"name == 'River'\"", "width_m = -5000.0")], LayerError,
     f"layer 'rivers': field 'width_m' (read by {PP}.exclusions[2].width_field) must be a "
     "finite number >= 0; 1 of 1 features are not: -5000.0 at 'River' (row 1)", "rivers.gpkg"),
    bad([("min_weight = 5", 'min_weight = 5\ncapacity_field = "capacity_mtpa"')], LayerError,
     "layer 'mines': field 'capacity_mtpa' (read by models.clusters.capacity_field) must be a "
     "finite number >= 0; 2 of 6 features are not: nan at 'B' (row 2), nan at 'D' (row 4)",
     "mines.gpkg", _rewrite("mines", _gem_like_capacities)),
    bad([], LayerError,
     f"layer 'mines': field 'output' (read by {PP}.criteria[0].weight_field) must be a finite "
     "number >= 0; 1 of 6 features are not: inf at 'C' (row 3)", "mines.gpkg",
     _rewrite("mines", _infinite_output)),
    bad([('weight_field = "output"', 'weight_field = "tonnes"')], ScenarioError,
     f"{PP}.criteria[0].weight_field reads field 'tonnes', which layer 'mines' lacks",
     "output, status"),
    bad([], LayerError,
     "layer 'stations': 1 feature(s) of", "fix or delete them in the file",
     _rewrite("stations", _nan_station)),
]
# fmt: on


@pytest.mark.parametrize(("edits", "error", "message", "fix", "files"), CASES)
def test_bad_input_is_one_error_naming_the_key_and_the_fix(
    world, edits, error, message, fix, files
):
    path = world / "scenario.toml"
    for old, new in edits:
        edit(world, old, new)
    if files is not None:
        files(world)
    with pytest.raises(SitingError) as caught:
        siting.run(path)
    assert type(caught.value) is error, caught.value
    assert message in caught.value.message, caught.value.message
    assert caught.value.fix and fix in caught.value.fix, caught.value.fix
    assert "\n" not in caught.value.message  # one problem, one line
    assert_nothing_written(world)


def test_there_are_at_least_35_bad_inputs():
    assert len(CASES) >= 35


def test_a_nan_coordinate_in_a_layer_names_the_feature(world):
    _rewrite("stations", _nan_station)(world)
    with pytest.raises(LayerError) as caught:
        siting.run(world / "scenario.toml")
    assert "e.g. 'Halt' (row 2)" in caught.value.message
    assert str(world / "stations.gpkg") in caught.value.message


# --- Through the command line: exit status 2, one message, nothing written ---------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--resolution", "inf"), "resolution = inf is not a finite number"),
        (("--resolution", "0.01"), "resolution = 0.01 m is finer than 1 m"),
        (("--resolution", "2"), "resolution = 2 m makes a grid of 40,000 × 40,000 cells"),
        (("--name", "a\nb"), "name = 'a\\nb' cannot be a folder name"),
    ],
)
def test_command_line_overrides_are_checked(world, args, message):
    proc = cli_here("run", world / "scenario.toml", *args)
    assert_user_error(proc, message)
    assert proc.stderr.count("siting: error:") == 1
    assert_nothing_written(world)


def test_command_line_refuses_a_crs_of_another_continent(world):
    path = edit(world, f'crs = "{CRS}"', 'crs = "EPSG:32755"')
    proc = cli_here("run", path)
    assert_user_error(proc, "crs = 'EPSG:32755' is meant for", 'use crs = "EPSG:32645"')
    assert_nothing_written(world)


@pytest.mark.parametrize("match", ["-5", "nan", "inf"])
def test_compare_refuses_a_match_distance_before_running_anything(world, match):
    out = world.parent / "out"
    scenario = world / "scenario.toml"
    proc = cli_here("compare", scenario, scenario, "--match-m", match, "--output-dir", out)
    assert_user_error(proc, f"--match-m {float(match)!r} must be a distance in metres", "5000")
    assert_nothing_written(world)


def test_compare_checks_the_match_distance_in_the_api_too():
    for value in (-5.0, math.nan, math.inf, True):
        with pytest.raises(SitingError, match=r"match_m = .* must be a distance in metres"):
            check_match_m(value)
    check_match_m(0.0)  # only sites in the same place match: allowed
    check_match_m(5000)


# --- The grid's memory: estimated, refused with the resolution that fits -----------------------


def test_the_finest_resolution_that_fits_is_the_first_that_fits():
    # An 80 km square (40 km padded by 20 km) with room for 10⁶ cells of 96 bytes: 1,600² cells at
    # 50 m are refused; the fix is the first resolution whose grid, one more row and column for
    # the snapping included, holds: 80 m makes 1,001² = 1,002,001 cells, 81 m 989² = 978,121.
    room = memory.PROCESS_BYTES + 96 * 1_000_000
    bounds = (0.0, 0.0, 40_000.0, 40_000.0)
    with pytest.raises(ScenarioError) as caught:
        schema.check_grid(bounds, 20_000.0, 50.0, 96, room)
    assert caught.value.message.startswith("resolution = 50 m makes a grid of 1,600 × 1,600")
    assert "96 bytes per cell" in caught.value.message
    assert caught.value.fix == "use resolution = 81 or more (metres)"
    schema.check_grid(bounds, 20_000.0, 81.0, 96, room)
    with pytest.raises(ScenarioError):
        schema.check_grid(bounds, 20_000.0, 80.0, 96, room)


def test_the_resolution_the_command_suggests_fits_on_this_machine(world):
    proc = cli_here("run", world / "scenario.toml", "--resolution", "2")
    assert_user_error(proc, "or more (metres)")
    finest = int(re.search(r"use resolution = (\d+) or more", proc.stderr).group(1))
    scenario = load(world / "scenario.toml")
    place.settle(scenario.with_overrides(resolution=finest))  # fits: no error
    with pytest.raises(ScenarioError, match="makes a grid of"):
        place.settle(scenario.with_overrides(resolution=finest - 1))


def test_bytes_per_cell_count_each_criterion_once_and_each_profile(world):
    # The synthetic region: 6 criteria (3 + 3), 2 profiles; Kuzbass: 15 distinct criteria (its
    # profiles share some, e.g. "power" and "road"), 3 profiles.
    assert load(world / "scenario.toml").bytes_per_cell == 16 + 8 * 6 + 16 * 2
    kuzbass = load()
    names = {c.name for p in kuzbass.profiles.values() for c in p.criteria}
    assert len(names) == 15 and len(kuzbass.profiles) == 3
    assert kuzbass.bytes_per_cell == 16 + 8 * 15 + 16 * 3


# --- The place: crs = "auto", the existing scenarios, the template -----------------------------


def _zone_of(boundary: Path) -> str:
    """The UTM zone of a layer's centroid, by the rule zone = ⌊(lon + 180) / 6⌋ + 1."""
    gdf = gpd.read_file(boundary)
    centre = shapely.union_all(gdf.geometry.values).centroid
    lon, lat = Transformer.from_crs(gdf.crs, "EPSG:4326", always_xy=True).transform(
        centre.x, centre.y
    )
    zone = math.floor((lon + 180) / 6) + 1
    return f"EPSG:{326 if lat >= 0 else 327}{zone:02d}"


def test_auto_crs_picks_the_utm_zone_and_gives_the_same_sites(world):
    expected = _zone_of(world / "boundary.gpkg")
    assert expected == "EPSG:32645"
    explicit = siting.run(world / "scenario.toml", resolution=1000, write=False)
    auto = siting.run(edit(world, f'crs = "{CRS}"', 'crs = "auto"'), resolution=1000, write=False)
    assert auto.scenario.crs == expected and auto.grid.crs == expected
    assert auto.grid == explicit.grid
    columns = ["profile", "site_id", "rank", "score"]
    pd.testing.assert_frame_equal(auto.sites[columns], explicit.sites[columns])
    assert np.array_equal(
        shapely.get_coordinates(auto.sites.geometry.values),
        shapely.get_coordinates(explicit.sites.geometry.values),
    )


def test_the_run_records_the_crs_auto_chose(world):
    path = edit(world, f'crs = "{CRS}"', 'crs = "auto"')
    result = siting.run(path, resolution=2000)
    info = json.loads((result.output_dir / "run.json").read_text(encoding="utf-8"))
    assert info["scenario"]["crs"] == "EPSG:32645"
    assert info["grid"]["crs"] == "EPSG:32645"


def test_the_existing_scenarios_pass_the_place_checks(world):
    assert place.settle(load()).crs == "EPSG:32645"  # the Kuzbass default
    assert place.settle(load(world / "scenario.toml")).crs == CRS
    assert _zone_of(load().layers["boundary"].path) == "EPSG:32645"


def test_the_template_uses_auto_and_runs_where_its_layers_are(tmp_path):
    text = template.render()
    assert re.findall(r"^crs = .*$", text, re.MULTILINE) == [
        'crs = "auto"                  # the UTM zone of the study area (or an EPSG code in metres)'
    ]  # not the Kuzbass zone for everyone
    path = tmp_path / "mine.toml"
    template.write_template(path)
    assert place.settle(load(path)).crs == "EPSG:32645"  # the embedded layers are in Kuzbass


def _region(name: str, crs: str = "auto") -> siting.Scenario:
    return from_dict(
        {
            "name": "region",
            "crs": crs,
            "resolution": 1000,
            "study_area": "region",
            "layers": {
                "region": {
                    "path": str(REGIONS),
                    "kind": "boundary",
                    "where": f"name_latin == '{name}'",
                }
            },
            "profiles": {
                "p": {
                    "criteria": [
                        {
                            "name": "d",
                            "kind": "distance",
                            "layer": "region",
                            "standardize": {"fn": "threshold", "value": 5},
                            "weight": 1,
                        }
                    ]
                }
            },
        }
    )


@pytest.mark.parametrize(
    "name", ["Sakha (Yakutia) Republic", "Krasnoyarsk Krai", "Arkhangelsk Oblast"]
)
def test_invalid_region_polygons_are_repaired_into_polygons(name):
    raw = gpd.read_file(REGIONS)
    stored = raw.loc[raw["name_latin"] == name, "geometry"].iloc[0]
    assert not stored.is_valid
    assert shapely.make_valid(stored).geom_type == "GeometryCollection"  # polygons and lines
    spec = _region(name).layers["region"]
    assert isinstance(spec, LayerSpec) and spec.kind == "boundary"  # polygons only
    layer = read_layer(spec, "EPSG:4326")
    assert len(layer) == 1
    repaired = layer.geometry.iloc[0]
    assert repaired.geom_type == "MultiPolygon" and repaired.is_valid
    # The lines of the repair have no area: the polygons keep all of it (same parts, summed in
    # another order: a relative difference of a few ulps).
    assert repaired.area == pytest.approx(shapely.make_valid(stored).area, rel=1e-12)
    assert repaired.area == pytest.approx(stored.buffer(0).area, rel=1e-3)


def test_a_region_too_wide_for_a_utm_zone_gets_a_centred_projection():
    # Sakha spans 105°–163° E: in its UTM zone (52N, 126°–132° E) distances at its eastern end
    # are more than 2 % off. The fix proposes an azimuthal equidistant projection centred on it,
    # under which the run starts.
    with pytest.raises(ScenarioError) as caught:
        place.settle(_region("Sakha (Yakutia) Republic"))
    assert caught.value.message.startswith('crs = "auto" (EPSG:32652, UTM zone 52N) distorts')
    assert "too large for one UTM zone" in caught.value.message
    crs = re.search(r'crs = "([^"]+)"', caught.value.fix).group(1)
    assert crs.startswith("+proj=aeqd ")
    assert place.settle(_region("Sakha (Yakutia) Republic", crs)).crs == crs
    # Krasnoyarsk Krai fits its zone within 2 %: auto picks the zone of its centre.
    assert place.settle(_region("Krasnoyarsk Krai")).crs == "EPSG:32646"
