"""Invariants every run must satisfy, shared by the synthetic and the Kuzbass run tests."""

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from siting.demand import is_demand
from siting.existing import with_existing
from siting.exports import gpkg


def outputs_reopen_in_the_scenario_crs(result) -> None:
    out = result.output_dir
    epsg = int(result.scenario.crs.split(":")[1])
    names = {p.name for p in out.iterdir()}
    expected = {
        "map.html",
        "siting.gpkg",
        "report.md",
        "report.html",
        "report_files",
        "run.json",
        "criteria",
        "siting.qgz",
    }
    expected |= {f"suitability_{p}.tif" for p in result.scenario.profiles}
    assert names >= expected
    layers = {name for name, _ in pyogrio.list_layers(out / "siting.gpkg")}
    assert layers == set(gpkg.layers_of(result)) | {"layer_styles"}  # + QGIS's style table
    layers.discard("layer_styles")
    tables = gpkg.layers_of(result)
    for name in layers:
        info = pyogrio.read_info(out / "siting.gpkg", layer=name)
        if gpkg.is_spatial(tables[name]):
            assert info["crs"] == result.scenario.crs, name
        else:  # an attributes table (the allocation's Pareto sweep): no geometry, no CRS
            assert info["geometry_type"] is None and info["crs"] is None, name
    if result.allocation is not None and result.allocation.pareto is not None:
        assert "pareto.csv" in names
    sites = gpd.read_file(out / "siting.gpkg", layer="proposed_sites")
    assert len(sites) == len(result.sites)
    tifs = [*out.glob("*.tif"), *out.glob("criteria/*.tif")]
    assert len(tifs) == len(result.scenario.profiles) + len(result.criteria) + 1  # + friction
    for tif in tifs:
        with rasterio.open(tif) as src:
            assert src.crs.to_epsg() == epsg
            assert src.dtypes[0] == "float32"
            assert src.nodata == -9999.0
            if tif.name != "friction.tif":
                assert src.res == (result.grid.res, result.grid.res)
    for name in result.scenario.profiles:
        with rasterio.open(out / f"suitability_{name}.tif") as src:
            data = src.read(1, masked=True).filled(np.nan)
        np.testing.assert_allclose(data, result.suitability(name).data, equal_nan=True)
    info = json.loads((out / "run.json").read_text())
    assert info["grid"]["resolution_m"] == result.grid.res
    assert all(len(v["sha256"]) == 64 for v in info["inputs"].values())
    assert "criteria" in info["timings_s"]


def sites_lie_outside_every_exclusion(result) -> None:
    for name, surface in result.surfaces.items():
        sites = result.sites[result.sites["profile"] == name]
        assert len(sites) > 0
        assert len(surface.exclusions) == len(surface.profile.exclusions)
        for _, rule in surface.exclusions.iterrows():
            assert not sites.geometry.intersects(rule.geometry).any(), rule["reason"]


def sites_are_inside_ranked_separated_and_scored(result) -> None:
    for name, profile in result.scenario.profiles.items():
        sites = result.sites[result.sites["profile"] == name]
        assert sites.within(result.study_area).all()
        assert sites["score"].between(0, 1).all()
        assert list(sites["rank"]) == list(range(1, len(sites) + 1))
        # Weber points (origin "weber") follow the ranked sites: by transport, not by score.
        ranked = sites[sites["origin"] == "suitability"]
        assert list(ranked["rank"]) == list(range(1, len(ranked) + 1))
        assert ranked["score"].is_monotonic_decreasing
        xy = np.column_stack([ranked["x"], ranked["y"]])
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        assert d.min() >= profile.min_separation_m
        contributions = sites[[f"w_{c.name}" for c in profile.criteria]].sum(axis=1)
        np.testing.assert_allclose(contributions, sites["score"], rtol=1e-5)
        suit = result.suitability(name)
        np.testing.assert_allclose(suit.sample(sites["x"], sites["y"]), sites["score"], rtol=1e-6)


def suitability_is_in_unit_interval_and_nan_where_excluded(result) -> None:
    for surface in result.surfaces.values():
        s = surface.suitability.data
        finite = np.isfinite(s)
        assert finite.any()
        assert np.nanmin(s) >= 0 and np.nanmax(s) <= 1
        assert not (finite & surface.excluded).any()


def every_demand_is_allocated(result) -> None:
    a = result.allocation
    spec = result.scenario.allocation
    # The demand: the layer's features in the study area (all of them with demand = "padded").
    keep = is_demand(result.scenario, result.layers[spec.demand], result.study_area)
    demand = result.layers[spec.demand][keep]
    if spec.single_sourcing or spec.capacity is None:
        assert len(a.lines) == len(demand)
    assert set(a.lines["site_id"]) <= set(a.plants["site_id"])
    if spec.p is not None:
        assert len(a.plants) == spec.p
    assert a.plants["served_weight"].sum() == pytest.approx(demand[spec.weight_field].sum())
    assert a.transport == pytest.approx(a.lines["weight_x_km"].sum())
    assert np.isfinite(a.lines["km"]).all()
    # The candidates as the allocation saw them: existing plants (none without `existing`)
    # first, then the proposed sites.
    candidates = with_existing(spec, result.layers, result.sites)
    plants = candidates.set_index("site_id").loc[a.plants["site_id"]]
    km = (
        result.cost_fields[f"{spec.demand}|"].sample(plants["x"].to_numpy(), plants["y"].to_numpy())
        / 1000
    )[keep]
    if spec.suitability_weight == 0:
        opening = 0.0
        if spec.capacity is not None:
            # Existing plants are open already: only new ones pay, expansions by the unit.
            new_plants = (
                (a.plants["status"] == "new").sum() if "status" in a.plants else len(a.plants)
            )
            opening = spec.opening_cost * new_plants
            if "expansion" in a.plants:
                opening += (spec.expansion_cost or 0.0) * a.plants["expansion"].fillna(0).sum()
        assert a.objective == pytest.approx(a.transport + opening, rel=1e-6)
    if spec.capacity is None:
        # Each demand goes to its cheapest open plant.
        np.testing.assert_allclose(a.lines["km"], km.min(axis=1))
    else:
        # Each plant's capacity as built: a new one's, or an existing one's with its expansion.
        built = a.plants.get("capacity", spec.capacity)
        assert (a.plants["served_weight"] <= built * (1 + 1e-6)).all()
        assert (built <= spec.capacity + a.plants.get("existing_capacity", 0.0) + 1e-9).all()
    # Haul routes: from the demand feature to its plant, never shorter than the straight line.
    ends = plants.loc[a.lines["site_id"]]
    last = shapely.get_point(a.lines.geometry, -1)
    # The route ends at the plant's coordinates themselves, copied: equal to the bit.
    np.testing.assert_array_equal(shapely.get_x(last), ends["x"].to_numpy())
    np.testing.assert_array_equal(shapely.get_y(last), ends["y"].to_numpy())
    first = shapely.get_point(a.lines.geometry, 0)
    straight = shapely.distance(first, last)
    assert (a.lines["route_km"] * 1000 >= straight - 1e-6).all()
