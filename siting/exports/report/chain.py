"""The report's section on the value chain, ``[models.chain]``: which preparation and coke
plants open, and the coal's flows through them (:mod:`siting.exports.report.document` puts it
in the report)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from siting.exports.report import chainfig
from siting.exports.report.blocks import Block, Code, Figure, Heading, Para, Table, gap, num
from siting.exports.theme import weight_unit

if TYPE_CHECKING:
    from siting.pipeline.result import Result

#: The stages' names in the report.
STAGE_NAMES = {
    "mine_prep": "mine → preparation",
    "prep_coke": "preparation → coke",
    "coke_market": "coke → market",
}


#: The file name of the chain's flow figure (:mod:`siting.exports.report.chainfig`).
FIGURE = "chain_flows.png"


def section(result: Result) -> list[Block]:
    """ "The value chain": what was solved, the flow figure, the plants opened and the flow table
    (none without ``[models.chain]``)."""
    chain, spec = result.chain, result.scenario.chain
    if chain is None or spec is None:
        return []
    opened = chain.plants[chain.plants["open"]]
    unit = weight_unit(result.scenario, spec.demand, spec.weight_field)
    plants = [
        [
            str(r["echelon"]),
            str(r["name"]),
            "yes" if r["existing"] else "no",
            num(r["capacity"]),
            num(r["input"]),
            num(r["output"]),
            num(r["leaves"]),
        ]
        for _, r in opened.iterrows()
    ]
    flows = [
        [
            STAGE_NAMES.get(str(r["stage"]), str(r["stage"])),
            str(r["from"]),
            str(r["to"]),
            str(r["coal_type"]) or "–",
            num(r["tonnes"]),
            num(r["km"]),
            num(r["cost"]),
        ]
        for _, r in chain.flows.iterrows()
    ]
    feed = ", ".join(spec.coke_feed) if spec.type_field is not None else "all"
    markets: list[str | Code] = ["the coke leaves the chain at the coke plants."]
    if spec.markets is not None:
        markets = ["the coke goes to the markets of layer ", Code(spec.markets), "."]
    return [
        Heading(2, "The value chain", "chain"),
        Para(
            [
                "The coal of ",
                Code(spec.demand),
                f" ({spec.weight_field}) goes to preparation plants (sites of ",
                Code(spec.prep_profile),
                "), whose concentrate of the coking types (",
                feed,
                ") goes on to coke / coal-chemical plants (sites of ",
                Code(spec.coke_profile),
                "); ",
                *markets,
                " Plants open and flows are chosen together at least opening cost plus haul "
                "(tonnes × truck-km on the road and rail network); yields, capacities and "
                "opening costs are the scenario's assumptions. Objective "
                f"{num(chain.objective)}, proven gap {gap(chain.gap)}.",
            ]
        ),
        Figure(
            FIGURE,
            "Map of the value chain's flows by stage, its open plants and markets, and a bar "
            "chart of the tonnes through each echelon",
            "The chain's flows on their road and rail routes, coloured by stage, line width "
            f"proportional to tonnes ({unit}); open preparation plants (squares) and coke "
            "plants (triangles), filled if existing, hollow if new, the "
            f"{chainfig.LABELLED} largest of each echelon named (the table lists them all); the "
            "markets as stars. Below, the tonnes arriving at each echelon, split into what goes "
            "on to the next echelon, what leaves the chain there and what processing loses "
            "(1 − yield): each bar's first part is the next bar's length.",
            partial(chainfig.flows, result),
            inputs=chainfig.inputs(result),
        ),
        Table(
            ["Echelon", "Plant", "Existing", "Capacity", "Input", "Output", "Leaves the chain"],
            plants,
            [False, False, False, True, True, True, True],
        ),
        Table(
            ["Stage", "From", "To", "Coal type", "Tonnes", "Truck-km per tonne", "Tonnes × km"],
            flows,
            [False, False, False, False, True, True, True],
        ),
    ]
