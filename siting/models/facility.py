"""Capacitated facility location with opening costs (the fixed-charge problem), solved by HiGHS."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import LinearConstraint

from siting.errors import InfeasibleError
from siting.models import milp
from siting.models.validation import (
    CostMatrixEstimator,
    check_cost,
    check_int,
    check_number,
    check_per_site,
    check_sample_weight,
    finite_costs,
)


class CapacitatedFacilityLocation(CostMatrixEstimator):
    """Open plants (each with a capacity and an opening cost) and assign demand to them at least
    total cost: Σ opening cost + Σ weight × cost (the fixed-charge problem, so the model chooses
    how many plants). Solved exactly with HiGHS.

    A scikit-learn estimator: ``__init__`` only stores the parameters (so ``get_params``,
    ``clone`` and the repr work), :meth:`fit` checks them and learns the attributes ending in
    ``_``.

    Parameters
    ----------
    capacity
        Capacity of each candidate site, or one for all (same units as the weights, e.g.
        Mt/yr).
    opening_cost
        Cost of opening each site, or one for all (same units as weight × cost).
    single_sourcing
        Each client served by exactly one plant (binary assignment) or split between plants.
    p
        Open exactly ``p`` plants instead of letting the fixed charges decide (None).
    time_limit
        Seconds for the solver.
    tol
        Relative optimality tolerance (HiGHS's ``mip_rel_gap``).

    Attributes
    ----------
    facilities_
        Indices of the opened sites (columns of the cost matrix), sorted.
    assignment_
        Clients × sites: the share of each client's demand each site serves (0/1 with single
        sourcing).
    objective_
        Σ opening cost + Σ weight × cost of the solution.
    gap_
        HiGHS's relative optimality gap (0 = proven optimal).
    seconds_
        Solver wall time.
    """

    def __init__(
        self,
        capacity: float | np.ndarray,
        opening_cost: float | np.ndarray,
        single_sourcing: bool = False,
        p: int | None = None,
        time_limit: float = 60.0,
        tol: float = 1e-4,
    ) -> None:
        self.capacity = capacity
        self.opening_cost = opening_cost
        self.single_sourcing = single_sourcing
        self.p = p
        self.time_limit = time_limit
        self.tol = tol

    def fit(
        self, X: np.ndarray, y: object = None, sample_weight: np.ndarray | None = None
    ) -> CapacitatedFacilityLocation:
        """Open plants and assign the demand.

        Parameters
        ----------
        X
            Cost matrix, shape (n_clients, n_sites): the cost of serving a unit of client
            ``i``'s demand from site ``j``, ``inf`` where impossible. Clients are the samples
            (rows), candidate sites the features (columns).
        y
            Not used; present for scikit-learn's ``fit(X, y)`` convention. Give the demand as
            ``sample_weight=``, not second.
        sample_weight
            Demand of each client, shape (n_clients,), >= 0 (None: 1 each).

        Returns
        -------
        CapacitatedFacilityLocation
            The fitted estimator.

        Raises
        ------
        ValueError, TypeError
            If a parameter, ``X`` or ``sample_weight`` is invalid (a programmer error).
        InfeasibleError
            If ``p`` exceeds the number of sites, or the total demand exceeds the capacity that
            can be opened.
        """
        model = "capacitated facility location"
        check_number(self.time_limit, "time_limit", model)
        check_number(self.tol, "tol", model)
        if not isinstance(self.single_sourcing, bool | np.bool_):
            raise TypeError(
                f"{model}: single_sourcing must be a bool, not {self.single_sourcing!r}"
            )
        p = None if self.p is None else check_int(self.p, "p", model, 1)
        cost = check_cost(self, X, model)
        w = check_sample_weight(sample_weight, len(cost), model)
        n, m = cost.shape
        cap = check_per_site(self.capacity, "capacity", model, m)
        fixed = check_per_site(self.opening_cost, "opening_cost", model, m)
        if p is not None and p > m:
            raise InfeasibleError(
                f"{model}: p = {p} but only {m} candidate sites",
                "lower p or propose more sites (the profile's n_sites)",
            )
        usable = np.sort(cap)[::-1][:p].sum() if p else cap.sum()
        if w.sum() > usable + 1e-9:
            raise InfeasibleError(
                f"{model}: total demand {w.sum():g} exceeds the capacity of the sites that may "
                f"open ({usable:g})",
                "add candidate sites, raise capacities, or allow more plants (p)",
            )
        c = finite_costs(cost, model)
        start = time.perf_counter()
        # Variables: y (m) then x (n × m, the share of client i served by site j).
        objective = np.concatenate([fixed, (w[:, None] * c).ravel()])
        one_each = sp.hstack([sp.csr_matrix((n, m)), sp.kron(sp.eye(n), np.ones((1, m)))])
        capacity = sp.hstack([-sp.diags(cap), sp.kron(w[None, :], sp.eye(m))])
        link = sp.hstack([-sp.kron(np.ones((n, 1)), sp.eye(m)), sp.eye(n * m)])
        constraints = [
            LinearConstraint(one_each, 1, 1),
            LinearConstraint(capacity, -np.inf, 0),
            LinearConstraint(link, -np.inf, 0),
        ]
        count = sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n * m))])
        if p:
            constraints.append(LinearConstraint(count, p, p))
        else:
            # Valid cut: at least as many plants as the largest capacities need to take the
            # demand. The LP relaxation misses it and HiGHS then branches far longer.
            fewest = int(np.searchsorted(np.cumsum(np.sort(cap)[::-1]), w.sum() - 1e-9) + 1)
            constraints.append(LinearConstraint(count, fewest, np.inf))
        integrality = np.concatenate([np.ones(m), np.full(n * m, int(self.single_sourcing))])
        res = milp.solve(objective, constraints, integrality, self.time_limit, model, self.tol)
        self.seconds_ = time.perf_counter() - start
        self.facilities_ = np.flatnonzero(res.x[:m] > 0.5)
        self.assignment_ = res.x[m:].reshape(n, m).clip(0, 1)
        self.objective_ = float(res.fun)
        self.gap_ = milp.mip_gap(res)
        return self
