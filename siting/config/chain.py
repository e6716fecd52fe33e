"""The ``[models.chain]`` table: the coal value chain mines → preparation plants → coke /
coal-chemical plants → markets (:class:`siting.models.ValueChainLocation`).

Every default here is a planning assumption (an order of magnitude, not data); a scenario that
enables the chain should state its own. Tonnages are in the units of the demand layer's
``weight_field`` (e.g. Mt/yr), costs in those units × truck-km (the allocation's unit)."""

from __future__ import annotations

from dataclasses import field

from pydantic.dataclasses import dataclass

from siting.config.values import CONFIG, Filter, NonNegative, Positive, Share, Text


@dataclass(frozen=True, config=CONFIG)
class ChainModel:
    """The value chain, ``[models.chain]``: which preparation and coke plants to open among the
    sites of two profiles (and existing facilities), and how the mines' coal flows through
    them, at least haul plus opening cost. The haul is priced on the ``[haul]`` road and rail
    network, in truck-km equivalents."""

    prep_profile: Text = "processing_plant"
    """The profile whose proposed sites are the candidate preparation plants."""
    coke_profile: Text = "coal_chemical_plant"
    """The profile whose proposed sites are the candidate coke / coal-chemical plants."""
    demand: Text = "mines"
    """The layer of mines (the supply)."""
    weight_field: Text = "output"
    """Each mine's supply (e.g. Mt/yr)."""
    type_field: Text | None = None
    """The mines' coal type (e.g. `coal_grade`); none: one type, all of it coking."""
    coke_feed: tuple[str, ...] = ()
    """The coal types whose concentrate goes on to the coke plants; the others leave the chain
    at the preparation plant (e.g. thermal coal to power stations). Empty with a `type_field`:
    none does."""
    prep_yield: dict[str, Share] = field(default_factory=dict)
    """Tonnes of concentrate per tonne of coal, by coal type; a type not named takes
    `default_prep_yield`."""
    default_prep_yield: Share = 0.75
    """Concentrate yield of a coal type not in `prep_yield` (assumption: Kuzbass preparation
    yields are about 0.6–0.85)."""
    coke_yield: Share = 0.75
    """Tonnes of coke per tonne of concentrate (assumption: about 0.75 for metallurgical coke)."""
    prep_capacity: Positive = 10.0
    """Input capacity of a new preparation plant (assumption: 10 Mt/yr, a large plant)."""
    prep_opening_cost: NonNegative = 100.0
    """Cost of opening a preparation plant, in supply × truck-km (assumption)."""
    coke_capacity: Positive = 5.0
    """Input capacity of a new coke plant (assumption: 5 Mt/yr of concentrate)."""
    coke_opening_cost: NonNegative = 200.0
    """Cost of opening a coke plant, in supply × truck-km (assumption)."""
    markets: Text | None = None
    """A layer of markets the coke goes to (e.g. anchors); none: it leaves at the coke plant."""
    markets_where: Filter | None = None
    """Only the markets that match (a filter expression)."""
    existing: Text | None = None
    """A layer of existing facilities: open already, no opening cost."""
    prep_existing_where: Filter | None = None
    """The existing preparation plants among `existing` (e.g. `kind == 'preparation_plant'`)."""
    coke_existing_where: Filter | None = None
    """The existing coke plants among `existing` (e.g. `kind == 'coke_plant'`)."""
    existing_capacity_field: Text | None = None
    """The existing facilities' capacity field (input, in the supply's units); an empty value
    takes `existing_prep_capacity` or `existing_coke_capacity`."""
    existing_prep_capacity: Positive = 3.0
    """Capacity of an existing preparation plant without one (assumption: 3 Mt/yr, the 2017
    Kuzbass average of 161.6 Mt over 54 plants)."""
    existing_coke_capacity: Positive = 3.0
    """Capacity of an existing coke plant without one (assumption: 3 Mt/yr of concentrate)."""
    time_limit: Positive = 20.0
    """Seconds for the solver; the proven gap is reported either way."""
