"""Capacitated facility location with opening costs (the fixed-charge problem), solved by the
Lagrangian branch-and-bound of :mod:`siting.models.cflp_solver` or by HiGHS; existing plants stay
open and may be expanded (expand-or-build)."""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint

from siting.errors import InfeasibleError
from siting.models import cflp_highs, cflp_solver, milp
from siting.models.validation import (
    CostMatrixEstimator,
    check_choice,
    check_cost,
    check_int,
    check_number,
    check_per_site,
    check_sample_weight,
    finite_costs,
)

METHODS = ("exact", "milp")


class CapacitatedFacilityLocation(CostMatrixEstimator):
    """Open plants (each with a capacity and an opening cost) and assign demand to them at least
    total cost: Σ opening cost + Σ weight × cost (the fixed-charge problem, so the model chooses
    how many plants). Solved exactly: ``method="exact"`` (default) by the Lagrangian bound and
    branch-and-bound of :mod:`siting.models.cflp_solver` (with single sourcing it finishes with
    HiGHS, keeping its heuristic solution when HiGHS finds none better); ``method="milp"``
    hands the whole MILP to HiGHS (:func:`scipy.optimize.milp`).

    A scikit-learn estimator: ``__init__`` only stores the parameters (so ``get_params``,
    ``clone`` and the repr work), :meth:`fit` checks them and learns the attributes ending in
    ``_``.

    Existing plants (``existing`` > 0) are always open and cost nothing to open; with an
    ``expansion_cost`` they may grow beyond their existing capacity, up to ``capacity``, at that
    cost per unit of capacity added. New sites pay the opening cost: expand-or-build.

    Parameters
    ----------
    capacity
        Capacity of each candidate site, or one for all (same units as the weights, e.g.
        Mt/yr); for an existing plant, its capacity after the largest allowed expansion.
    opening_cost
        Cost of opening each site, or one for all (same units as weight × cost); not charged
        for existing plants.
    single_sourcing
        Each client served by exactly one plant (binary assignment) or split between plants.
    p
        Open exactly ``p`` plants instead of letting the fixed charges decide (None).
    time_limit
        Seconds for the solver; on timeout the best solution found is kept and ``gap_`` says how
        far from proven optimal it may be.
    tol
        Relative optimality tolerance (the search stops once ``gap_`` is below it; HiGHS's
        ``mip_rel_gap``).
    existing
        Capacity already built at each site, or one for all: 0 for a new candidate, > 0 for an
        existing plant (always open, no opening cost; at most ``capacity``).
    expansion_cost
        Cost per unit of capacity added to an existing plant above ``existing`` (up to
        ``capacity``), or one for all (same units as weight × cost); None or ``inf``: no
        expansion.
    method
        ``"exact"`` or ``"milp"`` (see above).
    init
        Indices of the sites of a starting solution (e.g. the ``facilities_`` of a neighbouring
        solve: the Pareto sweep passes each weight's plants to the next), or None. The exact
        method evaluates it first, so its multipliers start from its transportation duals and
        its cost is the first incumbent; existing plants are added to it. ``method="milp"``
        ignores it (scipy's HiGHS takes no starting point).

    Attributes
    ----------
    facilities_
        Indices of the opened sites (columns of the cost matrix), sorted; existing plants are
        always among them.
    expansion_
        Capacity added to each site, shape (n_sites,): > 0 only at expanded existing plants.
    assignment_
        Clients × sites: the share of each client's demand each site serves (0/1 with single
        sourcing).
    objective_
        Σ opening cost + Σ weight × cost of the solution.
    lower_bound_
        Proven lower bound on the optimum.
    gap_
        Proven relative optimality gap, ``(objective_ − lower_bound_) / objective_`` (HiGHS's
        own gap with ``method="milp"``; 0 = proven optimal).
    method_
        The method that ran.
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
        existing: float | np.ndarray = 0.0,
        expansion_cost: float | np.ndarray | None = None,
        method: Literal["exact", "milp"] = "exact",
        init: np.ndarray | None = None,
    ) -> None:
        self.capacity = capacity
        self.opening_cost = opening_cost
        self.single_sourcing = single_sourcing
        self.p = p
        self.time_limit = time_limit
        self.tol = tol
        self.existing = existing
        self.expansion_cost = expansion_cost
        self.method = method
        self.init = init

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
            If ``p`` exceeds the number of sites or is below the number of existing plants, or
            the total demand exceeds the capacity that can be opened.
        """
        model = "capacitated facility location"
        check_number(self.time_limit, "time_limit", model)
        check_number(self.tol, "tol", model)
        check_choice(self.method, "method", model, METHODS)
        if not isinstance(self.single_sourcing, bool | np.bool_):
            raise TypeError(
                f"{model}: single_sourcing must be a bool, not {self.single_sourcing!r}"
            )
        p = None if self.p is None else check_int(self.p, "p", model, 1)
        cost = check_cost(self, X, model)
        w = check_sample_weight(sample_weight, len(cost), model)
        n, m = cost.shape
        cap = check_per_site(self.capacity, "capacity", model, m)
        held = check_per_site(self.existing, "existing", model, m)
        if (held > cap).any():
            raise ValueError(
                f"{model}: existing exceeds capacity at sites {np.flatnonzero(held > cap)}; "
                "capacity is an existing plant's capacity after any expansion"
            )
        is_existing = held > 0
        unit = _expansion_cost(self.expansion_cost, model, m)
        grows = is_existing & np.isfinite(unit)
        # Capacity when open without expansion; the expansion variable adds up to the rest.
        base = np.where(is_existing, held, cap)
        room = np.where(grows, cap - held, 0.0)
        largest = base + room
        fixed = np.where(
            is_existing, 0.0, check_per_site(self.opening_cost, "opening_cost", model, m)
        )
        n_existing = int(is_existing.sum())
        if p is not None and p > m:
            raise InfeasibleError(
                f"{model}: p = {p} but only {m} candidate sites",
                "lower p or propose more sites (the profile's n_sites)",
            )
        if p is not None and p < n_existing:
            raise InfeasibleError(
                f"{model}: p = {p} but {n_existing} existing plants stay open",
                "raise p to at least the number of existing plants, or leave p out",
            )
        if p:
            new_best = np.sort(largest[~is_existing])[::-1][: p - n_existing].sum()
            usable = largest[is_existing].sum() + new_best
        else:
            usable = largest.sum()
        if w.sum() > usable + 1e-9:
            raise InfeasibleError(
                f"{model}: total demand {w.sum():g} exceeds the capacity of the sites that may "
                f"open ({usable:g})",
                "add candidate sites, raise capacities, or allow more plants (p)",
            )
        initial = _initial(self.init, model, m, is_existing, largest, w.sum())
        c = finite_costs(cost, model)
        start = time.perf_counter()
        expand = np.where(grows, unit, 0.0)
        # The MILP is built only where HiGHS solves it (it is n × m rows).
        formulation = (
            _formulation(
                c, w, fixed, base, room, expand, is_existing, largest, p, self.single_sourcing
            )
            if self.method == "milp" or self.single_sourcing
            else None
        )
        if self.method == "milp":
            assert formulation is not None
            objective, constraints, integrality, bounds = formulation
            res = milp.solve(
                objective,
                constraints,
                integrality,
                self.time_limit,
                model,
                self.tol,
                bounds=bounds,
            )
            self.seconds_ = time.perf_counter() - start
            self.facilities_ = np.flatnonzero(res.x[:m] > 0.5)
            self.assignment_ = res.x[m : m + n * m].reshape(n, m).clip(0, 1)
            self.expansion_ = res.x[m + n * m :].clip(0, room)
            self.objective_ = float(res.fun)
            self.gap_ = milp.mip_gap(res)
            dual = getattr(res, "mip_dual_bound", None)
            self.lower_bound_ = float(res.fun if dual is None else min(dual, res.fun))
            self.method_ = "milp"
            return self
        prob = cflp_solver.Problem(c[w > 0], w[w > 0], fixed, base, room, expand, is_existing, p)
        x_pos: np.ndarray | None
        if prob.demand <= 0:
            # No demand: the cheapest plants the count allows, nothing to assign.
            open_ = is_existing.copy()
            more = max(p or 1, n_existing) - n_existing
            open_[np.argsort(np.where(is_existing, np.inf, fixed), kind="stable")[:more]] = True
            x_pos, e, lower = np.zeros((0, m)), np.zeros(m), float(fixed[open_].sum())
        elif self.single_sourcing:
            assert formulation is not None
            open_, x_pos, e, lower = _single_sourced(
                prob, w, c, *formulation, self.time_limit, self.tol, initial
            )
            if x_pos is None:
                raise InfeasibleError(
                    f"{model}: no feasible single-sourced solution within {self.time_limit:g} s",
                    "allow more time (time_limit) or multi-sourcing, or raise capacities",
                )
        else:
            found = cflp_solver.solve_exact(prob, self.time_limit, self.tol, initial)
            sol = found.solution
            open_, x_pos, e, lower = sol.open_, sol.x, sol.e, found.lower
        assert x_pos is not None
        self.seconds_ = time.perf_counter() - start
        self.facilities_ = np.flatnonzero(open_)
        assignment = np.zeros((n, m))
        assignment[w > 0] = x_pos
        # Clients without demand cost nothing anywhere: each goes to its cheapest open site.
        idle = np.flatnonzero(w <= 0)
        cheapest = self.facilities_[np.argmin(c[np.ix_(idle, self.facilities_)], axis=1)]
        assignment[idle, cheapest] = 1.0
        self.assignment_ = assignment
        self.expansion_ = np.asarray(e, dtype=float).clip(0, room)
        self.objective_ = float(
            fixed[open_].sum() + (w[:, None] * c * assignment).sum() + expand @ self.expansion_
        )
        self.lower_bound_ = float(min(lower, self.objective_))
        slack = self.objective_ - self.lower_bound_
        self.gap_ = slack / self.objective_ if self.objective_ > 0 else 0.0
        self.method_ = "exact"
        return self


