"""Standardisation: raw criterion values (metres, cost, people) to scores in [0, 1].

Each function takes an array of raw values and returns scores, where 1 is best. ``direction``
says which raw values are good: ``"lower"`` (e.g. distance to rail) or ``"higher"`` (e.g. labour
pool). NaN stays NaN.

The scores are computed cell by cell in one compiled loop (:func:`_score`): suitability
standardises every criterion of every profile over the whole grid, and array expressions made a
dozen passes over memory per criterion where one is enough.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from siting.config.scenario import Standardization
from siting.errors import ScenarioError
from siting.raster.cost import CORES

LINEAR, SIGMOID, THRESHOLD, TARGET = 0, 1, 2, 3


@njit(cache=True, nogil=True)
def _score(value: float, fn: int, a: float, b: float, higher: bool) -> float:
    """One raw value's score under function ``fn`` with parameters ``a``, ``b`` (see
    :func:`curve_parameters`); NaN stays NaN."""
    if fn == LINEAR:
        score = (value - a) / (b - a)
        if score < 0.0:
            score = 0.0
        elif score > 1.0:
            score = 1.0
    elif fn == SIGMOID:
        score = 1.0 / (1.0 + math.exp(-(value - a) / b))
    elif fn == THRESHOLD:
        if math.isnan(value):
            return math.nan
        return 1.0 if (value >= a if higher else value <= a) else 0.0
    else:  # TARGET: symmetric, no direction
        z = (value - a) / b
        return math.exp(-0.5 * (z * z))
    return score if higher else 1.0 - score


@njit(cache=True, nogil=True)
def score_array(values: np.ndarray, fn: int, a: float, b: float, higher: bool) -> np.ndarray:
    """The 0–1 score of every value by curve ``fn`` with parameters ``a``, ``b`` (float64, the
    shape of ``values``; NaN stays NaN)."""
    out = np.empty(values.size)
    flat = values.ravel()
    for i in range(flat.size):
        out[i] = _score(flat[i], fn, a, b, higher)
    return out.reshape(values.shape)


@njit(cache=True, nogil=True)
def accumulate_scores(
    values: np.ndarray,
    fn: int,
    a: float,
    b: float,
    higher: bool,
    weight: float,
    total: np.ndarray,
    scores: np.ndarray,
) -> None:
    """Write each value's score into ``scores`` and add ``weight`` × score to ``total`` where
    the score is a number: one pass for a criterion's part of the weighted sum."""
    flat, tot, out = values.ravel(), total.ravel(), scores.ravel()
    for i in range(flat.size):
        score = _score(flat[i], fn, a, b, higher)
        out[i] = score
        if not math.isnan(score):
            tot[i] += weight * score


@njit(cache=True, nogil=True)
def _finite_range(values: np.ndarray, within: np.ndarray) -> tuple[float, float, bool]:
    """Minimum and maximum of the finite ``values`` where ``within``; False if there are none."""
    lo, hi, found = math.inf, -math.inf, False
    flat, mask = values.ravel(), within.ravel()
    for i in range(flat.size):
        v = flat[i]
        if mask[i] and math.isfinite(v):
            found = True
            lo = min(lo, v)
            hi = max(hi, v)
    return lo, hi, found


def linear(values: np.ndarray, low: float, high: float, direction: str = "lower") -> np.ndarray:
    """0 at ``low`` rising to 1 at ``high`` (reversed for ``direction="lower"``), clipped."""
    return score_array(as_float_array(values), LINEAR, low, high, direction == "higher")


def sigmoid(
    values: np.ndarray, midpoint: float, spread: float, direction: str = "lower"
) -> np.ndarray:
    """Logistic curve: 0.5 at ``midpoint``, ``spread`` the distance from 0.5 to ≈ 0.73."""
    return score_array(as_float_array(values), SIGMOID, midpoint, spread, direction == "higher")


def threshold(values: np.ndarray, value: float, direction: str = "lower") -> np.ndarray:
    """1 where the raw value is on the good side of ``value`` (inclusive), else 0."""
    return score_array(as_float_array(values), THRESHOLD, value, 0.0, direction == "higher")


