"""A system-level claim "pfd <= target with confidence C", assembled from a campaign's pfd bound.

The claim reports where the *upper bound* (never the point estimate) falls among the SIL bands of the
mode the demand rate implies, the PFH and mission reliability it implies, how many failure-free
operational demands would still establish the target under classical, Bayesian and conservative Bayesian
inference, optional 1oo2-pair and KooN-voting figures, and the assumptions and caveats an assessor needs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..intervals import check_confidence
from ..serialisation import Serialisable
from ._common import check_probability
from .bayes import posterior_demands_needed
from .cbi import ConservativeClaim, conservative_claim
from .classical import demands_needed
from .evidence import CampaignEvidence
from .pfd import OperationalPfd
from .rates import failure_rate, mission_reliability
from .redundancy import Redundancy
from .thresholds import ARCHITECTURE_CAVEAT, AVIATION_CAVEAT, Band, aviation_class, demand_mode, sil_band
from .voting import Voting

__all__ = ["Demonstration", "ReliabilityClaim", "assess"]

#: What a campaign summary keeps of its evidence (the per-input arrays stay in the evidence record).
_SUMMARY_FIELDS = ("database", "campaign", "model", "model_sha256", "data", "perturbation", "estimator", "params",
                   "budget", "confidence", "seed", "label_source", "probust_version", "n_missing", "n_warned")


@dataclasses.dataclass(frozen=True)
class Demonstration(Serialisable):
    """Failure-free operational demands that would establish ``pfd <= target`` at the confidence."""

    classical: int
    bayes_uniform: int
    bayes_jeffreys: int
    cbi: ConservativeClaim | None


@dataclasses.dataclass(frozen=True)
class ReliabilityClaim(Serialisable):
    """The claim ``pfd <= target_pfd`` at ``confidence`` and everything that follows from the evidence.

    ``supported``: the upper bound meets the target; ``refuted``: the lower bound exceeds it (the evidence
    contradicts the claim, whatever operational testing might add).
    """

    target_pfd: float
    confidence: float
    supported: bool
    refuted: bool
    pfd: OperationalPfd
    alternative: OperationalPfd | None
    demand_rate: float | None
    mode: str
    pfh: float | None
    pfh_upper: float | None
    sil: Band
    sil_of_estimate: Band
    aviation: Band | None
    mission_demands: int | None
    mission_reliability: float | None
    demonstration: Demonstration
    redundancy: Redundancy | None
    voting: Voting | None
    evidence: dict[str, Any] | None
    redundant_evidence: dict[str, Any] | None
    assumptions: tuple[str, ...]
    caveats: tuple[str, ...]


def summarise(evidence: CampaignEvidence) -> dict[str, Any]:
    """The campaign's identity and settings, with its input count (no per-input arrays)."""
    return {**{k: getattr(evidence, k) for k in _SUMMARY_FIELDS}, "n_inputs": evidence.n_inputs}


