"""Bad input: one clear message naming the file or key and the fix, exit 2, no traceback, and
nothing written to the outputs folder.

A scenario's keys are checked where they are read (``siting.load``), in milliseconds; problems
found while running (a layer file) through ``siting.cli.main`` in this process. A few tests start
the real command, for its exit status and its stderr without a traceback.
"""

import re
import shutil

import geopandas as gpd
import pytest
import shapely

from siting import load

from clitools import (
    assert_nothing_written,
    assert_scenario_error,
    assert_user_error,
    cli_here,
    edit,
    siting,
)
from conftest import CRS, SHARED, X0, Y0

# --- The real command: exit status 2, one message, no traceback --------------------------------


@pytest.mark.slow
def test_command_on_a_missing_scenario_file(tmp_path):
    proc = siting("run", tmp_path / "nope.toml")
    assert_user_error(proc, "scenario file not found", "nope.toml")
    assert proc.stderr.count("siting: error:") == 1


@pytest.mark.slow
def test_command_on_an_unknown_key_suggests_the_right_one(world):
    path = edit(world, "resolution = 250", "resolutoin = 250")
    proc = siting("run", path)
    assert_user_error(proc, "unknown scenario key resolutoin", "did you mean 'resolution'")
    assert_nothing_written(world)


@pytest.mark.slow
def test_command_on_a_missing_layer_file(world):
    path = edit(world, 'path = "rail.gpkg"', 'path = "railway.gpkg"')
    proc = siting("run", path)
    assert_user_error(proc, "layer 'rail'", "railway.gpkg", "layers.rail.path")
    assert_nothing_written(world)


# --- The scenario's keys: checked as it is loaded ----------------------------------------------


def test_missing_scenario_file(tmp_path):
    assert_scenario_error(tmp_path / "nope.toml", "scenario file not found", "nope.toml")


def test_unknown_scenario_key_suggests_the_right_one(world):
    path = edit(world, "resolution = 250", "resolutoin = 250")
    error = assert_scenario_error(path, "unknown scenario key resolutoin")
    assert error.fix == "did you mean 'resolution'?"


def test_unknown_nested_key(world):
    path = edit(world, "min_area_ha = 10\nn_sites = 4", "min_area = 10\nn_sites = 4")
    error = assert_scenario_error(path, "unknown scenario key profiles.processing_plant.min_area")
    assert error.fix == "did you mean 'min_area_ha'?"


def test_weights_not_summing_to_one(world):
    path = edit(world, "weight = 0.2", "weight = 0.3")
    assert_scenario_error(
        path, "profiles.processing_plant.criteria", "sum to 1.1, not 1", "normalize = true"
    )


def test_weights_are_normalised_on_request(world):
    path = edit(world, "weight = 0.2", "weight = 0.3")
    edit(world, "candidate_quantile = 0.8", "candidate_quantile = 0.8\nnormalize = true")
    scenario = load(path)
    assert scenario.profiles["processing_plant"].weights == pytest.approx(
        (0.5 / 1.1, 0.3 / 1.1, 0.3 / 1.1)
    )


def test_inconsistent_ahp_matrix(world):
    path = edit(
        world,
        'matrix = [[1, 3, 5], ["1/3", 1, 3], ["1/5", "1/3", 1]]',
        'matrix = [[1, 5, "1/5"], ["1/5", 1, 5], [5, "1/5", 1]]',
    )
    error = assert_scenario_error(
        path, "profiles.technopark.ahp.matrix", "consistency ratio", "max_cr"
    )
    cr = float(re.search(r"CR = ([0-9.]+)", error.message).group(1))
    assert cr > 0.1
    assert "profiles.technopark.ahp.max_cr = " in error.fix


def test_geographic_crs_is_refused(world):
    path = edit(world, 'crs = "EPSG:32645"', 'crs = "EPSG:4326"')
    assert_scenario_error(path, "crs = 'EPSG:4326' is not projected", "EPSG:32645")


