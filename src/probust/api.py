"""The two verbs of probust: ``estimate`` and ``certify`` (thin wrappers over estimator objects)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .estimators import Estimator, SequentialCertifier, get_estimator
from .perturbations import Perturbation
from .properties import Property
from .querying import Model
from .result import CertifyResult, Result


def estimate(
    model: Model,
    x: torch.Tensor,
    perturbation: Perturbation | str,
    *,
    estimator: str | Estimator = "mc",
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
    """Estimate the local failure probability ``p = 1 - PR(x)`` (Definition 1) with an interval.

    Parameters
    ----------
    model
        A ``torch.nn.Module`` or a callable mapping a batch of inputs to a batch of outputs (logits).
    x
        One input **without** batch dimension.
    perturbation
        The input model ``Pr(.|x)``, e.g. ``UniformLinf(eps=0.1, clip=(0, 1))`` or its spec string
        ``"uniform-linf:eps=0.1,clip=0:1"``.
    estimator
        Registry name (``"mc"``) or an estimator instance with non-default hyper-parameters.
    budget
        Maximum number of model queries at perturbed inputs.
    confidence
        Confidence level of the interval.
    seed
        Integer, ``torch.Generator`` or ``None`` (fresh entropy, recorded in the result). Same seed, same
        numbers, whatever the batch size or device.
    label
        Reference label; default the model's own prediction at ``x`` (Definition 1). Shorthand for
        ``failure=LabelChange(label)``.
    failure
        A :mod:`probust.properties` failure criterion (default: label change).
    batch_size, device, dtype
        Execution settings; defaults come from the model's parameters.
    progress
        Callback receiving the number of new queries after every batch.
    decompose
        Estimate a failure that is a union (label change with 3 or more classes, top-1, an output region of
        several polyhedra) part by part, one run per disjoint part ("fails to class j"), and add them up with a
        Bonferroni interval. ``None`` (default): on for the model-based estimators (amls, last-particle,
        gradient-smc, is) when each part gets at least 5,000 queries; ``result.diagnostics["decomposition"]``
        lists the parts. A rare-event run follows one direction of rising score and misses failure modes
        reached from another.
    replicas
        Independent runs per estimate (each with its share of the budget), whose disagreement beyond their
        intervals (Cochran's Q) marks the result ``unreliable``. ``None``: 2 for amls, last-particle and is when
        each gets at least 20,000 queries, else 1.

    Returns
    -------
    Result
        Frozen and JSON-serialisable: ``failure_probability``, ``ci``, ``pr``, ``n_queries``, ``seconds``...

    Examples
    --------
    >>> import torch, probust as pb
    >>> model = torch.nn.Linear(2, 2).eval()
    >>> res = pb.estimate(model, torch.zeros(2), pb.perturbations.Gaussian(sigma=1.0), budget=1000, seed=0)
    >>> 0 <= res.ci.low <= res.failure_probability <= res.ci.high <= 1
    True
    """
    return get_estimator(estimator).estimate(
        model, x, perturbation,
        budget=budget, confidence=confidence, seed=seed, label=label, failure=failure,
        batch_size=batch_size, device=device, dtype=dtype, progress=progress, decompose=decompose, replicas=replicas,
    )


def certify(
    model: Model,
    x: torch.Tensor,
    perturbation: Perturbation | str,
    *,
    max_failure: float,
    confidence: float = 0.99,
    budget: int = 1_000_000,
    seed: int | torch.Generator | None = None,
    label: int | None = None,
    failure: Property | None = None,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    progress: Callable[[int], None] | None = None,
) -> CertifyResult:
    """Decide whether the failure probability is at most ``max_failure`` (PR >= 1 - max_failure).

    Draws samples until an anytime-valid confidence sequence lies entirely below (``"robust"``) or above
    (``"not robust"``) ``max_failure``, or the budget runs out (``"undecided"``). Either decision is wrong
    with probability at most ``1 - confidence``. See :class:`probust.estimators.SequentialCertifier`.
    """
    certifier = SequentialCertifier(max_failure=max_failure)
    return certifier.estimate(  # type: ignore[return-value]
        model, x, perturbation,
        budget=budget, confidence=confidence, seed=seed, label=label, failure=failure,
        batch_size=batch_size, device=device, dtype=dtype, progress=progress,
    )
