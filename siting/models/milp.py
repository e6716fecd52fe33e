"""The HiGHS call shared by the MILP models (:mod:`siting.models.facility`,
:mod:`siting.models.covering`)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp

from siting.errors import InfeasibleError


def solve(
    objective: np.ndarray,
    constraints: list[LinearConstraint],
    integrality: np.ndarray,
    time_limit: float,
    model: str,
    tol: float = 1e-4,
    bounds: Bounds | None = None,
) -> OptimizeResult:
    """Minimise ``objective`` over variables in ``bounds`` (default [0, 1]) with
    :func:`scipy.optimize.milp`.

    Raises
    ------
    InfeasibleError
        If HiGHS finds no feasible solution (within ``time_limit`` seconds).
    """
    res = milp(
        objective,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(0, 1) if bounds is None else bounds,
        options={"time_limit": time_limit, "mip_rel_gap": tol},
    )
    if res.x is None:
        raise InfeasibleError(
            f"{model}: no feasible solution ({res.message})",
            "relax the constraints (capacities, p, coverage)",
        )
    return res


def mip_gap(res: OptimizeResult) -> float:
    """HiGHS's final relative gap (0 when it reports none, as for a problem solved at the root)."""
    return float(getattr(res, "mip_gap", 0.0) or 0.0)
