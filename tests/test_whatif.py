"""What-if scenarios: ``extends`` with edits of the base's layers and parameters, and the
comparison of two runs (sites kept, moved, added, removed; mines switching plant; totals)."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import siting as siting_pkg
from siting.config import scenario as scenario_mod
from siting.exports.runinfo import GridInfo, RunInfo
from siting.whatif import compare

from clitools import assert_nothing_written, assert_user_error, cli_here
from conftest import CRS, X0, Y0


def child(world, text, name="whatif"):
    """A scenario in its own folder that extends the world's (relative paths must still work)."""
    folder = world.parent / "whatif"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.toml"
    out = (world.parent / "out").as_posix()
    path.write_text(
        f'extends = "../world/scenario.toml"\nname = "{name}"\n[outputs]\ndir = "{out}"\n{text}',
        encoding="utf-8",
    )
    return path


def lonlat(x, y):
    """Coordinates of a point of the synthetic world (metres from its corner) in lon/lat."""
    point = gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y)], crs=CRS).to_crs("EPSG:4326")
    return [point.x.iloc[0], point.y.iloc[0]]


def spur_edit(*xy):
    """An [[add]] of a rail spur through points of the synthetic world."""
    coordinates = json.dumps([lonlat(x, y) for x, y in xy])
    return (
        f'[[add]]\nlayer = "rail"\ngeometry = {{ type = "LineString", coordinates = '
        f'{coordinates} }}\nproperties = {{ name = "spur" }}\n'
    )


def test_extends_keeps_the_base_files_and_merges_criteria_by_name(world):
    path = child(
        world,
        """
[[profiles.processing_plant.criteria]]
name = "haul_cost"
weight = 0.3

[[profiles.processing_plant.criteria]]
name = "rail"
weight = 0.5

[[profiles.technopark.criteria]]
name = "road"
drop = true

[profiles.technopark.ahp]
matrix = [[1, 3], ["1/3", 1]]
""",
    )
    base = scenario_mod.load(world / "scenario.toml")
    s = scenario_mod.load(path)
    assert s.name == "whatif" and s.extends == world / "scenario.toml"
    assert s.layers["mines"].path == base.layers["mines"].path  # the base's file, not whatif/
    weights = {c.name: c.weight for c in s.profiles["processing_plant"].criteria}
    assert weights == {"haul_cost": 0.3, "rail": 0.5, "power": 0.2}
    kinds = {c.name: c.kind for c in s.profiles["processing_plant"].criteria}
    assert kinds["haul_cost"] == "cost_distance"  # untouched keys come from the base
    assert [c.name for c in s.profiles["technopark"].criteria] == ["uglenaukograd", "labour"]