def _formulation(
    c: np.ndarray,
    w: np.ndarray,
    fixed: np.ndarray,
    base: np.ndarray,
    room: np.ndarray,
    expand: np.ndarray,
    is_existing: np.ndarray,
    largest: np.ndarray,
    p: int | None,
    single_sourcing: bool,
) -> tuple[np.ndarray, list[LinearConstraint], np.ndarray, Bounds]:
    """The MILP: objective, constraints, integrality and bounds.

    Variables: y (m), x (n × m, the share of client i served by site j), then e (m, the
    capacity added to each site: bounded by its room, 0 except at expandable plants).
    """
    n, m = c.shape
    objective = np.concatenate([fixed, (w[:, None] * c).ravel(), expand])
    none = sp.csr_matrix((n, m))
    one_each = sp.hstack([none, sp.kron(sp.eye(n), np.ones((1, m))), none])
    capacity = sp.hstack([-sp.diags(base), sp.kron(w[None, :], sp.eye(m)), -sp.eye(m)])
    link = sp.hstack(
        [-sp.kron(np.ones((n, 1)), sp.eye(m)), sp.eye(n * m), sp.csr_matrix((n * m, m))]
    )
    constraints = [
        LinearConstraint(one_each, 1, 1),
        LinearConstraint(capacity, -np.inf, 0),
        LinearConstraint(link, -np.inf, 0),
    ]
    count = sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n * m + m))])
    if p:
        constraints.append(LinearConstraint(count, p, p))
    else:
        # Valid cut: at least as many plants as the largest capacities need to take the
        # demand. The LP relaxation misses it and HiGHS then branches far longer.
        fewest = int(np.searchsorted(np.cumsum(np.sort(largest)[::-1]), w.sum() - 1e-9) + 1)
        constraints.append(LinearConstraint(count, fewest, np.inf))
    integrality = np.concatenate([np.ones(m), np.full(n * m, int(single_sourcing)), np.zeros(m)])
    # Existing plants are open: their y is fixed at 1.
    lower = np.concatenate([is_existing.astype(float), np.zeros(n * m + m)])
    upper = np.concatenate([np.ones(m + n * m), room])
    return objective, constraints, integrality, Bounds(lower, upper)


