"""The coal value chain of a run, ``[models.chain]``: mines → preparation plants → coke /
coal-chemical plants → markets, solved by :class:`siting.models.ValueChainLocation` over the
``[haul]`` road and rail network.

The candidates are the proposed sites of ``prep_profile`` and ``coke_profile`` plus the
existing facilities ``existing`` selects (open already, at no opening cost, with the
capacity the table assumes). Every arc's cost per tonne is the least-cost multimodal haul
(:func:`siting.network.multimodal.haul_matrix`) in truck-km equivalents, like the allocation's,
so that the opening costs are in supply × truck-km.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting.config.scenario import Scenario
from siting.demand import is_demand
from siting.errors import InfeasibleError, LayerError
from siting.inputs.layers import capacity_values, selected
from siting.models import ValueChainLocation
from siting.models.chain import STAGES
from siting.network import multimodal
from siting.raster.grid import Raster

#: The echelons' names in the flows' ``from`` / ``to``, per stage.
_ENDS = {
    "mine_prep": ("mine", "prep"),
    "prep_coke": ("prep", "coke"),
    "coke_market": ("coke", "market"),
}


@dataclass
class Chain:
    """The value chain of a run, as plain data.

    Attributes
    ----------
    flows
        One row per arc that carries coal: ``stage`` (``mine_prep``, ``prep_coke``,
        ``coke_market``), ``from`` and ``to`` (names), ``coal_type`` (empty for coke, a blend),
        ``tonnes`` (in the supply's units), ``cost`` (tonnes × truck-km), ``km`` (truck-km
        equivalents per tonne); the geometry is the route on the network.
    plants
        One row per candidate plant: ``echelon`` (``prep``, ``coke``), ``name``, ``existing``,
        ``open``, ``capacity``, ``input``, ``output``, ``onward``, ``leaves``; point geometry.
    objective
        The total cost (opening + haul), supply × truck-km.
    gap
        The solver's proven relative gap (0: optimal).
    costs
        The objective by part.
    """

    flows: gpd.GeoDataFrame
    plants: gpd.GeoDataFrame
    objective: float
    gap: float
    costs: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The chain in a few numbers, for run.json."""
        opened = self.plants[self.plants["open"]]
        tonnes = self.flows.groupby("stage")["tonnes"].sum()
        return {
            "objective": round(self.objective, 6),
            "gap": round(self.gap, 6),
            "open_prep": opened.loc[opened["echelon"] == "prep", "name"].tolist(),
            "open_coke": opened.loc[opened["echelon"] == "coke", "name"].tolist(),
            "tonnes": {s: round(float(tonnes.get(s, 0.0)), 6) for s in STAGES},
        }


def _points(gdf: gpd.GeoDataFrame) -> np.ndarray:
    pts = gdf.geometry.representative_point()
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def _names(gdf: gpd.GeoDataFrame, prefix: str) -> list[str]:
    if "name" in gdf.columns:
        return [str(v) if pd.notna(v) else f"{prefix} {i + 1}" for i, v in enumerate(gdf["name"])]
    return [f"{prefix} {i + 1}" for i in range(len(gdf))]


def _candidates(
    scenario: Scenario,
    layers: Mapping[str, gpd.GeoDataFrame],
    sites: gpd.GeoDataFrame,
    echelon: str,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """One echelon's candidates, existing facilities first, and their existing capacity."""
    spec = scenario.chain
    assert spec is not None
    profile = spec.prep_profile if echelon == "prep" else spec.coke_profile
    where = spec.prep_existing_where if echelon == "prep" else spec.coke_existing_where
    held = spec.existing_prep_capacity if echelon == "prep" else spec.existing_coke_capacity
    own = sites[sites["profile"] == profile].reset_index(drop=True)
    new = gpd.GeoDataFrame(
        {"name": [f"{profile} #{r}" for r in own["rank"]]},
        geometry=gpd.points_from_xy(own["x"], own["y"]),
        crs=scenario.crs,
    )
    parts, existing = [], []
    if spec.existing is not None and where is not None:
        key = f"models.chain.{echelon}_existing_where"
        found = selected(layers[spec.existing], where, key, spec.existing).reset_index(drop=True)
        parts.append(
            gpd.GeoDataFrame(
                {"name": _names(found, echelon)},
                geometry=gpd.points_from_xy(*_points(found).T),
                crs=scenario.crs,
            )
        )
        existing.append(_capacities(found, held, spec.existing_capacity_field, spec.existing))
    parts.append(new)
    existing.append(np.zeros(len(new)))
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=scenario.crs)
    return out, np.concatenate(existing)


