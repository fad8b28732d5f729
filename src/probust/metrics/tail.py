"""Tail risk measures of a loss distribution, from (weighted) samples.

The guide's tail-sensitive variants of PR (Definition 1 and 3 with the expectation replaced): for a loss
L (a failure indicator or probability, per perturbation or per input) and a tail fraction alpha in (0, 1]:

* rho-essential supremum (value at risk): ``VaR_alpha(L) = inf{t : P(L > t) <= alpha}``, the level the
  loss exceeds with probability at most alpha (Robey et al., "Probabilistically robust learning", ICML'22).
  For per-input failure probabilities, ``1 - mean(p(x) > kappa)`` is PRBench's ProbAcc(kappa).
* conditional value at risk: ``CVaR_alpha(L) = inf_t { t + E[(L - t)_+] / alpha }`` (Rockafellar &
  Uryasev 2000), the mean of the worst alpha fraction (Robey et al.).
* entropic value at risk: ``EVaR_alpha(L) = inf_{z > 0} (1/z) log(E[exp(z L)] / alpha)`` (Ahmadi-Javid
  2012; used by PRASS, Zhang et al. IJCAI'24), the tightest Chernoff upper bound of VaR.

Always ``VaR <= CVaR <= EVaR <= max L``; at alpha = 1, CVaR is the mean. These are plug-in estimates of the
empirical distribution: exact for it, consistent for the population.
"""

from __future__ import annotations

import math

import numpy as np

from .._scipy import optimize, special
from ..errors import ConfigurationError


def _prepare(values, alpha: float, weights) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0 or not np.isfinite(v).all():
        raise ConfigurationError("tail measures need a non-empty array of finite values")
    if not 0 < alpha <= 1:
        raise ConfigurationError(f"alpha must be in (0, 1], got {alpha!r}")
    w = np.full(v.size, 1.0 / v.size) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != v.shape or (w < 0).any() or w.sum() <= 0:
        raise ConfigurationError("weights must be non-negative, not all zero, one per value")
    return v, w / w.sum()


def value_at_risk(values, alpha: float, weights=None) -> float:
    """``inf{t : P(L > t) <= alpha}`` of the (weighted) empirical distribution (rho-ess sup, rho = alpha)."""
    v, w = _prepare(values, alpha, weights)
    order = np.argsort(v)
    exceed = 1.0 - np.cumsum(w[order])  # P(L > v_(i)) after the i-th smallest value
    return float(v[order][np.argmax(exceed <= alpha + 1e-12)])


def cvar(values, alpha: float, weights=None) -> float:
    """Mean of the worst alpha fraction: ``VaR + E[(L - VaR)_+] / alpha`` (Rockafellar-Uryasev)."""
    v, w = _prepare(values, alpha, weights)
    t = value_at_risk(v, alpha, w)
    return float(t + (w * np.maximum(v - t, 0.0)).sum() / alpha)


def evar(values, alpha: float, weights=None) -> float:
    """``inf_{z > 0} (1/z) log(E[exp(z L)] / alpha)``, minimised over log z (the objective is convex in z)."""
    v, w = _prepare(values, alpha, weights)
    top = float(v.max())
    if alpha == 1 or np.ptp(v) == 0:
        return float((w * v).sum()) if alpha == 1 else top

    def objective(log_z: float) -> float:
        z = math.exp(log_z)
        return (float(special.logsumexp(z * v, b=w)) - math.log(alpha)) / z

    scale = 1.0 / max(float(np.ptp(v)), 1e-300)
    res = optimize.minimize_scalar(objective, bounds=(math.log(scale) - 20, math.log(scale) + 30), method="bounded",
                                   options={"xatol": 1e-10})
    return float(min(res.fun, top))


def prob_acc(failure_probabilities, kappa: float, weights=None) -> float:
    """PRBench's ProbAcc(kappa): the (weighted) fraction of inputs whose failure probability is <= kappa."""
    p, w = _prepare(failure_probabilities, 1.0, weights)
    return float((w * (p <= kappa)).sum())