def test_gem_boundaries_on_another_reader(world):
    path = edit(world, 'path = "rail.gpkg"', 'path = "rail.gpkg"\nboundaries = "b.geojson"')
    assert_scenario_error(path, "layers.rail.boundaries is for GEM", 'reader = "gem"')


# --- Problems found while running: the command in this process --------------------------------


def test_gem_boundaries_file_missing(world):
    csv = SHARED / "gem" / "gcmt_non_closed_kuzbass_bbox.csv"
    path = edit(
        world,
        'path = "rail.gpkg"',
        f'path = "{csv.resolve().as_posix()}"\nreader = "gem"\nboundaries = "b.geojson"',
    )
    proc = cli_here("run", path)
    assert_user_error(proc, "boundaries file not found", "b.geojson", "layers.rail.boundaries")
    assert_nothing_written(world)


def test_layer_without_crs(world):
    gdf = gpd.read_file(world / "rail.gpkg").set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gdf.to_file(world / "rail.shp")  # a shapefile without .prj: GDAL sees no CRS
    assert not (world / "rail.prj").exists()
    path = edit(world, 'path = "rail.gpkg"', 'path = "rail.shp"')
    proc = cli_here("run", path)
    assert_user_error(proc, "layer 'rail'", "rail.shp", "has no CRS")
    assert_nothing_written(world)


def test_unreadable_layer_file(world):
    (world / "rail.gpkg").write_text("this is not a GeoPackage")
    proc = cli_here("run", world / "scenario.toml")
    assert_user_error(proc, "layer 'rail'", "cannot read")
    assert_nothing_written(world)


def test_layer_empty_after_clipping(world):
    mines = gpd.read_file(world / "mines.gpkg")
    mines["geometry"] = mines.geometry.translate(500_000, 0)  # far east of the study area
    mines.to_file(world / "mines.gpkg")
    proc = cli_here("run", world / "scenario.toml")
    assert_user_error(proc, "layer 'mines' has no feature within", "mines.gpkg")
    assert_nothing_written(world)


def test_empty_layer_file(world):
    empty = gpd.GeoDataFrame({"name": []}, geometry=[], crs=CRS)
    empty.to_file(world / "power_plants.gpkg")
    proc = cli_here("run", world / "scenario.toml")
    assert_user_error(proc, "layer 'power_plants'", "has no features")
    assert_nothing_written(world)


def test_no_suitable_cell(world):
    path = edit(
        world,
        'layer = "protected_areas"\nbuffer_m = 1000',
        'layer = "protected_areas"\nbuffer_m = 100000',
    )
    proc = cli_here("run", path)
    assert_user_error(proc, "profile 'processing_plant'", "no cell of the study area is left")
    assert_nothing_written(world)


@pytest.mark.slow
def test_profile_without_sites_is_reported_not_fatal(world):
    path = edit(world, "min_area_ha = 10\nn_sites = 3", "min_area_ha = 1000000\nn_sites = 3")
    proc = cli_here("run", path)
    assert proc.returncode == 0, proc.stderr
    assert "profile 'technopark': no patch of suitable land reaches min_area_ha" in proc.stderr
    out = world.parent / "out" / "synthetic"
    for page in ("report.md", "report.html", "map.html"):
        assert "No site proposed for Technopark" in (out / page).read_text(), page


def test_allocation_profile_without_enough_sites(world):
    path = edit(world, "min_area_ha = 10\nn_sites = 4", "min_area_ha = 1000000\nn_sites = 4")
    proc = cli_here("run", path)
    assert_user_error(proc, "models.allocation: p = 2 plant(s)", "proposed only 0 site(s)")
    assert_nothing_written(world)


def test_bad_where_expression(world):
    path = edit(world, "where = \"kind == 'ugle_naukograd'\"", "where = \"knd == 'x'\"")
    proc = cli_here("run", path)
    assert_user_error(proc, "uglenaukograd", "cannot be evaluated", "kind")
    assert_nothing_written(world)


