"""Every output shows the models end to end, with the run's own numbers: the capacitated
location-allocation with its Pareto sweep, the maximal covering of technoparks with an existing
facility kept open, the growth poles' Weber points snapped to eligible land (GeoPackage,
``pareto.csv``, ``run.json``, the web map and the report). The run is the synthetic world of
``conftest`` with the models of ``tests/modelled.py``."""

import io
import json
import re
import sqlite3

import geopandas as gpd
import matplotlib.image
import modelled
import numpy as np
import pandas as pd
import pyogrio
import pytest

import siting
from siting.exports.report import document as report
from siting.exports.webmap import page as webmap


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("modelled")
    result = siting.run(modelled.scenario(base / "world", base / "out"))
    # What the tests below rely on: every model on, and a covering the new site improves.
    assert result.allocation.model == "capacitated" and result.allocation.pareto is not None
    assert result.covering is not None and result.covering.baseline < result.covering.coverage
    assert result.scenario.clusters.snap_profile == "processing_plant"
    return result


@pytest.fixture(scope="module")
def tables(run):
    path = run.output_dir / "siting.gpkg"
    return {
        name: gpd.read_file(path, layer=name)
        for name in (
            "allocation_plants",
            "allocation_lines",
            "allocation_pareto",
            "covering_sites",
            "covering_demand",
            "cluster_weber_snapped",
        )
    }


@pytest.fixture(scope="module")
def info(run):
    def no_nan(constant: str):
        raise AssertionError(f"run.json holds {constant}: not valid JSON")

    text = (run.output_dir / "run.json").read_text(encoding="utf-8")
    return json.loads(text, parse_constant=no_nan)


# --- GeoPackage and pareto.csv -------------------------------------------------------------------


def test_covering_sites_are_the_existing_ones_plus_p_new(run, tables):
    spec = run.scenario.covering
    sites = tables["covering_sites"]
    anchors = run.layers["anchors"]
    kept = anchors.query(spec.existing_where)
    assert list(kept["name"]) == ["UgleNaukoGrad"]
    assert len(sites) == len(kept) + spec.p == 2
    assert sites["status"].value_counts().to_dict() == {"existing": 1, "new": spec.p}
    existing = sites[sites["status"] == "existing"]
    assert list(existing["name"]) == ["UgleNaukoGrad"]
    assert existing.geometry.iloc[0].equals_exact(kept.geometry.iloc[0], 1e-6)
    assert (existing["site_id"] == "").all() and existing["score"].isna().all()
    new = sites[sites["status"] == "new"]
    proposed = run.sites_of(spec.profile).set_index("site_id")
    assert set(new["site_id"]) <= set(proposed.index)
    assert list(new["name"]) == list(new["site_id"])
    np.testing.assert_allclose(new["score"], proposed.loc[new["site_id"], "score"])
    np.testing.assert_allclose(new.geometry.x, proposed.loc[new["site_id"], "x"])
    # Each site's covered demand adds up to the coverage; only the new site covers anything.
    assert sites["covered_weight"].sum() == pytest.approx(run.covering.coverage)
    assert new["covered_weight"].sum() == pytest.approx(run.covering.coverage)
    assert existing["covered_weight"].sum() == pytest.approx(run.covering.baseline) == 0.0


def test_covering_demand_has_its_minutes_and_whether_they_are_within_the_limit(run, tables):
    limit = run.scenario.covering.max_minutes
    demand = tables["covering_demand"].set_index("name")
    expected = run.covering.demand.set_index("name")
    assert list(demand.index) == ["Town", "Village"]
    np.testing.assert_allclose(demand["minutes"], expected["minutes"])
    np.testing.assert_allclose(demand["weight"], [100_000, 5_000])
    assert list(demand["covered"]) == list(demand["minutes"] <= limit) == [True, False]
    new_site = run.covering.sites.loc[run.covering.sites["status"] == "new", "name"].iloc[0]
    assert list(demand["served_by"]) == [new_site, ""]
    assert demand.loc[demand["covered"], "weight"].sum() == pytest.approx(run.covering.coverage)
    assert demand["weight"].sum() == pytest.approx(run.covering.total) == 105_000


