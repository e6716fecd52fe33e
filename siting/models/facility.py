"""Models: growth-pole clusters and location-allocation (p-median, capacitated, covering, center).

Estimators follow scikit-learn: parameters in ``__init__``, ``fit`` learns attributes ending in
``_``.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from sklearn.cluster import DBSCAN, HDBSCAN, KMeans

from siting.errors import InfeasibleError
from siting.models import pmedian


def weber_point(
    xy: np.ndarray, weights: np.ndarray, tol: float = 1e-3, max_iter: int = 1000
) -> np.ndarray:
    """Weighted Weber point (geometric median) by Weiszfeld's algorithm.

    The point minimising Σ wᵢ‖p − xᵢ‖: Weber's least-transport-cost location for inputs of
    weight wᵢ at xᵢ. Iterates from the weighted centroid until the step is below ``tol`` (metres).
    """
    xy = np.asarray(xy, dtype=float)
    w = np.asarray(weights, dtype=float)
    p = (w[:, None] * xy).sum(axis=0) / w.sum()
    for _ in range(max_iter):
        d = np.hypot(*(xy - p).T)
        if np.any(d < 1e-9):  # on a vertex: Weiszfeld's update is undefined there
            k = int(np.argmin(d))
            others = np.arange(len(xy)) != k
            pull = (w[others, None] * (xy[others] - p) / d[others, None]).sum(axis=0)
            if np.hypot(*pull) <= w[k]:
                return xy[k].copy()
            d[k] = 1e-9
        new = (w[:, None] * xy / d[:, None]).sum(axis=0) / (w / d).sum()
        if np.hypot(*(new - p)) < tol:
            return new
        p = new
    return p


class GrowthPoles:
    """Clusters of enterprises (growth poles) on coordinates in metres, with their stability.

    Parameters
    ----------
    method
        ``"dbscan"`` (weighted: a neighbourhood seeds a pole when its weight reaches
        ``min_weight``), ``"hdbscan"`` (density-adaptive; scikit-learn's HDBSCAN takes no weights,
        so ``min_cluster_size`` counts enterprises) or ``"kmeans"`` (weighted, ``n_clusters``
        poles, every enterprise in one).
    eps_m
        DBSCAN neighbourhood radius in metres.
    min_weight
        DBSCAN: total weight (e.g. output in Mt/yr) a neighbourhood needs to seed a cluster.
    min_cluster_size
        HDBSCAN: smallest pole, in enterprises.
    n_clusters
        KMeans: number of poles.
    bootstrap
        Resamplings for the stability of each pole (0: none).
    seed
        Seed of KMeans and of the resampling.

    Attributes
    ----------
    labels_
        Cluster of each enterprise (-1 = not in a cluster).
    n_clusters_
        Number of clusters.
    stability_
        Per cluster, the mean Jaccard similarity between it and its best match when the
        enterprises are resampled with replacement (Hennig 2007): near 1 a pole that any sample
        finds, below ~0.6 one that comes and goes. NaN without bootstrap.
    """

    def __init__(
        self,
        method: str = "dbscan",
        eps_m: float = 15_000.0,
        min_weight: float = 5.0,
        min_cluster_size: int = 3,
        n_clusters: int = 8,
        bootstrap: int = 50,
        seed: int = 0,
    ) -> None:
        self.method = method
        self.eps_m = eps_m
        self.min_weight = min_weight
        self.min_cluster_size = min_cluster_size
        self.n_clusters = n_clusters
        self.bootstrap = bootstrap
        self.seed = seed

    def _labels(self, xy: np.ndarray, w: np.ndarray) -> np.ndarray:
        if self.method == "dbscan":
            # scikit-learn makes a point core when the weights within eps sum to min_samples;
            # scaling the weights by min_weight allows a threshold in the weights' own units.
            return DBSCAN(eps=self.eps_m, min_samples=1).fit_predict(
                xy, sample_weight=w / self.min_weight
            )
        if self.method == "hdbscan":
            if len(xy) < max(2, self.min_cluster_size):
                return np.full(len(xy), -1)
            return HDBSCAN(min_cluster_size=self.min_cluster_size, copy=True).fit_predict(xy)
        k = min(self.n_clusters, len(np.unique(xy, axis=0)))
        return KMeans(n_clusters=k, n_init=10, random_state=self.seed).fit_predict(
            xy, sample_weight=w
        )

    def fit(self, xy: np.ndarray, weights: np.ndarray | None = None) -> GrowthPoles:
        """Cluster points ``xy`` (n × 2, metres) with optional weights."""
        if self.method not in ("dbscan", "hdbscan", "kmeans"):
            raise ValueError(f"method must be dbscan, hdbscan or kmeans, not {self.method!r}")
        xy = np.asarray(xy, dtype=float)
        w = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=float)
        self.labels_ = self._labels(xy, w)
        self.n_clusters_ = int(self.labels_.max() + 1)
        self.stability_ = self._stability(xy, w)
        return self

    def _stability(self, xy: np.ndarray, w: np.ndarray) -> np.ndarray:
        stability = np.full(self.n_clusters_, np.nan)
        if not self.bootstrap or not self.n_clusters_:
            return stability
        rng = np.random.default_rng(self.seed)
        scores: list[list[float]] = [[] for _ in range(self.n_clusters_)]
        for _ in range(self.bootstrap):
            drawn = rng.integers(0, len(xy), len(xy))
            labels = self._labels(xy[drawn], w[drawn])
            present = np.unique(drawn)
            # Each drawn enterprise's cluster in this sample (duplicates agree: same point).
            found = {int(i): int(lab) for i, lab in zip(drawn, labels, strict=True)}
            groups: dict[int, set[int]] = {}
            for i, lab in found.items():
                if lab >= 0:
                    groups.setdefault(lab, set()).add(i)
            for k in range(self.n_clusters_):
                pole = set(np.flatnonzero(self.labels_ == k)) & set(present.tolist())
                if not pole:
                    continue
                best = max((len(pole & g) / len(pole | g) for g in groups.values()), default=0.0)
                scores[k].append(best)
        for k, values in enumerate(scores):
            if values:
                stability[k] = float(np.mean(values))
        return stability


class PMedian:
    """Weighted p-median: open ``p`` facilities minimising Σ weight × cost to the nearest one.

    Every method starts from the heuristic of :mod:`siting.models.pmedian` (greedy construction,
    fast
    interchange, seeded perturbations). ``method="exact"`` then proves optimality: a Lagrangian
    bound (with a Lagrangian heuristic) removes every site and client–site pair that cannot
    improve on the heuristic, and a branch-and-bound on the few sites left closes the gap.
    ``method="milp"`` hands that reduced problem to HiGHS (:func:`scipy.optimize.milp`, radius
    formulation) with the heuristic's objective as cutoff. ``method="heuristic"`` stops after the
    heuristic (no proof; ``gap_`` is NaN), for instances too large for either.

    Parameters
    ----------
    p
        Number of facilities to open.
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

    def fit(self, cost: np.ndarray, weights: np.ndarray | None = None) -> PMedian:
        """Solve for a clients × facilities ``cost`` matrix and client ``weights``.

        Raises
        ------
        InfeasibleError
            If ``p`` exceeds the number of facilities, a client cannot reach any facility, or
            costs or weights are invalid.
        """
        cost, w = _check_costs(cost, weights, "p-median")
        m = cost.shape[1]
        if not 1 <= self.p <= m:
            raise InfeasibleError(
                f"p-median: p = {self.p} but only {m} candidate sites",
                "lower p or propose more sites (the profile's n_sites)",
            )
        unreachable = ~np.isfinite(cost).any(axis=1)
        if unreachable.any():
            raise InfeasibleError(
                f"p-median: {int(unreachable.sum())} client(s) cannot reach any candidate site "
                "over the friction surface",
                "check impassable features (water) and that routes (roads, rail) reach them",
            )
        if self.method not in ("exact", "milp", "heuristic"):
            raise ValueError(f"method must be 'exact', 'milp' or 'heuristic', not {self.method!r}")
        c = _finite(cost)
        start = time.perf_counter()
        if self.method == "heuristic":
            open_, _, self.n_iter_ = pmedian.solve(c, w, self.p, self.restarts, self.seed)
            self.lower_bound_ = self.root_bound_ = float("nan")
        else:
            found = pmedian.solve_exact(
                w[:, None] * c,
                self.p,
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


def _finite(cost: np.ndarray) -> np.ndarray:
    """Costs with impossible pairs (inf) replaced by ten times the largest finite cost, so the
    solvers see a finite model that never prefers them."""
    big = np.nanmax(np.where(np.isfinite(cost), cost, np.nan)) * 10 + 1
    return np.where(np.isfinite(cost), cost, big)


def _check_costs(cost: np.ndarray, weights: np.ndarray | None, model: str) -> tuple:
    """Validated (cost, weights) arrays: finite, non-negative costs; one weight per client."""
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2 or 0 in cost.shape:
        raise InfeasibleError(
            f"{model}: the cost matrix must be clients × sites and non-empty", "pass a 2-D array"
        )
    if np.isnan(cost).any() or (cost < 0).any():
        raise InfeasibleError(
            f"{model}: the cost matrix has NaN or negative entries",
            "costs must be >= 0 (use inf for an impossible pair)",
        )
    w = np.ones(len(cost)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(cost),):
        raise InfeasibleError(
            f"{model}: {w.size} weights for {len(cost)} clients", "give one weight per client"
        )
    if (w < 0).any():
        raise InfeasibleError(f"{model}: negative weights", "weights must be >= 0")
    return cost, w


def _solve(
    objective: np.ndarray,
    constraints: list,
    integrality: np.ndarray,
    time_limit: float,
    model: str,
    tol: float = 1e-4,
):
    res = milp(
        objective,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "mip_rel_gap": tol},
    )
    if res.x is None:
        raise InfeasibleError(
            f"{model}: no feasible solution ({res.message})",
            "relax the constraints (capacities, p, coverage)",
        )
    return res


