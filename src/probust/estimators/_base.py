"""The estimator template: everything outside the algorithm itself.

``Estimator.estimate`` validates arguments, puts the model in eval mode for the call (restoring it
afterwards), opens the :class:`~probust.querying.Oracle`, turns the seed into an entropy, times the
run and builds the :class:`~probust.result.Result`. A subclass only implements ``_run``, which
reads like the paper's pseudo-code and returns an :class:`Outcome`.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from warnings import warn

import torch

from .. import _rng
from ..components import Component
from ..errors import ConfigurationError
from ..intervals import ConfidenceInterval, binomial_ci, check_confidence
from ..perturbations import Perturbation, parse_perturbation
from ..properties import LabelChange, Property
from ..querying import Model, Oracle, check_budget, eval_mode
from ..result import BoundKind, Guarantee, Result, Status
from . import _decompose
from ._decompose import unconditional_upper


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What an algorithm returns; the template adds queries, time, seed and configuration."""

    failure_probability: float
    ci: ConfidenceInterval
    diagnostics: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    bound_kind: BoundKind = "confidence-interval"
    status: Status = "complete"
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # fields of a Result subclass
    #: A model-based algorithm's i.i.d. draws from the perturbation law: (failures, draws); (0, 0) if none.
    iid: tuple[int, int] = (0, 0)


