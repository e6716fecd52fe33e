"""The embedded Kuzbass scenario end to end (coarse grid for speed), and a scenario on the real
Global Coal Mine Tracker and oblast boundary files in ../shared/data."""

import numpy as np
import pytest
import shapely

import siting

import checks
from conftest import SHARED


# The tests on the Kuzbass run are slow (the 1 km run takes about 20 s); the synthetic region's
# (test_pipeline.py) check the same invariants in the fast loop.
@pytest.fixture(scope="module")
def kuzbass(tmp_path_factory):
    out = tmp_path_factory.mktemp("kuzbass-out")
    return siting.run(resolution=1000, output_dir=out)


@pytest.mark.slow
def test_outputs_reopen(kuzbass):
    checks.outputs_reopen_in_the_scenario_crs(kuzbass)
    assert kuzbass.scenario.crs == "EPSG:32645"
    copied = (kuzbass.output_dir / "PROVENANCE.md").read_text()
    assert copied == (kuzbass.scenario.source.parent / "PROVENANCE.md").read_text()


@pytest.mark.slow
def test_sites_outside_every_exclusion(kuzbass):
    checks.sites_lie_outside_every_exclusion(kuzbass)


@pytest.mark.slow
def test_sites_inside_separated_scored(kuzbass):
    checks.sites_are_inside_ranked_separated_and_scored(kuzbass)
    checks.suitability_is_in_unit_interval_and_nan_where_excluded(kuzbass)
    ranked = kuzbass.sites[kuzbass.sites["origin"] == "suitability"]  # not the Weber points
    counts = ranked["profile"].value_counts().to_dict()
    assert counts == {name: p.n_sites for name, p in kuzbass.scenario.profiles.items()}


@pytest.mark.slow
def test_every_mine_allocated(kuzbass):
    checks.every_demand_is_allocated(kuzbass)
    assert len(kuzbass.allocation.lines) == 77  # operating mines of the embedded layer
    a, spec = kuzbass.allocation, kuzbass.scenario.allocation
    assert a.model == "capacitated" and spec.p is None  # the opening cost chose how many
    # Proven within HiGHS's relative tolerance, unless a loaded machine stopped the solve at its
    # time limit first: then the run reports the gap it proved (asserting speed would time the
    # machine).
    assert a.gap >= 0 and (a.gap <= 1e-4 or a.seconds >= 0.9 * spec.time_limit)
    # The sweep's mixes with suitability stop at the time limit on slow machines: each row
    # reports the gap it proved (not asserted small: that would time the machine); the row of
    # weight 0 is the main solve itself.
    assert len(a.pareto) == spec.pareto_steps
    assert ((a.pareto["gap"] >= 0) & np.isfinite(a.pareto["gap"])).all()
    assert a.pareto["transport"].iloc[0] == pytest.approx(a.transport)


@pytest.mark.slow
def test_technoparks_sit_by_uglenaukograd_and_covering_reaches_other_cities(kuzbass):
    anchors = kuzbass.layers["anchors"]
    ugle = anchors[anchors["kind"] == "ugle_naukograd"].geometry.iloc[0]
    parks = kuzbass.sites_of("technopark")
    assert parks.iloc[0].geometry.distance(ugle) < 15_000
    assert "Kemerovo" in parks.iloc[0]["near"]
    c = kuzbass.covering
    assert c.sites["status"].tolist().count("existing") == 2  # UgleNaukoGrad + Kuzbass Technopark
    new = c.sites[c.sites["status"] == "new"]
    assert len(new) == kuzbass.scenario.covering.p
    assert new.geometry.distance(ugle).min() > 60_000  # the new ones serve other cities
    assert c.baseline < c.coverage <= c.total


@pytest.mark.slow
def test_processing_plants_sit_near_mines_and_rail(kuzbass):
    plants = kuzbass.sites[kuzbass.sites["profile"] == "processing_plant"]
    # The suitability's sites; a growth pole's Weber point is where its coal is, rail or not.
    assert (plants.loc[plants["origin"] == "suitability", "raw_rail"] <= 15_000).all()
    mines = kuzbass.layers["mines"]
    nearest_mine = np.array([mines.distance(g).min() for g in plants.geometry])
    assert nearest_mine.max() < 30_000


