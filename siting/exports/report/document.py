"""The planners' report: ``report.html`` (one self-contained file) and ``report.md`` with its
figures in ``report_files/``.

The report is built once as a list of blocks (:mod:`siting.exports.report.blocks`: headings,
paragraphs, tables of formatted strings, figures), then rendered twice, so the HTML and the
Markdown always say the same thing with the same numbers. This module writes the content.
Sections: the run in one line; a study-area map; the scenario and its weights;
the raw criteria; suitability per profile; the top sites with their breakdown; growth poles
(with the Weber points snapped to eligible land); location-allocation (the model, the solver's
proof, the plants and their Pareto front of transport against site suitability); technoparks by
maximal covering; sensitivity; data provenance, versions and timings.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely

from siting.exports.report import figures
from siting.exports.report.blocks import (
    FIGURES_DIR,
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
    markdown,
    num,
    pct,
    score,
    to_html,
)
from siting.exports.runinfo import sha256, versions
from siting.exports.theme import transport_unit, weight_unit
from siting.pipeline.cache import Step, memo

if TYPE_CHECKING:
    from collections.abc import Callable

    from siting.config.scenario import Criterion, Profile, Standardization
    from siting.pipeline.result import Result
    from siting.raster.grid import Raster

MAX_DEMAND_ROWS = 40  # the covering's demand table lists at most the largest this many


def _draw(name: str, inputs: tuple, make: Callable[[], bytes]) -> bytes:
    return make()


#: A figure's PNG, keyed on what it is drawn from (``Figure.inputs``, declared where each figure
#: is made): ``make`` draws from those inputs only, so it is not part of the key.
FIGURE = Step("figure", _draw, unkeyed=frozenset({"make"}))


# --- formatting --------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def standardisation(s: Standardization) -> str:
    """E.g. ``linear 0–15,000, lower is better``."""
    if s.fn == "linear":
        args = "over the study area's range" if s.low is None else f"{num(s.low)}–{num(s.high)}"
    elif s.fn == "sigmoid":
        args = f"midpoint {num(s.midpoint)}, spread {num(s.spread)}"
    elif s.fn == "threshold":
        args = f"at {num(s.value)}"
    else:
        args = f"optimum {num(s.optimum)}, spread {num(s.spread)}"
    return f"{s.fn} {args}, {s.direction} is better"


def measure(c: Criterion) -> str:
    """The criterion's kind with what it weighs or sums."""
    if c.kind == "within_radius":
        km = num((c.radius_m or 0.0) / 1000)
        return f"within_radius {km} km, sum of {c.weight_field or 'count'}"
    if c.weight_field:
        return f"{c.kind}, weighted by {c.weight_field}"
    return c.kind


def no_site_sentence(p: Profile) -> str:
    """What the report says when a profile has no site (a run test relies on its opening)."""
    return (
        f"No site proposed for {p.title}: no patch of the best {pct(1 - p.candidate_quantile)} % "
        f"of eligible land reaches {num(p.min_area_ha)} ha."
    )


# --- content -----------------------------------------------------------------------------------


def build(result: Result) -> list[Block]:
    """The report's blocks, in order."""
    s = result.scenario
    g = result.grid
    blocks: list[Block] = [Heading(1, s.title, "top")]
    if s.description:
        blocks.append(Para([s.description]))
    blocks.append(
        Para(
            [
                "Scenario ",
                Code(s.name),
                f" · CRS {s.crs} · grid {g.width:,} × {g.height:,} cells of {num(g.res)} m "
                f"({g.width * g.height / 1e6:.1f} M cells) · "
                f"computed in {result.timings.get('compute_total', 0):.1f} s",
            ],
            "meta",
        )
    )
    blocks += _study_area(result)
    blocks += _weights(result)
    blocks += _criteria(result)
    blocks += _suitability(result)
    blocks += _sites(result)
    blocks += _growth_poles(result)
    blocks += _allocation(result)
    blocks += _covering(result)
    blocks += [
        Heading(2, "Sensitivity", "sensitivity"),
        Para(["Not run for this scenario."]),
    ]
    blocks += _provenance(result)
    return blocks