@pytest.mark.slow
def test_invalid_geometry_is_repaired_with_a_warning(world):
    bowtie = shapely.Polygon(
        [
            (X0 + 1000, Y0 + 39_000),
            (X0 + 9000, Y0 + 33_000),
            (X0 + 9000, Y0 + 39_000),
            (X0 + 1000, Y0 + 33_000),
        ]
    )
    assert not bowtie.is_valid
    gpd.GeoDataFrame({"name": ["Bow-tie reserve"]}, geometry=[bowtie], crs=CRS).to_file(
        world / "protected_areas.gpkg"
    )
    proc = cli_here("run", world / "scenario.toml", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "repaired 1 invalid geometry" in proc.stderr


def test_layer_of_the_wrong_geometry_for_its_kind(world):
    path = edit(world, 'path = "rail.gpkg"', 'path = "stations.gpkg"\nkind = "rail"')
    proc = cli_here("run", path)
    assert_user_error(proc, "layer 'rail' (kind = 'rail')", "holds Point geometries, not lines")
    assert_nothing_written(world)


def test_layer_missing_a_field_its_kind_needs(world):
    path = edit(world, 'fields = { output = "output_mtpa" }', 'kind = "mines"')
    proc = cli_here("run", path)
    assert_user_error(
        proc,
        "layer 'mines' (kind = 'mines') needs the field(s) 'output'",
        'layers.mines.fields = { output = "<column>" }',
        "output_mtpa",
    )
    assert_nothing_written(world)


def test_absurd_resolution_is_refused_before_any_grid(world):
    proc = cli_here("run", world / "scenario.toml", "--resolution", "0.05")
    assert_user_error(proc, "resolution = 0.05 m is finer than 1 m")
    assert_nothing_written(world)
    # 2 m passes the check of the value but not the grid over this 40 km study area, padded by
    # its farthest reach (20 km: the power plant's sigmoid, 8 + 6 × 2 km): 40,000² cells > 5e8
    # (the finest resolution that fits depends on the machine's memory:
    # tests/test_reliability_scenario.py).
    proc = cli_here("run", world / "scenario.toml", "--resolution", "2")
    assert_user_error(
        proc, "resolution = 2 m makes a grid of 40,000 × 40,000 cells", "or more (metres)"
    )
    assert_nothing_written(world)


# --- Output folders read back (siting export qgis, siting compare) -----------------------------

CORRUPTIONS = {
    "run.json cut short": ("run.json", lambda b: b[: len(b) // 2], "run.json does not describe"),
    "run.json not an object": ("run.json", lambda b: b"[]", "run.json does not describe"),
    "run.json not text": ("run.json", lambda b: b"\xff\xfe\x00" + b, "run.json does not describe"),
    "gpkg empty": ("siting.gpkg", lambda b: b"", "cannot be read as a GeoPackage"),
    "gpkg overwritten": (
        "siting.gpkg",
        lambda b: b[:100] + b"\x00" * (len(b) - 100),
        "cannot be read as a GeoPackage",
    ),
}


@pytest.mark.parametrize("command", ["export", "compare"])
@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_damaged_output_folder_read_back_is_one_error(synthetic_run, tmp_path, case, command):
    name, damage, message = CORRUPTIONS[case]
    folder = tmp_path / "synthetic"
    shutil.copytree(synthetic_run.output_dir, folder)
    (folder / name).write_bytes(damage((folder / name).read_bytes()))
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    args = ("export", "qgis", folder) if command == "export" else ("compare", folder, folder)
    got = cli_here(*args, *(["--output-dir", tmp_path / "cmp"] if command == "compare" else []))
    assert_user_error(got, message, str(folder / name))
    assert got.stderr.count("siting: error:") == 1
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert not (tmp_path / "cmp").exists()