def guarded(outcome: Outcome, guarantee: Guarantee, confidence: float, has_counterexamples: bool) -> Outcome:
    """The rules that keep a model-based result from being confidently wrong (issue 23).

    * A run that stalled, ran out of budget or found nothing never reports an upper bound below the one its
      own i.i.d. draws support: its interval rests on levels whose mixing nothing checks.
    * A result never says p = 0 while it holds counterexamples (a failing input proves p > 0 for a continuous
      score): its status becomes ``unreliable`` and the estimate is the i.i.d. draws' own, k / n, or with no
      failure among them the median-unbiased ``1 - 2^(-1/n)`` (the Clopper-Pearson bound at level 1/2).
    """
    if guarantee != "model-based":
        return outcome
    upper, ci, warnings = unconditional_upper(outcome.iid, confidence), outcome.ci, list(outcome.warnings)
    estimate, status = outcome.failure_probability, outcome.status
    if estimate == 0 and has_counterexamples:
        k, n = outcome.iid
        status = "unreliable"
        if n:
            estimate = k / n if k else 1 - 0.5 ** (1 / n)
            ci = dataclasses.replace(binomial_ci(k, n, confidence, "clopper-pearson"), method="clopper-pearson-iid")
            basis = f"that of the {n} i.i.d. draws, and the interval is theirs"
        else:  # no i.i.d. draw to lean on: the middle of the interval, which says how little is known
            estimate = ci.high / 2
            basis = "the middle of the interval (the run made no i.i.d. draw)"
        warnings.append(f"the estimate was 0 although failing inputs were found: the levels did not reach them; "
                        f"the estimate {estimate:.3g} is {basis}")
    if (status != "complete" or estimate == 0) and ci.high < upper:
        ci = dataclasses.replace(ci, high=upper, method=f"{ci.method}, raised to the i.i.d. upper bound")
    if ci.low > estimate:
        ci = dataclasses.replace(ci, low=0.0)
    return dataclasses.replace(outcome, failure_probability=estimate, ci=ci, status=status, warnings=tuple(warnings))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Estimator(Component, ABC):
    """Base class of all estimators: hyper-parameters are the dataclass fields, data goes to ``estimate``.

    A component (:mod:`probust.components`): parameters declared with ``param``, registered with ``register``.
    Tags in use: ``needs-gradients`` (differentiates the model), ``white-box`` (reads its layers), ``decision``
    (returns a yes/no :class:`~probust.result.CertifyResult`), and ``model-based``, which every estimator with
    that ``guarantee`` carries.
    """

    kind = "estimator"
    result_type: ClassVar[type[Result]] = Result
    #: What the interval rests on (``probust.result.Guarantee``).
    guarantee: ClassVar[Guarantee] = "exact"
    #: Smallest budget with which the algorithm can run at all.
    min_budget: ClassVar[int] = 1
    #: Whether the algorithm runs independent replicas itself (then the template's default is one replica).
    own_replicas: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("guarantee") == "model-based":
            cls.tags = cls.tags | {"model-based"}

    def get_params(self) -> dict[str, Any]:
        """Deprecated spelling of :meth:`params`."""
        warn("Estimator.get_params() is deprecated; use params()", DeprecationWarning, stacklevel=2)
        return self.params()

    def estimate(
        self,
        model: Model,
        x: torch.Tensor,
        perturbation: Perturbation | str,
        *,
        budget: int = 10_000,
        confidence: float = 0.95,
        seed: int | torch.Generator | None = None,
        label: int | None = None,
        failure: Property | None = None,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        progress: Callable[[int], None] | None = None,
        decompose: bool | None = None,
        replicas: int | None = None,
    ) -> Result:
        """Estimate the failure probability of ``model`` at ``x`` under ``perturbation``.

        See :func:`probust.estimate` for the parameters; ``decompose`` and ``replicas`` are explained in
        :mod:`probust.estimators._decompose`.
        """
        budget = check_budget(budget, self.min_budget)
        confidence = check_confidence(confidence)
        replicas = _decompose.check_replicas(replicas)
        if isinstance(perturbation, str):
            perturbation = parse_perturbation(perturbation)
        if failure is None:
            failure = LabelChange(label)
        elif label is not None:
            raise ConfigurationError("pass either label= or failure=, not both (a failure property carries its label)")
        if (decompose or (replicas or 1) > 1) and self.result_type is not Result:
            raise ConfigurationError(f"{self.name} returns a {self.result_type.__name__} (a decision, or a result with "
                                     "fields of its own), which has no parts or replicas to combine")
        entropy = _rng.resolve_seed(seed)
        start = time.perf_counter()
        settings = dict(batch_size=batch_size, device=device, dtype=dtype, progress=progress)
        with eval_mode(model):
            whole = Oracle(model, x, perturbation, failure, budget=budget, **settings)
            plan = _decompose.plan(whole.failure, whole.clean_output, budget, self.min_budget,
                                   model_based=self.guarantee == "model-based", decompose=decompose,
                                   replicas=replicas, own_replicas=self.own_replicas)

            def run(part: Property, part_budget: int, part_confidence: float, part_entropy: int) -> Result:
                oracle = whole if part is whole.failure and part_budget == budget else Oracle(
                    model, x, perturbation, part, budget=part_budget, **settings)
                return self._result(oracle, part_confidence, part_entropy)

            result = _decompose.estimate(plan, run, whole.failure, budget, confidence, entropy)
        warnings = result.warnings + ((plan.note,) if plan.note else ())
        return dataclasses.replace(
            result, seconds=time.perf_counter() - start, seed=entropy, failure=whole.failure.describe(),
            label=getattr(whole.failure, "label", None), warnings=warnings,
            diagnostics={**result.diagnostics, "clean_score": whole.clean_score,
                         "plan": {"parts": len(plan.parts) if plan.parts else 1, "replicas": plan.replicas}},
            params=self.params(),
        )

    def _result(self, oracle: Oracle, confidence: float, entropy: int) -> Result:
        """One run of the algorithm on ``oracle``, guarded (``guarded``) and made a Result."""
        start = time.perf_counter()
        outcome = guarded(self._run(oracle, confidence, entropy), self.guarantee, confidence,
                          bool(oracle.counterexamples))
        model_based = self.guarantee == "model-based"
        iid = {"iid_failures": outcome.iid[0], "iid_draws": outcome.iid[1]} if model_based else {}
        return self.result_type(
            failure_probability=float(outcome.failure_probability),
            ci=outcome.ci,
            n_queries=oracle.n_queries,
            seconds=time.perf_counter() - start,
            estimator=self.name,
            params=self.params(),
            seed=entropy,
            perturbation=oracle.perturbation.to_spec(),
            failure=oracle.failure.describe(),
            label=getattr(oracle.failure, "label", None),
            diagnostics={"clean_score": oracle.clean_score, **outcome.diagnostics, **iid},
            warnings=outcome.warnings,
            bound_kind=outcome.bound_kind,
            guarantee=self.guarantee,
            unconditional_upper=unconditional_upper(outcome.iid, confidence) if model_based else None,
            status=outcome.status,
            counterexamples=tuple(oracle.counterexamples),
            **outcome.extra,
        )

    @abstractmethod
    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        """The algorithm: query ``oracle`` within ``oracle.budget`` and return an :class:`Outcome`."""