def test_allocation_plants_and_lines_carry_km_capacity_and_utilisation(run, tables):
    a = run.allocation
    plants = tables["allocation_plants"]
    assert list(plants["site_id"]) == list(a.plants["site_id"])
    assert (plants["capacity"] == modelled.ALLOCATION["capacity"]).all()
    np.testing.assert_allclose(plants["utilisation"], plants["served_weight"] / 12)
    assert (plants["utilisation"] <= 1 + 1e-9).all()
    np.testing.assert_allclose(plants["served_weight"], a.plants["served_weight"])
    assert plants["served_weight"].sum() == pytest.approx(26.0)  # every mine's output
    lines = tables["allocation_lines"]
    assert {"km", "weight_x_km", "share"} <= set(lines.columns)
    assert not {"cost", "weight_x_cost"} & set(lines.columns)
    np.testing.assert_allclose(lines["weight_x_km"], lines["weight"] * lines["km"])
    np.testing.assert_allclose(lines["km"], a.lines["km"])
    assert lines["weight_x_km"].sum() == pytest.approx(a.transport)
    per_plant = lines.groupby("site_id")["weight_x_km"].sum()
    np.testing.assert_allclose(per_plant.loc[plants["site_id"]], plants["weight_x_km"])


def test_pareto_is_an_attributes_table_equal_to_the_sweep(run, tables):
    path = run.output_dir / "siting.gpkg"
    geometry = dict(pyogrio.list_layers(path))
    assert geometry["allocation_pareto"] is None
    assert pyogrio.read_info(path, layer="allocation_pareto")["crs"] is None
    with sqlite3.connect(path) as db:
        kind = db.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = 'allocation_pareto'"
        ).fetchone()
    assert kind == ("attributes",)
    table = tables["allocation_pareto"]
    assert not isinstance(table, gpd.GeoDataFrame)
    pd.testing.assert_frame_equal(table, run.allocation.pareto, check_dtype=False)
    assert list(table["suitability_weight"]) == [0.0, 0.5, 1.0]


