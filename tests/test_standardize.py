import numpy as np
import pytest

from siting.config.scenario import Standardization
from siting.mcda.standardize import accumulate, linear, sigmoid, standardize, target, threshold


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


def reference(values: np.ndarray, spec: Standardization, within: np.ndarray) -> np.ndarray:
    """The standardisations as numpy array expressions, as the module computed them before its
    compiled loop."""
    higher = spec.direction == "higher"
    if spec.fn == "linear":
        low, high = spec.low, spec.high
        if low is None:
            sample = values[within]
            sample = sample[np.isfinite(sample)]
            low, high = float(sample.min()), float(sample.max())
        score = np.clip((values - low) / (high - low), 0.0, 1.0)
    elif spec.fn == "sigmoid":
        with np.errstate(over="ignore"):
            score = 1.0 / (1.0 + np.exp(-(values - spec.midpoint) / spec.spread))
    elif spec.fn == "threshold":
        good = values >= spec.value if higher else values <= spec.value
        return np.where(np.isnan(values), np.nan, good.astype(float))
    else:
        return np.exp(-0.5 * ((values - spec.optimum) / spec.spread) ** 2)
    return score if higher else 1.0 - score


@pytest.mark.parametrize("direction", ["lower", "higher"])
@pytest.mark.parametrize(
    "spec",
    [
        Standardization("linear", low=2000, high=15000),
        Standardization("linear"),
        Standardization("sigmoid", midpoint=5000, spread=1500),
        Standardization("sigmoid", midpoint=5000, spread=2),  # exp overflows to inf: score 0
        Standardization("threshold", value=3000),
        Standardization("target", optimum=6000, spread=2000),
    ],
)
def test_accumulate_equals_the_array_expressions_and_adds_the_weighted_scores(spec, direction):
    spec = Standardization(**{**spec.__dict__, "direction": direction})
    rng = np.random.default_rng(7)
    values = rng.uniform(-1000, 20000, (300, 200))
    values[rng.random(values.shape) < 0.05] = np.nan
    values[0, :3] = [np.inf, -np.inf, 3000.0]
    within = rng.random(values.shape) < 0.8
    want = reference(values, spec, within)
    # Two implementations: the kernel calls libm's exp (through LLVM), numpy its own SIMD exp,
    # each within a few ulps, and which CPU features they use varies. So a few 1e-16 relative
    # (1e-12 allows for any CPU, and no ranking sees it), and absolute where 1 - score
    # (direction "lower") turns a score near 1 into one near 0: ~2e-16 there.
    np.testing.assert_allclose(standardize(values, spec, within), want, rtol=1e-12, atol=1e-15)
    total = rng.uniform(0, 1, values.shape)
    before = total.copy()
    scores = accumulate(values, spec, 0.3, total, within=within)
    assert scores.dtype == np.float32
    # The same compiled _score on the same values: equal to the bit.
    np.testing.assert_array_equal(scores, standardize(values, spec, within).astype(np.float32))
    np.testing.assert_allclose(
        total, before + 0.3 * np.nan_to_num(want, nan=0.0), rtol=1e-12, atol=1e-15
    )
    assert np.isnan(scores).sum() == np.isnan(want).sum() > 0


@pytest.mark.parametrize("shape", [(301, 7), (1, 50), (40,), (0, 3)])
def test_accumulate_takes_float32_as_they_are_in_bands_of_rows(shape):
    """A float32 raster (the criteria) scores exactly as its values widened to float64, and the
    bands of rows done on separate threads add up to the whole, for any shape."""
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 50_000, shape).astype(np.float32)
    spec = Standardization("sigmoid", midpoint=20_000, spread=5_000)
    total32, total64 = np.full(shape, 0.25), np.full(shape, 0.25)
    scores32 = accumulate(values, spec, 0.4, total32)
    scores64 = accumulate(values.astype(float), spec, 0.4, total64)
    # Widening float32 to float64 is exact and the kernel then computes in float64, as for the
    # widened copy: equal to the bit.
    np.testing.assert_array_equal(scores32, scores64)
    np.testing.assert_array_equal(total32, total64)
    want = 0.25 + 0.4 * (1 - 1 / (1 + np.exp(-(values.astype(float) - 20_000) / 5_000)))
    np.testing.assert_allclose(total32, want, rtol=1e-12)  # numpy's exp against libm's, as above


def test_accumulate_refuses_a_total_it_could_not_add_to_in_place():
    values = np.zeros((4, 6))
    spec = Standardization("linear", low=0, high=1)
    with pytest.raises(ValueError, match="C-contiguous float64"):
        accumulate(values, spec, 1.0, np.zeros((6, 4)).T)
    with pytest.raises(ValueError, match="C-contiguous float64"):
        accumulate(values, spec, 1.0, np.zeros((4, 6), dtype=np.float32))
