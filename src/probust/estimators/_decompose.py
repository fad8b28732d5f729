"""Estimation by parts and by replicas: what keeps a rare-event estimator from a confident wrong answer.

A splitting, SMC or importance-sampling run follows one direction of rising score. When the failure set is a
union of regions reached from different directions (a classifier that fails to several classes, a VNNLIB
output constraint that is an OR), it finds one region and misses the others, and its interval is tight around
the wrong number (issue 23: two equal modes gave p/2 in almost every run; a gradient trap gave 1% of p).

**Parts.** ``Property.parts`` splits a union into disjoint parts that add up to it exactly (the winning other
class of a label change; the first polyhedron of an output region). Each part j of J gets its own run with the
budget B / J (an equal split: the parts' sizes are what is unknown) at confidence 1 - alpha / J, so by Bonferroni
all J intervals hold together with probability >= 1 - alpha, and as the parts are disjoint

    p_hat = sum_j p_hat_j,      p in [sum_j lo_j, sum_j hi_j]   at level 1 - alpha.

**Replicas.** Each run is K independent runs with B / K queries each (seeds derived from the result's seed); the
estimate is their mean. A complete run's interval is read as a normal interval on log p (the splitting and SMC
intervals are built that way), sd_r = (log hi_r - log lo_r) / (2 z); Cochran's

    Q = sum_r (log p_r - m)^2 / sd_r^2,   m the inverse-variance mean of the log p_r,

is chi2(K - 1) when the runs agree within their intervals. Q beyond its 1 - HETEROGENEITY quantile, or a run
that found failures while another found none, marks the result ``unreliable``: the runs disagree more than
their intervals allow (a mode one of them missed, a stalled chain). The interval of the mean is lognormal with
var(log p_hat) = sum_r (p_r / sum p)^2 sd_r^2 (delta method), widened by max(1, Q / (K - 1)), the
over-dispersion factor of a random-effects meta-analysis. Replicas see random errors; a bias every run shares
(a trap they all fall into) is invisible to them, which is what the parts are for.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import torch

from .. import _rng
from .._scipy import stats
from ..errors import ConfigurationError
from ..intervals import ConfidenceInterval, binomial_ci
from ..properties import Property
from ..querying import MAX_COUNTEREXAMPLES
from ..result import STATUSES, Result

#: Smallest budget per part and per replica with which the defaults decompose / replicate (an explicit request
#: only needs the estimator's own minimum): below it one run of the whole budget goes further. 5,000 queries
#: take a splitting run of the smallest cloud (100 particles, 7 moves a level) to p ~ 1e-6; with 2,000 the
#: zoo cases of PR-Bench's quick run (10 classes, 2e4 queries) went from a median |log10 error| of 0.11 to
#: 0.27 (amls) and 0.02 to 0.46 (is): covering, but nine starved parts.
PART_MIN_BUDGET = 5_000
REPLICA_MIN_BUDGET = 20_000
#: Version of the defaults above (parts and replicas of a default run): part of a PR-Bench cell's key.
PLAN_DEFAULTS = 1
#: Level of Cochran's test of the replicas' agreement.
HETEROGENEITY = 0.01
#: When the runs of a result end differently, the result says the least finished of them (unreliable last).
_SEVERITY = {s: i for i, s in enumerate(STATUSES)}

#: The key that keeps the seeds of replicas, derive_seed(entropy, _REPLICA_KEY, r), apart from those of parts,
#: derive_seed(entropy, i).
_REPLICA_KEY = 1_000_003

Run = Callable[[Property, int, float, int], Result]


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one estimate is made: the parts (None: the failure as a whole) and the replicas per run."""

    parts: tuple[Property, ...] | None
    replicas: int
    note: str | None = None  # why the default did not decompose


def unconditional_upper(iid: tuple[int, int], confidence: float) -> float:
    """The Clopper-Pearson upper end (two-sided level ``confidence``) of ``iid = (failures, draws)``; 1 if none."""
    k, n = iid
    return binomial_ci(k, n, confidence, "clopper-pearson").high if n > 0 else 1.0


def check_replicas(replicas: object) -> int | None:
    if replicas is None:
        return None
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ConfigurationError(f"replicas must be an integer >= 1, got {replicas!r}")
    return replicas


