"""The frozen, JSON-serialisable result objects shared by every estimator.

Following scipy's ``BinomTestResult``: results are read by attribute, keep their sufficient
statistics (in ``diagnostics``) and can recompute intervals from them; fields may be added
in later versions without breaking callers (``schema_version`` tracks the JSON layout).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import torch

from .intervals import INTERVAL_METHODS, ConfidenceInterval, Sided, binomial_ci
from .serialisation import Serialisable, jsonable

#: 2: ``status`` and ``counterexamples`` (records of version 1 read with their defaults).
#: 3: ``guarantee`` and ``unconditional_upper`` (older records get the guarantee of their estimator).
SCHEMA_VERSION = 3
BoundKind = Literal["confidence-interval", "deterministic", "pac"]
#: What the interval rests on. "exact": i.i.d. sampling of the perturbation law (Monte Carlo, sequential tests,
#: PAC testers): it holds at its level whatever the failure landscape. "sound": a white-box bound on the model
#: itself. "model-based": a rare-event estimator (splitting, SMC, importance sampling) whose interval holds only
#: if its Markov chains mix and every failure mode is reached; such a result carries ``unconditional_upper``.
Guarantee = Literal["exact", "sound", "model-based"]
GUARANTEES = ("exact", "sound", "model-based")
#: The estimators of schema-2 records whose intervals are model-based (read into schema 3).
_MODEL_BASED_V2 = frozenset({"amls", "last-particle", "gradient-smc", "is"})
#: How the run ended. "complete": the algorithm finished. "stalled": an adaptive estimator's levels stopped
#: rising (or converged) below the failure threshold: no failure region was found, and the interval is what
#: the levels reached support. "budget-exhausted": the levels were still rising towards the threshold when
#: the budget ran out: failures may exist beyond this budget (the interval is [0, level bound]).
#: "unreliable": a diagnostic failed (replicas disagree, failures in hand but an estimate of 0, ...): the
#: interval is not to be trusted; ``unconditional_upper`` still holds.
Status = Literal["complete", "stalled", "budget-exhausted", "unreliable"]
STATUSES = ("complete", "stalled", "budget-exhausted", "unreliable")


def _frozen(value: Any) -> Any:
    """Nested lists as nested tuples (a frozen value object must not hold mutable lists)."""
    return tuple(_frozen(v) for v in value) if isinstance(value, (list, tuple)) else value


@dataclasses.dataclass(frozen=True)
class Counterexample:
    """A failing perturbed input: ``input = perturbation.apply(x, latent)`` and the failure ``score > 0``.

    ``latent`` and ``input`` are nested tuples in the shapes of the latent and of x; ``tensor()`` gives the
    input back as a tensor, to re-check it against the model.
    """

    latent: tuple
    input: tuple
    score: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "latent", _frozen(self.latent))
        object.__setattr__(self, "input", _frozen(self.input))
        object.__setattr__(self, "score", float(self.score))

    def tensor(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """The failing input as a tensor of x's shape."""
        return torch.tensor(self.input, dtype=dtype)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Result(Serialisable):
    """Estimate of the failure probability ``p = 1 - PR(x)`` of one input under one perturbation.

    Attributes
    ----------
    failure_probability
        Point estimate of ``p``.
    ci
        Interval for ``p`` (see ``bound_kind`` for what kind of guarantee it carries).
    n_queries
        Model evaluations at perturbed inputs (the clean reference evaluation is not counted).
    seconds
        Wall-clock time of the estimation.
    estimator, params
        Registry name of the estimator and its hyper-parameters.
    seed
        The integer entropy all random numbers were derived from (re-running with it repeats the result).
    perturbation, failure
        Spec string of the input model and description of the failure property (with the reference label).
    label
        Reference label of a label-change or top-k property (the model's prediction at x unless given).
    diagnostics
        Method-specific statistics (counts, levels, acceptance rates...). JSON-serialisable.
    warnings
        Reasons not to trust the number, if any.
    bound_kind
        ``"confidence-interval"`` (statistical, holds with probability ``confidence``), ``"deterministic"``
        (sound for the model itself) or ``"pac"``.
    guarantee
        What the interval rests on: ``"exact"`` (i.i.d. sampling), ``"sound"`` (a white-box bound) or
        ``"model-based"`` (valid only if the estimator's chains mix and reach every failure mode); see ``Guarantee``.
    unconditional_upper
        For a model-based result: the upper bound on p (Clopper-Pearson, two-sided level ``confidence``) that the
        run's own i.i.d. draws from the perturbation law support, whatever the landscape; ``None`` otherwise.
        A model-based interval that stalled or found nothing never ends below it.
    status
        ``"complete"``, ``"stalled"`` (no failure region found: the levels stopped rising),
        ``"budget-exhausted"`` (failures may lie beyond this budget) or ``"unreliable"`` (a diagnostic failed:
        do not use the interval for a claim); see ``Status``.
    counterexamples
        A few failing perturbed inputs met during the run (the first ones, at most
        ``querying.MAX_COUNTEREXAMPLES``), with their latents and scores.
    """

    failure_probability: float
    ci: ConfidenceInterval
    n_queries: int
    seconds: float
    estimator: str
    params: Mapping[str, Any]
    seed: int
    perturbation: str
    failure: str
    label: int | None = None
    diagnostics: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    bound_kind: BoundKind = "confidence-interval"
    guarantee: Guarantee = "exact"
    unconditional_upper: float | None = None
    status: Status = "complete"
    counterexamples: tuple[Counterexample, ...] = ()
    schema_version: int = SCHEMA_VERSION  # a field since version 1 (Serialisable's is a class variable)

    def __post_init__(self) -> None:
        for name in ("params", "diagnostics"):
            object.__setattr__(self, name, MappingProxyType(jsonable(getattr(self, name))))
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "counterexamples", tuple(self.counterexamples))
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.guarantee not in GUARANTEES:
            raise ValueError(f"guarantee must be one of {GUARANTEES}, got {self.guarantee!r}")

    @property
    def pr(self) -> float:
        """Probabilistic robustness ``PR(x) = 1 - failure_probability`` (Definition 1)."""
        return 1.0 - self.failure_probability

    @property
    def pr_ci(self) -> ConfidenceInterval:
        """The interval for PR, i.e. ``ci`` mapped through ``p -> 1 - p``."""
        return self.ci.complement()

    @property
    def confidence(self) -> float:
        return self.ci.confidence

    def interval(
        self, confidence: float | None = None, method: str | None = None, sided: Sided | None = None
    ) -> ConfidenceInterval:
        """Recompute the interval from the stored counts with another level, method or sidedness.

        Only for estimators that record ``n_failures`` and ``n_samples`` of i.i.d. sampling. Without ``method``,
        the result's own method if it is a binomial one, else exact (Clopper-Pearson): a PAC bound such as
        CC-Cert's keeps its counts, but its method is not a binomial interval.
        """
        if "n_failures" not in self.diagnostics or "n_samples" not in self.diagnostics:
            raise ValueError(f"estimator {self.estimator!r} does not keep i.i.d. counts; its interval is fixed")
        return binomial_ci(
            self.diagnostics["n_failures"],
            self.diagnostics["n_samples"],
            confidence if confidence is not None else self.ci.confidence,
            method or (self.ci.method if self.ci.method in INTERVAL_METHODS else "clopper-pearson"),  # type: ignore[arg-type]
            sided or self.ci.sided,
        )

    @classmethod
    def _migrate(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        if version < 2:  # version 1 kept the splitting estimators' ending in diagnostics
            ending = data.get("diagnostics", {}).get("status")
            data["status"] = {"stalled": "stalled", "budget exhausted": "budget-exhausted"}.get(ending, "complete")
        if version < 3:  # version 2 had no guarantee: it follows from the estimator
            data["guarantee"] = ("sound" if data.get("bound_kind") == "deterministic"
                                 else "model-based" if data.get("estimator") in _MODEL_BASED_V2 else "exact")
        return data


@dataclasses.dataclass(frozen=True, kw_only=True)
class CertifyResult(Result):
    """Outcome of the sequential decision "is the failure probability <= max_failure?".

    ``decision`` is ``"robust"`` (``p <= max_failure`` at the stated confidence), ``"not robust"``
    (``p > max_failure`` at the stated confidence) or ``"undecided"`` (the budget ran out first).
    ``ci`` is the anytime-valid confidence-sequence interval at the stopping time.
    """

    decision: Literal["robust", "not robust", "undecided"]
    max_failure: float


@dataclasses.dataclass(frozen=True)
class FailingRegion:
    """A box of inputs ``lo <= x' <= hi`` (flat, in C order) proven to fail everywhere, and its probability."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    mass: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class BabResult(Result):
    """Branch-and-bound's result (``estimators.bab``): the exact interval ``ci`` and a sound one beside it.

    ``sound_low <= p <= sound_high`` holds for the model itself, with no sampling: the mass of the input boxes
    proven failing, and that plus the mass of the boxes left undecided. ``ci`` narrows it with i.i.d. draws
    inside the undecided boxes (``guarantee = "exact"``). The ``boxes_*`` count the leaves of the partition;
    ``failing_regions`` are the heaviest proven-failing boxes: counterexamples that are regions, not points.
    Under a semantic perturbation the bounds cannot follow the image transform: nothing is proven, the sound
    bounds are None (``sound_bound`` too) and ``ci`` is the stratified sampling interval alone.
    """

    sound_low: float | None
    sound_high: float | None
    boxes_failing: int
    boxes_safe: int
    boxes_undecided: int
    failing_regions: tuple[FailingRegion, ...] = ()

    @property
    def sound_bound(self) -> tuple[float, float] | None:
        """``(sound_low, sound_high)``, or None where nothing is proven (semantic perturbations)."""
        return None if self.sound_low is None or self.sound_high is None else (self.sound_low, self.sound_high)
