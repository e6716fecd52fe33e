"""The report's sections on the models: growth poles, location-allocation with its Pareto front,
and technoparks by maximal covering, each saying what was solved, on which demand, and how
(:mod:`siting.exports.report.document` puts them in the report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from siting.exports.report import figures
from siting.exports.report.blocks import (
    Block,
    Bullets,
    Code,
    Figure,
    Heading,
    Inline,
    Link,
    Para,
    Table,
    gap,
    km,
    num,
    score,
)
from siting.exports.theme import haul_km, transport_unit, weight_unit

if TYPE_CHECKING:
    from siting.pipeline.result import Result

MAX_DEMAND_ROWS = 40  # the covering's demand table lists at most the largest this many


def demand_sentence(result: Result, layer: str) -> str:
    """Which features of ``layer`` a model took as demand: those in the study area, or those of
    the padding too (``[models] demand``), with how many lie outside."""
    features = result.layers[layer]
    outside = int((~np.asarray(features.intersects(result.study_area), dtype=bool)).sum())
    if result.scenario.demand == "padded":
        where = f", {outside} of them outside the study area" if outside else ""
        return (
            f"Demand: all {len(features)} {layer} read over the padded study area{where} "
            '([models] demand = "padded").'
        )
    if not outside:
        return f"Demand: the {len(features)} {layer} in the study area."
    return (
        f"Demand: the {len(features) - outside} {layer} in the study area; {outside} more around "
        'it are not demand, only context for the criteria ([models] demand = "inside").'
    )


def travel_sentence(result: Result) -> str:
    """How the covering measured travel times, as the run did: over the ``[network]`` roads or
    as cost-distance at ``speed_kmh``."""
    c, spec, network = result.covering, result.scenario.covering, result.scenario.network
    if c is None or spec is None:
        raise ValueError("travel_sentence: the run has no covering")
    if c.travel == "network" and network is not None:
        speeds = ", ".join(f"{name} {num(kmh)}" for name, kmh in network.speeds)
        by_class = (
            f"by {network.class_field} ({speeds} km/h; others {num(network.default_kmh)} km/h)"
            if network.speeds
            else f"at {num(network.default_kmh)} km/h"
        )
        return (
            f"door to door over the road network ([network], layer {network.layer}, {by_class}), "
            f"with the legs off it at {num(network.off_road_kmh)} km/h"
        )
    return (
        f"cost-distance over the friction surface at {num(spec.speed_kmh)} km/h "
        "per road-equivalent km"
    )


def growth_poles(result: Result) -> list[Block]:
    clusters, spec = result.clusters, result.scenario.clusters
    if clusters is None or spec is None:
        return []
    blocks: list[Block] = [
        Heading(2, "Growth poles", "growth-poles"),
        Para(
            [
                {
                    "dbscan": f"Clusters of {spec.layer} by DBSCAN: members within "
                    f"{num(spec.eps_m)} m of each other, a pole needs a total "
                    f"{spec.weight_field} of at least {num(spec.min_weight)}.",
                    "hdbscan": f"Clusters of {spec.layer} by HDBSCAN (at least "
                    f"{spec.min_cluster_size} members, unweighted).",
                    "kmeans": f"{spec.n_clusters} clusters of {spec.layer} by KMeans weighted by "
                    f"{spec.weight_field}.",
                }[spec.method]
                + (
                    f" Stability: mean Jaccard similarity over {spec.bootstrap} bootstrap "
                    "resamplings (near 1: robust; below 0.6: doubtful)."
                    if spec.bootstrap
                    else ""
                )
                + " "
                + demand_sentence(result, spec.layer)
            ]
        ),
    ]
    if clusters.empty:
        return [*blocks, Para(["No cluster found."])]
    snap = spec.snap_profile if "weber_snap_x" in clusters.columns else None
    if snap is not None:
        title = result.scenario.profiles[snap].title if snap in result.scenario.profiles else snap
        blocks.append(
            Para(
                [
                    "Each pole's Weber point (least output-weighted distance to its members) is "
                    f"moved to the nearest eligible cell of {title} (",
                    Code(snap),
                    "), where a plant could stand; the table gives both points (easting, "
                    f"northing in m of {result.grid.crs}) and how far it moved.",
                ]
            )
        )
    else:
        blocks.append(
            Para(
                [
                    "Weber point: least output-weighted distance to the pole's members (easting, "
                    f"northing in m of {result.grid.crs})."
                ]
            )
        )
    rows = []
    for _, c in clusters.iterrows():
        row = [
            str(c["cluster"]),
            str(c["n_members"]),
            num(c["total_weight"]),
            *([num(c["total_capacity"])] if spec.capacity_field else []),
            "–" if np.isnan(c["stability"]) else f"{c['stability']:.2f}",
            f"{c['weber_x']:,.0f} E, {c['weber_y']:,.0f} N",
        ]
        if snap is not None:
            row += [f"{c['weber_snap_x']:,.0f} E, {c['weber_snap_y']:,.0f} N", km(c["snap_m"])]
        rows.append([*row, str(c["members"])])
    columns = [
        "cluster",
        "n_members",
        f"total_weight ({spec.weight_field})",
        *([f"total capacity ({spec.capacity_field})"] if spec.capacity_field else []),
        "stability",
        "Weber point",
    ]
    numeric = [True] * len(columns)
    if snap is not None:
        columns += ["snapped Weber point", "snap distance (km)"]
        numeric += [True, True]
    return [*blocks, Table([*columns, "members"], rows, [*numeric, False])]


def model_sentence(result: Result) -> str:
    """What the location-allocation solved, in one sentence (after the profile's name)."""
    a, spec = result.allocation, result.scenario.allocation
    if a is None or spec is None:
        raise ValueError("model_sentence: the run has no location-allocation")
    unit = weight_unit(result.scenario, spec.demand, spec.weight_field)
    per_km = transport_unit(result.scenario, spec.demand, spec.weight_field)
    if spec.capacity is None:
        text = (
            f"p-median: p = {a.p} plants, each demand feature served by its nearest open plant, "
            "minimising Σ weight × km"
        )
    else:
        count = (
            f"p = {spec.p} plants"
            if spec.p is not None
            else f"the opening costs decide how many plants ({a.p} opened)"
        )
        sourcing = (
            "each demand feature served by one plant (single-sourcing)"
            if spec.single_sourcing
            else "a demand feature may be split between plants (multi-sourcing)"
        )
        text = (
            f"capacitated facility location: plants of capacity {num(spec.capacity)} {unit}, "
            f"each opening costing {num(spec.opening_cost)} {per_km}; "
            f"{count}; {sourcing}; minimising Σ weight × km + opening costs"
        )
    if spec.suitability_weight:
        text += (
            f", mixed with site unsuitability at suitability weight α = "
            f"{num(spec.suitability_weight)} (the objective is then unitless)"
        )
    return text


def _assumed(result: Result) -> list[Block]:
    """A capacitated model's capacity and opening cost are assumptions: the report says so."""
    spec = result.scenario.allocation
    if spec is None or spec.capacity is None:
        return []
    unit = weight_unit(result.scenario, spec.demand, spec.weight_field)
    per_km = transport_unit(result.scenario, spec.demand, spec.weight_field)
    return [
        Para(
            [
                f"The plant capacity ({num(spec.capacity)} {unit}) and opening cost "
                f"({num(spec.opening_cost)} {per_km}) are planning assumptions, not data: how "
                "many plants open, and where, changes with them (",
                Link("Assumptions", "#assumptions"),
                ": ",
                Code("models.allocation.capacity"),
                ", ",
                Code("models.allocation.opening_cost"),
                ").",
            ],
            "warning",
        )
    ]


def allocation(result: Result) -> list[Block]:
    a, spec = result.allocation, result.scenario.allocation
    if a is None or spec is None:
        return []
    title = result.scenario.profiles[a.profile].title
    unit = weight_unit(result.scenario, spec.demand, spec.weight_field)
    per_km = transport_unit(result.scenario, spec.demand, spec.weight_field)
    capacitated = "utilisation" in a.plants.columns
    objective_unit = "" if spec.suitability_weight else f" {per_km}"
    # Expand-or-build: whether each plant is new, existing or an expanded existing one.
    status = "status" in a.plants.columns
    plants = []
    for _, r in a.plants.iterrows():
        new = not status or r["status"] == "new"
        row = [str(r["site_id"]), str(r["rank"]) if new else "–", score(r["score"])]
        row += [str(r["status"])] if status else []
        row += [str(r["n_served"]), num(r["served_weight"])]
        if capacitated:
            row += [num(r["capacity"]), f"{100 * r['utilisation']:.1f}"]
        plants.append([*row, num(r["weight_x_km"])])
    plant_columns = ["site_id", "rank", "score"] + (["status"] if status else [])
    plant_columns += ["n_served", f"served ({unit})"]
    if capacitated:
        plant_columns += [f"capacity ({unit})", "utilisation (%)"]
    plant_columns.append(f"transport ({per_km})")
    order = {sid: k for k, sid in enumerate(a.plants["site_id"])}
    lines = a.lines.assign(_plant=a.lines["site_id"].map(order)).sort_values(
        ["_plant", "weight"], ascending=[True, False]
    )
    split = bool((lines["share"] < 1 - 1e-6).any())
    served = []
    for _, r in lines.iterrows():
        row = [str(r["site_id"]), str(r["demand"]), num(r["weight"])]
        if split:
            row.append(f"{100 * r['share']:.1f}")
        served.append([*row, f"{r['km']:,.1f}", f"{r['route_km']:,.1f}", num(r["weight_x_km"])])
    served_columns = ["site_id", "demand", f"weight ({unit})"]
    served_columns += ["share (%)"] if split else []
    served_columns += [f"km ({haul_km(result.scenario)})", "route (km)", f"weight × km ({per_km})"]
    blocks: list[Block] = [
        Heading(2, "Location-allocation", "allocation"),
        Para(
            [
                f"{title} sites (",
                Code(a.profile),
                f", {len(result.sites_of(a.profile))} proposed), demand ",
                Code(spec.demand),
                f" weighted by {spec.weight_field or 'count'}: {model_sentence(result)}. "
                + (
                    "Distances are truck-km equivalents: the least-cost haul on road and rail "
                    "([haul] network mode), in RUB/t over the truck tariff; each mine's "
                    "route follows the lines (on the map and in the GeoPackage's "
                    "allocation_lines, with its km by rail, road and off the network). "
                    if "km_rail" in a.lines.columns
                    else "Distances are road-equivalent km: the cost-distance over the friction "
                    "surface, where a km of road costs 1; each mine's haul route is the "
                    "least-cost path it follows (on the map and in the GeoPackage's "
                    "allocation_lines), with its length. "
                )
                + demand_sentence(result, spec.demand),
            ]
        ),
        *_assumed(result),
        Para([f"Solver: {a.method}."]),
        Bullets(
            [
                [f"Objective: {num(a.objective)}{objective_unit}."],
                [
                    f"Proven lower bound: {num(a.lower_bound)}{objective_unit}; proven gap "
                    f"{gap(a.gap)}; solver time {a.seconds:.2f} s."
                ],
                [f"Transport Σ weight × km: {num(a.transport)} {per_km}."],
                [
                    "Mean suitability of the plants, weighted by the demand they serve: "
                    f"{score(a.mean_suitability)}."
                ],
            ]
        ),
        Para([f"{a.p} plant(s) opened:"]),
        Table(plant_columns, plants, [False] + [True] * (len(plant_columns) - 1)),
        Para(["Demand served by each plant:"]),
        Table(served_columns, served, [False, False] + [True] * (len(served_columns) - 2)),
    ]
    return blocks + _pareto(result)


def _pareto(result: Result) -> list[Block]:
    a, spec = result.allocation, result.scenario.allocation
    if a is None or a.pareto is None or spec is None:
        return []
    sweep = a.pareto
    per_km = transport_unit(result.scenario, spec.demand, spec.weight_field)
    rows = [
        [
            num(r["suitability_weight"]),
            num(r["transport"]),
            score(r["mean_suitability"]),
            str(r["n_plants"]),
            str(r["plants"]),
            gap(r["gap"]),
            "yes" if r["pareto_optimal"] else "no",
        ]
        for _, r in sweep.iterrows()
    ]
    n_optimal = int(sweep["pareto_optimal"].sum())
    return [
        Heading(3, "Pareto front: transport against site suitability", "pareto"),
        Para(
            [
                f"The model solved for {len(sweep)} suitability weights α from 0 (least "
                "transport) to 1 (best sites): each unit of demand served by site j costs "
                "(1 − α) · km / km_max + α · (1 − suitability_j). "
                f"{n_optimal} of the {len(sweep)} solutions are Pareto-optimal: no other has "
                "less transport and better suitability."
            ]
        ),
        Figure(
            "pareto.png",
            f"Pareto front of the {len(sweep)} solutions: transport against mean suitability, "
            "labelled by suitability weight",
            f"Each point is one solution, labelled by its suitability weight α: transport "
            f"({per_km}) against the demand-weighted mean suitability of its plants; "
            "Pareto-optimal solutions in red, joined; the run's own solution ringed.",
            lambda: figures.pareto(result),
        ),
        Table(
            [
                "suitability weight α",
                f"transport ({per_km})",
                "mean suitability",
                "plants",
                "site ids",
                "gap",
                "Pareto-optimal",
            ],
            rows,
            [True, True, True, True, False, True, False],
        ),
    ]


def covering(result: Result) -> list[Block]:
    c, spec = result.covering, result.scenario.covering
    if c is None or spec is None:
        return []
    weight = spec.weight_field or "demand"
    title = result.scenario.profiles[c.profile].title
    existing = c.sites[c.sites["status"] == "existing"]
    new = c.sites[c.sites["status"] == "new"]
    kept: list[Inline] = ["No existing facility is kept open."]
    if spec.existing is not None:
        n = len(existing)
        kept = [
            f"{n} existing {'facility is' if n == 1 else 'facilities are'} kept open (layer ",
            Code(spec.existing),
        ]
        if spec.existing_where:
            kept += [" where ", Code(spec.existing_where)]
        kept.append(").")

    def share(value: float) -> str:
        return f"{value / c.total:.1%}" if c.total else "–"

    sites = [
        [
            str(r["name"]),
            str(r["status"]),
            str(r["site_id"]) or "–",
            "–" if not np.isfinite(r["score"]) else score(r["score"]),
            num(r["covered_weight"]),
            share(r["covered_weight"]),
            str(r["n_covered"]),
        ]
        for _, r in c.sites.iterrows()
    ]
    demand = c.demand.sort_values("weight", ascending=False)
    shown = demand.head(MAX_DEMAND_ROWS)
    reached = [
        [
            str(r["name"]),
            num(r["weight"]),
            f"{r['minutes']:.1f}" if np.isfinite(r["minutes"]) else "unreachable",
            "yes" if r["covered"] else "no",
            str(r["served_by"]) or "–",
        ]
        for _, r in shown.iterrows()
    ]
    more = f" (the {len(shown)} largest of {len(demand)})" if len(shown) < len(demand) else ""
    note = c.note()
    return [
        Heading(2, "Technoparks: maximal covering", "covering"),
        Para(
            [
                f"{len(new)} new {title} site(s) chosen (p = {c.p} asked) among the "
                f"{len(result.sites_of(c.profile))} proposed (",
                Code(c.profile),
                f") to reach the most {weight} of ",
                Code(spec.demand),
                f" within {num(c.max_minutes)} min of travel, {travel_sentence(result)}. ",
                *kept,
                " Among the choices that reach the most, the fewest new sites, then the most "
                "suitable; a site that would add no coverage is not chosen. ",
                demand_sentence(result, spec.demand),
            ]
        ),
        *([Para([f"Warning: {note}."], "warning")] if note else []),
        Bullets(
            [
                [
                    f"Covered in all: {num(c.coverage)} of {num(c.total)} {weight} "
                    f"({share(c.coverage)})."
                ],
                [
                    f"By the existing facilities alone (baseline): {num(c.baseline)} "
                    f"({share(c.baseline)})."
                ],
                [
                    f"Added by the {len(new)} new site(s): {num(c.coverage - c.baseline)} "
                    f"({share(c.coverage - c.baseline)})."
                ],
                [
                    f"Time limit {num(c.max_minutes)} min; proven gap {gap(c.gap)}; solver time "
                    f"{c.seconds:.2f} s."
                ],
            ]
        ),
        Table(
            ["name", "status", "site_id", "score", f"covered ({weight})", "share", "n_covered"],
            sites,
            [False, False, False, True, True, True, True],
        ),
        Para([f"Demand and its travel time to the nearest open site{more}:"]),
        Table(
            ["name", weight, "minutes", "covered", "nearest open site"],
            reached,
            [False, True, True, False, False],
        ),
    ]
