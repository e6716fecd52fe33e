"""Covering and center models, solved by HiGHS: maximal covering (MCLP) and the p-center."""

from __future__ import annotations

import numbers
import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import LinearConstraint

from siting.errors import InfeasibleError
from siting.models import covering_solver, milp
from siting.models.validation import (
    CostMatrixEstimator,
    check_choice,
    check_cost,
    check_int,
    check_number,
    check_sample_weight,
    finite_costs,
)

#: How the models are solved: the solvers of :mod:`siting.models.covering_solver` (heuristic,
#: bound, then HiGHS on what is left), or one HiGHS MILP.
METHODS = ("exact", "milp")


class MaximalCovering(CostMatrixEstimator):
    """Open ``p`` sites to cover the most client weight within a ``radius`` of cost (MCLP,
    Church & ReVelle), keeping ``fixed`` sites open (existing facilities).

    ``method="exact"`` starts from a greedy + interchange heuristic and a Lagrangian bound
    (:func:`siting.models.covering_solver.max_cover`); HiGHS solves only what the bound leaves
    open. ``method="milp"`` solves one HiGHS MILP. The preference step below is the same for both.

    A scikit-learn estimator: ``__init__`` only stores the parameters (so ``get_params``,
    ``clone`` and the repr work), :meth:`fit` checks them and learns the attributes ending in
    ``_``.

    Parameters
    ----------
    p
        Number of sites open in the solution, the ``fixed`` ones included.
    radius
        A client is covered by a site whose cost (e.g. travel minutes) is at most this.
    fixed
        Indices of sites (columns of the cost matrix) kept open, e.g. existing facilities.
    time_limit
        Seconds for each solve (for ``"exact"``: heuristic, bound and HiGHS together).
    preference
        Per site (column of the cost matrix), how much it is preferred, e.g. its suitability;
        None: no preference. With it, ties are broken in two steps after the coverage is
        maximised (a second HiGHS solve that keeps the coverage found): first the fewest
        non-fixed sites, so that a site that would add no coverage is not opened and fewer than
        ``p`` sites may be open; then the highest total preference. Without it, exactly ``p``
        sites are open, any selection of greatest coverage.
    method
        ``"exact"`` or ``"milp"``.

    Attributes
    ----------
    facilities_
        Indices of the open sites (``fixed`` included), sorted.
    idle_
        How many of the ``p`` sites were not opened because they would add no coverage (0
        without ``preference``).
    covered_
        Per client, whether an open site covers it.
    coverage_
        Covered client weight.
    bound_
        Proven upper bound on the client weight any ``p`` sites cover (the optimum lies in
        ``[coverage_, bound_]``; NaN if HiGHS reports none).
    gap_
        Relative optimality gap: ``(bound_ − coverage_) / bound_`` for ``"exact"``, HiGHS's
        own for ``"milp"`` (0 = proven optimal).
    seconds_
        Solver wall time.
    """

    def __init__(
        self,
        p: int,
        radius: float,
        fixed: np.ndarray | list[int] | None = None,
        time_limit: float = 60.0,
        preference: np.ndarray | list[float] | None = None,
        method: str = "exact",
    ) -> None:
        self.p = p
        self.radius = radius
        self.fixed = fixed
        self.time_limit = time_limit
        self.preference = preference
        self.method = method

    def fit(
        self, X: np.ndarray, y: object = None, sample_weight: np.ndarray | None = None
    ) -> MaximalCovering:
        """Choose the sites.

        Parameters
        ----------
        X
            Cost matrix, shape (n_clients, n_sites), e.g. travel minutes, ``inf`` where
            impossible. Clients are the samples (rows), candidate sites the features (columns).
        y
            Not used; present for scikit-learn's ``fit(X, y)`` convention. Give the weights as
            ``sample_weight=``, not second.
        sample_weight
            Weight of each client (e.g. population), shape (n_clients,), >= 0 (None: 1 each).

        Returns
        -------
        MaximalCovering
            The fitted estimator.

        Raises
        ------
        ValueError, TypeError
            If a parameter, ``X``, ``sample_weight`` or ``preference`` is invalid (a programmer
            error).
        InfeasibleError
            If ``p`` is below the number of fixed sites or above the number of sites.
        """
        model = "maximal covering"
        p = check_int(self.p, "p", model, 1)
        check_number(self.radius, "radius", model)
        check_number(self.time_limit, "time_limit", model)
        check_choice(self.method, "method", model, METHODS)
        cost = check_cost(self, X, model)
        w = check_sample_weight(sample_weight, len(cost), model)
        m = cost.shape[1]
        fixed = _check_fixed(self.fixed, m, model)
        if not len(fixed) <= p <= m:
            raise InfeasibleError(
                f"{model}: p = {p} with {len(fixed)} fixed sites and {m} candidates",
                "p must lie between the fixed count and m",
            )
        reach = (cost <= self.radius).astype(float)
        start = time.perf_counter()
        if self.method == "exact":
            found = covering_solver.max_cover(reach > 0, w, p, fixed, self.time_limit)
            facilities, bound = found.sites, found.bound
        else:
            facilities, self.gap_, bound = _solve_milp(reach, w, p, fixed, self.time_limit)
        self.idle_ = 0
        if self.preference is not None:
            preference = _check_preference(self.preference, m, model)
            fewer = _fewest_preferred(reach, w, facilities, fixed, p, preference, self.time_limit)
            if fewer is not None:
                self.idle_ = p - len(fewer)
                facilities = fewer
        self.seconds_ = time.perf_counter() - start
        self.facilities_ = facilities
        self.covered_ = reach[:, self.facilities_].any(axis=1)
        self.coverage_ = float(w[self.covered_].sum())
        self.bound_ = max(bound, self.coverage_) if np.isfinite(bound) else bound
        if self.method == "exact":
            self.gap_ = (self.bound_ - self.coverage_) / self.bound_ if self.bound_ > 0 else 0.0
        return self