def _capacities(
    found: gpd.GeoDataFrame, default: float, column: str | None, layer: str
) -> np.ndarray:
    """The existing facilities' capacity: ``column``'s value, ``default`` where it is empty."""
    return capacity_values(
        found,
        column,
        default,
        "models.chain.existing_capacity_field",
        layer,
        "the default capacity",
    )


def _supply(
    scenario: Scenario, layers: Mapping[str, gpd.GeoDataFrame], area: shapely.Geometry | None
) -> tuple[gpd.GeoDataFrame, np.ndarray, list[str]]:
    """The mines, their supply by coal type (mines × types) and the types."""
    spec = scenario.chain
    assert spec is not None
    layer = layers[spec.demand]
    mines = layer[is_demand(scenario, layer, area)].reset_index(drop=True)
    weight = pd.to_numeric(mines[spec.weight_field], errors="coerce").fillna(0.0).to_numpy(float)
    if spec.type_field is None:
        return mines, weight[:, None], ["coal"]
    if spec.type_field not in mines.columns:
        raise LayerError(
            f"models.chain.type_field = {spec.type_field!r}: layer {spec.demand!r} has no such "
            "field",
            f"use one of: {', '.join(c for c in mines.columns if c != 'geometry')}",
        )
    kind = mines[spec.type_field].astype("string").fillna("unknown").to_numpy(dtype=object)
    types = sorted(set(kind))
    supply = np.stack([np.where(kind == t, weight, 0.0) for t in types], axis=1)
    return mines, supply, types


def check(scenario: Scenario, layers: Mapping[str, gpd.GeoDataFrame]) -> None:
    """Refuse, before the long computation, a ``[models.chain]`` whose fields or filters do not
    fit its layers: the type field, the existing facilities and their capacities, the markets.

    Raises
    ------
    LayerError, ScenarioError
        Naming the ``models.chain`` key.
    """
    spec = scenario.chain
    if spec is None:
        return
    mines = layers[spec.demand]
    if spec.type_field is not None and spec.type_field not in mines.columns:
        raise LayerError(
            f"models.chain.type_field = {spec.type_field!r}: layer {spec.demand!r} has no such "
            "field",
            f"use one of: {', '.join(c for c in mines.columns if c != 'geometry')}",
        )
    if spec.existing is not None:
        for echelon, where in (
            ("prep", spec.prep_existing_where),
            ("coke", spec.coke_existing_where),
        ):
            if where is not None:
                key = f"models.chain.{echelon}_existing_where"
                found = selected(layers[spec.existing], where, key, spec.existing)
                _capacities(found, 1.0, spec.existing_capacity_field, spec.existing)
    if spec.markets is not None:
        key = "models.chain.markets_where"
        selected(layers[spec.markets], spec.markets_where, key, spec.markets)