class CapacitatedFacilityLocation:
    """Open plants (each with a capacity and an opening cost) and assign demand to them at least
    total cost: Σ opening cost + Σ weight × cost (the fixed-charge problem, so the model chooses
    how many plants). Solved exactly with HiGHS.

    Parameters
    ----------
    capacity
        Capacity of each candidate site (same units as the weights, e.g. Mt/yr).
    opening_cost
        Cost of opening each site (same units as weight × cost).
    single_sourcing
        Each client served by exactly one plant (binary assignment) or split between plants.
    p
        Open exactly ``p`` plants instead of letting the fixed charges decide.
    time_limit
        Seconds for the solver.
    tol
        Relative optimality tolerance (HiGHS's ``mip_rel_gap``).

    Attributes
    ----------
    facilities_, assignment_ (clients × sites shares), objective_, gap_, seconds_
    """

    def __init__(
        self,
        capacity: np.ndarray,
        opening_cost: np.ndarray,
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
        self, cost: np.ndarray, weights: np.ndarray | None = None
    ) -> CapacitatedFacilityLocation:
        """Solve for a clients × sites ``cost`` matrix and client ``weights`` (demand).

        Raises
        ------
        InfeasibleError
            If the costs or weights are invalid, or total demand exceeds the capacity that can
            be opened.
        """
        model = "capacitated facility location"
        cost, w = _check_costs(cost, weights, model)
        n, m = cost.shape
        cap = np.broadcast_to(np.asarray(self.capacity, dtype=float), (m,))
        fixed = np.broadcast_to(np.asarray(self.opening_cost, dtype=float), (m,))
        usable = np.sort(cap)[::-1][: self.p].sum() if self.p else cap.sum()
        if w.sum() > usable + 1e-9:
            raise InfeasibleError(
                f"{model}: total demand {w.sum():g} exceeds the capacity of the sites that may "
                f"open ({usable:g})",
                "add candidate sites, raise capacities, or allow more plants (p)",
            )
        c = _finite(cost)
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
        if self.p:
            constraints.append(LinearConstraint(count, self.p, self.p))
        else:
            # Valid cut: at least as many plants as the largest capacities need to take the
            # demand. The LP relaxation misses it and HiGHS then branches far longer.
            fewest = int(np.searchsorted(np.cumsum(np.sort(cap)[::-1]), w.sum() - 1e-9) + 1)
            constraints.append(LinearConstraint(count, fewest, np.inf))
        integrality = np.concatenate([np.ones(m), np.full(n * m, int(self.single_sourcing))])
        res = _solve(objective, constraints, integrality, self.time_limit, model, self.tol)
        self.seconds_ = time.perf_counter() - start
        self.facilities_ = np.flatnonzero(res.x[:m] > 0.5)
        self.assignment_ = res.x[m:].reshape(n, m).clip(0, 1)
        self.objective_ = float(res.fun)
        self.gap_ = float(getattr(res, "mip_gap", 0.0) or 0.0)
        return self


