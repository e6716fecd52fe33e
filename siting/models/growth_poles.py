"""Growth poles: clusters of enterprises on coordinates in metres, with their stability."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN, HDBSCAN, KMeans
from sklearn.utils.validation import validate_data

from siting.models.validation import (
    check_choice,
    check_int,
    check_number,
    check_sample_weight,
    check_seed,
)

METHODS = ("dbscan", "hdbscan", "kmeans")


class GrowthPoles(ClusterMixin, BaseEstimator):
    """Clusters of enterprises (growth poles) on coordinates in metres, with their stability.

    A scikit-learn clusterer: ``__init__`` only stores the parameters (so ``get_params``,
    ``clone`` and the repr work), :meth:`fit` checks them and learns the attributes ending in
    ``_``.

    Parameters
    ----------
    method
        ``"dbscan"`` (weighted: a neighbourhood seeds a pole when its weight reaches
        ``min_weight``), ``"hdbscan"`` (density-adaptive; scikit-learn's HDBSCAN takes no weights,
        so ``min_cluster_size`` counts enterprises) or ``"kmeans"`` (weighted, ``n_clusters``
        poles, every enterprise in one).
    eps_m
        DBSCAN neighbourhood radius in metres (> 0).
    min_weight
        DBSCAN: total weight (e.g. output in Mt/yr) a neighbourhood needs to seed a cluster (> 0).
    min_cluster_size
        HDBSCAN: smallest pole, in enterprises (>= 2).
    n_clusters
        KMeans: number of poles (>= 1).
    bootstrap
        Resamplings for the stability of each pole (0: none).
    seed
        Seed of KMeans and of the resampling (None: fresh entropy, not reproducible).

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
    n_features_in_
        Number of coordinates per enterprise (2 for a map).
    """

    def __init__(
        self,
        method: str = "dbscan",
        eps_m: float = 15_000.0,
        min_weight: float = 5.0,
        min_cluster_size: int = 3,
        n_clusters: int = 8,
        bootstrap: int = 50,
        seed: int | None = 0,
    ) -> None:
        self.method = method
        self.eps_m = eps_m
        self.min_weight = min_weight
        self.min_cluster_size = min_cluster_size
        self.n_clusters = n_clusters
        self.bootstrap = bootstrap
        self.seed = seed

    def fit(
        self, X: np.ndarray, y: object = None, sample_weight: np.ndarray | None = None
    ) -> GrowthPoles:
        """Cluster the enterprises.

        Parameters
        ----------
        X
            Coordinates of the enterprises, shape (n, 2), in metres (any number of columns
            works, the distances being Euclidean).
        y
            Not used; present because scikit-learn's ``fit(X, y)`` convention (pipelines,
            ``fit_predict``) passes it. Give the weights as ``sample_weight=``, not second.
        sample_weight
            Weight of each enterprise, shape (n,), e.g. output in Mt/yr (None: 1 each).

        Returns
        -------
        GrowthPoles
            The fitted estimator.

        Raises
        ------
        ValueError, TypeError
            If a parameter, ``X`` or ``sample_weight`` is invalid.
        """
        name = type(self).__name__
        check_choice(self.method, "method", name, METHODS)
        check_number(self.eps_m, "eps_m", name, strict=True)
        check_number(self.min_weight, "min_weight", name, strict=True)
        check_int(self.min_cluster_size, "min_cluster_size", name, 2)
        check_int(self.n_clusters, "n_clusters", name, 1)
        check_int(self.bootstrap, "bootstrap", name, 0)
        check_seed(self.seed, name)
        xy = validate_data(self, X, dtype=float)
        w = check_sample_weight(sample_weight, len(xy), name)
        self.labels_ = self._labels(xy, w)
        self.n_clusters_ = int(self.labels_.max() + 1)
        self.stability_ = self._stability(xy, w)
        return self

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
