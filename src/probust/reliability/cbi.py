"""Conservative Bayesian inference (CBI): claims that hold for every prior consistent with partial knowledge.

Bishop, Bloomfield, Littlewood, Povyakalo & Wright, "Toward a formalism for conservative claims about the
dependability of software-based systems", IEEE TSE 37(5), 2011; Zhao et al., ISSRE'19, IST 128:106393
(2020), SafeComp'20. The assessor states only ``P(pfd <= eps) = theta`` (with ``eps = 0``, theta is the
probability of perfection); the claim is the infimum over all priors with that property, attained in
the limit by two-point priors (mass theta at eps, 1 - theta at a second point x).

Theorem A (posterior confidence after n failure-free demands, for a bound b > eps)::

    inf P(pfd <= b | data) = theta (1-eps)^n / [theta (1-eps)^n + (1-theta) (1-b)^n]

(the second point just above b), so ``n = ln[theta (1-C) / ((1-theta) C)] / ln[(1-b) / (1-eps)]``
demands reach confidence C, and none are needed if theta >= C.

Theorem B (predictive: no failure in the next m demands)::

    inf P(survive m | n failure-free) = min over x in (eps, 1] of
        [theta (1-eps)^(n+m) + (1-theta) (1-x)^(n+m)] / [theta (1-eps)^n + (1-theta) (1-x)^n]

and the worst-case posterior mean pfd is the sup over x of the same mixture of ``x (1-x)^n``. Both are
1-D optimisations, solved on a log grid of x - eps refined by a bounded scalar optimiser (no library
offers them). The tests check all three against a brute-force search over discretised priors (an LP).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from .._scipy import optimize
from ..errors import ConfigurationError
from ..intervals import check_confidence
from ..serialisation import Serialisable
from ._common import check_count, check_probability

__all__ = ["ConservativeClaim", "cbi_confidence", "cbi_demands_needed", "cbi_survival", "cbi_worst_case_mean",
           "conservative_claim"]


def _prior(prior_confidence: float, prior_bound: float) -> tuple[float, float]:
    if prior_confidence == 1:
        raise ConfigurationError(
            "a prior confidence of 1 states the claim P(pfd <= bound) = 1 before any evidence, which no test "
            "can change and no assessor should accept; give the prior confidence as a probability below 1"
        )
    theta = check_probability(prior_confidence, "the prior confidence")
    return theta, check_probability(prior_bound, "the prior bound", zero_ok=True)


def _check_bound(bound: float, prior_bound: float) -> float:
    bound = check_probability(bound, "the pfd bound")
    if not prior_bound < bound:
        raise ConfigurationError(
            f"the prior bound {prior_bound:g} must lie below the claimed bound {bound:g} (the prior knowledge is "
            f"P(pfd <= prior bound) = prior confidence)"
        )
    return bound


def cbi_confidence(bound: float, demands: int, prior_confidence: float, prior_bound: float = 0.0) -> float:
    """Theorem A: the smallest ``P(pfd <= bound)`` after ``demands`` failure-free demands over all priors.

    Examples
    --------
    >>> round(cbi_confidence(1e-4, 29_443, prior_confidence=0.5), 4)
    0.95
    """
    theta, eps = _prior(prior_confidence, prior_bound)
    bound = _check_bound(bound, eps)
    n = check_count(demands, "demands")
    log_odds = math.log((1 - theta) / theta) + n * (math.log1p(-bound) - math.log1p(-eps))
    return 1.0 / (1.0 + math.exp(log_odds))


def cbi_demands_needed(bound: float, confidence: float, prior_confidence: float, prior_bound: float = 0.0) -> int:
    """Failure-free demands after which the CBI confidence in ``pfd <= bound`` reaches ``confidence``.

    Examples
    --------
    >>> [cbi_demands_needed(1e-4, 0.95, theta) for theta in (0.1, 0.5, 0.9)]
    [51415, 29443, 7472]
    """
    theta, eps = _prior(prior_confidence, prior_bound)
    bound = _check_bound(bound, eps)
    confidence = check_confidence(confidence)
    if theta >= confidence:
        return 0
    n = math.log(theta * (1 - confidence) / ((1 - theta) * confidence)) / (math.log1p(-bound) - math.log1p(-eps))
    return math.ceil(n)


def _log_mixture(theta: float, eps: float, x: np.ndarray, n: float, weight_eps: float = 1.0,
                 weight_x: np.ndarray | float = 1.0) -> np.ndarray:
    """log[theta w_eps (1-eps)^n + (1-theta) w_x (1-x)^n], vectorised over x (w = 1, or the point's value)."""
    with np.errstate(divide="ignore"):
        first = math.log(theta) + math.log(weight_eps) + n * math.log1p(-eps) if weight_eps > 0 else -np.inf
        power = n * np.log1p(-x) if n else np.zeros_like(x)  # (1 - x)^0 = 1, also at x = 1
        second = math.log1p(-theta) + np.log(weight_x) + power
    return np.logaddexp(first, second)


def _extremum_over_x(objective: Callable[[np.ndarray], np.ndarray], eps: float, maximise: bool) -> tuple[float, float]:
    """Min (or max) of ``objective(x)`` over x in (eps, 1]: a log grid of x - eps, then Brent on the best cell."""
    offsets = np.logspace(-16, 0, 3201) * (1 - eps)
    xs = eps + offsets
    sign = -1.0 if maximise else 1.0
    values = sign * objective(xs)
    best = int(np.nanargmin(values))
    lo, hi = math.log(offsets[max(best - 1, 0)]), math.log(offsets[min(best + 1, len(xs) - 1)])
    refined = optimize.minimize_scalar(lambda t: float(sign * objective(np.array([eps + math.exp(t)]))[0]),
                                       bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    if refined.fun < values[best]:
        return sign * float(refined.fun), eps + math.exp(refined.x)
    return sign * float(values[best]), float(xs[best])


def cbi_survival(future: int, demands: int, prior_confidence: float, prior_bound: float = 0.0) -> float:
    """Theorem B: the smallest probability of surviving ``future`` demands after ``demands`` failure-free ones.

    Examples
    --------
    >>> round(cbi_survival(10_000, 10_000, prior_confidence=0.9), 4)
    0.9737
    """
    theta, eps = _prior(prior_confidence, prior_bound)
    n, m = check_count(demands, "demands"), check_count(future, "future demands")

    def survival(x: np.ndarray) -> np.ndarray:
        return np.exp(_log_mixture(theta, eps, x, n + m) - _log_mixture(theta, eps, x, n))

    return _extremum_over_x(survival, eps, maximise=False)[0]


def cbi_worst_case_mean(demands: int, prior_confidence: float, prior_bound: float = 0.0) -> float:
    """The largest posterior mean pfd after ``demands`` failure-free demands over all priors (doubt dominates).

    Examples
    --------
    >>> round(cbi_worst_case_mean(0, prior_confidence=0.9, prior_bound=1e-4), 6)   # theta eps + 1 - theta
    0.10009
    """
    theta, eps = _prior(prior_confidence, prior_bound)
    n = check_count(demands, "demands")

    def mean(x: np.ndarray) -> np.ndarray:
        return np.exp(_log_mixture(theta, eps, x, n, weight_eps=eps, weight_x=x) - _log_mixture(theta, eps, x, n))

    return _extremum_over_x(mean, eps, maximise=True)[0]


@dataclasses.dataclass(frozen=True)
class ConservativeClaim(Serialisable):
    """CBI's figures for the claim ``pfd <= bound`` at ``confidence``, given P(pfd <= prior_bound) = prior_confidence.

    ``demands_needed`` failure-free operational demands reach the confidence; after them, ``survival`` is
    the worst-case probability of surviving ``future_demands`` more, and ``worst_case_mean`` the largest
    posterior mean pfd any admissible prior gives.
    """

    bound: float
    confidence: float
    prior_confidence: float
    prior_bound: float
    demands_needed: int
    worst_case_mean: float
    future_demands: int | None = None
    survival: float | None = None


def conservative_claim(bound: float, confidence: float, prior_confidence: float, prior_bound: float = 0.0,
                       future_demands: int | None = None) -> ConservativeClaim:
    """All of CBI's figures for one claim (see :class:`ConservativeClaim`)."""
    n = cbi_demands_needed(bound, confidence, prior_confidence, prior_bound)
    survival = None if future_demands is None else cbi_survival(future_demands, n, prior_confidence, prior_bound)
    return ConservativeClaim(bound, confidence, prior_confidence, prior_bound, n,
                             cbi_worst_case_mean(n, prior_confidence, prior_bound), future_demands, survival)
