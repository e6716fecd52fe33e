"""The ``[haul]`` table: how ``[models.allocation]`` and ``[models.chain]`` price a haul from a
mine to a plant, over the friction surface or on the road and rail network
(:mod:`siting.network.multimodal`). The tariffs are planning assumptions, stated as such in the
report's assumptions table."""

from __future__ import annotations

from typing import Literal

from pydantic.dataclasses import dataclass

from siting.config.values import CONFIG, NonNegative, Positive, Text


@dataclass(frozen=True, config=CONFIG)
class Haul:
    """How ``[models.allocation]`` prices a haul from a demand feature (a mine) to a plant.

    ``"friction"``: cost-distance over the friction surface, in road-equivalent km.
    ``"network"``: the least-cost route on the road and rail lines joined at the loading
    stations (:mod:`siting.network.multimodal`), priced per tonne by mode; the cost in the
    model is that price in truck-km equivalents (RUB/t ÷ `truck_rub_tkm`), so that
    `opening_cost` keeps its unit (weight × road-km). The tariffs are planning assumptions
    (2020s Russian orders of magnitude), not quotes."""

    mode: Literal["friction", "network"] = "friction"
    """`"friction"`: cost-distance over `[friction]`; `"network"`: routes on road and rail."""
    roads: Text = "roads"
    """`network`: the road lines (trucks)."""
    rail: Text = "rail"
    """`network`: the rail lines."""
    stations: Text | None = "stations"
    """`network`: loading stations, where road and rail meet (a transfer); none: no transfer."""
    truck_rub_tkm: Positive = 6.0
    """Truck haul on a road, RUB per t·km (assumption: 5–8 RUB/t·km for bulk coal by truck)."""
    rail_rub_tkm: Positive = 2.0
    """Rail haul, RUB per t·km (assumption: Russian rail coal tariffs, about 1.5–2.5 RUB/t·km
    on regional distances)."""
    offroad_rub_tkm: Positive = 12.0
    """Truck off the network (a mine's or a plant's own unpaved road), RUB per t·km, along the
    straight leg to the nearest road node (assumption: twice the road tariff)."""
    transfer_rub_t: NonNegative = 150.0
    """Transfer between truck and rail at a station, RUB per tonne (assumption: unloading,
    storage and loading, 100–200 RUB/t)."""
    siding_km: NonNegative = 10.0
    """A mine or plant site within this distance (km) of a rail line gets a siding: a straight
    spur to the line's nearest node, priced as rail (assumption: large Kuzbass mines have their
    own sidings); 0: none."""
    station_km: Positive = 5.0
    """A station joins the rail and road nodes nearest to it within this distance (km); the
    leg to the road is an access road, priced as road."""
    snap_m: NonNegative = 3000.0
    """Line ends within this distance (metres) of another line of the same mode are joined to
    it (generalised lines rarely meet exactly)."""