def plan(failure: Property, clean_output: torch.Tensor, budget: int, min_budget: int, *, model_based: bool,
         decompose: bool | None, replicas: int | None, own_replicas: bool) -> Plan:
    """The parts and replicas of an estimate: defaults on for model-based estimators where the budget allows.

    ``own_replicas``: the estimator runs independent replicas itself (gradient SMC) and defaults to K = 1 here.
    """
    if decompose not in (None, True, False):
        raise ConfigurationError(f"decompose must be True, False or None (the default), got {decompose!r}")
    # By default only model-based intervals are split: exact and sound ones hold for the union as it is.
    parts = failure.parts(clean_output) if (model_based if decompose is None else decompose) else None
    note = None
    if decompose and parts is None:
        raise ConfigurationError(
            f"decomposition needs a failure that is a union (label change with 3 or more classes, top-1, or an output "
            f"region of several polyhedra); {failure.describe()} is not one: leave decompose unset or False"
        )
    if parts is not None and budget // len(parts) < (min_budget if decompose else PART_MIN_BUDGET):
        if decompose:
            raise ConfigurationError(
                f"budget {budget:,} is too small for {len(parts)} parts of at least {min_budget:,} queries each: "
                "raise the budget or pass decompose=False (--no-decompose)"
            )
        note = (f"not decomposed: budget {budget:,} < {len(parts)} parts x {PART_MIN_BUDGET:,} queries; a failure "
                "mode reached from another direction may be missed (raise the budget or pass decompose=True)")
        parts = None
    per_run = budget // (len(parts) if parts else 1)
    if replicas is None:
        replicas = 2 if model_based and not own_replicas and per_run // 2 >= REPLICA_MIN_BUDGET else 1
    elif per_run // replicas < min_budget:
        raise ConfigurationError(
            f"budget {budget:,} is too small for {replicas} replicas"
            f"{f' of each of {len(parts)} parts' if parts else ''} of at least {min_budget:,} queries each"
        )
    return Plan(parts, replicas, note)


