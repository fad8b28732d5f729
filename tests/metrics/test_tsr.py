"""TSR intervals: coverage of E[p(x)] over repeated two-stage draws (inputs, then MC samples per input)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from probust import ConfigurationError
from probust.metrics import total_statistical_robustness


def two_stage(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """m inputs with p(x) ~ Beta(0.3, 20) (mean 0.3/20.3), then Binomial(n, p(x)) / n per input."""
    return rng.binomial(n, rng.beta(0.3, 20, size=m)) / n


TRUE_MEAN = 0.3 / 20.3


@pytest.mark.parametrize("method", ["bernstein", "t"])
def test_interval_covers_the_mean_failure_probability(method):
    """R = 400 repetitions of the two-stage experiment (m = 200 inputs, n = 100 samples each).
    Misses of a valid 90% interval are stochastically below Binom(400, 0.1); the test fails above the
    1 - 1e-6 quantile (false-failure rate <= 1e-6). The t interval is approximate but fine at m = 200."""
    rng = np.random.default_rng(1)
    misses = sum(
        not total_statistical_robustness(two_stage(rng, 200, 100), 0.9, method).ci.contains(TRUE_MEAN)
        for _ in range(400)
    )
    assert misses <= stats.binom.ppf(1 - 1e-6, 400, 0.1)


def test_estimate_and_effective_sample_size():
    est = total_statistical_robustness([0.0, 0.1, 0.2, 0.3], method="t", weights=[1, 1, 1, 5])
    assert est.failure_probability == pytest.approx((0.1 + 0.2 + 1.5) / 8)
    assert est.tsr == pytest.approx(1 - est.failure_probability)
    assert est.effective_inputs == pytest.approx(64 / 28)
    assert est.tsr_ci.high == pytest.approx(1 - est.ci.low)


@pytest.mark.parametrize("kwargs", [dict(failure_probabilities=[0.1]), dict(failure_probabilities=[0.1, 1.2]),
                                    dict(failure_probabilities=[0.1, 0.2], method="magic"),
                                    dict(failure_probabilities=[0.1, 0.2], weights=[1, 2])])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ConfigurationError):
        total_statistical_robustness(**kwargs)
