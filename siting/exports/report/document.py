"""The planners' report: ``report.html`` (one self-contained file) and ``report.md`` with its
figures in ``report_files/``.

The report is built once as a list of blocks (:mod:`siting.exports.report.blocks`: headings,
paragraphs, tables of formatted strings, figures), then rendered twice, so the HTML and the
Markdown always say the same thing with the same numbers. This module writes the content.
Sections: the run in one line; a study-area map; the scenario and its weights; every assumed
number; the raw criteria; suitability per profile; the top sites with their breakdown; growth
poles (with the Weber points snapped to eligible land); location-allocation (the model, the
solver's proof, the plants and their Pareto front of transport against site suitability);
technoparks by maximal covering; sensitivity; how exact the layers are; data provenance,
versions and timings. The models' sections are written in :mod:`siting.exports.report.models`,
the assumptions and the layers' exactness in :mod:`siting.exports.report.caveats`.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely

from siting.exports.report import caveats, chain, figures, models, robustness
from siting.exports.report.blocks import (
    FIGURES_DIR,
    Block,
    Bullets,
    Code,
    Figure,
    Heading,
    Link,
    Para,
    Table,
    markdown,
    num,
    pct,
    score,
    to_html,
)
from siting.exports.runinfo import sha256, versions
from siting.pipeline.cache import Step, memo

if TYPE_CHECKING:
    from collections.abc import Callable

    from siting.config.scenario import Criterion, Profile, Standardization
    from siting.pipeline.result import Result
    from siting.raster.grid import Raster


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
    blocks += caveats.top_warning(result)
    blocks += _study_area(result)
    blocks += _weights(result)
    blocks += caveats.assumptions_section(result)
    blocks += _criteria(result)
    blocks += _suitability(result)
    blocks += _sites(result)
    blocks += models.growth_poles(result)
    blocks += models.allocation(result)
    blocks += models.covering(result)
    blocks += chain.section(result)
    blocks += robustness.section(result)
    blocks += caveats.exactness_section(result)
    blocks += _provenance(result)
    return blocks


def figure_names(result: Result) -> list[str]:
    """The PNG files the report makes: study area, criteria, one suitability map per profile, the
    allocation's Pareto front when the run swept one, and the value chain's flows when the run
    has one."""
    names = [
        "study_area.png",
        "criteria.png",
        *(f"suitability_{p}.png" for p in result.scenario.profiles),
    ]
    if result.allocation is not None and result.allocation.pareto is not None:
        names.append("pareto.png")
    if result.chain is not None and result.scenario.chain is not None:
        names.append(chain.FIGURE)
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