def estimate(plan: Plan, run: Run, failure: Property, budget: int, confidence: float, entropy: int) -> Result:
    """The estimate of ``failure`` by ``plan``: parts, each by replicas, each replica one ``run``."""
    if plan.parts is None:
        return _replicated(run, failure, budget, confidence, entropy, plan.replicas)
    alpha, j = 1.0 - confidence, len(plan.parts)
    results = [_replicated(run, part, budget // j, 1.0 - alpha / j, _rng.derive_seed(entropy, i), plan.replicas)
               for i, part in enumerate(plan.parts)]
    return _sum_of_parts(results, confidence)


def _replicated(run: Run, failure: Property, budget: int, confidence: float, entropy: int, k: int) -> Result:
    if k == 1:
        return run(failure, budget, confidence, entropy)
    return _mean_of_replicas([run(failure, budget // k, confidence, _rng.derive_seed(entropy, _REPLICA_KEY, r))
                              for r in range(k)], confidence)


def _iid(results: Sequence[Result]) -> tuple[int, int]:
    return (sum(int(r.diagnostics.get("iid_failures", 0)) for r in results),
            sum(int(r.diagnostics.get("iid_draws", 0)) for r in results))


def _merged(results: Sequence[Result], **fields) -> Result:
    """One result from several runs: queries, seconds and counterexamples added up, the rest from ``fields``."""
    status = max((r.status for r in results), key=_SEVERITY.__getitem__)
    examples = tuple(c for r in results for c in r.counterexamples)[:MAX_COUNTEREXAMPLES]
    fields.setdefault("status", status)
    return dataclasses.replace(results[0], n_queries=sum(r.n_queries for r in results),
                               seconds=sum(r.seconds for r in results), counterexamples=examples, **fields)


def _log_sd(r: Result, z: float) -> float:
    return (math.log(r.ci.high) - math.log(r.ci.low)) / (2 * z)


def _mean_of_replicas(results: Sequence[Result], confidence: float) -> Result:
    """The mean of K replicas, Cochran's test of their agreement and the widened lognormal interval."""
    k, z = len(results), float(stats.norm.isf((1 - confidence) / 2))
    p = [r.failure_probability for r in results]
    p_hat, warnings, status = sum(p) / k, [w for r in results for w in r.warnings], None
    iid = _iid(results)
    q = p_value = math.nan
    if all(r.status == "complete" and 0 < r.ci.low < r.ci.high for r in results):
        sd = [_log_sd(r, z) for r in results]
        w = [1 / s**2 for s in sd]
        m = sum(wi * math.log(pi) for wi, pi in zip(w, p, strict=True)) / sum(w)
        q = sum(wi * (math.log(pi) - m) ** 2 for wi, pi in zip(w, p, strict=True))
        p_value = float(stats.chi2.sf(q, k - 1))
        var = sum((pi / sum(p)) ** 2 * s**2 for pi, s in zip(p, sd, strict=True)) * max(1.0, q / (k - 1))
        ci = ConfidenceInterval(p_hat * math.exp(-z * math.sqrt(var)), min(1.0, p_hat * math.exp(z * math.sqrt(var))),
                                confidence, f"{results[0].ci.method}, mean of {k} replicas")
        if p_value < HETEROGENEITY:
            status = "unreliable"
            warnings.append(f"the {k} independent replicas disagree beyond their intervals (Cochran's Q = {q:.3g}, "
                            f"p = {p_value:.2g}; estimates {', '.join(f'{x:.3g}' for x in p)}): a failure mode may "
                            "have been missed or a chain may not mix")
    else:
        ci = ConfidenceInterval(min(r.ci.low for r in results), max(r.ci.high for r in results), confidence,
                                f"{results[0].ci.method}, hull of {k} replicas")
        if any(x > 0 for x in p) and any(x == 0 for x in p):
            status = "unreliable"
            warnings.append(f"of {k} independent replicas some found failures and some none (estimates "
                            f"{', '.join(f'{x:.3g}' for x in p)}): a failure region is reached only by chance")
    if p_hat == 0 or any(r.status != "complete" for r in results):
        ci = dataclasses.replace(ci, high=max(ci.high, unconditional_upper(iid, confidence)))
    diagnostics = {**results[0].diagnostics, "iid_failures": iid[0], "iid_draws": iid[1],
                   "replicas": {"k": k, "estimates": p, "statuses": [r.status for r in results],
                                "cochran_q": q, "heterogeneity_p": p_value}}
    return _merged(results, failure_probability=p_hat, ci=ci, warnings=tuple(dict.fromkeys(warnings)),
                   diagnostics=diagnostics, unconditional_upper=unconditional_upper(iid, confidence),
                   **({"status": status} if status else {}))


def _sum_of_parts(results: Sequence[Result], confidence: float) -> Result:
    """The sum of J disjoint parts estimated at level 1 - alpha / J each (Bonferroni)."""
    part_confidence = results[0].ci.confidence
    uppers = [unconditional_upper(_iid([r]), part_confidence) for r in results]
    parts = [{"failure": r.failure, "failure_probability": r.failure_probability, "ci": [r.ci.low, r.ci.high],
              "status": r.status, "n_queries": r.n_queries, "unconditional_upper": upper, "warnings": list(r.warnings),
              **({"replicas": r.diagnostics["replicas"]} if "replicas" in r.diagnostics else {})}
             for r, upper in zip(results, uppers, strict=True)]
    found = [r for r in results if r.failure_probability > 0]
    # A part with no failure found is expected (a class the noise cannot reach): its status is not the result's.
    status = max((r.status for r in found), key=_SEVERITY.__getitem__) if found else None
    warnings = [f"part {r.failure}: {w}" for r in found for w in r.warnings]
    ci = ConfidenceInterval(sum(r.ci.low for r in results), min(1.0, sum(r.ci.high for r in results)), confidence,
                            f"sum of {len(results)} disjoint parts at level {part_confidence:.6g} each (Bonferroni)")
    diagnostics = {"iid_failures": _iid(results)[0], "iid_draws": _iid(results)[1],
                   "decomposition": {"rule": "disjoint parts, equal budget split, Bonferroni confidence",
                                     "part_confidence": part_confidence, "parts": parts}}
    return _merged(results, failure_probability=min(1.0, sum(r.failure_probability for r in results)), ci=ci,
                   warnings=tuple(warnings), diagnostics=diagnostics, unconditional_upper=min(1.0, sum(uppers)),
                   **({"status": status} if status else {}))