class MaximalCovering:
    """Open ``p`` sites to cover the most client weight within a ``radius`` of cost (MCLP,
    Church & ReVelle), keeping ``fixed`` sites open (existing facilities). Solved with HiGHS.

    Attributes
    ----------
    facilities_, covered_ (bool per client), coverage_ (covered weight), gap_, seconds_
    """

    def __init__(
        self, p: int, radius: float, fixed: np.ndarray | None = None, time_limit: float = 60.0
    ) -> None:
        self.p = p
        self.radius = radius
        self.fixed = fixed
        self.time_limit = time_limit

    def fit(self, cost: np.ndarray, weights: np.ndarray | None = None) -> MaximalCovering:
        """Solve for a clients × sites ``cost`` matrix (e.g. travel minutes) and weights."""
        model = "maximal covering"
        cost, w = _check_costs(cost, weights, model)
        n, m = cost.shape
        fixed = np.zeros(0, dtype=int) if self.fixed is None else np.asarray(self.fixed, int)
        if not len(fixed) <= self.p <= m:
            raise InfeasibleError(
                f"{model}: p = {self.p} with {len(fixed)} fixed sites and {m} candidates",
                "p must lie between the fixed count and m",
            )
        reach = (cost <= self.radius).astype(float)
        start = time.perf_counter()
        # Variables: y (m sites) then z (n clients covered).
        objective = np.concatenate([np.zeros(m), -w])
        cover = sp.hstack([-sp.csr_matrix(reach), sp.eye(n)])
        count = sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n))])
        lower = np.zeros(m + n)
        lower[fixed] = 1
        constraints = [
            LinearConstraint(cover, -np.inf, 0),
            LinearConstraint(count, self.p, self.p),
            LinearConstraint(sp.eye(m + n), lower, 1),
        ]
        integrality = np.concatenate([np.ones(m), np.zeros(n)])
        res = _solve(objective, constraints, integrality, self.time_limit, model)
        self.seconds_ = time.perf_counter() - start
        self.facilities_ = np.flatnonzero(res.x[:m] > 0.5)
        self.covered_ = reach[:, self.facilities_].any(axis=1)
        self.coverage_ = float(w[self.covered_].sum())
        self.gap_ = float(getattr(res, "mip_gap", 0.0) or 0.0)
        return self


