"""The report's "Sensitivity" section: how robust the plan is to its assumptions
(``[sensitivity]``, :mod:`siting.robustness`); :mod:`siting.exports.report.document` puts it in
the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from siting.exports.report.blocks import Block, Bullets, Code, Heading, Inline, Para, Table, num

if TYPE_CHECKING:
    from siting.pipeline.result import Result
    from siting.robustness import Robustness

#: A site outside the plan opened in at least this share of draws is listed as an alternative.
ALTERNATIVE_SHARE = 0.2

ORIGINS = {"suitability": "proposed site", "weber": "Weber point", "existing": "existing plant"}


def _share(value: float, n: int) -> str:
    """``19 of 20 (95 %)``; ``–`` for none."""
    if not np.isfinite(value):
        return "–"
    return f"{round(value * n)} of {n} ({value:.0%})"


def _range(lo_hi: tuple[float, float]) -> str:
    lo, hi = lo_hi
    return f"× {lo:g}–{hi:g}"


def section(result: Result) -> list[Block]:
    """ "Sensitivity": the draws, each site of the plan with its robustness and class, the
    alternatives the draws open, and what the draws leave out."""
    head = Heading(2, "Sensitivity: how robust the plan is", "sensitivity")
    rob = result.robustness
    if rob is None:
        return [
            head,
            Para(
                [
                    "Not run: the scenario sets ",
                    Code("[sensitivity] draws = 0"),
                    ", so this plan was not tested against other weights, capacities, costs or "
                    "tariffs. Set draws (20 by default) to test it, or run ",
                    Code("siting sensitivity"),
                    " for a profile's weights alone.",
                ]
            ),
        ]
    return [head, *_method(result, rob), *_plan(result, rob), *_alternatives(result, rob)]


def _method(result: Result, rob: Robustness) -> list[Block]:
    spec, n = rob.spec, rob.n
    s = result.scenario
    tariffs = (
        f"each haul tariff (truck, rail, off-road, transfer) {_range(spec.tariffs)}, the routes "
        "of the scenario's tariffs priced again; "
        if s.allocation is not None and s.haul.mode == "network"
        else ""
    )
    plants = ""
    costs = ""
    if s.allocation is not None:
        plants = (
            f", and the plant model ({s.allocation.model}) is solved again on the draw's "
            f"candidates, to a {spec.tol:.0%} gap within {spec.time_limit:g} s"
            + (" (a mine's coal free to split between plants)" if spec.split_flows else "")
        )
        costs = (
            f"a new plant's capacity {_range(spec.capacity)}, the opening and expansion "
            f"costs {_range(spec.opening_cost)}, {tariffs}"
        )
    out: list[Block] = [
        Para(
            [
                f"Every number below comes from {spec.draws} draws of the assumptions (seed "
                f"{spec.seed}; {n} could serve the demand and count): each profile's criterion "
                f"weights around the chosen ones (Dirichlet, concentration "
                f"{spec.concentration:g}; AHP judgements × exp(N(0, {spec.judgement_sd:g}))), "
                f"{costs}each factor uniform in its range. For each draw the sites are proposed "
                f"again from the run's scores{plants}. A site is robust when it stays in the "
                f"plan in at least {spec.robust:.0%} of "
                f"the draws, fragile below {spec.fragile:.0%}. The ranges are judgements, set "
                "in ",
                Code("[sensitivity]"),
                " and listed with the assumptions.",
            ]
        )
    ]
    counts = rob.counts()
    out.append(
        Para(
            [
                f"Of the plan's {sum(counts.values())} sites, {counts['robust']} are robust, "
                f"{counts['moderate']} moderate and {counts['fragile']} fragile."
            ]
        )
    )
    return out


def _plan(result: Result, rob: Robustness) -> list[Block]:
    n = rob.n
    plan = rob.sites[rob.sites["in_plan"]]
    grown: set[str] = set()
    if result.allocation is not None and "status" in result.allocation.plants.columns:
        p = result.allocation.plants
        grown = set(p.loc[p["status"] == "expanded", "site_id"].astype(str))
    rows = []
    for r in plan.sort_values(["profile", "robustness"], ascending=[True, False]).itertuples():
        if r.origin == "existing":
            run = "expanded" if str(r.site_id) in grown else "kept as built"
            what = f"{run} in the run; expanded in {_share(float(r.expanded_share), n)}"
        elif np.isfinite(r.planned_share):
            what = f"opened in {_share(float(r.planned_share), n)}"
            if np.isfinite(r.proposed_share):
                what += f"; proposed in {_share(float(r.proposed_share), n)}"
        else:
            what = f"proposed in {_share(float(r.proposed_share), n)}"
        rows.append(
            [
                str(r.site_id),
                str(r.profile),
                ORIGINS.get(str(r.origin), str(r.origin)),
                f"{float(r.robustness):.0%}",
                str(r.robustness_class),
                what,
            ]
        )
    blocks: list[Block] = [
        Table(
            ["Site", "Profile", "Kind", "Robustness", "Class", "In the draws"],
            rows,
            [False, False, False, True, False, False],
        )
    ]
    draws = rob.draws[rob.draws["feasible"]]
    if "n_plants" in draws.columns and len(draws):
        t = draws["transport"].to_numpy(float)
        blocks.append(
            Para(
                [
                    f"The draws open {int(draws['n_plants'].min())}–"
                    f"{int(draws['n_plants'].max())} plants (median "
                    f"{num(float(draws['n_plants'].median()))}); their transport ranges "
                    f"{num(float(np.percentile(t, 5)))}–{num(float(np.percentile(t, 95)))} "
                    "(5th–95th percentile; the run's own: "
                    f"{num(result.allocation.transport) if result.allocation else '–'})."
                ]
            )
        )
    return blocks


def _alternatives(result: Result, rob: Robustness) -> list[Block]:
    s = result.scenario
    sites = rob.sites
    others = sites[
        ~sites["in_plan"]
        & (pd.to_numeric(sites["planned_share"], errors="coerce") >= ALTERNATIVE_SHARE)
    ]
    notes: list[list[Inline]] = []
    if len(others):
        listed = ", ".join(
            f"{r.site_id} ({float(r.planned_share):.0%})"
            for r in others.sort_values("planned_share", ascending=False).itertuples()
        )
        notes.append([f"Alternatives the draws open though the run does not: {listed}."])
    if s.covering is not None:
        notes.append(
            [
                "Technoparks: the covering is not solved again; their robustness is how often "
                "the draws' weights propose them again."
            ]
        )
    if s.chain is not None:
        notes.append(["The value chain is not solved again for the draws."])
    if s.allocation is not None and s.haul.mode == "network":
        notes.append(
            [
                "A draw's tariffs price the scenario's routes again; a route another tariff "
                "would make cheaper by another way is not searched, so a draw's costs are upper "
                "bounds."
            ]
        )
    return [Bullets(notes)] if notes else []
