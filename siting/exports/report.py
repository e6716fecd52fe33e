"""``report.md``: the scenario, weights, top sites with their breakdown, clusters, allocation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from siting.exports.runinfo import versions

if TYPE_CHECKING:
    from siting.pipeline import Result


def _table(df: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    """A Markdown table (no optional dependency on ``tabulate``)."""

    def cell(v: object) -> str:
        return floatfmt.format(v) if isinstance(v, float) else str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def render(result: Result) -> str:
    """The report as Markdown text."""
    s = result.scenario
    lines = [
        f"# {s.title}",
        "",
        s.description,
        "",
        f"Scenario `{s.name}` · CRS {s.crs} · grid {result.grid.width} × {result.grid.height} "
        f"cells of {result.grid.res:g} m · "
        f"computed in {result.timings.get('compute_total', 0):.1f} s",
        "",
    ]
    for name, surface in result.surfaces.items():
        p = surface.profile
        lines += [
            f"## {p.title} (`{name}`)",
            "",
            f"Weighting: {p.weighting}"
            + (f" (AHP consistency ratio {p.ahp_cr:.3f})" if p.ahp_cr is not None else ""),
            "",
        ]
        crit = pd.DataFrame(
            {
                "criterion": [c.name for c in p.criteria],
                "kind": [c.kind for c in p.criteria],
                "layer": [c.layer for c in p.criteria],
                "standardisation": [
                    f"{c.standardize.fn}, {c.standardize.direction} is better" for c in p.criteria
                ],
                "weight": list(p.weights),
            }
        )
        lines += [_table(crit), ""]
        if p.ahp_matrix is not None:
            matrix = pd.DataFrame(p.ahp_matrix, columns=[c.name for c in p.criteria])
            matrix.insert(0, "", [c.name for c in p.criteria])
            lines += ["AHP pairwise matrix:", "", _table(matrix, "{:.3g}"), ""]
        lines += ["Exclusions: " + ("; ".join(surface.exclusions["reason"]) or "none") + ".", ""]
        sites = result.sites[result.sites["profile"] == name]
        eligible = int(np.isfinite(surface.suitability.data).sum())
        lines += [
            f"{len(sites)} proposed site(s) from "
            f"{int((result.patches['profile'] == name).sum())} candidate patch(es); "
            f"{eligible * result.grid.cell_area / 1e6:,.0f} km² of the study area escape the "
            "exclusions.",
            "",
        ]
        if len(sites):
            cols = ["rank", "site_id", "score"] + [f"w_{c.name}" for c in p.criteria]
            lines += [_table(sites[cols].round(3)), ""]
    if result.clusters is not None:
        lines += ["## Growth poles (clusters of mines)", ""]
        cl = result.clusters[["cluster", "n_members", "total_weight", "members"]]
        lines += [_table(cl), ""] if len(cl) else ["No cluster found.", ""]
    if result.allocation is not None:
        a = result.allocation
        lines += [
            "## Processing plants: p-median allocation",
            "",
            f"{a.p} plants among the `{a.profile}` sites; total weight × cost "
            f"{a.objective:,.1f}; optimality gap {a.gap:.2%}; solved in {a.seconds:.2f} s.",
            "",
            _table(a.plants[["site_id", "rank", "score", "n_served", "served_weight"]]),
            "",
        ]
    lines += ["## Versions", "", ", ".join(f"{k} {v}" for k, v in versions().items()), ""]
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    lines += ["## Timings", "", timings, ""]
    return "\n".join(lines)


def write(result: Result, path: Path) -> Path:
    """Write ``report.md``."""
    path.write_text(render(result), encoding="utf-8")
    return path