def build(
    scenario: Scenario,
    layers: Mapping[str, gpd.GeoDataFrame],
    sites: gpd.GeoDataFrame,
    friction: Raster | None,
    area: shapely.Geometry | None = None,
) -> Chain:
    """Solve the scenario's value chain (``[models.chain]``).

    Parameters
    ----------
    scenario
        The scenario (with ``chain`` and ``haul``).
    layers
        The layers the chain reads: the mines, the ``[haul]`` lines and stations, the markets
        and existing facilities when named.
    sites
        The proposed sites (columns ``profile``, ``rank``, ``x``, ``y``).
    friction
        The friction surface: a road leg crosses none of its impassable cells.
    area
        The study area (which mines are demand).

    Returns
    -------
    Chain
        The flows, the plants and the objective.

    Raises
    ------
    InfeasibleError
        If no plan ships every mine's coal through the chain.
    """
    spec = scenario.chain
    if spec is None:
        raise ValueError("the chain needs a scenario with [models.chain]")
    haul = scenario.haul
    roads, rail = layers[haul.roads], layers[haul.rail]
    stations = layers[haul.stations] if haul.stations is not None else None
    mines, supply, types = _supply(scenario, layers, area)
    prep, prep_held = _candidates(scenario, layers, sites, "prep")
    coke, coke_held = _candidates(scenario, layers, sites, "coke")
    ends: dict[str, np.ndarray] = {"mine": _points(mines), "prep": _points(prep)}
    ends["coke"] = _points(coke)
    names = {"mine": _names(mines, "mine"), "prep": list(prep["name"]), "coke": list(coke["name"])}
    if spec.markets is not None:
        key = "models.chain.markets_where"
        markets = selected(layers[spec.markets], spec.markets_where, key, spec.markets)
        markets = markets.reset_index(drop=True)
        ends["market"], names["market"] = _points(markets), _names(markets, "market")
    matrices = {
        stage: multimodal.haul_matrix(
            haul, roads, rail, stations, ends[_ENDS[stage][0]], ends[_ENDS[stage][1]], friction
        )
        for stage in STAGES
        if _ENDS[stage][1] in ends
    }
    by_type = np.array([spec.prep_yield.get(t, spec.default_prep_yield) for t in types])
    feed = [True] if spec.type_field is None else [t in spec.coke_feed for t in types]
    model = ValueChainLocation(
        prep_capacity=np.where(prep_held > 0, prep_held, spec.prep_capacity),
        prep_opening_cost=spec.prep_opening_cost,
        prep_yield=by_type,
        coke_capacity=np.where(coke_held > 0, coke_held, spec.coke_capacity),
        coke_opening_cost=spec.coke_opening_cost,
        coke_yield=spec.coke_yield,
        prep_existing=prep_held,
        coke_existing=coke_held,
        coke_feed=feed,
        time_limit=spec.time_limit,
    )
    market = matrices.get("coke_market")
    try:
        model.fit(
            supply,
            matrices["mine_prep"].km,
            matrices["prep_coke"].km,
            None if market is None else market.km,
        )
    except InfeasibleError as err:
        raise InfeasibleError(
            f"[models.chain]: {err.message}",
            "raise models.chain.prep_capacity / coke_capacity or the profiles' n_sites, or "
            "join the mines to the road and rail lines",
        ) from err
    return Chain(
        _flows(model.flows_, matrices, names, types, scenario),
        _plants(model.plants_, {"prep": prep, "coke": coke}, scenario),
        float(model.objective_),
        float(model.gap_),
        {k: float(v) for k, v in model.costs_.items()},
    )


def _flows(
    flows: pd.DataFrame,
    matrices: Mapping[str, multimodal.HaulMatrix],
    names: Mapping[str, list[str]],
    types: list[str],
    scenario: Scenario,
) -> gpd.GeoDataFrame:
    rows, lines = [], []
    for row in flows.to_dict("records"):
        stage = str(row["stage"])
        a, b = int(row["from"]), int(row["to"])
        start, end = _ENDS[stage]
        matrix = matrices[stage]
        kind = row["coal_type"]
        rows.append(
            {
                "stage": stage,
                "from": names[start][a],
                "to": names[end][b],
                "coal_type": types[int(kind)] if pd.notna(kind) else "",
                "tonnes": float(row["tonnes"]),
                "cost": float(row["cost"]),
                "km": float(matrix.km[a, b]),
            }
        )
        lines.append(matrix.routes[a, b])
    columns = ["stage", "from", "to", "coal_type", "tonnes", "cost", "km"]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), geometry=lines, crs=scenario.crs)


def _plants(
    plants: pd.DataFrame, candidates: Mapping[str, gpd.GeoDataFrame], scenario: Scenario
) -> gpd.GeoDataFrame:
    parts = []
    for echelon, where in candidates.items():
        own = plants[plants["echelon"] == echelon].sort_values("plant").reset_index(drop=True)
        own.insert(1, "name", where["name"].to_numpy()[own["plant"].to_numpy(dtype=int)])
        own["geometry"] = where.geometry.to_numpy()[own["plant"].to_numpy(dtype=int)]
        parts.append(own)
    out = pd.concat(parts, ignore_index=True)
    out["existing"] = out["existing"].astype(float) > 0
    out["open"] = out["open"].astype(bool)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=scenario.crs)
