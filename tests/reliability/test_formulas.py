"""Every claim formula against gold values (shared/notes/system-level-reliability.md), each computed a second,
different way: mpmath at 50 digits, simulation, or a brute-force search over discretised priors (an LP).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import optimize

from probust import ConfigurationError
from probust import reliability as rel

mpmath.mp.dps = 50
PS = (1e-2, 1e-3, 1e-4, 1e-5)
CS = (0.90, 0.95, 0.99)
#: Zero-failure demands n = ln(1 - C) / ln(1 - p), the notes' table.
TABLE = {(1e-2, 0.90): 230, (1e-2, 0.95): 299, (1e-2, 0.99): 459, (1e-3, 0.90): 2302, (1e-3, 0.95): 2995,
         (1e-3, 0.99): 4603, (1e-4, 0.90): 23025, (1e-4, 0.95): 29956, (1e-4, 0.99): 46050, (1e-5, 0.90): 230258,
         (1e-5, 0.95): 299572, (1e-5, 0.99): 460515}


def root(f, low: float, high: float):
    """A root of f bracketed by [low, high], at 50 digits (Illinois method)."""
    return mpmath.findroot(f, (mpmath.mpf(low), mpmath.mpf(high)), solver="illinois")


def mp_smallest(holds, start: int = 1) -> int:
    """Smallest integer n >= start with holds(n) by plain bisection (independent of the library's search)."""
    high = start
    while not holds(high):
        high *= 2
    low = start - 1
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if holds(mid) else (mid, high)
    return high


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("c", CS)
def test_zero_failure_demands_match_the_table_and_mpmath(p, c):
    n = rel.demands_needed(p, c)
    assert n == TABLE[(p, c)]
    # second way: the success-run probability (1 - p)^n itself, at 50 digits, searched by bisection
    assert n == mp_smallest(lambda k: mpmath.power(1 - mpmath.mpf(p), k) <= 1 - mpmath.mpf(c))
    assert rel.pfd_upper_bound(0, n, c).high <= p < rel.pfd_upper_bound(0, n - 1, c).high


def test_k_failure_clopper_pearson_bound_and_its_demands():
    high = rel.pfd_upper_bound(2, 100_000, 0.95).high
    assert f"{high:.3g}" == "6.3e-05"
    cdf = lambda q: sum(mpmath.binomial(100_000, j) * q**j * (1 - q) ** (100_000 - j) for j in range(3))  # noqa: E731
    assert float(root(lambda q: cdf(q) - mpmath.mpf("0.05"), 1e-5, 1e-4)) == pytest.approx(high, rel=1e-9)
    n = rel.demands_needed(1e-3, 0.95, failures=2)
    assert rel.pfd_upper_bound(2, n, 0.95).high <= 1e-3 < rel.pfd_upper_bound(2, n - 1, 0.95).high


def test_continuous_time_and_kalra_paddock_miles():
    assert rel.exposure_needed(1e-8, 0.95) == pytest.approx(2.9957e8, rel=1e-4)  # PFH < 1e-8 needs 3.0e8 hours
    miles = rel.miles_needed(1.09e-8, 0.95)
    assert round(miles / 1e8, 3) == 2.748  # Kalra & Paddock's 275 million miles
    # second way, mpmath: the rate whose Poisson probability of zero fatalities in those miles is 5%
    assert float(root(lambda r: mpmath.exp(-r * miles) - mpmath.mpf("0.05"), 1e-9, 1e-7)) == pytest.approx(
        1.09e-8, rel=1e-12)
    # third way, simulation: at the human rate, fleets driving that far see no fatality 5% of the time
    zeros = (np.random.default_rng(0).poisson(1.09e-8 * miles, 400_000) == 0).mean()
    assert abs(zeros - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 400_000)  # 4 standard errors: false alarm < 1e-4
    poisson_cdf = lambda r: mpmath.exp(-r * 1e6) * (1 + r * 1e6 + (r * 1e6) ** 2 / 2)  # noqa: E731
    assert rel.rate_upper_bound(2, 1e6, 0.95) == pytest.approx(float(root(
        lambda r: poisson_cdf(r) - mpmath.mpf("0.05"), 1e-7, 1e-4)), rel=1e-9)


def test_bayesian_claims():
    for p in PS:  # uniform prior, r = 0: P(pfd <= p) = 1 - (1 - p)^(n + 1), one demand fewer than classical
        assert rel.posterior_demands_needed(p, 0.95) == TABLE[(p, 0.95)] - 1
    high = rel.posterior_upper_bound(0, 29_957, 0.95, "jeffreys")
    assert f"{high:.3g}" == "6.41e-05"
    jeffreys = root(lambda q: mpmath.betainc(0.5, 29_957.5, 0, q, regularized=True) - mpmath.mpf("0.95"), 1e-5, 1e-4)
    assert float(jeffreys) == pytest.approx(high, rel=1e-9)
    n, m = 10_000, 10_000
    assert rel.survival_probability(m, 0, n) == pytest.approx((n + 1) / (n + m + 1), rel=1e-9)
    # second way: E[(1 - p)^m] under the Beta(1, n + 1) posterior by quadrature
    integral = mpmath.quad(lambda q: (1 - q) ** m * (n + 1) * (1 - q) ** n, [0, 1e-4, 1e-3, 1])
    assert float(integral) == pytest.approx(rel.survival_probability(m, 0, n), rel=1e-9)


# -- CBI: closed forms against a brute-force search over every discretised prior ------------------------
def _prior_lp(grid, prior_confidence, prior_bound, numerator, denominator, maximise=False):
    """min (or max) of sum w num / sum w den over priors w on ``grid`` with P(x <= prior_bound) = theta.

    A linear-fractional programme, made linear by Charnes-Cooper: v = t w, t = 1 / (sum w den).
    """
    k = grid.size
    inside = (grid <= prior_bound).astype(float)
    a_eq = np.vstack([np.append(denominator, 0.0), np.append(np.ones(k), -1.0), np.append(inside, -prior_confidence)])
    sign = -1.0 if maximise else 1.0
    res = optimize.linprog(sign * np.append(numerator, 0.0), A_eq=a_eq, b_eq=[1.0, 0.0, 0.0],
                           bounds=[(0, None)] * (k + 1), method="highs")
    assert res.status == 0, res.message
    return sign * res.fun


def _grid(prior_bound: float, bound: float) -> np.ndarray:
    points = np.concatenate([[0.0, prior_bound], np.logspace(-9, 0, 2000), bound * (1 + np.array([1e-9, 1e-6]))])
    return np.unique(points)


@pytest.mark.parametrize("theta, gold", [(0.1, 51_415), (0.5, 29_443), (0.9, 7_472)])
def test_cbi_demands_needed_is_the_prior_search_infimum(theta, gold):
    b = 1e-4
    n = rel.cbi_demands_needed(b, 0.95, theta)
    # the notes' table prints 51,414 for theta = 0.1: that is ln(...)/ln(...) = 51,414.06 rounded, one short
    assert n == gold
    theorem_a = lambda k: theta / (theta + (1 - theta) * mpmath.power(1 - mpmath.mpf(b), k))  # noqa: E731
    assert theorem_a(n) >= 0.95 > theorem_a(n - 1)
    grid = _grid(0.0, b)
    for k in (n - 1, n):
        like = (1 - grid) ** k
        lp = _prior_lp(grid, theta, 0.0, like * (grid <= b), like)
        assert lp == pytest.approx(rel.cbi_confidence(b, k, theta), abs=1e-6)  # grid point 1e-9 above b
    assert rel.cbi_demands_needed(b, 0.95, 0.96) == 0  # prior already above the target confidence


def test_cbi_with_a_nonzero_prior_bound_matches_the_prior_search():
    b, eps, theta, n = 1e-3, 1e-5, 0.7, 1500
    grid = _grid(eps, b)
    like = (1 - grid) ** n
    assert _prior_lp(grid, theta, eps, like * (grid <= b), like) == pytest.approx(
        rel.cbi_confidence(b, n, theta, eps), abs=1e-6)


@pytest.mark.parametrize("theta, eps, n, m", [(0.9, 0.0, 10_000, 10_000), (0.5, 1e-5, 3000, 500)])
def test_cbi_predictive_and_worst_mean_match_the_prior_search(theta, eps, n, m):
    survival = rel.cbi_survival(m, n, theta, eps)
    if (theta, n, m) == (0.9, 10_000, 10_000):
        assert round(survival, 4) == 0.9737  # the notes' check value
    grid = np.unique(np.concatenate([[0.0, eps], eps + np.logspace(-9, 0, 3000) * (1 - eps)]))
    like = (1 - grid) ** n
    lp = _prior_lp(grid, theta, eps, like * (1 - grid) ** m, like)
    # the LP searches every prior on the grid, not just two-point ones: equal up to the grid's resolution
    assert survival <= lp + 1e-9 and lp - survival < 1e-5
    worst = rel.cbi_worst_case_mean(n, theta, eps)
    lp_mean = _prior_lp(grid, theta, eps, like * grid, like, maximise=True)
    assert worst >= lp_mean - 1e-12 and worst - lp_mean < 1e-3 * worst


def test_untested_worst_case_mean_is_dominated_by_doubt():
    assert rel.cbi_worst_case_mean(0, 0.9, 1e-4) == pytest.approx(0.9 * 1e-4 + 0.1, rel=1e-9)


@pytest.mark.parametrize("call", [
    lambda: rel.cbi_demands_needed(1e-4, 0.95, prior_confidence=1.0),
    lambda: rel.cbi_demands_needed(1e-4, 0.95, prior_confidence=0.0),
    lambda: rel.cbi_demands_needed(1e-4, 0.95, prior_confidence=0.5, prior_bound=1e-4),
    lambda: rel.cbi_survival(10, 10, prior_confidence=1),
    lambda: rel.demands_needed(0.0, 0.95),
    lambda: rel.demands_needed(1.0, 0.95),
    lambda: rel.demands_needed(1e-3, 1.0),
    lambda: rel.posterior_confidence(1e-3, 5, 3),
    lambda: rel.posterior_upper_bound(0, 10, 0.95, prior=(0, 1)),
])
def test_bad_arguments_are_clear_errors(call):
    with pytest.raises(ConfigurationError):
        call()


def test_prior_confidence_of_one_says_why():
    with pytest.raises(ConfigurationError, match="prior confidence of 1"):
        rel.conservative_claim(1e-4, 0.95, 1.0)


# -- thresholds and rates ----------------------------------------------------------------------------
def test_sil_bands_are_half_open():
    cases = {1e-1: "below SIL 1", 0.0999: "SIL 1", 1e-2: "SIL 1", 9.99e-3: "SIL 2", 1e-3: "SIL 2", 1e-4: "SIL 3",
             9.99e-5: "SIL 4", 1e-5: "SIL 4", 9.99e-6: "beyond SIL 4", 0.0: "beyond SIL 4", 1.0: "below SIL 1"}
    for value, name in cases.items():
        assert rel.sil_from_pfd(value).name == name
        assert rel.sil_from_pfh(value * 1e-4).name == name  # Table 3 is Table 2 shifted by four decades
    band = rel.sil_from_pfd(3e-4)
    assert (band.level, band.low, band.high) == (3, 1e-4, 1e-3)


def test_mode_and_aviation_classes():
    assert rel.demand_mode(1 / 8760) == "low-demand" and rel.demand_mode(2 / 8760) == "high-demand"
    assert rel.sil_band(1e-4, demand_rate=1 / 8760).name == "SIL 3"    # low demand: PFDavg
    assert rel.sil_band(1e-4, demand_rate=10.0).name == "below SIL 1"  # 1e-3 per hour
    assert [rel.aviation_class(v).name for v in (1e-9, 1e-7, 1e-5, 1e-3, 1.1e-3)] == [
        "catastrophic", "hazardous", "major", "minor", "none"]


def test_rates_and_the_ten_hertz_pitfall():
    assert rel.parse_rate("10/h") == 10 and rel.parse_rate("1/yr") == pytest.approx(1 / 8760)
    assert rel.failure_rate(1e-4, rel.parse_rate("10Hz")) == pytest.approx(3.6)  # 3.6 failures per hour
    assert rel.mission_reliability(1e-4, 10_000) == pytest.approx(float(mpmath.power(1 - mpmath.mpf("1e-4"), 10_000)))
    for bad in ("10", "ten/h", "-1/h", "0/h", "5/fortnight"):
        with pytest.raises(ConfigurationError):
            rel.parse_rate(bad)
