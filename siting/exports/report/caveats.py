"""The report's honest-uncertainty sections: every assumed number of the run
(:mod:`siting.exports.assumptions`) and how exact each input layer is (its ``exactness``,
``error_m`` and ``source``, with the caveat for schematic layers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from siting.exports import assumptions, theme
from siting.exports.report.blocks import Block, Bullets, Code, Heading, Link, Para, Table

if TYPE_CHECKING:
    from siting.pipeline.result import Result


def _shown(row: assumptions.Assumption) -> str:
    """A derived row's numbers to 3 decimals (AHP weights); every other value as written."""
    if row.origin != assumptions.DERIVED:
        return row.value
    return ", ".join(f"{float(v):.3f}" for v in row.value.split(", "))


def assumptions_section(result: Result) -> list[Block]:
    """The "Assumptions" section: one table of every number the scenario assumes, with its
    key, value, units, origin and meaning."""
    rows = assumptions.of(result)
    counts = {o: sum(r.origin == o for r in rows) for o in assumptions.ORIGINS}
    origins = "; ".join(
        f"{counts[o]} {o} ({text})" for o, text in assumptions.ORIGINS.items() if counts[o]
    )
    return [
        Heading(2, "Assumptions", "assumptions"),
        Para(
            [
                f"Every number this run assumes, {len(rows)} in all: weights, standardisation "
                "bounds, buffers, speeds, tariffs, capacities, costs and the model settings. "
                "They are planning assumptions, not data, and the result changes with them. "
                f"Origin: {origins}. The same table is in ",
                Link("assumptions.csv", "assumptions.csv"),
                " and in ",
                Code("run.json"),
                ".",
            ]
        ),
        Table(
            ["key", "value", "units", "origin", "what it is"],
            [[r.key, _shown(r), r.units or "–", r.origin, r.description] for r in rows],
            [False, True, False, False, False],
        ),
    ]


def top_warning(result: Result) -> list[Block]:
    """A warning under the report's title when a layer is schematic (none otherwise)."""
    caveat = theme.schematic_caveat(result.scenario)
    if not caveat:
        return []
    return [
        Para(
            [caveat + " ", Link("How exact the layers are", "#how-exact-the-layers-are"), "."],
            "warning",
        )
    ]


def exactness_section(result: Result) -> list[Block]:
    """The "How exact the layers are" section: per layer its exactness, typical error and
    source; the caveat for schematic layers; the layers that state none."""
    s = result.scenario
    rows, unstated = [], []
    for name, spec in s.layers.items():
        if spec.exactness is None:
            unstated.append(name)
        error = "–" if spec.error_m is None else f"±{spec.error_m / 1000:g} km"
        rows.append(
            [
                name,
                spec.kind,
                spec.exactness or "not stated",
                error,
                spec.source or "–",
                f"{len(result.layers[name]):,}" if name in result.layers else "0",
            ]
        )
    blocks: list[Block] = [Heading(2, "How exact the layers are", "how-exact-the-layers-are")]
    caveat = theme.schematic_caveat(s)
    if caveat:
        blocks.append(Para([caveat], "warning"))
    blocks.append(
        Bullets([[f"{word}: {text}"] for word, text in theme.EXACTNESS.items()]),
    )
    blocks.append(
        Table(
            ["layer", "kind", "exactness", "typical error", "source", "features used"],
            rows,
            [False, False, False, True, False, True],
        )
    )
    if unstated:
        blocks.append(
            Para(
                [
                    "No exactness stated for "
                    + ", ".join(unstated)
                    + ": set exactness, error_m and source in their [layers.*] tables."
                ]
            )
        )
    return blocks
