"""Simple Monte Carlo with exact or concentration-bound intervals.

The estimator of the PRoA / PROVERO / PRBench line of work (Zhang et al. ECML'23; Baluta et al.
ICSE'21): draw x'_1..x'_n ~ Pr(.|x) i.i.d., count failures k, report p_hat = k / n with a
binomial interval (see :mod:`probust.intervals`):

    for each batch of latents z:            # batched; random numbers depend only on the seed
        k += #{ i : score(apply(x, z_i)) > 0 }
    return k / n, interval(k, n, confidence)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..components import Options, param, register
from ..intervals import INTERVAL_METHODS, SIDES, Method, Sided, binomial_ci
from ..querying import Oracle
from ._base import Estimator, Outcome


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class MonteCarlo(Estimator):
    """Plain Monte Carlo estimate with a binomial confidence interval.

    Parameters
    ----------
    interval
        ``"clopper-pearson"`` (exact, default), ``"wilson"``, ``"hoeffding"`` or ``"jeffreys"``.
    sided
        ``"two-sided"`` (default) or ``"upper"`` for a one-sided upper bound on the failure probability.
    """

    interval: Method = param("clopper-pearson", Options(*INTERVAL_METHODS))
    sided: Sided = param("two-sided", Options(*SIDES))
    name = "mc"

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        latents = oracle.latent_stream(entropy)
        n, k = oracle.budget, 0
        max_score = -math.inf
        for scores in oracle.stream_scores(latents, n):
            s = scores.numpy()  # float64 on the CPU; numpy's reductions cost a fraction of torch's on 1-d batches
            k += int(np.count_nonzero(s > 0))
            max_score = max(max_score, float(s.max()))
        ci = binomial_ci(k, n, confidence, self.interval, self.sided)
        return Outcome(k / n, ci, diagnostics={"n_failures": k, "n_samples": n, "max_score": max_score})
