"""Criterion weights from an AHP pairwise comparison matrix (Saaty), and weights drawn around
chosen ones (:func:`weight_draws`, for the sensitivity and robustness analyses).

The weights are the normalised principal eigenvector; the consistency ratio CR = CI / RI with
CI = (λmax − n) / (n − 1) and Saaty's random index RI.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from siting.errors import ScenarioError

# Saaty's random consistency index for n = 1..15.
RANDOM_INDEX = (
    0.0,
    0.0,
    0.58,
    0.90,
    1.12,
    1.24,
    1.32,
    1.41,
    1.45,
    1.49,
    1.51,
    1.48,
    1.56,
    1.57,
    1.59,
)


def _judgement(value: Any, key: str) -> float:
    if isinstance(value, str):
        try:
            return float(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            raise ScenarioError(
                f"{key}: {value!r} is not a number or fraction",
                'write judgements as numbers or fractions such as "1/3"',
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(
            f"{key}: {value!r} is not a number", 'use numbers or "1/3"-style strings'
        )
    return float(value)


def ahp_weights(
    matrix: list[list[Any]], key: str = "ahp.matrix", n: int | None = None
) -> tuple[tuple[float, ...], float, tuple[tuple[float, ...], ...]]:
    """Weights and consistency ratio of a pairwise comparison matrix.

    Parameters
    ----------
    matrix
        Square matrix of judgements; entry (i, j) says how much more important criterion i is
        than j (Saaty's 1–9 scale). Entries may be fractions written as strings (``"1/3"``).
    key
        Scenario key named in error messages.
    n
        Expected size (the number of criteria), if known.

    Returns
    -------
    weights, cr, matrix
        Weights summing to 1, the consistency ratio, and the parsed matrix.

    Raises
    ------
    ScenarioError
        If the matrix is not square, not of size ``n``, not positive or not reciprocal.
    """
    if not isinstance(matrix, list) or not all(isinstance(row, list) for row in matrix):
        raise ScenarioError(f"{key} must be a list of rows", 'e.g. matrix = [[1, 3], ["1/3", 1]]')
    a = np.array(
        [
            [_judgement(v, f"{key}[{i}][{j}]") for j, v in enumerate(row)]
            for i, row in enumerate(matrix)
        ],
        dtype=object,
    )
    size = len(matrix)
    if any(len(row) != size for row in matrix) or size == 0:
        raise ScenarioError(
            f"{key} is not square", "give one row per criterion, each of that length"
        )
    if n is not None and size != n:
        raise ScenarioError(
            f"{key} is {size}×{size} but the profile has {n} criteria",
            "give one row and column per criterion, in the criteria's order",
        )
    a = a.astype(float)
    if np.any(a <= 0):
        raise ScenarioError(f"{key} has a zero or negative judgement", "use values from 1/9 to 9")
    if not np.allclose(a * a.T, 1.0, rtol=1e-3):
        i, j = np.argwhere(~np.isclose(a * a.T, 1.0, rtol=1e-3))[0]
        raise ScenarioError(
            f"{key} is not reciprocal: [{i}][{j}] = {a[i, j]:g} but [{j}][{i}] = {a[j, i]:g}",
            f"set [{j}][{i}] to 1/{a[i, j]:g}",
        )
    eigenvalues, eigenvectors = np.linalg.eig(a)
    k = int(np.argmax(eigenvalues.real))
    vector = np.abs(eigenvectors[:, k].real)
    weights = vector / vector.sum()
    lambda_max = float(eigenvalues[k].real)
    cr = 0.0
    if size > 2:
        ci = (lambda_max - size) / (size - 1)
        cr = max(0.0, ci / RANDOM_INDEX[min(size, len(RANDOM_INDEX)) - 1])
    return tuple(float(w) for w in weights), cr, tuple(tuple(float(v) for v in row) for row in a)


class Weighted(Protocol):
    """What :func:`ahp_matrix_of` reads of a profile (``siting.config.scenario.Profile``)."""

    @property
    def weighting(self) -> str: ...

    @property
    def ahp_matrix(self) -> tuple[tuple[float, ...], ...] | None: ...


def ahp_matrix_of(profile: Weighted) -> np.ndarray | None:
    """The profile's AHP judgements as an array, which :func:`weight_draws` perturbs; None for
    direct weights."""
    if profile.weighting == "ahp" and profile.ahp_matrix:
        return np.array(profile.ahp_matrix)
    return None


def weight_draws(
    weights: np.ndarray,
    n: int,
    rng: np.random.Generator,
    concentration: float = 50.0,
    ahp_matrix: np.ndarray | None = None,
    judgement_sd: float = 0.2,
) -> np.ndarray:
    """``n`` weight vectors around ``weights`` (rows sum to 1; zero weights stay zero).

    Without ``ahp_matrix``: Dirichlet(concentration · weights). With it: each judgement above the
    diagonal times exp(N(0, judgement_sd)), kept within Saaty's 1/9–9, its reciprocal below, and
    the principal-eigenvector weights of that matrix.
    """
    w = np.asarray(weights, dtype=float)
    if ahp_matrix is None:
        out = np.zeros((n, len(w)))
        positive = w > 0
        out[:, positive] = rng.dirichlet(concentration * w[positive], size=n)
        return out
    a = np.asarray(ahp_matrix, dtype=float)
    upper = np.triu_indices(len(a), 1)
    out = np.empty((n, len(a)))
    for k in range(n):
        b = a.copy()
        b[upper] = np.clip(
            a[upper] * np.exp(rng.normal(0.0, judgement_sd, len(upper[0]))), 1 / 9, 9
        )
        b.T[upper] = 1.0 / b[upper]
        out[k] = ahp_weights(b.tolist())[0]
    return out
