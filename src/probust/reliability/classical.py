"""Classical (frequentist) claims "pfd < p with confidence C" from operational testing.

Per demand, r failures in n independent demands (the success-run theorem for r = 0):

* upper bound: ``p_U = BetaInv(C; r + 1, n - r)`` (Clopper-Pearson, one-sided); for r = 0,
  ``p_U = 1 - (1 - C)^(1/n)``;
* demands needed for ``p_U <= p``: for r = 0, ``n = ln(1 - C) / ln(1 - p)`` (about 3.0/p at 95%,
  4.6/p at 99%); for r > 0, the smallest n with ``P(Bin(n, p) <= r) <= 1 - C``.

In continuous time (failures of a Poisson process over an exposure T: hours, miles), r failures give
``lambda_U = chi2_C(2r + 2) / (2T)``, so a claim ``lambda < rate`` needs ``T = chi2_C(2r + 2) / (2 rate)``
failure-free exposure for r = 0, ``-ln(1 - C) / rate``. Kalra & Paddock ("Driving to Safety", Transp. Res.
A 94, 2016): 95% confidence that a fleet's fatality rate is below the human 1.09e-8 per mile needs
``-ln 0.05 / 1.09e-8`` = 275 million failure-free miles.
"""

from __future__ import annotations

import math

from .._scipy import stats
from ..errors import ConfigurationError
from ..intervals import ConfidenceInterval, binomial_ci, check_confidence
from ._common import check_count, check_probability, smallest_integer

__all__ = ["demands_needed", "exposure_needed", "miles_needed", "pfd_upper_bound", "rate_upper_bound"]


def pfd_upper_bound(failures: int, demands: int, confidence: float = 0.95) -> ConfidenceInterval:
    """One-sided exact (Clopper-Pearson) upper bound on the pfd after ``failures`` in ``demands``.

    Examples
    --------
    >>> f"{pfd_upper_bound(2, 100_000, 0.95).high:.3g}"
    '6.3e-05'
    """
    return binomial_ci(failures, demands, confidence, "clopper-pearson", sided="upper")


def demands_needed(bound: float, confidence: float = 0.95, failures: int = 0) -> int:
    """Fewest demands whose exact upper bound is <= ``bound`` if at most ``failures`` of them fail.

    Examples
    --------
    >>> demands_needed(1e-4, 0.95)   # ~ 3 / p, the rule of three
    29956
    """
    bound = check_probability(bound, "the pfd bound")
    confidence = check_confidence(confidence)
    failures = check_count(failures, "failures")
    if failures == 0:
        return math.ceil(math.log1p(-confidence) / math.log1p(-bound))
    return smallest_integer(lambda n: stats.binom.cdf(failures, n, bound) <= 1 - confidence, start=failures + 1)


def rate_upper_bound(failures: int, exposure: float, confidence: float = 0.95) -> float:
    """Upper confidence bound on a Poisson failure rate after ``failures`` in ``exposure`` (hours, miles).

    Examples
    --------
    >>> f"{rate_upper_bound(0, 3.0e8, 0.95):.3g}"   # 3e8 failure-free hours support PFH < 1e-8
    '9.99e-09'
    """
    failures = check_count(failures, "failures")
    confidence = check_confidence(confidence)
    if not exposure > 0:
        raise _positive("exposure", exposure)
    return float(stats.chi2.ppf(confidence, 2 * failures + 2)) / (2 * exposure)


def exposure_needed(rate: float, confidence: float = 0.95, failures: int = 0) -> float:
    """Exposure (hours, miles...) after which ``failures`` failures still support ``rate`` at ``confidence``."""
    failures = check_count(failures, "failures")
    confidence = check_confidence(confidence)
    if not rate > 0:
        raise _positive("rate", rate)
    return float(stats.chi2.ppf(confidence, 2 * failures + 2)) / (2 * rate)


def miles_needed(rate: float = 1.09e-8, confidence: float = 0.95, failures: int = 0) -> float:
    """Kalra & Paddock's "miles needed": failure-free miles to claim a fatality rate below ``rate`` per mile.

    Examples
    --------
    >>> f"{miles_needed(1.09e-8, 0.95):.4g}"   # 275 million miles (Kalra & Paddock 2016)
    '2.748e+08'
    """
    return exposure_needed(rate, confidence, failures)


def _positive(name: str, value: float) -> ConfigurationError:
    return ConfigurationError(f"{name} must be positive, got {value!r}")
