"""The weighted Weber point (geometric median) of a set of points."""

from __future__ import annotations

import numpy as np


def weber_point(
    xy: np.ndarray, weights: np.ndarray, tol: float = 1e-3, max_iter: int = 1000
) -> np.ndarray:
    """Weighted Weber point (geometric median) by Weiszfeld's algorithm.

    The point minimising Σ wᵢ‖p − xᵢ‖: Weber's least-transport-cost location for inputs of
    weight wᵢ at xᵢ. Iterates from the weighted centroid until the step is below ``tol`` (metres).

    Parameters
    ----------
    xy
        Points, shape (n, 2), in metres.
    weights
        Weight of each point, shape (n,), >= 0 (all 0: the point is undefined, NaN).
    tol
        Stop when an iteration moves the point less than this (metres).
    max_iter
        Most iterations.

    Returns
    -------
    ndarray
        The point, shape (2,).

    Raises
    ------
    ValueError
        If ``xy`` is not n × 2 with n >= 1, or ``weights`` are not one finite, non-negative
        weight per point.
    """
    xy = np.asarray(xy, dtype=float)
    w = np.asarray(weights, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0:
        raise ValueError(f"weber_point: xy must be n × 2 with n >= 1, got shape {xy.shape}")
    if not np.isfinite(xy).all():
        raise ValueError("weber_point: xy has NaN or infinite coordinates")
    if w.shape != (len(xy),):
        raise ValueError(f"weber_point: weights has shape {w.shape}, xy has {len(xy)} points")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weber_point: weights must be finite and >= 0")
    if not w.sum() > 0:
        return np.full(2, np.nan)
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
