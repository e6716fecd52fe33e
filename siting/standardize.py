"""Standardisation: raw criterion values (metres, cost, people) to scores in [0, 1].

Each function takes an array of raw values and returns scores, where 1 is best. ``direction``
says which raw values are good: ``"lower"`` (e.g. distance to rail) or ``"higher"`` (e.g. labour
pool). NaN stays NaN.
"""

from __future__ import annotations

import numpy as np

from siting.scenario import Standardization


def _orient(score: np.ndarray, direction: str) -> np.ndarray:
    return score if direction == "higher" else 1.0 - score


def linear(values: np.ndarray, low: float, high: float, direction: str = "lower") -> np.ndarray:
    """0 at ``low`` rising to 1 at ``high`` (reversed for ``direction="lower"``), clipped."""
    score = np.clip((values - low) / (high - low), 0.0, 1.0)
    return _orient(score, direction)


def sigmoid(
    values: np.ndarray, midpoint: float, spread: float, direction: str = "lower"
) -> np.ndarray:
    """Logistic curve: 0.5 at ``midpoint``, ``spread`` the distance from 0.5 to ≈ 0.73."""
    with np.errstate(over="ignore"):
        score = 1.0 / (1.0 + np.exp(-(values - midpoint) / spread))
    return _orient(score, direction)


def threshold(values: np.ndarray, value: float, direction: str = "lower") -> np.ndarray:
    """1 where the raw value is on the good side of ``value`` (inclusive), else 0."""
    good = values <= value if direction == "lower" else values >= value
    return np.where(np.isnan(values), np.nan, good.astype(float))


def target(values: np.ndarray, optimum: float, spread: float) -> np.ndarray:
    """Gaussian: 1 at ``optimum``, exp(−½) at one ``spread`` away on either side."""
    return np.exp(-0.5 * ((values - optimum) / spread) ** 2)


def standardize(
    values: np.ndarray, spec: Standardization, within: np.ndarray | None = None
) -> np.ndarray:
    """Apply the scenario's standardisation ``spec`` to ``values``.

    A ``linear`` spec without ``low`` and ``high`` stretches over the finite values in the
    ``within`` mask (the study area), i.e. min–max normalisation.
    """
    values = np.asarray(values, dtype=float)
    if spec.fn == "linear":
        low, high = spec.low, spec.high
        if low is None:
            sample = values[within] if within is not None else values
            sample = sample[np.isfinite(sample)]
            low, high = (float(sample.min()), float(sample.max())) if sample.size else (0.0, 1.0)
            high = high if high > low else low + 1.0
        return linear(values, low, high, spec.direction)
    if spec.fn == "sigmoid":
        return sigmoid(values, spec.midpoint, spec.spread, spec.direction)
    if spec.fn == "threshold":
        return threshold(values, spec.value, spec.direction)
    return target(values, spec.optimum, spec.spread)
