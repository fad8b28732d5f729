"""Sequential decision "is the failure probability <= theta?" with early stopping both ways.

In the spirit of PRoA (Zhang et al. ECML'23) and ProTIP (Zhang et al. ECCV'24), which stop a Monte
Carlo run as soon as an *adaptive Hoeffding* bound (Zhao et al. 2016) decides. Hoeffding's additive
bound needs ~ln(1/delta)/(2 theta^2) samples, millions for theta = 1e-3. We use instead the
beta-binomial mixture confidence sequence (Robbins 1970; Howard et al., Ann. Stat. 2021), valid
simultaneously at every sample size, with its prior centred on theta so that it is tight there:

    a, b = s, s (1 - theta) / theta                 # Beta prior with mean theta
    n = k = 0
    repeat at looks n_1 < n_2 < ... (geometric):
        draw the next samples, k += failures
        [low, high] = {p : M_n(p) < 1/delta}        # anytime-valid: may stop at any look
        if high <= theta: return "robust"           # p <= theta with confidence 1 - delta
        if low  >  theta: return "not robust"       # p >  theta with confidence 1 - delta
    return "undecided"                              # budget exhausted

With no failures the test certifies after about 1.2 ln(1/delta)/theta samples (s = 1/2), close to the
ln(delta)/ln(1 - theta) that any fixed-size exact test needs; far above theta it stops after a few
dozen samples.
"""

from __future__ import annotations

import dataclasses
import math

from ..components import PROBABILITY, Interval, param, register
from ..intervals import ConfidenceInterval, beta_binomial_confidence_sequence
from ..querying import Oracle
from ..result import CertifyResult
from ._base import Estimator, Outcome


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class SequentialCertifier(Estimator):
    """Anytime-valid sequential test of ``failure probability <= max_failure``.

    Parameters
    ----------
    max_failure
        The threshold theta on the failure probability (PR >= 1 - theta is the claim).
    prior_strength
        ``a`` of the Beta(a, a (1 - theta) / theta) mixing prior; smaller is tighter near zero failures.
    first_look, growth
        The test looks at the data after ``first_look`` samples, then whenever the sample count has
        grown by the factor ``growth`` (looks are free statistically; they cost small batches).
    """

    max_failure: float = param(check=PROBABILITY)
    prior_strength: float = param(0.5, Interval(float, 0, None, "neither"))
    first_look: int = param(16, Interval(int, 1))
    growth: float = param(1.1, Interval(float, 1, None, "neither"))
    name = "sequential"
    result_type = CertifyResult
    tags = frozenset({"decision"})
    example = "sequential:max_failure=0.05"

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        theta = self.max_failure
        prior = (self.prior_strength, self.prior_strength * (1 - theta) / theta)
        latents = oracle.latent_stream(entropy)
        n = k = 0
        look = self.first_look
        decision, history = "undecided", []
        while n < oracle.budget:
            m = min(look, oracle.budget) - n
            k += sum(int((s > 0).sum()) for s in oracle.stream_scores(latents, m))
            n += m
            low, high = beta_binomial_confidence_sequence(k, n, confidence, prior)
            history.append((n, k, low, high))
            if high <= theta or low > theta:
                decision = "robust" if high <= theta else "not robust"
                break
            look = max(n + 1, math.ceil(n * self.growth))
        ci = ConfidenceInterval(low, high, confidence, "beta-binomial-confidence-sequence")
        return Outcome(
            k / n,
            ci,
            diagnostics={"n_failures": k, "n_samples": n, "looks": [list(h) for h in history]},
            extra={"decision": decision, "max_failure": theta},
        )