@pytest.mark.slow
def test_growth_poles_cover_most_output(kuzbass):
    clusters = kuzbass.clusters
    mines = kuzbass.layers["mines"]
    assert len(clusters) >= 3
    assert clusters["total_weight"].sum() >= 0.8 * mines["output"].sum()
    for _, pole in clusters.iterrows():
        members = mines[mines["cluster"] == pole["cluster"]]
        assert pole["n_members"] == len(members)
        assert pole["total_weight"] == pytest.approx(members["output"].sum())
        assert pole["total_capacity"] == pytest.approx(members["capacity_mtpa"].sum())
        assert shapely.contains(pole.geometry, members.geometry).all()  # the concave outline


GEM_SCENARIO = """
name = "gem"
crs = "EPSG:32645"
resolution = 2000
study_area = "oblast"

[layers.oblast]
path = "{shared}/admin/kemerovo_oblast_boundary.geojson"

[layers.mines]
path = "{shared}/gem/gcmt_non_closed_kuzbass_bbox.csv"
reader = "gem"
boundaries = "{shared}/gem/gem_coal_mine_boundaries_methane_kuzbass.geojson"
where = "status == 'operating' and output > 0"  # names after `fields`
fields = {{ output = "output_mtpa" }}

[layers.rivers]
path = "{shared}/naturalearth/ne_10m_rivers_lake_centerlines_kuzbass.geojson"

[layers.towns]
path = "{shared}/naturalearth/ne_50m_urban_areas_kuzbass.geojson"

[friction]
resolution = 4000
off_road = 4.0
impassable = [{{ layer = "rivers", buffer_m = 100 }}]

[profiles.processing_plant]
min_area_ha = 400
n_sites = 6
min_separation_m = 15000

[[profiles.processing_plant.criteria]]
name = "haul_cost"
kind = "cost_distance"
layer = "mines"
weight_field = "output"
standardize = {{ fn = "linear", direction = "lower" }}
weight = 0.6

[[profiles.processing_plant.criteria]]
name = "river"
kind = "distance"
layer = "rivers"
standardize = {{ fn = "linear", low = 0, high = 20000, direction = "lower" }}
weight = 0.4

[[profiles.processing_plant.exclusions]]
layer = "towns"
buffer_m = 1000

[[profiles.processing_plant.exclusions]]
layer = "mines"
buffer_m = 2000

[models.clusters]
layer = "mines"
eps_m = 15000
min_weight = 5

[models.allocation]
profile = "processing_plant"
p = 3

[outputs]
dir = "{out}"
"""


def test_real_gem_and_boundary_scenario_runs(tmp_path):
    path = tmp_path / "gem.toml"
    path.write_text(
        GEM_SCENARIO.format(shared=SHARED.resolve().as_posix(), out=(tmp_path / "out").as_posix())
    )
    result = siting.run(path)
    mines = result.layers["mines"]
    assert 70 <= len(mines) <= 86  # operating GEM mines with output, near the oblast
    assert "Raspadskaya" in set(mines["name"])
    # Mines with a GEM licence boundary are its polygons (as the reader gives them), not points.
    polygons = mines[mines["boundary_source"] == "gem"]
    assert len(polygons) >= 5 and set(polygons.geom_type) <= {"Polygon", "MultiPolygon"}
    from siting.inputs.sources.gem import read_gem

    gem = read_gem(
        SHARED / "gem" / "gcmt_non_closed_kuzbass_bbox.csv",
        boundaries=SHARED / "gem" / "gem_coal_mine_boundaries_methane_kuzbass.geojson",
    ).set_index("gem_id")
    for row in polygons.itertuples():
        expected = gem.loc[[row.gem_id]].to_crs(mines.crs).geometry.iloc[0]
        assert row.geometry.symmetric_difference(expected).area < 1e-6 * expected.area
    checks.sites_lie_outside_every_exclusion(result)
    checks.sites_are_inside_ranked_separated_and_scored(result)
    checks.every_demand_is_allocated(result)
    assert (result.output_dir / "siting.gpkg").is_file()
