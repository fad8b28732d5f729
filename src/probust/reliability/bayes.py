"""Bayesian claims with a conjugate Beta prior on the pfd.

Prior ``Beta(a, b)`` (uniform: a = b = 1; Jeffreys: a = b = 1/2). After r failures in n demands the
posterior is ``Beta(a + r, b + n - r)`` and

* the claim's confidence is ``P(pfd <= p | data) = I_p(a + r, b + n - r)`` (regularised incomplete beta);
* the upper bound at confidence C is the posterior C-quantile;
* the predictive probability of surviving m further demands is
  ``E[(1 - pfd)^m | data] = B(a + r, b + n - r + m) / B(a + r, b + n - r)``; with the uniform prior and
  r = 0 it is ``(n + 1) / (n + m + 1)``: after n failure-free demands, the next n are survived with
  probability only about 1/2 (Littlewood & Strigini, CACM 36(11), 1993).

The answer depends on the prior; :mod:`probust.reliability.cbi` gives the claim that holds for every
prior consistent with a stated piece of prior knowledge.
"""

from __future__ import annotations

import math
from typing import Literal

from .._scipy import special, stats
from ..errors import ConfigurationError
from ..intervals import check_confidence
from ._common import check_count, check_probability, smallest_integer

__all__ = ["PRIORS", "posterior_confidence", "posterior_demands_needed", "posterior_upper_bound",
           "survival_probability"]

Prior = Literal["uniform", "jeffreys"] | tuple[float, float]
PRIORS: dict[str, tuple[float, float]] = {"uniform": (1.0, 1.0), "jeffreys": (0.5, 0.5)}


def _posterior(failures: int, demands: int, prior: Prior) -> tuple[float, float]:
    a, b = PRIORS[prior] if isinstance(prior, str) and prior in PRIORS else _beta_parameters(prior)
    failures = check_count(failures, "failures")
    demands = check_count(demands, "demands")
    if failures > demands:
        raise ConfigurationError(f"failures ({failures}) cannot exceed demands ({demands})")
    return a + failures, b + demands - failures


def _beta_parameters(prior: object) -> tuple[float, float]:
    if isinstance(prior, tuple) and len(prior) == 2 and all(isinstance(v, (int, float)) and v > 0 for v in prior):
        return float(prior[0]), float(prior[1])
    raise ConfigurationError(f"prior must be {' or '.join(map(repr, PRIORS))} or a pair (a, b) > 0, got {prior!r}")


def posterior_confidence(bound: float, failures: int, demands: int, prior: Prior = "uniform") -> float:
    """``P(pfd <= bound | failures in demands)`` under the Beta prior.

    Examples
    --------
    >>> round(posterior_confidence(1e-4, 0, 29_955), 4)   # uniform prior: 1 - (1 - p)^(n + 1)
    0.95
    """
    bound = check_probability(bound, "the pfd bound")
    return float(stats.beta.cdf(bound, *_posterior(failures, demands, prior)))


def posterior_upper_bound(failures: int, demands: int, confidence: float = 0.95, prior: Prior = "uniform") -> float:
    """The posterior ``confidence``-quantile of the pfd.

    Examples
    --------
    >>> f"{posterior_upper_bound(0, 29_957, 0.95, 'jeffreys'):.3g}"   # the classical bound is 1.0e-4
    '6.41e-05'
    """
    return float(stats.beta.ppf(check_confidence(confidence), *_posterior(failures, demands, prior)))


def posterior_demands_needed(bound: float, confidence: float = 0.95, failures: int = 0,
                             prior: Prior = "uniform") -> int:
    """Fewest demands after which ``P(pfd <= bound) >= confidence`` if at most ``failures`` of them fail.

    Examples
    --------
    >>> posterior_demands_needed(1e-4, 0.95)   # one fewer than the classical 29,956
    29955
    """
    bound = check_probability(bound, "the pfd bound")
    confidence = check_confidence(confidence)
    _posterior(failures, failures, prior)  # validates before the search
    return smallest_integer(lambda n: posterior_confidence(bound, failures, n, prior) >= confidence,
                            start=max(failures, 1))


def survival_probability(future: int, failures: int, demands: int, prior: Prior = "uniform") -> float:
    """Predictive probability that the next ``future`` demands all succeed.

    Examples
    --------
    >>> round(survival_probability(10_000, 0, 10_000), 8)   # (n + 1) / (n + m + 1): a coin flip
    0.500025
    """
    future = check_count(future, "future demands")
    a, b = _posterior(failures, demands, prior)
    return math.exp(special.betaln(a, b + future) - special.betaln(a, b))