def figure_names(result: Result) -> list[str]:
    """The PNG files the report makes: study area, criteria, one suitability map per profile, and
    the allocation's Pareto front when the run swept one."""
    names = [
        "study_area.png",
        "criteria.png",
        *(f"suitability_{p}.png" for p in result.scenario.profiles),
    ]
    if result.allocation is not None and result.allocation.pareto is not None:
        names.append("pareto.png")
    return names


def _study_area(result: Result) -> list[Block]:
    names = ", ".join(n for n in figures.BASE_LAYERS if n in figures.layers_by_role(result))
    return [
        Heading(2, "Study area", "study-area"),
        Figure(
            "study_area.png",
            "Map of the study area with " + (names or "its outline") + " and the proposed sites",
            "The study area and its main layers; proposed sites are coloured by profile and "
            "labelled by rank. Axes in km of " + result.grid.crs + ".",
            lambda: figures.study_area(result),
        ),
    ]


def _weights(result: Result) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Scenario and weights", "weights")]
    for name, surface in result.surfaces.items():
        p = surface.profile
        blocks.append(Heading(3, f"{p.title} ({name})", f"weights-{_slug(name)}"))
        blocks.append(
            Para(
                [
                    (
                        "Weighting: AHP (pairwise comparisons)"
                        if p.weighting == "ahp"
                        else "Weighting: direct"
                    )
                    + (
                        f", AHP consistency ratio CR = {score(p.ahp_cr)}"
                        if p.ahp_cr is not None
                        else ""
                    )
                    + f". Sites: up to {p.n_sites}, at least {num(p.min_separation_m)} m apart, "
                    f"on patches of at least {num(p.min_area_ha)} ha within the best "
                    f"{pct(1 - p.candidate_quantile)} % of eligible land."
                ]
            )
        )
        blocks.append(
            Table(
                ["criterion", "kind", "layer", "where", "standardisation", "weight"],
                [
                    [
                        c.name,
                        measure(c),
                        c.layer,
                        c.where or "–",
                        standardisation(c.standardize),
                        score(w),
                    ]
                    for c, w in zip(p.criteria, p.weights, strict=True)
                ],
                [False] * 5 + [True],
            )
        )
        if p.ahp_matrix is not None:
            labels = [c.name for c in p.criteria]
            blocks.append(Para(["AHP pairwise comparison matrix (row over column):"]))
            blocks.append(
                Table(
                    ["", *labels],
                    [
                        [label, *(_ratio(v) for v in row)]
                        for label, row in zip(labels, p.ahp_matrix, strict=True)
                    ],
                    [False] + [True] * len(labels),
                )
            )
            blocks.append(
                Para([f"Consistency ratio CR = {score(p.ahp_cr)} (acceptable below 0.1)."])
            )
        reasons = [str(r) for r in surface.exclusions["reason"]]
        if surface.profile.max_slope_deg is not None and not any("slope" in r for r in reasons):
            reasons.append(f"slope > {num(surface.profile.max_slope_deg)}°")
        blocks.append(Para(["Exclusions:" if reasons else "Exclusions: none."]))
        if reasons:
            blocks.append(Bullets([[r] for r in reasons]))
    return blocks


def _ratio(value: float) -> str:
    """A pairwise judgement: ``3`` or ``1/3``."""
    if value >= 1 or value <= 0:
        return num(value)
    inverse = 1 / value
    return f"1/{num(inverse)}" if abs(inverse - round(inverse)) < 1e-6 else num(value)


def _extremes(raster: Raster, study_area: shapely.Geometry) -> tuple[float, float]:
    """The smallest and largest finite value of ``raster`` in the study area."""
    values = raster.data[raster.grid.mask([study_area])]
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if values.size else (np.nan, np.nan)


#: A criterion's range in the study area (a what-if reads again only the criteria it changed).
CRITERION_RANGE = Step("criterion_range", _extremes)


