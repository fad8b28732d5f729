"""KooN voting: the per-input U-statistic is exactly unbiased, the bound covers the true system pfd at the stated
rate on synthetic campaigns whose truth is known in closed form (beta-binomial), and the beta-factor closed form.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from probust import ConfigurationError
from probust import reliability as rel

QUERIES = 200


@pytest.mark.parametrize(("k", "n"), [(1, 2), (2, 3), (1, 3), (3, 3)])
@pytest.mark.parametrize("theta", [0.0, 0.003, 0.2, 0.9])
def test_the_hypergeometric_u_statistic_is_exactly_unbiased(k, n, theta):
    """sum_f Bin(f; QUERIES, theta) Y(f) = P(Bin(N, theta) >= N - K + 1), exactly, for every theta."""
    f = np.arange(QUERIES + 1)
    y = stats.hypergeom.sf(n - k, QUERIES, f, n)
    expected = stats.binom.sf(n - k, n, theta)
    assert stats.binom.pmf(f, QUERIES, theta) @ y == pytest.approx(expected, rel=1e-10, abs=1e-15)


@pytest.mark.parametrize(("k", "n"), [(1, 2), (2, 3)])
def test_the_bound_covers_the_true_voting_pfd(k, n):
    """theta ~ 0 w.p. 0.95, else Beta(0.5, 2): the truth is 0.05 P(BetaBin(N, 0.5, 2) >= m), in closed form."""
    truth = 0.05 * stats.betabinom.sf(n - k, n, 0.5, 2.0)
    reps, confidence, misses = 200, 0.95, 0
    for seed in range(reps):
        camp = rel.synthetic_campaign([1.0], [0.05], n_inputs=600, queries=QUERIES, seed=seed)
        failures = np.rint(camp.failure_probabilities * QUERIES)
        v = rel.k_out_of_n(failures, np.full(failures.size, QUERIES), k, n, confidence=confidence)
        misses += v.system.upper < truth
    # at most the misses an exactly nominal bound exceeds with probability < 1e-3
    assert misses <= stats.binom.ppf(1 - 1e-3, reps, 1 - confidence)


def test_concentrated_failures_make_the_plug_in_optimistic():
    v = rel.k_out_of_n([0] * 90 + [50] * 10, [100] * 100, k=1, n=2)
    assert v.pfd == pytest.approx(0.1 * 50 * 49 / (100 * 99))  # C(f, 2) / C(n, 2) on the fragile inputs
    assert v.plug_in == pytest.approx(0.05**2) and v.ratio > 9
    assert v.to_dict()["system"]["ci"]["high"] == v.system.upper


def test_beta_factor_closed_form():
    assert rel.beta_factor(1e-3, 0.1) == pytest.approx(0.1e-3 + (0.9e-3) ** 2, rel=1e-12)
    assert rel.beta_factor(1e-3, 0.0, k=2, n=3) == pytest.approx(stats.binom.sf(1, 3, 1e-3), rel=1e-12)
    assert rel.beta_factor(0.2, 1.0 - 1e-12) == pytest.approx(0.2, rel=1e-9)  # all common cause: one channel


@pytest.mark.parametrize(("call", "words"), [
    (lambda: rel.k_out_of_n([1], [1], 1, 2), "at least N = 2"),
    (lambda: rel.k_out_of_n([3], [2], 1, 2), "failure count"),
    (lambda: rel.k_out_of_n([0], [5], 3, 2), "K <= N"),
    (lambda: rel.parse_voting("two of three"), "KooN"),
    (lambda: rel.beta_factor(1e-3, 1.5), "beta"),
])
def test_bad_input_names_the_problem(call, words):
    with pytest.raises(ConfigurationError, match=words):
        call()


def test_parse_voting():
    assert rel.parse_voting("2oo3") == (2, 3) and rel.parse_voting(" 1oo2 ") == (1, 2)
