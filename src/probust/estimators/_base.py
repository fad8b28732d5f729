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

import torch

from .. import _rng
from ..errors import ConfigurationError
from ..intervals import ConfidenceInterval, check_confidence
from ..perturbations import Perturbation, parse_perturbation
from ..properties import LabelChange, Property
from ..querying import Model, Oracle, check_budget, eval_mode
from ..result import BoundKind, Result, Status


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


@dataclasses.dataclass(frozen=True, kw_only=True)
class Estimator(ABC):
    """Base class of all estimators: hyper-parameters are the dataclass fields, data goes to ``estimate``."""

    name: ClassVar[str]
    result_type: ClassVar[type[Result]] = Result
    #: Smallest budget with which the algorithm can run at all.
    min_budget: ClassVar[int] = 1

    def get_params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

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
    ) -> Result:
        """Estimate the failure probability of ``model`` at ``x`` under ``perturbation``.

        See :func:`probust.estimate` for the parameters.
        """
        budget = check_budget(budget, self.min_budget)
        confidence = check_confidence(confidence)
        if isinstance(perturbation, str):
            perturbation = parse_perturbation(perturbation)
        if failure is None:
            failure = LabelChange(label)
        elif label is not None:
            raise ConfigurationError("pass either label= or failure=, not both (a failure property carries its label)")
        entropy = _rng.resolve_seed(seed)
        start = time.perf_counter()
        with eval_mode(model):
            oracle = Oracle(
                model, x, perturbation, failure,
                budget=budget, batch_size=batch_size, device=device, dtype=dtype, progress=progress,
            )
            outcome = self._run(oracle, confidence, entropy)
        return self.result_type(
            failure_probability=float(outcome.failure_probability),
            ci=outcome.ci,
            n_queries=oracle.n_queries,
            seconds=time.perf_counter() - start,
            estimator=self.name,
            params=self.get_params(),
            seed=entropy,
            perturbation=perturbation.to_spec(),
            failure=oracle.failure.describe(),
            label=getattr(oracle.failure, "label", None),
            diagnostics={"clean_score": oracle.clean_score, **outcome.diagnostics},
            warnings=outcome.warnings,
            bound_kind=outcome.bound_kind,
            status=outcome.status,
            counterexamples=tuple(oracle.counterexamples),
            **outcome.extra,
        )

    @abstractmethod
    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        """The algorithm: query ``oracle`` within ``oracle.budget`` and return an :class:`Outcome`."""