def test_pareto_csv_equals_the_sweep_and_its_first_row_is_the_run(run):
    pareto = run.allocation.pareto
    csv = pd.read_csv(run.output_dir / "pareto.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(csv, pareto, check_dtype=False, check_exact=True)
    first = csv.iloc[0]  # α = 0: the run's own objective (suitability_weight 0)
    assert first["transport"] == pytest.approx(run.allocation.transport)
    assert first["plants"] == ", ".join(run.allocation.plants["site_id"])


def test_snapped_weber_points_stand_on_eligible_land(run, tables):
    snapped = tables["cluster_weber_snapped"]
    clusters = run.clusters
    assert len(snapped) == len(clusters) == 2
    np.testing.assert_allclose(snapped.geometry.x, clusters["weber_snap_x"])
    np.testing.assert_allclose(snapped.geometry.y, clusters["weber_snap_y"])
    moved = np.hypot(
        snapped["weber_snap_x"] - snapped["weber_x"], snapped["weber_snap_y"] - snapped["weber_y"]
    )
    np.testing.assert_allclose(snapped["snap_m"], moved)
    assert (snapped["snap_profile"] == "processing_plant").all()
    suitability = run.suitability("processing_plant")
    assert np.isfinite(suitability.sample(snapped.geometry.x, snapped.geometry.y)).all()
    # The Weber points sit on mines, excluded with 1.5 km around them: each one had to move.
    exact = suitability.sample(clusters["weber_x"], clusters["weber_y"])
    assert np.isnan(exact).all() and (snapped["snap_m"] > 1000).all()


# --- run.json ------------------------------------------------------------------------------------


def test_run_json_records_the_allocation_and_its_proof(run, info):
    a = run.allocation
    got = info["allocation"]
    assert got["model"] == "capacitated" and got["method"] == a.method
    assert got["profile"] == "processing_plant"
    assert got["plants"] == list(a.plants["site_id"])
    assert got["n_plants"] == got["p"] == len(a.plants) == a.p
    assert got["capacity"] == 12 and got["opening_cost"] == 20
    for key in ("objective", "transport", "mean_suitability", "lower_bound", "gap", "seconds"):
        assert got[key] == pytest.approx(getattr(a, key)), key
    assert got["transport"] == pytest.approx(a.lines["weight_x_km"].sum())
    assert got["objective"] == pytest.approx(a.transport + 20 * len(a.plants), rel=1e-6)
    assert got["transport_units"].startswith("Mt·km/yr")
    assert len(got["pareto"]) == len(a.pareto)
    for row, want in zip(got["pareto"], a.pareto.to_dict(orient="records"), strict=True):
        assert row == pytest.approx(want)


def test_run_json_records_the_covering(run, info):
    c = run.covering
    got = info["covering"]
    assert got["profile"] == "technopark" and got["p"] == 1 and got["max_minutes"] == 5
    assert got["coverage"] == pytest.approx(c.coverage) == 100_000
    assert got["baseline"] == pytest.approx(c.baseline) == 0
    assert got["total"] == pytest.approx(c.total) == 105_000
    assert got["share"] == pytest.approx(100_000 / 105_000)
    assert got["gap"] == pytest.approx(c.gap) and got["seconds"] == pytest.approx(c.seconds)
    assert got["existing"] == ["UgleNaukoGrad"]
    assert (
        got["new"] == got["new_site_ids"] == list(c.sites.loc[c.sites["status"] == "new", "name"])
    )
    assert info["scenario"]["covering"]["existing_where"] == "kind == 'ugle_naukograd'"


# --- web map -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(run):
    return (run.output_dir / "map.html").read_text(encoding="utf-8")


def has_name(html: str, name: str) -> bool:
    return json.dumps(name) in html or f'"{name}"' in html


def test_map_has_the_covering_group_and_the_snapped_weber_points(page, run):
    names = webmap.covering_names(run)
    assert names["demand"] == "Demand reached within 5 min (green) or not (red)"
    for name in [*names.values(), "Technoparks (covering)", webmap._weber_name(run)]:
        assert has_name(page, name), name
    assert webmap._weber_name(run) == "Growth-pole Weber points (★ snapped to eligible land)"
    for _, c in run.clusters.iterrows():
        assert (
            f"Pole {c['cluster']}: Weber point moved {c['snap_m'] / 1000:.1f} km to the nearest "
            "eligible Processing plant cell" in page
        )
    assert (
        "Technoparks: 1 new + 1 existing reach 95.2% of population within 5 min "
        "(existing alone 0.0%)." in page
    )


def test_map_covering_popups_and_demand_tooltips(page, run):
    c = run.covering
    for _, site in c.sites.iterrows():
        n = int(site["n_covered"])
        settlements = "settlement" if n == 1 else "settlements"
        assert (
            f"covers {site['covered_weight']:,.0f} population in {n} {settlements} within 5 min"
            in page
        ), site["name"]
    new = c.sites.loc[c.sites["status"] == "new"].iloc[0]
    assert f"(new: <code>{new['site_id']}</code>, score {new['score']:.3f})" in page
    assert "<b>UgleNaukoGrad</b> (existing, kept open)" in page
    town, village = c.demand.iloc[0], c.demand.iloc[1]
    assert f"Town: 100,000 population, {town['minutes']:.1f} min to {new['name']} (covered)" in page
    assert (
        f"Village: 5,000 population, {village['minutes']:.1f} min to the nearest open site "
        "(not covered)" in page
    )
    # Existing and new sites get distinct glyphs; covered and uncovered demand distinct colours.
    assert page.count("siting-glyph") >= 2 + len(run.clusters)
    for colour in webmap.COVERED_COLORS.values():
        assert colour in page


def test_map_lines_in_km_and_plant_popups_with_capacity(page, run):
    a = run.allocation
    for _, line in a.lines.iterrows():
        tooltip = (
            f"{line['demand']} → {line['site_id']}: {line['weight']:.2f} Mt/yr, "
            f"{line['km']:.1f} km road-equivalent cost over {line['route_km']:.1f} km of "
            f"least-cost route, {line['weight_x_km']:,.1f} Mt·km/yr"
        )
        assert tooltip in page
    for _, plant in a.plants.iterrows():
        assert (
            f"<b>capacitated plant</b>: serves {plant['n_served']} mines, "
            f"{plant['served_weight']:.1f} Mt/yr<br>capacity 12.0 Mt/yr, utilisation "
            f"<b>{plant['utilisation']:.0%}</b>" in page
        )


# --- report --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def texts(run):
    out = run.output_dir
    return (out / "report.md").read_text(encoding="utf-8"), (out / "report.html").read_text(
        encoding="utf-8"
    )


def test_report_sections_include_covering_in_order(texts):
    md, page = texts
    heads = re.findall(r"^## (.+)$", md, re.M)
    assert heads == re.findall(r"<h2[^>]*>([^<]+)</h2>", page)
    assert heads[-6:] == [
        "Growth poles",
        "Location-allocation",
        "Technoparks: maximal covering",
        "Sensitivity: how robust the plan is",
        "How exact the layers are",
        "Data provenance and versions",
    ]
    assert "### Pareto front: transport against site suitability" in md


def test_report_states_the_model_solver_objective_and_proof(run, texts):
    a = run.allocation
    md, page = texts
    for text in (md, page):
        assert (
            "capacitated facility location: plants of capacity 12 Mt/yr, each opening costing "
            "20 Mt·km/yr; the opening costs decide how many plants (3 opened); each demand "
            "feature served by one plant (single-sourcing)" in text
        )
        assert f"Solver: {a.method}." in text
        assert f"Objective: {report.num(a.objective)} Mt·km/yr." in text
        assert (
            f"Proven lower bound: {report.num(a.lower_bound)} Mt·km/yr; proven gap {a.gap:.2%}"
            in text
        )
        assert f"Transport Σ weight × km: {report.num(a.transport)} Mt·km/yr." in text
        assert f"weighted by the demand they serve: {a.mean_suitability:.3f}." in text
    assert a.method == "exact: HiGHS MILP" and f"{a.gap:.2%}" == "0.00%"
    for _, p in a.plants.iterrows():
        row = (
            f"| {p['site_id']} | {p['rank']} | {p['score']:.3f} | {p['n_served']} | "
            f"{report.num(p['served_weight'])} | 12 | {100 * p['utilisation']:.1f} | "
            f"{report.num(p['weight_x_km'])} |"
        )
        assert row in md
    for _, line in a.lines.iterrows():
        assert f"| {line['site_id']} | {line['demand']} | {report.num(line['weight'])} | " in md
        route = f"{line['km']:,.1f} | {line['route_km']:,.1f}"
        assert f" | {route} | {report.num(line['weight_x_km'])} |" in md


def test_report_pareto_table_and_figure(run, texts):
    md, page = texts
    pareto = run.allocation.pareto
    assert "pareto.png" in report.figure_names(run)
    for _, r in pareto.iterrows():
        row = (
            f"| {report.num(r['suitability_weight'])} | {report.num(r['transport'])} | "
            f"{r['mean_suitability']:.3f} | {r['n_plants']} | {r['plants']} | {r['gap']:.2%} | "
            f"{'yes' if r['pareto_optimal'] else 'no'} |"
        )
        assert row in md
    assert f"{int(pareto['pareto_optimal'].sum())} of the 3 solutions are Pareto-optimal" in md
    assert "![Pareto front of the 3 solutions" in md
    png = run.output_dir / "report_files" / "pareto.png"
    pixels = matplotlib.image.imread(io.BytesIO(png.read_bytes()), format="png")[..., :3]
    red = np.all(np.abs(pixels - np.array([214, 39, 40]) / 255) < 0.02, axis=-1)
    assert red.sum() > 100  # the Pareto-optimal points and their line are drawn
    assert page.count("<img") == len(report.figure_names(run)) == 3 + len(run.scenario.profiles)


def test_report_covering_numbers(run, texts):
    c = run.covering
    md, page = texts
    for text in (md, page):
        assert "Covered in all: 100,000 of 105,000 population (95.2%)." in text
        assert "By the existing facilities alone (baseline): 0 (0.0%)." in text
        assert "Added by the 1 new site(s): 100,000 (95.2%)." in text
        assert f"Time limit 5 min; proven gap {c.gap:.2%}" in text
        assert "1 existing facility is kept open" in text
    new = c.sites.loc[c.sites["status"] == "new"].iloc[0]
    assert "| UgleNaukoGrad | existing | – | – | 0 | 0.0% | 0 |" in md
    assert (
        f"| {new['name']} | new | {new['site_id']} | {new['score']:.3f} | 100,000 | 95.2% | 1 |"
        in md
    )
    assert f"| Town | 100,000 | {c.demand['minutes'].iloc[0]:.1f} | yes | {new['name']} |" in md
    assert f"| Village | 5,000 | {c.demand['minutes'].iloc[1]:.1f} | no | – |" in md


def test_report_growth_poles_give_the_snapped_weber_point(run, texts):
    md, _ = texts
    assert "moved to the nearest eligible cell of Processing plant" in md
    for _, c in run.clusters.iterrows():
        assert (
            f"| {c['weber_x']:,.0f} E, {c['weber_y']:,.0f} N | {c['weber_snap_x']:,.0f} E, "
            f"{c['weber_snap_y']:,.0f} N | {c['snap_m'] / 1000:.1f} | {c['members']} |" in md
        )
