"""Binomial confidence intervals, sample-size planning and an anytime-valid confidence sequence.

Interval methods for ``k`` failures in ``n`` i.i.d. samples (Brown, Cai & DasGupta, Stat. Sci. 2001):

* ``clopper-pearson`` -- exact: inverts the binomial test with Beta quantiles; coverage >= nominal for
  every p (guaranteed); with k = 0 the upper bound is ``1 - (alpha/2)^(1/n)`` (two-sided) or
  ``1 - alpha^(1/n)`` (one-sided), the exact form of the "rule of three" (about ``3/n`` at 95%).
* ``hoeffding`` -- ``p_hat +/- sqrt(ln(2/alpha) / (2n))``: guaranteed but loose for small p.
* ``wilson`` -- score interval: approximate; coverage oscillates around nominal.
* ``jeffreys`` -- equal-tailed Beta(k + 1/2, n - k + 1/2) posterior interval: approximate.

scipy's ``binomtest(k, n, alternative=...).proportion_ci`` gives exact (Clopper-Pearson) and Wilson bounds,
one-sided with ``alternative="less"`` / ``"greater"``, but one (k, n) at a time and no Jeffreys or Hoeffding;
the estimators need them vectorised over numpy arrays of counts, hence the short closed forms below
(statsmodels' ``proportion_confint`` is their test oracle, tests/test_intervals.py).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np

from ._deprecation import renamed_constants
from ._scipy import optimize, special, stats
from .errors import ConfigurationError

Sided = Literal["two-sided", "upper", "lower"]


@dataclasses.dataclass(frozen=True)
class ConfidenceInterval:
    """An interval ``[low, high]`` for a probability, with its confidence level and method.

    ``sided="upper"`` is a one-sided upper bound (``low`` is then 0), the form safety claims use for a
    failure probability.
    """

    low: float
    high: float
    confidence: float
    method: str
    sided: Sided = "two-sided"

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def complement(self) -> ConfidenceInterval:
        """The interval for ``1 - p`` (e.g. PR from a failure probability)."""
        flipped = {"upper": "lower", "lower": "upper"}.get(self.sided, self.sided)
        return ConfidenceInterval(1.0 - self.high, 1.0 - self.low, self.confidence, self.method, flipped)  # type: ignore[arg-type]

Method = Literal["clopper-pearson", "wilson", "hoeffding", "jeffreys"]
INTERVAL_METHODS: tuple[str, ...] = ("clopper-pearson", "wilson", "hoeffding", "jeffreys")
__getattr__ = renamed_constants(__name__, {"METHODS": ("INTERVAL_METHODS", INTERVAL_METHODS)})
GUARANTEED: frozenset[str] = frozenset({"clopper-pearson", "hoeffding"})
SIDES: tuple[str, ...] = ("two-sided", "upper", "lower")


def check_confidence(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ConfigurationError(f"confidence must be a number strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def _tail_alpha(confidence: float, sided: str) -> float:
    if sided not in SIDES:
        raise ConfigurationError(f"sided must be one of {SIDES}, got {sided!r}")
    alpha = 1.0 - confidence
    return alpha / 2 if sided == "two-sided" else alpha


def binomial_bounds(
    k: np.ndarray | int, n: np.ndarray | int, alpha_tail: float, method: Method
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds, each of error probability ``alpha_tail``, for arrays of counts."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    p = k / n
    if method == "clopper-pearson":
        with np.errstate(all="ignore"):
            lo = np.where(k > 0, stats.beta.ppf(alpha_tail, k, n - k + 1), 0.0)
            hi = np.where(k < n, stats.beta.isf(alpha_tail, k + 1, n - k), 1.0)
    elif method == "jeffreys":
        with np.errstate(all="ignore"):
            lo = np.where(k > 0, stats.beta.ppf(alpha_tail, k + 0.5, n - k + 0.5), 0.0)
            hi = np.where(k < n, stats.beta.isf(alpha_tail, k + 0.5, n - k + 0.5), 1.0)
    elif method == "wilson":
        z = stats.norm.isf(alpha_tail)
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        lo, hi = centre - half, centre + half
    elif method == "hoeffding":
        half = np.sqrt(np.log(1 / alpha_tail) / (2 * n))
        lo, hi = p - half, p + half
    else:
        raise ConfigurationError(f"unknown interval method {method!r}; choose one of {INTERVAL_METHODS}")
    return np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)


def binomial_ci(
    k: int,
    n: int,
    confidence: float = 0.95,
    method: Method = "clopper-pearson",
    sided: Sided = "two-sided",
) -> ConfidenceInterval:
    """Confidence interval for a failure probability from ``k`` failures in ``n`` samples.

    Examples
    --------
    >>> ci = binomial_ci(0, 1000, 0.95, sided="upper")
    >>> round(ci.high, 5)  # exact one-sided bound: 1 - 0.05 ** (1 / 1000), about 3 / n
    0.00299
    """
    if n < 1 or not 0 <= k <= n:
        raise ConfigurationError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    confidence = check_confidence(confidence)
    lo, hi = binomial_bounds(k, n, _tail_alpha(confidence, sided), method)
    low = 0.0 if sided == "upper" else float(lo)
    high = 1.0 if sided == "lower" else float(hi)
    return ConfidenceInterval(low, high, confidence, method, sided)


def sample_size(
    error: float,
    confidence: float = 0.95,
    method: Literal["hoeffding", "chernoff", "exact"] = "hoeffding",
    *,
    p_min: float | None = None,
) -> int:
    """Samples needed so that the estimate is within ``error`` of p with probability >= ``confidence``.

    * ``hoeffding``: additive error, any p: ``n = ln(2/delta) / (2 error^2)``.
    * ``chernoff``: relative error ``|p_hat - p| <= error * p`` for every ``p >= p_min``, from the
      multiplicative Chernoff bounds ``P(X >= (1+e) mu) <= exp(-e^2 mu / (2+e))`` and
      ``P(X <= (1-e) mu) <= exp(-e^2 mu / 2)``: ``n = (2 + error) ln(2/delta) / (error^2 p_min)``.
    * ``exact``: the smallest n for which zero failures certify ``p <= error`` with the one-sided exact
      bound, ``n = ln(delta) / ln(1 - error)``; no fixed-size test can certify with fewer samples.

    Examples
    --------
    >>> sample_size(0.01, 0.99)
    26492
    >>> sample_size(1e-3, 1 - 1e-3, "exact")
    6905
    """
    delta = 1.0 - check_confidence(confidence)
    if not 0 < error < 1:
        raise ConfigurationError(f"error must be in (0, 1), got {error!r}")
    if method == "hoeffding":
        n = math.log(2 / delta) / (2 * error**2)
    elif method == "chernoff":
        if p_min is None or not 0 < p_min <= 1:
            raise ConfigurationError("the chernoff planner bounds relative error: pass p_min, a lower bound on p")
        n = (2 + error) * math.log(2 / delta) / (error**2 * p_min)
    elif method == "exact":
        n = math.log(delta) / math.log1p(-error)
    else:
        raise ConfigurationError(f"unknown planner {method!r}; choose 'hoeffding', 'chernoff' or 'exact'")
    return math.ceil(n)


def beta_binomial_confidence_sequence(
    k: int, n: int, confidence: float, prior: tuple[float, float]
) -> tuple[float, float]:
    """Anytime-valid interval for p from the beta-binomial mixture martingale (Robbins 1970).

    ``M_n(p) = B(a + k, b + n - k) / B(a, b) / (p^k (1 - p)^(n - k))`` is a nonnegative martingale with
    mean 1 under p, so by Ville's inequality ``P(exists n: M_n(p) >= 1/delta) <= delta``: the set
    ``{p : M_n(p) < 1/delta}`` covers the true p *simultaneously for all n*, which is what makes early
    stopping valid (Howard, Ramdas, McAuliffe & Sekhon, Ann. Stat. 2021). It is an interval around
    ``k/n`` because the likelihood is log-concave; the endpoints are found by root finding in log p.
    """
    a, b = prior
    log_threshold = math.log(1 / (1 - confidence))
    log_mix = special.betaln(a + k, b + n - k) - special.betaln(a, b)

    def excess(log_p: float) -> float:
        log_lik = (k * log_p if k else 0.0) + ((n - k) * math.log1p(-math.exp(log_p)) if n > k else 0.0)
        return log_mix - log_lik - log_threshold

    floor, ceil = math.log(1e-300), math.log1p(-1e-16)
    start = min(math.log(k / n), ceil) if k else floor  # log of the MLE, inside the set
    low = 0.0 if k == 0 else math.exp(optimize.brentq(excess, floor, start, xtol=1e-12, rtol=1e-12))
    high = 1.0 if k == n or excess(ceil) < 0 else math.exp(
        optimize.brentq(excess, start, ceil, xtol=1e-12, rtol=1e-12)
    )
    return low, high
