import numpy as np
import pytest

from siting.errors import ScenarioError
from siting.mcda.weights import ahp_weights


def test_saaty_textbook_matrix():
    # The classic 3-criterion example: weights 0.637, 0.258, 0.105; λmax 3.039; CR 0.033.
    weights, cr, _ = ahp_weights([[1, 3, 5], ["1/3", 1, 3], ["1/5", "1/3", 1]])
    np.testing.assert_allclose(weights, [0.637, 0.258, 0.105], atol=1e-3)
    assert cr == pytest.approx((3.0385 - 3) / 2 / 0.58, abs=1e-3)
    assert sum(weights) == pytest.approx(1.0)


def test_consistent_matrix_recovers_ratio_weights_with_zero_cr():
    w = np.array([0.5, 0.3, 0.2])
    matrix = (w[:, None] / w[None, :]).tolist()
    weights, cr, _ = ahp_weights(matrix)
    np.testing.assert_allclose(weights, w, atol=1e-12)
    assert cr == pytest.approx(0.0, abs=1e-9)


def test_inconsistent_matrix_has_large_cr():
    # A > B > C but C > A strongly: a cycle.
    _, cr, _ = ahp_weights([[1, 5, "1/5"], ["1/5", 1, 5], [5, "1/5", 1]])
    assert cr > 1.0


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1, 2], [2, 1]], "not reciprocal"),
        ([[1, 2, 3], [0.5, 1]], "not square"),
        ([[1, "x"], [1, 1]], "not a number or fraction"),
        ([[1, 0], [0, 1]], "zero or negative"),
    ],
)
def test_bad_matrices_name_the_problem(matrix, message):
    with pytest.raises(ScenarioError, match=message):
        ahp_weights(matrix)


def test_size_must_match_criteria():
    with pytest.raises(ScenarioError, match="2×2 but the profile has 3 criteria"):
        ahp_weights([[1, 2], ["1/2", 1]], n=3)
