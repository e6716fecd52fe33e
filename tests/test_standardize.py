import numpy as np
import pytest

from siting.scenario import Standardization
from siting.standardize import linear, sigmoid, standardize, target, threshold


def test_linear_lower_is_better_ramps_and_clips():
    v = np.array([-5.0, 0.0, 2500.0, 5000.0, 10000.0, 20000.0])
    np.testing.assert_allclose(linear(v, 0, 10000, "lower"), [1, 1, 0.75, 0.5, 0, 0])
    np.testing.assert_allclose(linear(v, 0, 10000, "higher"), [0, 0, 0.25, 0.5, 1, 1])


def test_sigmoid_is_half_at_midpoint_and_logistic_elsewhere():
    v = np.array([5000.0, 6500.0, 3500.0])
    s = sigmoid(v, 5000, 1500, "higher")
    np.testing.assert_allclose(s, [0.5, 1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))])
    np.testing.assert_allclose(sigmoid(v, 5000, 1500, "lower"), 1 - s)


def test_threshold_inclusive_and_keeps_nan():
    v = np.array([0.0, 3000.0, 3000.1, np.nan])
    out = threshold(v, 3000, "lower")
    np.testing.assert_array_equal(out[:3], [1, 1, 0])
    assert np.isnan(out[3])
    np.testing.assert_array_equal(threshold(v, 3000, "higher")[:3], [0, 1, 1])


def test_target_gaussian():
    v = np.array([100.0, 120.0, 80.0, 140.0])
    np.testing.assert_allclose(target(v, 100, 20), [1, np.exp(-0.5), np.exp(-0.5), np.exp(-2)])


def test_linear_without_range_stretches_over_mask():
    v = np.array([[10.0, 20.0], [30.0, 1000.0]])
    inside = np.array([[True, True], [True, False]])
    out = standardize(v, Standardization("linear", "lower"), within=inside)
    np.testing.assert_allclose(out, [[1.0, 0.5], [0.0, 0.0]])


@pytest.mark.parametrize(
    ("spec", "reach"),
    [
        (Standardization("linear", low=0, high=15000), 15000),
        (Standardization("sigmoid", midpoint=5000, spread=1500), 5000 + 6 * 1500),
        (Standardization("threshold", value=3000), 3000),
        (Standardization("target", optimum=100, spread=20), 160),
        (Standardization("linear"), 0),
    ],
)
def test_reach_is_where_the_score_stops_changing(spec, reach):
    assert spec.reach == reach
