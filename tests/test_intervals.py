"""Binomial intervals against statsmodels, exact coverage, planners and the confidence sequence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats
from statsmodels.stats.proportion import proportion_confint

from probust import ConfigurationError, binomial_ci, sample_size
from probust.intervals import GUARANTEED, INTERVAL_METHODS, beta_binomial_confidence_sequence, binomial_bounds

STATSMODELS_NAME = {"clopper-pearson": "beta", "wilson": "wilson", "jeffreys": "jeffreys"}


@pytest.mark.parametrize("method", sorted(STATSMODELS_NAME))
@pytest.mark.parametrize("k, n", [(1, 10), (3, 1000), (50, 100), (999, 1000)])
def test_two_sided_intervals_match_statsmodels(method, k, n):
    ours = binomial_ci(k, n, 0.99, method)
    low, high = proportion_confint(k, n, alpha=0.01, method=STATSMODELS_NAME[method])
    assert ours.low == pytest.approx(low, rel=1e-9, abs=1e-15)
    assert ours.high == pytest.approx(high, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("method, scipy_method", [("clopper-pearson", "exact"), ("wilson", "wilson")])
@pytest.mark.parametrize("k, n", [(0, 1000), (3, 100), (50, 100), (100, 100)])
def test_one_sided_bounds_match_scipy_binomtest(method, scipy_method, k, n):
    """scipy's one-sided intervals: ``alternative="less"`` bounds p from above, ``"greater"`` from below."""
    upper = stats.binomtest(k, n, alternative="less").proportion_ci(0.95, method=scipy_method)
    lower = stats.binomtest(k, n, alternative="greater").proportion_ci(0.95, method=scipy_method)
    assert binomial_ci(k, n, 0.95, method, sided="upper").high == pytest.approx(upper.high, rel=1e-9, abs=1e-15)
    assert binomial_ci(k, n, 0.95, method, sided="lower").low == pytest.approx(lower.low, rel=1e-9, abs=1e-15)


def test_zero_failures_gives_the_exact_rule_of_three():
    n = 1000
    assert binomial_ci(0, n, 0.95, sided="upper").high == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
    assert binomial_ci(0, n, 0.95).high == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-12)
    assert binomial_ci(0, n, 0.95).low == 0.0
    assert binomial_ci(n, n, 0.95).high == 1.0


def exact_coverage(method: str, n: int, p: np.ndarray, confidence: float) -> np.ndarray:
    """P_p(p in CI(K, n)) computed exactly by summing the binomial pmf over K = 0..n."""
    k = np.arange(n + 1)
    lo, hi = binomial_bounds(k, n, (1 - confidence) / 2, method)
    inside = (lo[None, :] <= p[:, None]) & (p[:, None] <= hi[None, :])
    return (stats.binom.pmf(k[None, :], n, p[:, None]) * inside).sum(1)


@pytest.mark.parametrize("method", sorted(GUARANTEED))
@pytest.mark.parametrize("n", [20, 200, 2000])
def test_guaranteed_methods_never_undercover(method, n):
    p = np.concatenate([np.logspace(-5, -0.3, 300), 1 - np.logspace(-5, -0.3, 300)])
    cov = exact_coverage(method, n, p, 0.99)
    assert cov.min() >= 0.99 - 1e-9


@pytest.mark.parametrize("method", ["wilson", "jeffreys"])
def test_approximate_methods_are_close_to_nominal_on_average(method):
    # Wilson and Jeffreys are approximate: their coverage oscillates around the nominal level and dips
    # below it for some p (Brown, Cai & DasGupta 2001); averaged over p it stays near nominal.
    p = np.linspace(0.01, 0.99, 500)
    cov = exact_coverage(method, 200, p, 0.95)
    assert abs(cov.mean() - 0.95) < 0.01
    assert cov.min() < 0.95  # documented as approximate for a reason


def test_one_sided_upper_bound_is_the_two_sided_bound_at_double_alpha():
    assert binomial_ci(4, 500, 0.98, sided="upper").high == pytest.approx(binomial_ci(4, 500, 0.96).high)


@pytest.mark.parametrize("kwargs", [dict(k=5, n=0), dict(k=-1, n=10), dict(k=11, n=10)])
def test_bad_counts_raise(kwargs):
    with pytest.raises(ConfigurationError):
        binomial_ci(**kwargs)


@pytest.mark.parametrize("conf", [0, 1, 1.5, -0.2, True])
def test_bad_confidence_raises(conf):
    with pytest.raises(ConfigurationError, match="confidence"):
        binomial_ci(1, 10, conf)


def test_unknown_method_lists_the_choices():
    with pytest.raises(ConfigurationError, match="clopper-pearson"):
        binomial_ci(1, 10, 0.9, "agresti")
    assert set(INTERVAL_METHODS) == {"clopper-pearson", "wilson", "hoeffding", "jeffreys"}


def test_sample_size_planners():
    assert sample_size(0.01, 0.99) == math.ceil(math.log(200) / (2 * 1e-4))
    assert sample_size(1e-3, 1 - 1e-3, "exact") == math.ceil(math.log(1e-3) / math.log1p(-1e-3))
    assert sample_size(0.1, 0.95, "chernoff", p_min=1e-3) == math.ceil(2.1 * math.log(40) / (0.01 * 1e-3))
    # zero failures in the exact planner's n certify p <= error with the exact one-sided bound
    n = sample_size(1e-3, 0.99, "exact")
    assert binomial_ci(0, n, 0.99, sided="upper").high <= 1e-3 < binomial_ci(0, n - 1, 0.99, sided="upper").high
    with pytest.raises(ConfigurationError, match="p_min"):
        sample_size(0.1, 0.9, "chernoff")


PRIOR = (0.5, 0.5 * (1 - 1e-2) / 1e-2)


def log_martingale(k: np.ndarray, n: np.ndarray, p: float, a: float, b: float) -> np.ndarray:
    return (special.betaln(a + k, b + n - k) - special.betaln(a, b)
            - k * np.log(p) - (n - k) * np.log1p(-p))


@pytest.mark.parametrize("k, n", [(0, 10), (0, 5000), (3, 100), (40, 100), (100, 100)])
def test_confidence_sequence_endpoints_solve_the_martingale_equation(k, n):
    low, high = beta_binomial_confidence_sequence(k, n, 0.99, PRIOR)
    assert low <= k / n <= high
    for end in (low, high):
        if 0 < end < 1:
            assert log_martingale(np.array(k), np.array(n), end, *PRIOR) == pytest.approx(math.log(100), abs=1e-6)


@pytest.mark.parametrize("p", [1e-3, 1e-2, 0.2])
def test_confidence_sequence_is_valid_uniformly_over_time(p):
    """Over R = 2000 Bernoulli(p) paths of 3000 steps, the fraction of paths whose confidence sequence
    *ever* excludes p must be <= delta = 0.05 (Ville). Excluding p at step n means M_n(p) >= 1/delta.
    False-failure rate of this test: P(Binom(2000, 0.05) > its 1 - 1e-6 quantile) <= 1e-6."""
    rng = np.random.default_rng(7)
    r, steps, delta = 2000, 3000, 0.05
    k = np.cumsum(rng.random((r, steps)) < p, axis=1)
    n = np.arange(1, steps + 1)[None, :]
    ever = (log_martingale(k, n, p, *PRIOR) >= math.log(1 / delta)).any(axis=1)
    assert ever.sum() <= stats.binom.ppf(1 - 1e-6, r, delta)