def test_edits_add_remove_and_update_features(world):
    (world.parent / "extra.geojson").write_text(
        gpd.GeoDataFrame(
            {"name": ["Reserve X"]},
            geometry=[shapely.box(X0 + 1_000, Y0 + 1_000, X0 + 3_000, Y0 + 3_000)],
            crs=CRS,
        ).to_json(),
        encoding="utf-8",
    )
    path = child(
        world,
        spur_edit((20_000, 20_000), (30_000, 10_000))
        + """
[[add]]
layer = "protected_areas"
path = "../extra.geojson"

[[remove]]
layer = "mines"
ids = ["C"]

[[update]]
layer = "mines"
where = "name == 'A'"
values = { output = 20.0 }
""",
    )
    result = siting_pkg.run(scenario_mod.load(path), write=False)
    rail = result.layers["rail"]
    added = rail[rail["name"] == "spur"].geometry.iloc[0]
    start, end = shapely.get_coordinates(added)[[0, -1]]
    np.testing.assert_allclose(start, [X0 + 20_000, Y0 + 20_000], atol=0.01)
    np.testing.assert_allclose(end, [X0 + 30_000, Y0 + 10_000], atol=0.01)
    mines = result.layers["mines"].set_index("name")
    assert "C" not in mines.index and mines.loc["A", "output"] == 20.0
    assert "Reserve X" in result.layers["protected_areas"]["name"].tolist()
    # The what-if is used: the allocation serves the new output, nothing of mine C.
    a = result.allocation
    assert a.plants["served_weight"].sum() == pytest.approx(mines["output"].sum())
    assert "C" not in a.lines["demand"].tolist()
    # The new reserve is excluded land for every profile.
    reserve = shapely.box(X0 + 1_000, Y0 + 1_000, X0 + 3_000, Y0 + 3_000)
    assert not result.sites.geometry.intersects(reserve).any()


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[[remove]]\nlayer = "mines"\nids = ["Z", "C"]', ["remove[0].ids", "'Z'", "name"]),
        ('[[update]]\nlayer = "mines"\nwhere = "name == \'Q\'"\nvalues = { output = 1 }',
         ["update[0].where", "selects no feature"]),
        ('[[add]]\nlayer = "rail"\ngeometry = { type = "LineString", coordinates = '
         "[[10.0, 50.0], [10.1, 50.1]] }", ["add[0]", "outside the study area"]),
        ('[[add]]\nlayer = "rail"\ngeometry = { type = "Line", coordinates = [] }',
         ["add[0].geometry is not a GeoJSON geometry"]),
        ('[[remove]]\nlayer = "roadz"\nids = ["x"]', ["remove[0].layer", "roadz"]),
    ],
)  # fmt: skip
def test_bad_edits_are_user_errors(world, text, fragments):
    # Edits are applied as the layers are read, before any raster: the command stops there.
    assert_user_error(cli_here("run", child(world, text)), *fragments)
    assert_nothing_written(world)


def test_a_missing_base_or_a_cycle_is_a_user_error(world):
    path = world.parent / "loop.toml"
    path.write_text('extends = "loop.toml"\nname = "loop"\n', encoding="utf-8")
    assert_user_error(cli_here("run", path), "extends", "cycle")
    missing = world.parent / "orphan.toml"
    missing.write_text('extends = "nowhere.toml"\nname = "orphan"\n', encoding="utf-8")
    got = cli_here("run", missing)
    assert_user_error(got, "extends = 'nowhere.toml'", "no scenario file")


def sites(*rows):
    return gpd.GeoDataFrame(
        [
            {"site_id": i, "profile": "p", "rank": k + 1, "score": s, "near": ""}
            for k, (i, s, _, _) in enumerate(rows)
        ],
        geometry=[shapely.Point(x, y) for _, _, x, y in rows],
        crs=CRS,
    )


def test_sites_are_matched_one_to_one_within_the_distance():
    a = sites(("a1", 0.9, 0, 0), ("a2", 0.8, 10_000, 0), ("a3", 0.7, 50_000, 0))
    b = sites(("b1", 0.95, 0, 0), ("b2", 0.85, 10_500, 0), ("b3", 0.6, 9_000, 100_000))
    grid = GridInfo("EPSG:32645", 1000.0, 10, 10, (0.0, 0.0, 10_000.0, 10_000.0))
    run = RunInfo(scenario=siting_pkg.load(), grid=grid)  # no model results: sites compared
    c = compare.compare(
        compare.RunOutputs(None, run, a, None), compare.RunOutputs(None, run, b, None), 5_000
    )
    rows = c.sites.set_index(c.sites["site_a"].fillna(c.sites["site_b"]))
    assert rows.loc["a1", "status"] == "kept" and rows.loc["a1", "site_b"] == "b1"
    assert rows.loc["a1", "score_delta"] == pytest.approx(0.05)
    assert rows.loc["a2", "status"] == "moved" and rows.loc["a2", "moved_m"] == pytest.approx(500)
    assert rows.loc["a3", "status"] == "removed"
    assert rows.loc["b3", "status"] == "added"
    assert len(c.moves) == 1 and c.moves.geometry.iloc[0].length == pytest.approx(500)