def _solve_milp(
    reach: np.ndarray, w: np.ndarray, p: int, fixed: np.ndarray, time_limit: float
) -> tuple[np.ndarray, float, float]:
    """Maximal covering as one HiGHS MILP (``method="milp"``): the open sites, HiGHS's gap and
    its bound on the covered weight (NaN if it reports none)."""
    n, m = reach.shape
    # Variables: y (m sites) then z (n clients covered).
    objective = np.concatenate([np.zeros(m), -w])
    cover = sp.hstack([-sp.csr_matrix(reach), sp.eye(n)])
    count = sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n))])
    lower = np.zeros(m + n)
    lower[fixed] = 1
    constraints = [
        LinearConstraint(cover, -np.inf, 0),
        LinearConstraint(count, p, p),
        LinearConstraint(sp.eye(m + n), lower, 1),
    ]
    integrality = np.concatenate([np.ones(m), np.zeros(n)])
    res = milp.solve(objective, constraints, integrality, time_limit, "maximal covering")
    dual = getattr(res, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None else float("nan")
    return np.flatnonzero(res.x[:m] > 0.5), milp.mip_gap(res), bound


def _fewest_preferred(
    reach: np.ndarray,
    w: np.ndarray,
    found: np.ndarray,
    fixed: np.ndarray,
    p: int,
    preference: np.ndarray,
    time_limit: float,
) -> np.ndarray | None:
    """Among the selections of at most ``p`` sites (``fixed`` included) that cover at least what
    ``found`` covers, the one with the fewest non-fixed sites, then the highest total preference;
    None if HiGHS returns one that covers less (a tolerance), so that ``found`` stands."""
    n, m = reach.shape
    target = float(w[reach[:, found].any(axis=1)].sum())
    if target <= 0:
        # Nothing can be covered: only the fixed sites are open.
        return np.sort(fixed)
    # Each non-fixed site costs 1 plus less than 1 / (p + 1) for being less preferred: k sites
    # cost less than k + 1, so fewer sites always win and preference only breaks ties.
    free = np.ones(m, dtype=bool)
    free[fixed] = False
    cost = np.zeros(m)
    if free.any():
        liked = preference[free]
        cost[free] = 1.0 + (liked.max() - liked) / (np.ptp(liked) or 1.0) / (p + 1)
    share = w / w.sum()
    objective = np.concatenate([cost, np.zeros(n)])
    cover = sp.hstack([-sp.csr_matrix(reach), sp.eye(n)])
    covered = sp.hstack([sp.csr_matrix((1, m)), sp.csr_matrix(share[None, :])])
    count = sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n))])
    lower = np.zeros(m + n)
    lower[fixed] = 1
    constraints = [
        LinearConstraint(cover, -np.inf, 0),
        LinearConstraint(covered, target / w.sum() - 1e-9, np.inf),
        LinearConstraint(count, len(fixed), p),
        LinearConstraint(sp.eye(m + n), lower, 1),
    ]
    integrality = np.concatenate([np.ones(m), np.zeros(n)])
    res = milp.solve(objective, constraints, integrality, time_limit, "maximal covering", 1e-6)
    chosen = np.flatnonzero(res.x[:m] > 0.5)
    if float(w[reach[:, chosen].any(axis=1)].sum()) < target:
        return None
    return chosen


