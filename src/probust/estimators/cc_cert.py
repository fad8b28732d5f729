"""CC-Cert: a Chernoff–Cramér bound on the failure probability from samples (Pautov et al., AAAI'22).

Pautov, Tursynbek, Munkhoeva, Muravev, Petiushko & Oseledets, "CC-Cert: A probabilistic approach to
certify general robustness of neural networks", AAAI 2022. For a statistic Y in [0, 1] of the perturbed
output and a threshold a with failure => Y >= a, Markov's inequality on exp(tY) gives

    P(failure) <= P(Y >= a) <= min_t E[exp(tY)] / exp(ta)

Y and a: with ``failure=SoftmaxStability()`` (the paper's statistic) Y = ||softmax(x') - softmax(x)||_inf
and a = (p1 - p2) / 2; for any other property, Y = sigmoid(score / scale) and a = 1/2 (failure <=>
score > 0 => Y >= 1/2, for any monotone squashing).

The published code replaces E[exp(tY)] by a sample mean (500 samples per bound), minimises over a grid
of 50 values of t in [1e-4, 50], takes the max over ``nbounds`` such bounds and divides by delta. That is
not a guarantee: the minimum over t of noisy means is biased low (the selected t is the one whose mean
came out smallest), and dividing a plug-in estimate by delta is justified only through a Paley–Zygmund
argument that needs the unknown second moment of exp(tY) (heavy at t = 50). This file makes it sound:

    U_t = (exp(tY) - 1) / (exp(t) - 1) in [0, 1]                   # per sample and grid point t_1..t_T
    M_t = 1 + (exp(t) - 1) * UCB_{delta/T}(mean U_t)                # UCB: Chernoff–Hoeffding KL bound,
                                                                    # P(mean U <= mu - e) <= exp(-n kl(mu - e, mu))
    bound = min(1, min_t M_t / exp(t a))                            # union bound over the T grid points

so P(failure > bound) <= delta. The plug-in value of the paper (no confidence correction) is reported in
``diagnostics["plug_in_bound"]``. Expect the sound bound to be looser than a Clopper–Pearson bound on the
same samples: an upper confidence bound on an MGF of a bounded variable is at least as hard to get as
one on P(Y >= a) itself. ``bound_kind="pac"``, ``ci = [0, bound]`` at the requested confidence.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._scipy import special
from ..components import Interval, param, register
from ..errors import ConfigurationError
from ..intervals import ConfidenceInterval
from ..properties import SoftmaxStability
from ..querying import Oracle
from ._base import Estimator, Outcome

#: Samples per summation chunk: fixed, so sums do not depend on the batch size.
_CHUNK = 1 << 14
#: Absolute allowance for floating-point error in the sample means of U_t.
MEAN_SLACK = 1e-12


def kl_upper_bound(mean: np.ndarray, n: int, log_term: float) -> np.ndarray:
    """Largest mu >= mean with n kl(mean, mu) <= log_term, for [0, 1] variables (rounded upwards)."""
    mean = np.clip(mean, 0.0, 1.0)
    lo, hi = mean.copy(), np.ones_like(mean)
    for _ in range(60):  # bisection; hi always satisfies n kl(mean, hi) >= log_term (or hi = 1)
        mid = (lo + hi) / 2
        kl = special.xlogy(mean, mean) - special.xlogy(mean, mid) + special.xlogy(1 - mean, 1 - mean) \
            - special.xlogy(1 - mean, 1 - mid)
        above = n * kl > log_term
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
    return hi


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class CCCert(Estimator):
    """Sound Chernoff–Cramér upper bound on the failure probability from ``budget`` i.i.d. samples.

    Parameters
    ----------
    t_min, t_max, t_steps
        The grid of t (linear, as in the paper: 50 points in [1e-4, 50]).
    scale
        Y = sigmoid(score / scale) for properties other than ``SoftmaxStability``.
    """

    t_min: float = param(1e-4, Interval(float, 0, 700, "right"))
    t_max: float = param(50.0, Interval(float, 0, 700, "right"))  # exp(t) overflows float64 beyond ~709
    t_steps: int = param(50, Interval(int, 1))
    scale: float = param(1.0, Interval(float, 0, None, "neither"))
    name = "cc-cert"

    def validate(self) -> None:
        if self.t_min > self.t_max:
            raise ConfigurationError(f"cc-cert needs t_min <= t_max, got t_min={self.t_min}, t_max={self.t_max}")

    def _statistic(self, failure, scores: np.ndarray) -> tuple[np.ndarray, float]:
        if isinstance(failure, SoftmaxStability):
            top2 = np.sort(np.asarray(failure.reference))[-2:]
            a = float(top2[1] - top2[0]) / 2
            return np.clip(scores + a, 0.0, 1.0), a
        return special.expit(scores / self.scale), 0.5

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        latents = oracle.latent_stream(entropy)
        n = oracle.budget
        scores = np.concatenate([s.numpy() for s in oracle.stream_scores(latents, n)])
        y, a = self._statistic(oracle.failure, scores)
        t = np.linspace(self.t_min, self.t_max, self.t_steps)
        total = np.zeros_like(t)
        for start in range(0, n, _CHUNK):
            total += (np.expm1(np.outer(y[start : start + _CHUNK], t)) / np.expm1(t)).sum(0)
        mean_u = total / n
        ucb = kl_upper_bound(mean_u + MEAN_SLACK, n, math.log(self.t_steps / (1.0 - confidence)))
        log_bound = np.log1p(np.expm1(t) * ucb) - t * a
        best = int(np.argmin(log_bound))
        bound = float(min(1.0, math.exp(log_bound[best])))
        plug_in = float(min(1.0, np.exp(np.log1p(np.expm1(t) * mean_u) - t * a).min()))
        ci = ConfidenceInterval(0.0, bound, confidence, "cc-cert-kl", "upper")
        return Outcome(
            bound, ci, bound_kind="pac",
            diagnostics={"n_samples": n, "n_failures": int((scores > 0).sum()), "threshold": a,
                         "t_star": float(t[best]), "plug_in_bound": plug_in},
        )
