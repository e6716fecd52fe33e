"""Existing facilities: the embedded Kuzbass layer, and expand-or-build in the capacitated
facility location (existing plants open at no opening cost, grown at an expansion cost; new
sites pay the opening cost)."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest

import siting
from siting.config.loader import load
from siting.config.scenario import AllocationModel
from siting.errors import InfeasibleError, LayerError, ScenarioError
from siting.existing import existing_plants, with_existing
from siting.models import CapacitatedFacilityLocation

from clitools import edit

REPO = Path(__file__).resolve().parents[1]
FACILITIES = REPO / "layers" / "kuzbass" / "facilities.geojson"
KINDS = {"preparation_plant", "coke_plant", "coal_chemical"}


# ----------------------------------------------------------------------------- the layer


def test_facilities_layer_fields() -> None:
    g = gpd.read_file(FACILITIES)
    assert g.crs is not None and g.crs.to_epsg() == 4326
    assert set(g.geom_type) == {"Point"}
    for field in ("name", "kind", "source"):
        assert g[field].map(lambda v: isinstance(v, str) and v.strip() != "").all(), field
    assert g["name"].is_unique
    assert set(g["kind"]) == KINDS
    capacity = g["capacity_mtpa"].to_numpy(dtype=float)
    given = capacity[~np.isnan(capacity)]
    assert len(given) >= 5 and np.isfinite(given).all() and (given >= 0).all()
    # Capacities are published figures: only preparation plants carry one (Mt/yr of coal).
    assert g.loc[g["capacity_mtpa"].notna(), "kind"].eq("preparation_plant").all()
    # Every feature says how exact it is; an unpublished capacity says so in its note.
    assert set(g["exactness"]) == {"placed"}
    assert (g["error_m"] >= 3000).all()
    empty = g[g["capacity_mtpa"].isna()]
    assert empty["note"].str.contains("capacity").all()
    minx, miny, maxx, maxy = g.total_bounds
    assert minx > 84.0 and maxx < 90.0 and miny > 51.8 and maxy < 57.2
    # The known places: the coke plants of Kemerovo and Novokuznetsk, Raspadskaya at 15 Mt/yr.
    named = dict(zip(g["name"], g["capacity_mtpa"], strict=True))
    assert named["OF Raspadskaya"] == 15.0
    assert {"PAO Koks (Kemerovo coke plant)", "EVRAZ ZSMK coke-chemical production"} <= set(named)


def test_facilities_coordinates_rounded() -> None:
    text = FACILITIES.read_text(encoding="utf-8")
    for feature in json.loads(text)["features"]:
        for value in feature["geometry"]["coordinates"]:
            assert round(value, 5) == value


def test_facilities_inside_the_oblast() -> None:
    boundary = gpd.read_file(REPO / "layers" / "kuzbass" / "boundary.geojson")
    g = gpd.read_file(FACILITIES)
    assert g.within(boundary.geometry.iloc[0]).all()


# ----------------------------------------------------------------------------- the model


def _fit(expansion_cost: float | None) -> CapacitatedFacilityLocation:
    # Two mines of 4 each. Site 0 is an existing plant of 5 (grows by up to 5), site 1 a new
    # site of 10 opening at 20. Cost per unit: mine 0 → (1, 2), mine 1 → (3, 1).
    cost = np.array([[1.0, 2.0], [3.0, 1.0]])
    return CapacitatedFacilityLocation(
        capacity=np.array([10.0, 10.0]),
        opening_cost=20.0,
        single_sourcing=True,
        existing=np.array([5.0, 0.0]),
        expansion_cost=expansion_cost,
    ).fit(cost, sample_weight=np.array([4.0, 4.0]))


def test_expanding_beats_building() -> None:
    # Expand: both mines to the existing plant, 4·1 + 4·3 = 16, plus 3 units added × 1 = 19.
    # Build: open site 1 (20), mine 0 → 0 (4), mine 1 → 1 (4): 28.
    model = _fit(expansion_cost=1.0)
    assert model.facilities_.tolist() == [0]
    assert model.objective_ == pytest.approx(19.0)
    assert model.expansion_.tolist() == pytest.approx([3.0, 0.0])
    assert model.assignment_[:, 0].tolist() == pytest.approx([1.0, 1.0])


def test_building_beats_expanding() -> None:
    # At 5 per unit added, expanding costs 16 + 15 = 31 > 28 for building site 1.
    model = _fit(expansion_cost=5.0)
    assert model.facilities_.tolist() == [0, 1]
    assert model.objective_ == pytest.approx(28.0)
    assert model.expansion_.tolist() == pytest.approx([0.0, 0.0])
    assert model.assignment_.argmax(axis=1).tolist() == [0, 1]


def test_no_expansion_without_its_cost() -> None:
    # None: the existing plant keeps its 5 (8 would not fit), so site 1 is built (28).
    model = _fit(expansion_cost=None)
    assert model.objective_ == pytest.approx(28.0)
    assert model.expansion_.tolist() == pytest.approx([0.0, 0.0])


def test_existing_plant_open_even_unused() -> None:
    # The existing plant is far (cost 100): it stays open, serving nothing, at no cost.
    cost = np.array([[100.0, 1.0]])
    model = CapacitatedFacilityLocation(
        capacity=10.0, opening_cost=5.0, existing=np.array([3.0, 0.0])
    ).fit(cost, sample_weight=np.array([2.0]))
    assert model.facilities_.tolist() == [0, 1]
    assert model.objective_ == pytest.approx(5.0 + 2.0)


def _brute_force(
    cost: np.ndarray,
    w: np.ndarray,
    cap: np.ndarray,
    fixed: np.ndarray,
    held: np.ndarray,
    unit: float,
) -> float:
    """Least cost over every single-sourcing assignment: transport, the opening cost of each
    new site used, and the expansion of each existing plant beyond what it holds."""
    n, m = cost.shape
    best = math.inf
    for choice in itertools.product(range(m), repeat=n):
        load = np.bincount(choice, weights=w, minlength=m)
        if (load > cap + 1e-9).any():
            continue
        total = float(sum(w[i] * cost[i, j] for i, j in enumerate(choice)))
        total += float(fixed[(held == 0) & (load > 0)].sum())
        total += unit * float(np.clip(load - held, 0, None)[held > 0].sum())
        best = min(best, total)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_expand_or_build_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 5, 4
    cost = rng.uniform(0, 10, (n, m)).round(2)
    w = rng.integers(1, 5, n).astype(float)
    held = np.array([3.0, 2.0, 0.0, 0.0])
    grow = 4.0
    cap = np.where(held > 0, held + grow, 8.0)
    fixed = np.array([0.0, 0.0, 15.0, 12.0])
    unit = float(rng.uniform(0.5, 6))
    model = CapacitatedFacilityLocation(
        cap, fixed, single_sourcing=True, existing=held, expansion_cost=unit, tol=1e-9
    ).fit(cost, sample_weight=w)
    expected = _brute_force(cost, w, cap, fixed, held, unit)
    assert model.objective_ == pytest.approx(expected, rel=1e-6)
    shipped = (w[:, None] * model.assignment_).sum(axis=0)
    assert np.all(shipped <= np.where(held > 0, held + model.expansion_, 8.0) + 1e-6)
    assert np.all(model.expansion_ <= np.where(held > 0, grow, 0.0) + 1e-9)


def test_p_below_the_existing_plants_is_infeasible() -> None:
    with pytest.raises(InfeasibleError, match="2 existing plants stay open"):
        CapacitatedFacilityLocation(
            capacity=10.0, opening_cost=1.0, p=1, existing=np.array([3.0, 3.0, 0.0])
        ).fit(np.ones((2, 3)), sample_weight=np.ones(2))


def test_existing_above_capacity_is_refused() -> None:
    with pytest.raises(ValueError, match="existing exceeds capacity"):
        CapacitatedFacilityLocation(capacity=2.0, opening_cost=1.0, existing=3.0).fit(
            np.ones((2, 1)), sample_weight=np.ones(2)
        )


# ----------------------------------------------------------------------------- the scenario


def _spec(**extra: object) -> AllocationModel:
    keys: dict[str, object] = {
        "profile": "plant",
        "capacity": 8.0,
        "opening_cost": 100.0,
        "existing": "facilities",
        "existing_where": "kind == 'preparation_plant'",
    }
    return AllocationModel(**{**keys, **extra})  # type: ignore[arg-type]


def test_existing_capacities_from_the_layer() -> None:
    layer = gpd.read_file(FACILITIES).to_crs("EPSG:32645")
    plants = existing_plants(
        _spec(existing_capacity_field="capacity_mtpa", existing_capacity=3.0), layer
    )
    assert set(plants["kind"]) == {"preparation_plant"}
    published = plants["capacity_mtpa"].notna()
    assert (
        plants.loc[published, "existing_capacity"].tolist()
        == plants.loc[published, "capacity_mtpa"].tolist()
    )
    assert (plants.loc[~published, "existing_capacity"] == 3.0).all()
    # Without a field or a default, an existing plant counts a new plant's capacity.
    assert (existing_plants(_spec(), layer)["existing_capacity"] == 8.0).all()


def test_existing_capacity_field_checked() -> None:
    layer = gpd.read_file(FACILITIES).to_crs("EPSG:32645")
    with pytest.raises(ScenarioError, match="existing_capacity_field = 'mtpa'"):
        existing_plants(_spec(existing_capacity_field="mtpa"), layer)
    layer.loc[0, "capacity_mtpa"] = -1.0
    with pytest.raises(LayerError, match="finite number > 0 or empty"):
        existing_plants(_spec(existing_capacity_field="capacity_mtpa"), layer)
    with pytest.raises(ScenarioError, match="selects no feature"):
        existing_plants(_spec(existing_where="kind == 'brewery'"), layer)


def _kuzbass_with(tmp_path: Path, old: str, new: str) -> Path:
    """The Kuzbass scenario with ``old`` replaced by ``new``, beside a copy of its layers."""
    folder = REPO / "layers" / "kuzbass"
    for layer in folder.glob("*.geojson"):
        shutil.copy(layer, tmp_path)
    text = (folder / "scenario.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "scenario.toml"
    path.write_text(text.replace(old, new).replace("#:schema", "# schema"), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('existing = "facilities"\n', "", "models.allocation.existing_where needs"),
        ("capacity = 10\nopening_cost = 131\n", "p = 12\n", "models.allocation.existing needs"),
    ],
)
def test_existing_keys_need_existing_and_capacity(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        load(_kuzbass_with(tmp_path, old, new))


def test_with_existing_puts_them_first() -> None:
    layer = gpd.read_file(FACILITIES).to_crs("EPSG:32645")
    sites = gpd.GeoDataFrame(
        {"site_id": ["plant-1"], "profile": ["plant"], "rank": [1], "score": [0.7]},
        geometry=gpd.points_from_xy([600000.0], [6000000.0]),
        crs="EPSG:32645",
    )
    sites["x"], sites["y"] = 600000.0, 6000000.0
    both = with_existing(_spec(), {"facilities": layer}, sites)
    n = int((layer["kind"] == "preparation_plant").sum())
    assert len(both) == n + 1
    assert both["origin"].iloc[:n].eq("existing").all()
    assert both["site_id"].iloc[n] == "plant-1" and both["rank"].iloc[n] == 1
    assert (both["existing_capacity"].iloc[:n] == 8.0).all()
    assert both["profile"].eq("plant").all()


@pytest.mark.parametrize(
    ("opening", "expansion", "status"), [(1000, 1, "expanded"), (1, 1000, "existing")]
)
def test_synthetic_run_expands_or_builds(
    world: Path, opening: float, expansion: float, status: str
) -> None:
    # 26 Mt/yr of mines; the GRES stands in for an existing plant of 4 Mt/yr that may grow by up
    # to 12, a new plant takes 12. Opening dear and growing cheap: the GRES grows (by at least
    # 26 − 12 − 4 = 10: it takes 14 of the 26 beside one new plant).
    # Growing dear: the GRES keeps its 4 and new plants take the rest.
    path = edit(
        world,
        "p = 2\n",
        f'capacity = 12\nopening_cost = {opening}\nexisting = "power_plants"\n'
        f"existing_capacity = 4\nexpansion_cost = {expansion}\n",
    )
    a = siting.run(path, write=False, cache=False).allocation
    assert a is not None
    plants = a.plants.set_index("site_id")
    assert plants.loc["GRES", "status"] == status
    assert plants.loc["GRES", "existing_capacity"] == 4.0
    grown = plants.loc["GRES", "expansion"]
    assert plants.loc["GRES", "capacity"] == pytest.approx(4.0 + grown)
    new = plants[plants["status"] == "new"]
    if status == "expanded":
        assert len(new) == 1 and grown >= 10.0 - 1e-6
    else:
        assert grown == 0.0 and len(new) >= 2
    assert (new["capacity"] == 12.0).all()
    assert plants["served_weight"].sum() == pytest.approx(26.0)
    assert (plants["served_weight"] <= plants["capacity"] + 1e-6).all()


@pytest.mark.slow
def test_kuzbass_uses_existing_plants(tmp_path: Path) -> None:
    result = siting.run(resolution=1000, output_dir=tmp_path, cache=False)
    a = result.allocation
    assert a is not None
    layer = result.layers["facilities"]
    prep = set(layer.loc[layer["kind"] == "preparation_plant", "name"])
    plants = a.plants.set_index("site_id")
    # Every existing preparation plant is open (at no opening cost), marked existing or
    # expanded; the proposed sites opened are new.
    assert prep <= set(plants.index)
    assert set(plants.loc[list(prep), "status"]) <= {"existing", "expanded"}
    others = plants.drop(index=list(prep))
    assert others["status"].eq("new").all() and (others["capacity"] == 10.0).all()
    grown = plants["status"] == "expanded"
    assert (plants.loc[grown, "expansion"] > 0).all()
    assert np.allclose(
        plants.loc[list(prep), "capacity"],
        plants.loc[list(prep), "existing_capacity"] + plants.loc[list(prep), "expansion"],
    )
    assert (plants["served_weight"] <= plants["capacity"] + 1e-6).all()
    # All the demand is served, part of it by the existing plants, on the network haul.
    assert a.lines["weight"].sum() == pytest.approx(plants["served_weight"].sum())
    assert plants.loc[list(prep), "served_weight"].sum() > 0
    assert a.lines["site_id"].isin(prep).any()
    assert a.lines["cost_rub_t"].notna().all()
    # The outputs say so: the report's plant table, the map, the GeoPackage table.
    folder = tmp_path / "kuzbass"
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "| status |" in report
    expanded = plants.index[plants["status"] == "expanded"][0]
    assert f"{expanded} | – |" in report and "| expanded |" in report
    page = (folder / "map.html").read_text(encoding="utf-8")
    assert "Existing plants (size = capacity; red: expanded)" in page
    table = gpd.read_file(folder / "siting.gpkg", layer="allocation_plants")
    assert set(table["status"]) == {"new", "existing", "expanded"} & set(plants["status"])
    assert "input_facilities" in set(pyogrio.list_layers(folder / "siting.gpkg")[:, 0])
