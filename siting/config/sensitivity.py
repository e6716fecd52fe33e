"""The ``[sensitivity]`` table: how robust the run's plan is to its assumptions
(:mod:`siting.robustness`).

Every run draws ``draws`` alternative sets of assumptions at once: each profile's criterion
weights around the chosen ones, and factors on the plant capacity, the opening and expansion
costs and each haul tariff, uniform in the ranges below. A site's robustness is the share of
draws in which it stays in the plan. The ranges are judgements about how uncertain those
numbers are, stated in the report's assumptions table; narrow or widen them to what you know."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Gt, Len
from pydantic import AfterValidator, Strict, model_validator
from pydantic.dataclasses import dataclass

from siting.config.messages import Problem, key_of
from siting.config.values import CONFIG, Count, Finite, Flag, Positive, Share


def _ordered(value: tuple[float, float]) -> tuple[float, float]:
    if value[0] > value[1]:
        raise ValueError(f"the low factor {value[0]:g} is above the high one {value[1]:g}")
    return value


#: A range of factors ``[low, high]``, each > 0, low ≤ high (1 is the scenario's own value).
Factors = Annotated[
    tuple[
        Annotated[float, Strict(), Finite, Gt(0)],
        Annotated[float, Strict(), Finite, Gt(0)],
    ],
    Len(2, 2),
    AfterValidator(_ordered),
]


@dataclass(frozen=True, config=CONFIG)
class Sensitivity:
    """The default sensitivity of every run, ``[sensitivity]``: ``draws`` alternative sets of
    assumptions, and each site's robustness (the share of draws in which it stays in the
    plan)."""

    draws: Count = 20
    """Alternative sets of assumptions drawn; 0: none (the run says its plan was not tested)."""
    seed: Count = 0
    """Seed of the draws: the same seed draws the same assumptions."""
    concentration: Positive = 50.0
    """Direct weights: Dirichlet draws around the chosen weights; a weight w varies with
    standard deviation √(w(1 − w)/(concentration + 1)) (50: 0.25 ± 0.06)."""
    judgement_sd: Annotated[float, Strict(), Finite, Gt(0)] = 0.2
    """AHP weights: each pairwise judgement times exp(N(0, judgement_sd)) (0.2: about ± 20 %)."""
    capacity: Factors = (0.8, 1.2)
    """Factor on a new plant's capacity (and an existing plant's room to expand)."""
    opening_cost: Factors = (0.5, 1.5)
    """Factor on the opening cost of a new plant and the expansion cost (one factor for both)."""
    tariffs: Factors = (0.8, 1.25)
    """Factor on each haul tariff (truck, rail, off-road, transfer), drawn one by one; the
    routes stay those of the scenario's tariffs, priced again (``[haul] mode = "network"``)."""
    robust: Share = 0.8
    """A site in the plan in at least this share of draws is robust."""
    fragile: Share = 0.5
    """A site in the plan in less than this share of draws is fragile (between: moderate)."""
    split_flows: Flag = True
    """A draw's plant model lets a mine's coal split between plants (the run's own plan keeps
    its `single_sourcing`): a draw asks which plants open, and the split model answers that
    in a fraction of the time of the single-sourcing one."""
    time_limit: Positive = 2.0
    """Seconds per draw's plant solve (its proven gap is recorded)."""
    tol: Annotated[float, Strict(), Finite, Gt(0)] = 0.01
    """Relative gap at which a draw's plant solve stops: a draw asks which plants open, not the
    last 1 % of cost."""

    @model_validator(mode="after")
    def _classes(self) -> Sensitivity:
        if self.fragile > self.robust:
            raise Problem(
                f"{key_of('fragile')} = {self.fragile:g} is above {key_of('robust')} = "
                f"{self.robust:g}",
                "a site is fragile below `fragile` and robust from `robust` up: keep "
                "fragile <= robust",
            )
        return self

    def factors(self) -> dict[str, tuple[float, float]]:
        """The factor ranges by name (the columns of the robustness draws)."""
        return {
            "capacity": self.capacity,
            "opening_cost": self.opening_cost,
            "truck_tariff": self.tariffs,
            "rail_tariff": self.tariffs,
            "offroad_tariff": self.tariffs,
            "transfer_tariff": self.tariffs,
        }