class PCenter:
    """Open ``p`` sites minimising the largest client cost to its nearest open site. HiGHS.

    Attributes
    ----------
    facilities_, assignment_, objective_ (the largest cost), gap_, seconds_
    """

    def __init__(self, p: int, time_limit: float = 60.0) -> None:
        self.p = p
        self.time_limit = time_limit

    def fit(self, cost: np.ndarray) -> PCenter:
        """Solve for a clients × sites ``cost`` matrix."""
        model = "p-center"
        cost, _ = _check_costs(cost, None, model)
        n, m = cost.shape
        if not 1 <= self.p <= m:
            raise InfeasibleError(
                f"{model}: p = {self.p} but {m} candidate sites", "lower p or add candidates"
            )
        c = _finite(cost)
        start = time.perf_counter()
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
            LinearConstraint(count, self.p, self.p),
        ]
        integrality = np.concatenate([np.ones(m), np.zeros(n * m + 1)])
        res = _solve(objective, constraints, integrality, self.time_limit, model)
        self.seconds_ = time.perf_counter() - start
        self.facilities_ = np.flatnonzero(res.x[:m] > 0.5)
        self.assignment_ = self.facilities_[np.argmin(c[:, self.facilities_], axis=1)]
        self.objective_ = float(c[np.arange(n), self.assignment_].max())
        self.gap_ = float(getattr(res, "mip_gap", 0.0) or 0.0)
        return self