def assess(
    pfd: OperationalPfd,
    *,
    target_pfd: float,
    demand_rate: float | None = None,
    prior_confidence: float | None = None,
    prior_bound: float = 0.0,
    mission_hours: float = 1.0,
    alternative: OperationalPfd | None = None,
    redundancy: Redundancy | None = None,
    voting: Voting | None = None,
    evidence: CampaignEvidence | None = None,
    redundant_evidence: CampaignEvidence | None = None,
    operational_source: str | None = None,
) -> ReliabilityClaim:
    """Assemble the claim ``pfd <= target_pfd`` at the confidence of ``pfd``'s bound.

    Parameters
    ----------
    pfd
        The campaign's pfd and its upper bound (:func:`probust.reliability.operational_pfd`).
    demand_rate
        Demands per hour: gives PFH = rate x pfd and picks the IEC 61508 mode (low demand: at most one a year).
    prior_confidence, prior_bound
        Prior knowledge ``P(pfd <= prior_bound) = prior_confidence`` for conservative Bayesian inference.
    mission_hours
        Mission length for the mission reliability and CBI's predictive figure (with a demand rate).
    operational_source
        Words naming the operational data (for the assumptions), e.g. "the train split of mnist".

    Examples
    --------
    >>> from probust.reliability import operational_pfd
    >>> claim = assess(operational_pfd([0.0] * 1000), target_pfd=1e-2, prior_confidence=0.5)
    >>> claim.supported, claim.sil.name, claim.demonstration.classical, claim.demonstration.cbi.demands_needed
    (True, 'SIL 2', 299, 293)
    """
    target = check_probability(target_pfd, "the target pfd")
    confidence = check_confidence(pfd.ci.confidence)
    upper = pfd.upper
    mode = "low-demand" if demand_rate is None else demand_mode(demand_rate)
    pfh = pfh_upper = aviation = mission_n = mission = None
    if demand_rate is not None:
        pfh, pfh_upper = failure_rate(pfd.pfd, demand_rate), failure_rate(upper, demand_rate)
        aviation = aviation_class(pfh_upper) if mode == "high-demand" else None  # per flight hour: continuous
        mission_n = round(demand_rate * mission_hours) or None
        mission = None if mission_n is None else mission_reliability(upper, mission_n)
    cbi = None
    if prior_confidence is not None:
        cbi = conservative_claim(target, confidence, prior_confidence, prior_bound, future_demands=mission_n)
    demonstration = Demonstration(demands_needed(target, confidence),
                                  posterior_demands_needed(target, confidence, prior="uniform"),
                                  posterior_demands_needed(target, confidence, prior="jeffreys"), cbi)
    claim = ReliabilityClaim(
        target_pfd=target, confidence=confidence, supported=upper <= target, refuted=pfd.lower > target,
        pfd=pfd, alternative=alternative,
        demand_rate=demand_rate, mode=mode, pfh=pfh, pfh_upper=pfh_upper, sil=sil_band(upper, demand_rate),
        sil_of_estimate=sil_band(pfd.pfd, demand_rate), aviation=aviation, mission_demands=mission_n,
        mission_reliability=mission, demonstration=demonstration, redundancy=redundancy,
        voting=voting, evidence=None if evidence is None else summarise(evidence),
        redundant_evidence=None if redundant_evidence is None else summarise(redundant_evidence),
        assumptions=(), caveats=(),
    )
    return dataclasses.replace(claim, assumptions=_assumptions(claim, operational_source),
                               caveats=_caveats(claim))


def _assumptions(claim: ReliabilityClaim, operational_source: str | None) -> tuple[str, ...]:
    ev, pfd = claim.evidence, claim.pfd
    inputs = "the evaluated inputs" if ev is None else f"the {ev['n_inputs']} evaluated inputs ({_data(ev)})"
    out = []
    if pfd.n_operational is None:
        out.append(f"Operational profile: {inputs} are a random sample of the deployment's demands.")
    else:
        source = operational_source or "the operational data"
        out.append(f"Operational profile: {source} ({pfd.n_operational} inputs counted in {len(pfd.cells)} cells) "
                   "represents the deployment's demands.")
        out.append(f"Within each cell, {inputs} are a random sample of the operational inputs in that cell.")
    perturbation = "" if ev is None else f" {ev['perturbation']}"
    out.append(f"Demands are independent, and the perturbation law{perturbation} is the deployment's input noise.")
    if ev is not None:
        out.append(_estimator_assumption(ev))
    if claim.demand_rate is not None:
        out.append(f"Every failed demand is a dangerous failure; demands arrive at {claim.demand_rate:g} per hour.")
    if claim.demonstration.cbi is not None:
        cbi = claim.demonstration.cbi
        out.append(f"The prior knowledge {prior_text(cbi)} has its own justification, independent of the "
                   "campaign (for example verification).")
    if claim.redundancy is not None:
        out.append("The two channels of the 1oo2 pair see independent perturbations of the same demand.")
    if claim.voting is not None:
        out.append(f"The {claim.voting.n} copies of the {claim.voting.k}oo{claim.voting.n} system see independent "
                   "perturbations of the same demand (independent sensors or frames), with no common cause beyond "
                   "the demand itself.")
    return tuple(out)