def _single_sourced(
    prob: cflp_solver.Problem,
    w: np.ndarray,
    c: np.ndarray,
    objective: np.ndarray,
    constraints: list[LinearConstraint],
    integrality: np.ndarray,
    bounds: Bounds,
    time_limit: float,
    tol: float,
    initial: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, float]:
    """Single sourcing: the multi-sourced root bound and heuristic open set, a single-sourced
    assignment of that set, then HiGHS on the full MILP; the better solution is kept.

    Returns
    -------
    open_, x, e, lower
        Open sites (bool), shares of the clients with demand (None if nothing was found),
        expansion and the proven lower bound.
    """
    n, m = c.shape
    deadline = time.perf_counter() + time_limit
    search = cflp_solver.Search(prob, deadline - 0.5 * time_limit, tol)
    root, _ = cflp_solver.root_bound(search, initial)
    lower = root.value
    start = None
    if search.best is not None:
        left = deadline - time.perf_counter()
        found = cflp_highs.single_sourced(prob, search.best.open_, 0.25 * left)
        if found is not None:
            x_pos, e = found
            x = np.zeros((n, m))
            x[w > 0] = x_pos
            open_ = search.best.open_ | prob.existing
            idle = np.flatnonzero(w <= 0)
            sites = np.flatnonzero(open_)
            x[idle, sites[np.argmin(c[np.ix_(idle, sites)], axis=1)]] = 1.0
            start = np.concatenate([open_.astype(float), x.ravel(), e])
    result = cflp_highs.solve_highs(
        objective,
        sp.vstack([sp.csr_matrix(k.A) for k in constraints]).tocsr(),
        np.concatenate([np.broadcast_to(k.lb, k.A.shape[0]) for k in constraints]),
        np.concatenate([np.broadcast_to(k.ub, k.A.shape[0]) for k in constraints]),
        integrality,
        bounds,
        start,
        deadline - time.perf_counter(),
        tol,
    )
    lower = max(lower, result.bound)
    chosen = result.x if result.x is not None else start
    if chosen is None:
        return np.zeros(m, dtype=bool), None, np.zeros(m), lower
    open_ = chosen[:m] > 0.5
    x = np.round(chosen[m : m + n * m].reshape(n, m)).clip(0, 1)
    return open_, x[w > 0], chosen[m + n * m :], lower


def _initial(
    init: object, model: str, m: int, existing: np.ndarray, largest: np.ndarray, demand: float
) -> np.ndarray | None:
    """``init`` as an open set (bool, existing plants included), or None when it is None or
    cannot take the demand (then it is no start at all, and the solve starts cold)."""
    if init is None:
        return None
    sites = np.asarray(init)
    if sites.ndim != 1 or (sites.size and not np.issubdtype(sites.dtype, np.integer)):
        raise TypeError(f"{model}: init must be a 1-D array of site indices, not {init!r}")
    if sites.size and (sites.min() < 0 or sites.max() >= m):
        raise ValueError(f"{model}: init holds site indices outside 0..{m - 1}: {init!r}")
    open_ = existing.copy()
    open_[sites] = True
    return open_ if largest[open_].sum() >= demand - 1e-9 else None


def _expansion_cost(value: object, model: str, m: int) -> np.ndarray:
    """Expansion cost per site: >= 0 as :func:`check_per_site` checks, or ``inf`` (no
    expansion); None: inf."""
    if value is None:
        return np.full(m, np.inf)
    return check_per_site(value, "expansion_cost", model, m, allow_inf=True).astype(float)
