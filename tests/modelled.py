"""The synthetic world with every model the exports show: capacitated location-allocation with a
Pareto sweep, maximal covering with an existing facility kept open, Weber points snapped to
eligible land. Built from the shared ``SCENARIO`` (whatever models it has), so the export tests
do not depend on what the pipeline tests put there."""

from __future__ import annotations

from pathlib import Path

import tomllib

from siting.config.scenario import Scenario, from_dict

from conftest import SCENARIO, write_world

ALLOCATION = {
    "profile": "processing_plant",
    "demand": "mines",
    "weight_field": "output",
    "capacity": 12,  # 26 Mt/yr of mines: at least three plants
    "opening_cost": 20,
    "single_sourcing": True,
    "time_limit": 20,
    "pareto_steps": 3,
}
COVERING = {
    "profile": "technopark",
    "demand": "settlements",
    "weight_field": "population",
    "existing": "anchors",
    "existing_where": "kind == 'ugle_naukograd'",
    "p": 1,
    "max_minutes": 5,  # the town is 4.5 min from the new site; UgleNaukoGrad alone is too far
    "speed_kmh": 60,
}


def scenario(folder: Path, out: Path) -> Scenario:
    """Write the synthetic layers to ``folder`` and return the scenario with every model."""
    write_world(folder)
    data = tomllib.loads(SCENARIO)
    data["name"] = "modelled"
    data["models"]["allocation"] = dict(ALLOCATION)
    data["models"]["covering"] = dict(COVERING)
    data["models"]["clusters"]["snap_profile"] = "processing_plant"
    data["outputs"] = {"dir": out.as_posix()}
    return from_dict(data, base_dir=folder)