def prior_text(cbi: ConservativeClaim) -> str:
    """``P(pfd <= eps) = theta`` in words (``eps = 0``: the probability of perfection)."""
    if cbi.prior_bound == 0:
        return f"P(pfd = 0) = {cbi.prior_confidence:g} (probability of perfection)"
    return f"P(pfd <= {cbi.prior_bound:g}) = {cbi.prior_confidence:g}"


def _data(ev: dict[str, Any]) -> str:
    data = ev["data"]
    return f"{data['split']} split of {data['dataset']}" if "dataset" in data else f"file {data['inputs']}"


def _estimator_assumption(ev: dict[str, Any]) -> str:
    if ev["estimator"] == "mc":
        return (f"Per-input estimates are Monte Carlo failure frequencies ({ev['budget']:,} queries each), "
                "unbiased for the local failure probability.")
    if ev["estimator"] in ("proven", "cramer-chernoff"):
        return f"Per-input values are {ev['estimator']} certified upper bounds on the local failure probability."
    return (f"Per-input estimates of estimator {ev['estimator']!r} are taken as unbiased; its own intervals are "
            "approximate (an estimator-uncertainty defeater).")


def _caveats(claim: ReliabilityClaim) -> tuple[str, ...]:
    pfd, out = claim.pfd, [ARCHITECTURE_CAVEAT[0].upper() + ARCHITECTURE_CAVEAT[1:] + "."]
    if claim.refuted:
        out.append(f"The evidence contradicts the claim: pfd >= {pfd.lower:.3g} > {claim.target_pfd:g} at confidence "
                   f"{claim.confidence:g} (distribution-free lower bound); operational testing cannot rescue it.")
    if claim.aviation is not None:
        out.append(AVIATION_CAVEAT[0].upper() + AVIATION_CAVEAT[1:] + ".")
    if pfd.floor > claim.target_pfd:
        out.append(f"No campaign on these {pfd.n_inputs} inputs can support pfd <= {claim.target_pfd:g}: even with no "
                   f"failure at all its bound would be {pfd.floor:.3g}. A zero-failure bound below the target needs "
                   f"at least {demands_needed(claim.target_pfd, claim.confidence):,} distinct inputs (more with a "
                   "profile), or as many failure-free operational demands.")
    if claim.mode == "high-demand" and claim.pfh_upper >= 1e-5:
        out.append(f"At {claim.demand_rate:g} demands per hour the bound means up to {claim.pfh_upper:.3g} "
                   "failures per hour: a per-demand figure meets a per-hour target only through the "
                   "architecture (voting over demands, tracking, a monitor).")
    if pfd.method == "posterior":
        out.append("The upper bound is a Bayesian-bootstrap quantile: approximate, blind to failures rarer than one "
                   "in the inputs of a cell.")
    masses = [(pfd.unvisited_mass, "unvisited cells"), (pfd.sparse_mass, "sparsely evaluated cells"),
              (pfd.undecided_mass, "undecided inputs")]
    counted = ", ".join(f"{m:.3g} ({what})" for m, what in masses if m > 0)
    if counted:
        out.append(f"Operational mass counted as failing: {counted}.")
    ev = claim.evidence
    if ev is not None and ev["n_missing"]:
        out.append(f"{ev['n_missing']} inputs of the campaign were never evaluated and count as failing.")
    if ev is not None and ev["n_warned"]:
        out.append(f"{ev['n_warned']} per-input results carry estimator warnings and count as failing.")
    if claim.redundancy is not None and claim.redundancy.shared_noise:
        out.append("The two campaigns drew the same perturbations (same seed): the per-input product is biased for "
                   "theta_A theta_B by the estimates' covariance; run one campaign with another --seed.")
    return tuple(out)