def target(values: np.ndarray, optimum: float, spread: float) -> np.ndarray:
    """Gaussian: 1 at ``optimum``, exp(−½) at one ``spread`` away on either side."""
    return score_array(as_float_array(values), TARGET, optimum, spread, True)


def standardize(
    values: np.ndarray, spec: Standardization, within: np.ndarray | None = None
) -> np.ndarray:
    """Apply the scenario's standardisation ``spec`` to ``values``.

    A ``linear`` spec without ``low`` and ``high`` stretches over the finite values in the
    ``within`` mask (the study area), i.e. min–max normalisation.
    """
    values = as_float_array(values)
    return score_array(values, *curve_parameters(values, spec, within))


def accumulate(
    values: np.ndarray,
    spec: Standardization,
    weight: float,
    total: np.ndarray,
    within: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`standardize` ``values`` and add ``weight`` × score to ``total`` (in place, NaN
    scores adding nothing), in one pass; returns the scores as float32.

    ``total`` must be a C-contiguous float64 array shaped like ``values``.
    """
    values = as_float_array(values)
    if total.shape != values.shape or total.dtype != float or not total.flags.c_contiguous:
        raise ValueError("total must be a C-contiguous float64 array shaped like the values")
    scores = np.empty(values.shape, dtype=np.float32)
    parameters = curve_parameters(values, spec, within)
    # Cell by cell, so bands of rows are independent: one per core (the loop releases the GIL).
    edges = np.linspace(0, len(values), CORES + 1).astype(int).tolist()
    # No value at all: one empty band (a slice, so that values[b] keeps its dimensions).
    bands = [slice(a, b) for a, b in itertools.pairwise(edges) if b > a] or [slice(0, 0)]
    with ThreadPoolExecutor(max_workers=len(bands)) as pool:
        done = [
            pool.submit(accumulate_scores, values[b], *parameters, weight, total[b], scores[b])
            for b in bands
        ]
    for future in done:
        future.result()
    return scores


def curve_parameters(
    values: np.ndarray, spec: Standardization, within: np.ndarray | None
) -> tuple[int, float, float, bool]:
    """The function code, its two parameters and whether higher raw values are better."""
    higher = spec.direction == "higher"
    if spec.fn == "linear":
        if spec.low is None and spec.high is None:
            mask = np.ones(values.shape, dtype=bool) if within is None else within
            low, high, found = _finite_range(values, np.ascontiguousarray(mask))
            low, high = (low, high) if found else (0.0, 1.0)
            high = high if high > low else low + 1.0
            return LINEAR, float(low), float(high), higher
        return LINEAR, _needs(spec, "low", spec.low), _needs(spec, "high", spec.high), higher
    if spec.fn == "sigmoid":
        midpoint = _needs(spec, "midpoint", spec.midpoint)
        return SIGMOID, midpoint, _needs(spec, "spread", spec.spread), higher
    if spec.fn == "threshold":
        return THRESHOLD, _needs(spec, "value", spec.value), 0.0, higher
    return TARGET, _needs(spec, "optimum", spec.optimum), _needs(spec, "spread", spec.spread), True


def _needs(spec: Standardization, name: str, value: float | None) -> float:
    """``value``, the parameter ``name`` of ``spec``, as a float; a :class:`ScenarioError` if it
    is missing (a :class:`Standardization` built in Python; the scenario loader checks its own)."""
    if value is None:
        raise ScenarioError(
            f"standardize fn = {spec.fn!r} needs {name}", f"give {name} = <number> with it"
        )
    return float(value)


def as_float_array(values: np.ndarray) -> np.ndarray:
    """``values`` as a C-contiguous float array: float32 rasters (the criteria) as they are,
    since widening each value in the loop is exact and a float64 copy costs a pass and memory."""
    values = np.asarray(values)
    return np.ascontiguousarray(values, dtype=np.float32 if values.dtype == np.float32 else float)
