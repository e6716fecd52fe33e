"""The weighted p-median as a scikit-learn estimator (the solver is
:mod:`siting.models.pmedian_solver`)."""

from __future__ import annotations

import time

import numpy as np

from siting.errors import InfeasibleError
from siting.models import pmedian_solver
from siting.models.validation import (
    CostMatrixEstimator,
    check_choice,
    check_cost,
    check_int,
    check_number,
    check_sample_weight,
    check_seed,
    finite_costs,
)

METHODS = ("exact", "milp", "heuristic")


class PMedian(CostMatrixEstimator):
    """Weighted p-median: open ``p`` facilities minimising Σ weight × cost to the nearest one.

    Every method starts from the heuristic of :mod:`siting.models.pmedian_solver` (greedy
    construction, fast interchange, seeded perturbations). ``method="exact"`` then proves
    optimality: a Lagrangian bound (with a Lagrangian heuristic) removes every site and
    client–site pair that cannot improve on the heuristic, and a branch-and-bound on the few sites
    left closes the gap. ``method="milp"`` hands that reduced problem to HiGHS
    (:func:`scipy.optimize.milp`, radius formulation) with the heuristic's objective as cutoff.
    ``method="heuristic"`` stops after the heuristic (no proof; ``gap_`` is NaN), for instances
    too large for either.

    A scikit-learn estimator: ``__init__`` only stores the parameters (so ``get_params``,
    ``clone`` and the repr work), :meth:`fit` checks them and learns the attributes ending in
    ``_``.

    Parameters
    ----------
    p
        Number of facilities to open (>= 1).
    time_limit
        Seconds for the exact search; on timeout the best solution found is kept and ``gap_``
        says how far from proven optimal it may be.
    method
        ``"exact"``, ``"milp"`` or ``"heuristic"``.
    restarts
        Perturbation rounds of the heuristic.
    seed
        Seed of the heuristic's perturbations (results are reproducible).
    tol
        Relative optimality tolerance of the exact methods. When every weight × cost is an
        integer, a solution within 1 of the bound is proven optimal whatever ``tol``.

    Attributes
    ----------
    facilities_
        Indices of the opened facilities (columns of the cost matrix), sorted.
    assignment_
        For each client, the index of its facility.
    objective_
        Σ weight × cost of the solution.
    lower_bound_
        Proven lower bound on the optimum (NaN for the heuristic).
    gap_
        Proven relative optimality gap, ``(objective_ − lower_bound_) / objective_``
        (0 = optimal; NaN for the heuristic).
    root_bound_
        The Lagrangian bound before branching (NaN for the heuristic).
    n_iter_
        Swaps made by the heuristic, or nodes of the exact search.
    seconds_
        Solver wall time.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0.0, 4.0, 9.0], [3.0, 0.0, 5.0], [8.0, 6.0, 0.0]])
    >>> model = PMedian(2).fit(cost, sample_weight=[1.0, 1.0, 5.0])
    >>> model
    PMedian(p=2)
    >>> model.facilities_.tolist(), model.objective_
    ([0, 2], 3.0)
    """

    def __init__(
        self,
        p: int,
        time_limit: float = 60.0,
        method: str = "exact",
        restarts: int = 10,
        seed: int = 0,
        tol: float = 1e-4,
    ) -> None:
        self.p = p
        self.time_limit = time_limit
        self.method = method
        self.restarts = restarts
        self.seed = seed
        self.tol = tol

    def fit(
        self, X: np.ndarray, y: object = None, sample_weight: np.ndarray | None = None
    ) -> PMedian:
        """Open the ``p`` facilities.

        Parameters
        ----------
        X
            Cost matrix, shape (n_clients, n_sites): the cost of serving client ``i`` from
            candidate site ``j`` (e.g. km), ``inf`` where impossible. Clients are the samples
            (rows), candidate sites the features (columns), as for a precomputed distance
            matrix in scikit-learn.
        y
            Not used; present for scikit-learn's ``fit(X, y)`` convention. Give the weights as
            ``sample_weight=``, not second.
        sample_weight
            Weight (demand) of each client, shape (n_clients,), >= 0 (None: 1 each).

        Returns
        -------
        PMedian
            The fitted estimator.

        Raises
        ------
        ValueError, TypeError
            If a parameter, ``X`` or ``sample_weight`` is invalid (a programmer error).
        InfeasibleError
            If ``p`` exceeds the number of candidate sites, or a client cannot reach any.
        """
        name = "p-median"
        p = check_int(self.p, "p", name, 1)
        check_number(self.time_limit, "time_limit", name)
        check_choice(self.method, "method", name, METHODS)
        check_int(self.restarts, "restarts", name, 0)
        check_seed(self.seed, name)
        check_number(self.tol, "tol", name)
        cost = check_cost(self, X, name)
        w = check_sample_weight(sample_weight, len(cost), name)
        m = cost.shape[1]
        if p > m:
            raise InfeasibleError(
                f"{name}: p = {p} but only {m} candidate sites",
                "lower p or propose more sites (the profile's n_sites)",
            )
        unreachable = ~np.isfinite(cost).any(axis=1)
        if unreachable.any():
            raise InfeasibleError(
                f"{name}: {int(unreachable.sum())} client(s) cannot reach any candidate site "
                "over the friction surface",
                "check impassable features (water) and that routes (roads, rail) reach them",
            )
        c = finite_costs(cost, name)
        start = time.perf_counter()
        if self.method == "heuristic":
            open_, _, self.n_iter_ = pmedian_solver.solve(c, w, p, self.restarts, self.seed)
            self.lower_bound_ = self.root_bound_ = float("nan")
        else:
            found = pmedian_solver.solve_exact(
                w[:, None] * c,
                p,
                time_limit=self.time_limit,
                rel_tol=self.tol,
                restarts=self.restarts,
                seed=self.seed,
                engine="highs" if self.method == "milp" else "bnb",
            )
            open_, self.n_iter_ = found.sites, found.nodes
            self.lower_bound_, self.root_bound_ = found.lower, found.root_bound
        self.seconds_ = time.perf_counter() - start
        self.facilities_ = np.sort(open_)
        self.assignment_ = self.facilities_[np.argmin(c[:, self.facilities_], axis=1)]
        self.objective_ = float((w * c[np.arange(len(c)), self.assignment_]).sum())
        slack = max(0.0, self.objective_ - self.lower_bound_)
        self.gap_ = (
            float("nan")
            if self.method == "heuristic"
            else slack / self.objective_
            if self.objective_ > 0
            else 0.0
        )
        return self