def test_compare_warns_when_the_runs_differ_in_more_than_the_what_if(caplog):
    a = sites(("a1", 0.9, 0, 0))
    b = sites(("b1", 0.9, 1_000, 0))
    scenario = siting_pkg.load()
    fine = RunInfo(scenario, GridInfo("EPSG:32645", 1000.0, 10, 10, (0.0, 0.0, 1e4, 1e4)))
    coarse = RunInfo(scenario, GridInfo("EPSG:32645", 2000.0, 5, 5, (0.0, 0.0, 1e4, 1e4)))
    with caplog.at_level("WARNING", logger="siting"):
        c = compare.compare(
            compare.RunOutputs(None, fine, a, None), compare.RunOutputs(None, coarse, b, None)
        )
    assert len(c.caveats) == 1 and "A at 1000 m, B at 2000 m" in c.caveats[0]
    assert "A at 1000 m, B at 2000 m" in caplog.text
    assert "Caution: the grids differ" in compare.report.markdown(compare._report(c))
    same = compare.compare(
        compare.RunOutputs(None, fine, a, None), compare.RunOutputs(None, fine, b, None)
    )
    assert same.caveats == []


def test_compare_command_on_a_what_if(world):
    what_if = child(
        world,
        spur_edit((20_000, 20_000), (34_000, 8_000))
        + """
[[remove]]
layer = "mines"
ids = ["A"]
""",
    )
    out = world.parent / "out"
    got = cli_here(
        "compare", world / "scenario.toml", what_if, "--output-dir", out, "--resolution", "1000"
    )
    assert got.returncode == 0, got.stderr
    folder = out / "compare_synthetic__whatif"
    for name in ("comparison.gpkg", "map.html", "report.html", "report.md", "totals.csv"):
        assert (folder / name).is_file()
    summary = json.loads((folder / "comparison.json").read_text())
    a = compare.RunOutputs.read(out / "synthetic")
    b = compare.RunOutputs.read(out / "whatif")
    # Mine A is gone from the what-if's allocation, and the comparison says so.
    switches = gpd.read_file(folder / "comparison.gpkg", layer="allocation_switches")
    gone = switches[switches["demand"] == "A"]
    assert len(gone) == 1 and gone["plant_b"].isna().all()
    totals = {r["metric"]: r for r in summary["totals"]}
    assert totals["transport (weight × km)"]["a"] == pytest.approx(a.info.allocation["transport"])
    assert totals["transport (weight × km)"]["b"] == pytest.approx(b.info.allocation["transport"])
    assert sum(summary["sites"].values()) >= len(b.sites)
    assert "transport (weight × km)" in got.stdout and "switch plant" in got.stdout


def test_compare_of_a_folder_that_is_no_output_is_a_user_error(tmp_path):
    got = cli_here("compare", tmp_path, tmp_path)
    assert_user_error(got, "is not a run's output folder")


@pytest.mark.slow  # the batch runs in a worker process: a new interpreter that imports the stack
def test_a_batch_runs_every_scenario_and_sums_them_up(world):
    what_if = child(world, '[[remove]]\nlayer = "mines"\nids = ["A"]\n')
    broken = child(world, "[friction]\noff_road = -1\n", name="broken")
    out = world.parent / "out"
    pattern = (what_if.parent / "*.toml").as_posix()
    got = cli_here(
        "run", world / "scenario.toml", pattern, "--output-dir", out, "--resolution", "1000"
    )
    assert got.returncode == 2, got.stderr  # one scenario failed: the batch says so
    assert f"error in {broken}" in got.stderr and "friction.off_road" in got.stderr
    table = pd.read_csv(out / "batch_summary.csv")
    assert table["scenario"].tolist() == [str(world / "scenario.toml"), str(broken), str(what_if)]
    ok = table.set_index("name").loc[["synthetic", "whatif"]]
    assert (ok["status"] == "ok").all()
    for name, row in ok.iterrows():
        info = json.loads((out / name / "run.json").read_text())
        assert row["transport"] == pytest.approx(info["allocation"]["transport"])
        assert row["plants"] == info["allocation"]["n_plants"]
        sites = gpd.read_file(out / name / "siting.gpkg", layer="proposed_sites")
        assert row["sites_processing_plant"] == (sites["profile"] == "processing_plant").sum()
    # Without mine A (10 Mt/yr, the largest) there is less to haul.
    assert ok.loc["whatif", "transport"] < ok.loc["synthetic", "transport"]
    assert not (out / "broken").exists()