def _criteria(result: Result) -> list[Block]:
    rows = []
    for name, r in result.criteria.items():
        lo, hi = memo(
            CRITERION_RANGE, f"range of criterion {name}", raster=r, study_area=result.study_area
        )
        rows.append([name, r.units or "–", r.description or "–", num(lo), num(hi)])
    return [
        Heading(2, "Criteria", "criteria"),
        Figure(
            "criteria.png",
            f"Small multiples of the {len(result.criteria)} raw criteria: "
            + ", ".join(result.criteria),
            "The raw criteria inside the study area, before standardisation, each on its own "
            "colour scale with its units.",
            lambda: figures.criteria(result),
        ),
        Table(
            ["criterion", "units", "what it measures", "min in study area", "max in study area"],
            rows,
            [False, False, False, True, True],
        ),
    ]


def _suitability(result: Result) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Suitability", "suitability")]
    cell_km2 = result.grid.cell_area / 1e6
    for name, surface in result.surfaces.items():
        p = surface.profile
        eligible = np.isfinite(surface.suitability.data)
        n_sites = int((result.sites["profile"] == name).sum())
        n_patches = int((result.patches["profile"] == name).sum())
        blocks += [
            Heading(3, p.title, f"suitability-{_slug(name)}"),
            Figure(
                f"suitability_{name}.png",
                f"Suitability map for {p.title} with its {n_sites} proposed site(s)",
                f"Suitability for {p.title}, 0 (worst) to 1 (best); blank = excluded or outside "
                f"the study area. {num(eligible.sum() * cell_km2)} km² eligible; "
                f"{n_patches} candidate patch(es); {n_sites} site(s).",
                partial(figures.suitability, result, name),
                inputs=(
                    list(result.scenario.profiles).index(name),
                    p,
                    surface.suitability,
                    result.sites_of(name)[["x", "y", "rank"]],
                    result.study_area,
                    result.grid.crs,
                ),
            ),
        ]
    return blocks


def _sites(result: Result) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Top sites", "sites")]
    for name, p in result.scenario.profiles.items():
        blocks.append(Heading(3, p.title, f"sites-{_slug(name)}"))
        sites = result.sites_of(name)
        if sites.empty:
            blocks.append(Para([no_site_sentence(p)]))
            continue
        units = {c: result.criteria[c.name].units for c in p.criteria}
        columns = ["rank", "site_id", "score", "lat", "lon", "near"]
        columns += [f"w_{c.name}" for c in p.criteria]
        columns += [
            f"raw_{c.name} ({units[c]})" if units[c] else f"raw_{c.name}" for c in p.criteria
        ]
        rows = []
        for _, site in sites.iterrows():
            row = [
                str(site["rank"]),
                str(site["site_id"]),
                score(site["score"]),
                f"{site['lat']:.4f}",
                f"{site['lon']:.4f}",
                str(site["near"]) if "near" in sites.columns else "–",
            ]
            row += [score(site[f"w_{c.name}"]) for c in p.criteria]
            row += [num(site[f"raw_{c.name}"]) for c in p.criteria]
            rows.append(row)
        blocks.append(
            Para(
                [
                    f"{len(sites)} site(s), best first. ",
                    Code("w_<criterion>"),
                    " is the criterion's weighted contribution (they add up to the score); ",
                    Code("raw_<criterion>"),
                    " its raw value.",
                ]
            )
        )
        numeric = [True, False, True, True, True, False] + [True] * (2 * len(p.criteria))
        blocks.append(Table(columns, rows, numeric))
    return blocks


def _growth_poles(result: Result) -> list[Block]:
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


