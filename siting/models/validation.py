"""Checks shared by the location models: the cost matrix, the sample weights and the parameters.

Everything here guards against programmer errors (a 1-D cost matrix, a weight per site instead
of per client, ``p = 0``) and raises :class:`ValueError` or :class:`TypeError` naming the
argument, as scikit-learn does. What a user can cause (``p`` above the number of proposed sites,
capacity below demand, a client no site can reach) is an infeasible instance, raised by the
models themselves as :class:`siting.errors.InfeasibleError`.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import Tags
from sklearn.utils.validation import check_array, check_non_negative, validate_data

from siting.errors import InfeasibleError


class CostMatrixEstimator(BaseEstimator):
    """Base of the estimators fitted on a clients × sites cost matrix (:func:`check_cost`).

    Its scikit-learn tag says that ``X`` is non-negative, so that scikit-learn's estimator checks
    feed it costs, not arbitrary reals.
    """

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


def check_cost(estimator: BaseEstimator, X: object, model: str) -> np.ndarray:
    """The cost matrix ``X`` as a float array of shape (n_clients, n_sites).

    ``inf`` marks an impossible client–site pair; NaN and negative costs are refused.
    scikit-learn's :func:`~sklearn.utils.validation.validate_data` converts it (refusing sparse,
    complex, empty and non-numeric input) and records ``n_features_in_`` (the number of sites)
    on ``estimator``.

    Raises
    ------
    TypeError
        If ``X`` is sparse or not numeric.
    ValueError
        If ``X`` is not 2-D, is empty, or holds NaN or negative entries.
    """
    # Dimensions checked before validate_data: its message suggests reshaping a 1-D array into a
    # column, the wrong fix for a cost matrix.
    array = check_array(
        X, dtype=float, ensure_all_finite=False, ensure_2d=False, allow_nd=True, input_name="X"
    )
    if array.ndim != 2:
        raise ValueError(
            f"{model}: X (the cost matrix) must be 2-D, clients × sites; got shape {array.shape}"
        )
    cost = validate_data(estimator, X, dtype=float, ensure_all_finite=False)
    if np.isnan(cost).any():
        raise ValueError(
            f"{model}: X (the cost matrix) has {int(np.isnan(cost).sum())} NaN entries; "
            "use inf for an impossible client–site pair"
        )
    check_non_negative(cost, f"{model}: X (the cost matrix); costs must be >= 0")
    return cost


def check_sample_weight(sample_weight: object, n: int, model: str) -> np.ndarray:
    """One finite, non-negative weight per row of ``X`` (ones when ``sample_weight`` is None).

    Raises
    ------
    TypeError
        If the weights are not numeric.
    ValueError
        If there is not one weight per row, a weight is negative, NaN or infinite, or all are
        zero.
    """
    if sample_weight is None:
        return np.ones(n)
    try:
        w = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{model}: sample_weight must be numeric: {err}") from err
    if w.shape != (n,):
        raise ValueError(
            f"{model}: sample_weight has shape {w.shape} but X has {n} rows; "
            "give one weight per row (client)"
        )
    if not np.isfinite(w).all():
        raise ValueError(f"{model}: sample_weight has NaN or infinite values")
    if (w < 0).any():
        raise ValueError(f"{model}: sample_weight has negative values; weights must be >= 0")
    if n and not w.any():
        raise ValueError(f"{model}: sample_weight is all zero; some weight must be positive")
    return w


def check_int(value: object, name: str, model: str, low: int) -> int:
    """An integer parameter ``>= low`` (numpy integers too, not bools)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{model}: {name} must be an integer, not {value!r}")
    if value < low:
        raise ValueError(f"{model}: {name} = {value} must be >= {low}")
    return int(value)


def check_number(
    value: object, name: str, model: str, low: float = 0.0, strict: bool = False
) -> float:
    """A real parameter ``>= low`` (``> low`` if ``strict``; ``inf`` allowed, NaN not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{model}: {name} must be a number, not {value!r}")
    number = float(value)
    ok = number > low if strict else number >= low  # both refuse NaN
    if not ok:
        raise ValueError(f"{model}: {name} = {value!r} must be {'>' if strict else '>='} {low:g}")
    return number


def check_seed(value: object, model: str) -> int | None:
    """A seed: a non-negative integer, or None for fresh entropy."""
    return None if value is None else check_int(value, "seed", model, 0)


def check_choice(value: object, name: str, model: str, choices: tuple[str, ...]) -> str:
    """A string parameter among ``choices``."""
    if value not in choices:
        raise ValueError(
            f"{model}: {name} must be one of {', '.join(map(repr, choices))}, not {value!r}"
        )
    return str(value)


def check_per_site(
    value: object, name: str, model: str, m: int, allow_inf: bool = False
) -> np.ndarray:
    """A scalar or one finite (or, with ``allow_inf``, infinite), non-negative value per site, as
    an array of length ``m``."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{model}: {name} must be numeric: {err}") from err
    if array.ndim > 1 or array.size not in (1, m):
        raise ValueError(
            f"{model}: {name} has shape {array.shape}; give a number or one per site "
            f"(column of X, {m})"
        )
    if allow_inf and (np.isnan(array).any() or (array < 0).any()):
        raise ValueError(f"{model}: {name} must be >= 0 (inf: none)")
    if not allow_inf and (not np.isfinite(array).all() or (array < 0).any()):
        raise ValueError(f"{model}: {name} must be finite and >= 0")
    return np.broadcast_to(array, (m,))


def finite_costs(cost: np.ndarray, model: str) -> np.ndarray:
    """Costs with impossible pairs (inf) replaced by ten times the largest finite cost, so the
    solvers see a finite model that never prefers them.

    Raises
    ------
    InfeasibleError
        If no client can reach any site (no finite cost at all).
    """
    finite = np.isfinite(cost)
    if not finite.any():
        raise InfeasibleError(
            f"{model}: no client can reach any candidate site (every cost is inf)",
            "check impassable features (water) and that routes (roads, rail) reach them",
        )
    big = cost[finite].max() * 10 + 1
    return np.where(finite, cost, big)
