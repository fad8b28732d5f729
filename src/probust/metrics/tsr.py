"""Total statistical robustness (Definition 3): PR averaged over the input distribution, with an interval.

TSR = 1 - E_{x ~ D}[p(x)]. From inputs x_1..x_m drawn i.i.d. from D (a test set, or a sample from an
operational profile) and unbiased per-input estimates p_hat_i (e.g. Monte Carlo), the mean of the p_hat_i
is unbiased for E[p(x)], and its spread already contains both sources of error: between-input variation
of p(x) and within-input estimation noise (Var p_hat_i = Var p(x) + E Var(p_hat | x)). Two intervals:

* ``"bernstein"`` (default, guaranteed for i.i.d. inputs): the empirical Bernstein bound for [0, 1]
  variables (Maurer & Pontil, COLT 2009): |mean - E| <= sqrt(2 V ln(4/delta) / m) + 7 ln(4/delta) / (3 (m - 1))
  with V the sample variance (delta split over the two sides).
* ``"t"``: Student-t interval on the mean; approximate, tight for large m.

Weights (an operational profile over the inputs, e.g. from ``cell probabilities / cell counts``) turn the
mean into a weighted mean; the t interval then uses Kish's effective sample size, and the Bernstein
interval is not offered (it needs i.i.d. draws from the target distribution).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._scipy import stats
from ..errors import ConfigurationError
from ..intervals import ConfidenceInterval, check_confidence
from ..serialisation import Serialisable


@dataclasses.dataclass(frozen=True)
class TSREstimate(Serialisable):
    """TSR = 1 - failure_probability, with the interval ``ci`` on the mean failure probability."""

    tsr: float
    failure_probability: float
    ci: ConfidenceInterval
    n_inputs: int
    effective_inputs: float

    @property
    def tsr_ci(self) -> ConfidenceInterval:
        return self.ci.complement()


def total_statistical_robustness(
    failure_probabilities, confidence: float = 0.95, method: str = "bernstein", weights=None
) -> TSREstimate:
    """TSR from per-input failure-probability estimates (see the module docstring for the intervals)."""
    p = np.asarray(failure_probabilities, dtype=float).ravel()
    confidence = check_confidence(confidence)
    if p.size < 2 or not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ConfigurationError("TSR needs at least two per-input failure probabilities in [0, 1]")
    w = np.full(p.size, 1.0 / p.size) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != p.shape or (w < 0).any() or w.sum() <= 0:
        raise ConfigurationError("weights must be non-negative, not all zero, one per input")
    w = w / w.sum()
    mean = float(w @ p)
    n_eff = 1.0 / float(w @ w)  # Kish's effective sample size; = m without weights
    delta = 1.0 - confidence
    if method == "bernstein":
        if weights is not None:
            raise ConfigurationError("the Bernstein interval needs unweighted i.i.d. inputs; use method='t'")
        m = p.size
        var = float(p.var(ddof=1))
        log_term = math.log(4 / delta)
        half = math.sqrt(2 * var * log_term / m) + 7 * log_term / (3 * (m - 1))
    elif method == "t":
        var = float(w @ (p - mean) ** 2) * n_eff / max(n_eff - 1, 1e-12)
        half = float(stats.t.ppf(1 - delta / 2, max(n_eff - 1, 1))) * math.sqrt(var / n_eff)
    else:
        raise ConfigurationError(f"unknown TSR interval method {method!r}; choose 'bernstein' or 't'")
    ci = ConfidenceInterval(max(0.0, mean - half), min(1.0, mean + half), confidence, f"tsr-{method}")
    return TSREstimate(1.0 - mean, mean, ci, p.size, n_eff)