def _allocation(result: Result) -> list[Block]:
    a, spec = result.allocation, result.scenario.allocation
    if a is None or spec is None:
        return []
    title = result.scenario.profiles[a.profile].title
    unit = weight_unit(result.scenario, spec.demand, spec.weight_field)
    per_km = transport_unit(result.scenario, spec.demand, spec.weight_field)
    capacitated = "utilisation" in a.plants.columns
    objective_unit = "" if spec.suitability_weight else f" {per_km}"
    plants = []
    for _, r in a.plants.iterrows():
        row = [str(r["site_id"]), str(r["rank"]), score(r["score"]), str(r["n_served"])]
        row.append(num(r["served_weight"]))
        if capacitated:
            row += [num(r["capacity"]), f"{100 * r['utilisation']:.1f}"]
        plants.append([*row, num(r["weight_x_km"])])
    plant_columns = ["site_id", "rank", "score", "n_served", f"served ({unit})"]
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
    served_columns += ["km (road-equivalent)", "route (km)", f"weight × km ({per_km})"]
    blocks: list[Block] = [
        Heading(2, "Location-allocation", "allocation"),
        Para(
            [
                f"{title} sites (",
                Code(a.profile),
                f", {len(result.sites_of(a.profile))} proposed), demand ",
                Code(spec.demand),
                f" weighted by {spec.weight_field or 'count'}: {model_sentence(result)}. "
                "Distances are road-equivalent km: the cost-distance over the friction surface, "
                "where a km of road costs 1; each mine's haul route is the least-cost path it "
                "follows (on the map and in the GeoPackage's allocation_lines), with its length.",
            ]
        ),
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


def _covering(result: Result) -> list[Block]:
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
    return [
        Heading(2, "Technoparks: maximal covering", "covering"),
        Para(
            [
                f"{c.p} new {title} site(s) chosen among the "
                f"{len(result.sites_of(c.profile))} proposed (",
                Code(c.profile),
                f") to reach the most {weight} of ",
                Code(spec.demand),
                f" within {num(c.max_minutes)} min of travel (cost-distance at "
                f"{num(spec.speed_kmh)} km/h on roads). ",
                *kept,
            ]
        ),
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


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _provenance(result: Result) -> list[Block]:
    s = result.scenario
    base = s.source.parent if s.source is not None else None
    rows = []
    for name, spec in s.layers.items():
        path = _relative(spec.path, base) if base is not None else str(spec.path)
        digest = sha256(spec.path)[:12] if spec.path.is_file() else "–"
        used = len(result.layers[name]) if name in result.layers else 0
        rows.append([name, path, spec.reader, digest, f"{used:,}"])
    blocks: list[Block] = [
        Heading(2, "Data provenance and versions", "provenance"),
        Para(["Scenario file: ", Code(str(s.source) if s.source else "(given in Python)"), "."]),
        Table(
            [
                "layer",
                "path (relative to the scenario file)",
                "reader",
                "SHA-256 (first 12)",
                "features used",
            ],
            rows,
            [False, False, False, False, True],
        ),
    ]
    if base is not None and (base / "PROVENANCE.md").is_file():
        blocks.append(
            Para(
                [
                    "A copy of the scenario folder's ",
                    Link("PROVENANCE.md", "PROVENANCE.md"),
                    " sits beside this report: it says, per layer, where the data come from and "
                    "how exact they are.",
                ]
            )
        )
    blocks += [
        Heading(3, "Versions", "versions"),
        Table(["package", "version"], [[k, v] for k, v in versions().items()]),
        Heading(3, "Timings", "timings"),
        Table(
            ["stage", "seconds"],
            [[k, f"{v:.2f}"] for k, v in result.timings.items()],
            [False, True],
        ),
    ]
    return blocks


def write(result: Result, folder: Path) -> list[Path]:
    """Write ``report.md``, ``report.html`` and ``report_files/*.png`` into ``folder``.

    Returns the paths written.
    """
    folder = Path(folder)
    files = folder / FIGURES_DIR
    files.mkdir(parents=True, exist_ok=True)
    blocks = build(result)
    written = []
    for b in blocks:
        if isinstance(b, Figure):
            if b.inputs:
                b.data = memo(
                    FIGURE, f"report figure {b.name}", name=b.name, inputs=b.inputs, make=b.make
                )
            else:
                b.data = b.make()
            path = files / b.name
            path.write_bytes(b.data)
            written.append(path)
    md = folder / "report.md"
    md.write_text(markdown(blocks), encoding="utf-8")
    page = folder / "report.html"
    page.write_text(to_html(blocks, result.scenario.title), encoding="utf-8")
    return [md, page, *written]
