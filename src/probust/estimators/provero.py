"""PROVERO: PAC decision "is the failure probability <= theta?" with tolerance eta (Baluta et al., ICSE'21).

Baluta, Chua, Meel & Saxena, "Scalable quantitative verification for deep neural networks", ICSE 2021.
A black-box (eta, delta)-verifier: if p <= theta it answers "robust" with probability >= 1 - delta, if
p > theta + eta it answers "not robust" with probability >= 1 - delta (in between, either answer is
correct). It runs interval testers on a data-independent schedule of intervals that halve towards
theta from the left and towards theta + eta from the right (the paper's ``divide_et_impera``):

    n_tests = 3 + log2(theta / eta) + log2((1 - theta - eta) / eta);  delta' = delta / n_tests
    tester(t1, t2):  N = ceil(ln(1/delta') (sqrt(3 t1) + sqrt(2 t2))^2 / (t2 - t1)^2) fresh samples,
                     k failures; "yes" if k <= N t1  (=> p <= t2),  "no" if k > N t2  (=> p > t1)
    left  = [0, theta], [theta/2, theta], [3 theta/4, theta], ...   (while the width exceeds eta)
    right = [theta+eta, theta+eta + w/2], [theta+eta, theta+eta + w/4], ...,  w = 1 - theta - eta
    for L, R interleaved:   tester(L) == "yes" -> robust;   tester(R) == "no" -> not robust
    final tester(theta, theta + eta) decides either way

Why it is sound: by the multiplicative Chernoff bounds P(k <= N t1 | p >= t2) <= exp(-N (t2-t1)^2 / (2 t2))
and P(k > N t2 | p <= t1) <= exp(-N (t2-t1)^2 / (t1 + t2)), both <= delta' for that N, so each test
errs with probability <= delta' (given the past: every test draws fresh samples) and a union bound
over the <= n_tests tests gives delta. Two changes from the published code, both keeping the guarantee:
its first right interval [theta+eta, 1] is skipped (its "no" needs k > N, which is impossible, so it
only costs samples), and the final test uses exact binomial thresholds ("robust" iff P(Bin(N, theta+eta) <= k)
<= delta', "not robust" iff P(Bin(N, theta) >= k) <= delta'); at the paper's N they leave no gap (checked
for theta in [0.001, 0.8], eta in [5e-4, 0.1], delta in [1e-6, 0.5]), else the run would end "undecided".
A run that would exceed the budget stops before the next test: "undecided".

At theta = 0.1, eta = 0.01, delta = 0.01 an input without failures is certified by the first test with
144 samples, the figure of the PROVERO README. ``bound_kind="pac"``; ``ci`` is the interval the deciding
test proves (e.g. ``[0, theta]``); ``failure_probability`` is the pooled fraction of failing samples.
"""

from __future__ import annotations

import dataclasses
import math

from .._scipy import stats
from ..components import PROBABILITY, param, register
from ..errors import ConfigurationError
from ..intervals import ConfidenceInterval
from ..querying import Oracle
from ..result import CertifyResult
from ._base import Estimator, Outcome


def tester_samples(t1: float, t2: float, delta: float) -> int:
    """The paper's Chernoff sample size for telling p <= t1 from p > t2 with error delta each way."""
    return math.ceil(math.log(1 / delta) * (math.sqrt(3 * t1) + math.sqrt(2 * t2)) ** 2 / (t2 - t1) ** 2)


def schedule(theta: float, eta: float) -> list[tuple[str, float, float]]:
    """The data-independent sequence of tests ("left" | "right" | "final", t1, t2)."""
    left, width = [], theta
    while width > eta:  # [theta - width, theta], width halving (never below eta)
        left.append(("left", theta - width, theta))
        width = max(eta, width / 2)
    right, width = [], max(eta, (1 - theta - eta) / 2)  # the paper's first, useless [theta+eta, 1] is skipped
    while width - eta > 1e-6:
        right.append(("right", theta + eta, theta + eta + width))
        width = max(eta, width / 2)
    tests = left[:1]  # the paper's order: L1, (skipped R0), L2, R1, L3, R2, ...
    for i in range(max(len(left) - 1, len(right))):
        tests += left[i + 1 : i + 2] + right[i : i + 1]
    return tests + [("final", theta, theta + eta)]


def final_thresholds(n: int, theta: float, eta: float, delta: float) -> tuple[int, int]:
    """(c_yes, c_no): "robust" iff k <= c_yes, "not robust" iff k > c_no, each error <= delta."""
    c_yes = int(stats.binom.ppf(delta, n, theta + eta))  # smallest c with cdf(c) >= delta
    if stats.binom.cdf(c_yes, n, theta + eta) > delta:
        c_yes -= 1
    c_no = int(stats.binom.isf(delta, n, theta))  # smallest c with sf(c) = P(K > c) <= delta
    while stats.binom.sf(c_no, n, theta) > delta:
        c_no += 1
    return c_yes, c_no


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class Provero(Estimator):
    """PROVERO's adaptive (eta, delta) PAC test of ``failure probability <= theta``; delta = 1 - confidence.

    Parameters
    ----------
    theta
        Threshold on the failure probability (the claim is PR >= 1 - theta).
    eta
        Tolerance: for theta < p <= theta + eta either answer is acceptable.
    """

    theta: float = param(0.1, PROBABILITY)
    eta: float = param(0.01, PROBABILITY)
    name = "provero"
    result_type = CertifyResult
    tags = frozenset({"decision"})

    def validate(self) -> None:
        if self.theta + self.eta >= 1:
            raise ConfigurationError(
                f"theta + eta must be < 1, got {self.theta} + {self.eta}; lower theta or the tolerance eta"
            )

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        theta, eta, delta = self.theta, self.eta, 1.0 - confidence
        tests = schedule(theta, eta)
        n_split = max(len(tests), 3 + max(0.0, math.log2(theta / eta)) + max(0.0, math.log2((1 - theta - eta) / eta)))
        delta_test = delta / n_split
        latents = oracle.latent_stream(entropy)
        n = k = 0
        decision, ci, history = "undecided", ConfidenceInterval(0.0, 1.0, confidence, "provero"), []
        for kind, t1, t2 in tests:
            m = tester_samples(t1, t2, delta_test)
            if m > oracle.remaining:
                break
            failures = sum(int((s > 0).sum()) for s in oracle.stream_scores(latents, m))
            n, k = n + m, k + failures
            if kind == "final":
                c_yes, c_no = final_thresholds(m, theta, eta, delta_test)
                yes, no = failures <= c_yes, failures > c_no
            else:
                yes, no = kind == "left" and failures <= m * t1, kind == "right" and failures > m * t2
            history.append([kind, t1, t2, m, failures, "yes" if yes else "no" if no else "none"])
            if yes:
                decision, ci = "robust", ConfidenceInterval(0.0, t2, confidence, "provero", "upper")
                break
            if no:
                decision, ci = "not robust", ConfidenceInterval(t1, 1.0, confidence, "provero", "lower")
                break
        return Outcome(
            k / n if n else 0.0, ci, bound_kind="pac",
            diagnostics={"decision": decision, "n_samples": n, "n_failures": k, "delta_per_test": delta_test,
                         "tests": history},
            extra={"decision": decision, "max_failure": theta},
        )