def _check_preference(preference: object, m: int, model: str) -> np.ndarray:
    """One finite preference per site."""
    try:
        array = np.asarray(preference, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{model}: preference must be numeric: {err}") from err
    if array.shape != (m,):
        raise ValueError(
            f"{model}: preference has shape {array.shape}; give one value per site (column of "
            f"X, {m})"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{model}: preference has NaN or infinite values")
    return array


def _check_fixed(fixed: object, m: int, model: str) -> np.ndarray:
    """The fixed sites as distinct column indices of the cost matrix."""
    if fixed is None:
        return np.zeros(0, dtype=int)
    array = np.asarray(fixed)
    if array.size == 0:
        return np.zeros(0, dtype=int)
    if array.ndim != 1 or not all(isinstance(v, numbers.Integral) for v in array.tolist()):
        raise TypeError(f"{model}: fixed must be a 1-D sequence of site indices, not {fixed!r}")
    if array.min() < 0 or array.max() >= m or len(np.unique(array)) != len(array):
        raise ValueError(
            f"{model}: fixed = {array.tolist()} must be distinct column indices of X (0 to {m - 1})"
        )
    return array.astype(int)


class PCenter(CostMatrixEstimator):
    """Open ``p`` sites minimising the largest client cost to its nearest open site.

    ``method="exact"`` starts from a greedy + interchange heuristic, bounds the optimum from
    below by the set-covering LP, and closes the gap by bisection on the radius with the
    set-covering MILP (:func:`siting.models.covering_solver.p_center`). ``method="milp"`` solves
    one HiGHS MILP with an assignment variable per client–site pair.

    A scikit-learn estimator: ``__init__`` only stores the parameters (so ``get_params``,
    ``clone`` and the repr work), :meth:`fit` checks them and learns the attributes ending in
    ``_``. The objective is a maximum, so client weights do not enter it and :meth:`fit` takes
    none.

    Parameters
    ----------
    p
        Number of sites to open.
    time_limit
        Seconds for the solver; on timeout the best solution found is kept and ``gap_`` says
        how far from proven optimal it may be.
    method
        ``"exact"`` or ``"milp"``.

    Attributes
    ----------
    facilities_
        Indices of the open sites, sorted.
    assignment_
        For each client, the index of its nearest open site.
    objective_
        The largest client cost to its nearest open site.
    lower_bound_
        Proven lower bound on that cost (the optimum lies in ``[lower_bound_, objective_]``;
        NaN if HiGHS reports none).
    gap_
        Relative optimality gap: ``(objective_ − lower_bound_) / objective_`` for ``"exact"``,
        HiGHS's own for ``"milp"`` (0 = proven optimal).
    seconds_
        Solver wall time.
    """

    def __init__(self, p: int, time_limit: float = 60.0, method: str = "exact") -> None:
        self.p = p
        self.time_limit = time_limit
        self.method = method

    def fit(self, X: np.ndarray, y: object = None) -> PCenter:
        """Choose the sites.

        Parameters
        ----------
        X
            Cost matrix, shape (n_clients, n_sites), ``inf`` where impossible. Clients are the
            samples (rows), candidate sites the features (columns).
        y
            Not used; present for scikit-learn's ``fit(X, y)`` convention.

        Returns
        -------
        PCenter
            The fitted estimator.

        Raises
        ------
        ValueError, TypeError
            If a parameter or ``X`` is invalid (a programmer error).
        InfeasibleError
            If ``p`` exceeds the number of sites.
        """
        model = "p-center"
        p = check_int(self.p, "p", model, 1)
        check_number(self.time_limit, "time_limit", model)
        check_choice(self.method, "method", model, METHODS)
        cost = check_cost(self, X, model)
        n, m = cost.shape
        if p > m:
            raise InfeasibleError(
                f"{model}: p = {p} but {m} candidate sites", "lower p or add candidates"
            )
        c = finite_costs(cost, model)
        start = time.perf_counter()
        if self.method == "exact":
            found = covering_solver.p_center(c, p, self.time_limit)
            facilities, self.lower_bound_ = found.sites, found.lower
        else:
            facilities, self.gap_, self.lower_bound_ = _p_center_milp(c, p, self.time_limit)
        self.seconds_ = time.perf_counter() - start
        self.facilities_ = facilities
        self.assignment_ = self.facilities_[np.argmin(c[:, self.facilities_], axis=1)]
        self.objective_ = float(c[np.arange(n), self.assignment_].max())
        if self.method == "exact":
            slack = max(0.0, self.objective_ - self.lower_bound_)
            self.gap_ = slack / self.objective_ if self.objective_ > 0 else 0.0
        return self


def _p_center_milp(c: np.ndarray, p: int, time_limit: float) -> tuple[np.ndarray, float, float]:
    """The p-center as one HiGHS MILP (``method="milp"``): the open sites, HiGHS's gap and its
    lower bound on the largest cost (NaN if it reports none)."""
    model = "p-center"
    n, m = c.shape
    # Variables: y (m), x (n × m), then D (the largest cost, scaled to [0, 1] by c.max()).
    scale = c.max() or 1.0
    objective = np.concatenate([np.zeros(m + n * m), [1.0]])
    one_each = sp.hstack(
        [sp.csr_matrix((n, m)), sp.kron(sp.eye(n), np.ones((1, m))), sp.csr_matrix((n, 1))]
    )
    link = sp.hstack(
        [-sp.kron(np.ones((n, 1)), sp.eye(m)), sp.eye(n * m), sp.csr_matrix((n * m, 1))]
    )
    radius = sp.hstack(
        [
            sp.csr_matrix((n, m)),
            sp.block_diag([c[i][None, :] / scale for i in range(n)]),
            -sp.csr_matrix(np.ones((n, 1))),
        ]
    )
    count = sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n * m + 1))])
    constraints = [
        LinearConstraint(one_each, 1, 1),
        LinearConstraint(link, -np.inf, 0),
        LinearConstraint(radius, -np.inf, 0),
        LinearConstraint(count, p, p),
    ]
    integrality = np.concatenate([np.ones(m), np.zeros(n * m + 1)])
    res = milp.solve(objective, constraints, integrality, time_limit, model)
    dual = getattr(res, "mip_dual_bound", None)
    lower = float(dual) * scale if dual is not None else float("nan")
    return np.flatnonzero(res.x[:m] > 0.5), milp.mip_gap(res), lower
