"""Explanation stability (SAFARI: Huang, Zhao, Jin, Huang & Wang, "SAFARI: Versatile and Efficient
Evaluations for Robustness of Interpretability", ICCV 2023).

A saliency map is a function of the input, so its stability under ``Pr(.|x)`` is a failure probability like
any other once the map is the "model output": :class:`Saliency` wraps a classifier into a model whose output
row is the (absolute) attribution of the input, and the two properties below compare a perturbed
attribution with the clean one.

- :class:`ExplanationTopK`: the share of the clean top-``k`` features that stay in the perturbed top-``k``
  falls below ``min_overlap``.
- :class:`ExplanationCorrelation`: the Pearson or Spearman correlation of the two maps falls below
  ``min_corr`` (SAFARI's type-1 failure uses Pearson with 0.4 on ``|input x gradient|``).

Usage::

    pb.estimate(Saliency(model), x, "uniform-linf:eps=0.1,clip=0:1", failure=ExplanationTopK(20, 0.6))

The attribution is taken for each perturbed input's *own* predicted class (as SAFARI does with captum's
``target=pred``). The wrapper computes it with one forward and one backward pass per batch: in eval mode
the rows of a batch are independent, so the gradient of the sum of the selected logits is every row's own
gradient. The map is detached, so the failure score has no gradient in the latent (and for ReLU networks
the second derivative it would need is zero anyway): use Monte Carlo, sequential or Metropolis-Hastings
splitting (``mc``, ``amls``, ``last-particle``, ``sequential``), not ``is`` or ``gradient-smc``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import nn

from ._deprecation import renamed_constants
from ._scipy import stats
from .components import Interval, Options, param, register
from .errors import ConfigurationError, ModelError, ProbustError
from .properties import Property, _strict

__all__ = ["ExplanationCorrelation", "ExplanationTopK", "NoGradientError", "Saliency"]

Method = Literal["gradient-x-input", "integrated-gradients"]
SALIENCY_METHODS = ("gradient-x-input", "integrated-gradients")
__getattr__ = renamed_constants(__name__, {"METHODS": ("SALIENCY_METHODS", SALIENCY_METHODS)})
#: The spec keys of the explanation properties that configure the saliency map (:class:`Saliency`).
SALIENCY_OPTIONS = {"saliency": Options(*SALIENCY_METHODS), "steps": Interval(int, 1)}
CORRELATIONS = Options("pearson", "spearman")

_FIX = ("saliency needs a differentiable PyTorch model: pass an nn.Module (or a state dict with --arch) "
        "instead of an ONNX file or a wrapper that calls the model under torch.no_grad / detaches / converts "
        "to NumPy")


class NoGradientError(ProbustError):
    """The model's outputs carry no gradient with respect to its input, so no saliency map exists.

    Not a ``RuntimeError``: the oracle must not reword it as a shape problem of the input.
    """


class Saliency(nn.Module):
    """A classifier turned into its saliency map: ``(batch, *shape) -> (batch, prod(shape))``.

    Parameters
    ----------
    model
        A differentiable classifier returning logits ``(batch, n_classes)``.
    method
        ``"gradient-x-input"``: ``a = x * grad_x f_c(x)`` (Shrikumar et al. 2016), one backward pass.
        ``"integrated-gradients"``: ``a = (x - b) * (1/m) sum_{s=1}^m grad f_c(b + (s - 1/2)/m (x - b))``
        (Sundararajan, Taly & Yan, ICML 2017) with the midpoint rule on ``steps = m`` points and baseline
        ``b = 0`` (a black image); the ``m`` points of every row go through one forward and one backward pass.
    steps
        Number of integration points of integrated gradients (ignored by gradient x input).
    absolute
        Return ``|a|`` (SAFARI's convention: top-k and correlation rank features by magnitude).
    """

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], method: Method = "gradient-x-input",
                 steps: int = 32, absolute: bool = True):
        super().__init__()
        if method not in SALIENCY_METHODS:
            raise ConfigurationError(f"unknown saliency method {method!r}; choose one of {', '.join(SALIENCY_METHODS)}")
        if isinstance(steps, bool) or int(steps) != steps or steps < 1:
            raise ConfigurationError(f"integrated gradients needs steps >= 1 (an integer), got {steps!r}")
        if not callable(model):
            raise ConfigurationError(f"model must be a torch.nn.Module or a callable, got {type(model).__name__}")
        self.model, self.method, self.steps, self.absolute = model, method, int(steps), absolute
        self.train(getattr(model, "training", False))  # the wrapper's mode is the model's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.requires_grad:
            raise ConfigurationError(
                "explanation properties have no gradient in the latent (the saliency map is detached; for ReLU "
                "networks its derivative is zero); use estimator mc, amls, last-particle or sequential"
            )
        # Oracles evaluate under inference_mode; a clone made outside it is an ordinary tensor autograd accepts.
        with torch.inference_mode(False), torch.enable_grad():
            x = x.clone()
            if self.method == "gradient-x-input":
                grad = self._grad(x.requires_grad_(True), None)
                attribution = x.detach() * grad
            else:
                with torch.no_grad():
                    target = self._logits(x).argmax(1)
                alphas = (torch.arange(self.steps, dtype=x.dtype, device=x.device) + 0.5) / self.steps
                path = (alphas.view(1, -1, *[1] * (x.ndim - 1)) * x.unsqueeze(1)).flatten(0, 1)
                grad = self._grad(path.requires_grad_(True), target.repeat_interleave(self.steps))
                attribution = x * grad.view(len(x), self.steps, *x.shape[1:]).mean(1)
        attribution = attribution.flatten(1)
        return attribution.abs() if self.absolute else attribution

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        if not isinstance(out, torch.Tensor):
            raise NoGradientError(f"the model returned {type(out).__name__}, not a torch tensor; {_FIX}")
        if out.ndim != 2 or out.shape[1] < 2:
            raise ModelError(f"saliency needs logits of shape (batch, n_classes >= 2), got {tuple(out.shape)}")
        return out

    def _grad(self, x: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        logits = self._logits(x)
        if not logits.requires_grad:
            raise NoGradientError(f"the model's outputs carry no gradient with respect to its input; {_FIX}")
        target = logits.detach().argmax(1) if target is None else target
        (grad,) = torch.autograd.grad(logits.gather(1, target.unsqueeze(1)).sum(), x)
        return grad


def _check_maps(outputs: torch.Tensor, need: int, what: str) -> None:
    if outputs.ndim != 2 or outputs.shape[1] < need:
        raise ModelError(
            f"{what} needs saliency maps of shape (batch, >= {need} features), got {tuple(outputs.shape)}; "
            "wrap the classifier as probust.explanations.Saliency(model)"
        )


@register
@dataclasses.dataclass(frozen=True)
class ExplanationTopK(Property):
    """Fewer than ``min_overlap * k`` of the clean top-``k`` features stay in the perturbed top-``k``.

    With ``S`` the clean top-``k`` set, ``m = ceil(min_overlap * k)`` the features of ``S`` that must stay,
    ``s_m`` the ``m``-th largest perturbed attribution over ``S`` and ``r`` the ``(k - m + 1)``-th largest over
    the features outside ``S``: at least ``m`` features of ``S`` are in the perturbed top-``k`` exactly when
    fewer than ``k - m + 1`` outsiders beat the ``m``-th of them, i.e. ``s_m > r``, so

        score = (r - s_m) / scale,  failure <=> score > 0 <=> overlap < min_overlap,

    ``scale`` the clean map's largest value. The score is continuous in the map on both sides of 0 (the
    overlap itself is a step function, useless to splitting estimators): ``s_m`` and ``r`` are always
    different features, so the score is 0 only at a genuine tie, counted as a failure (as for label ties).
    With fewer than ``k - m + 1`` outsiders the property cannot fail (score -1). A tie in the clean map at its
    ``k``-th value is broken by ``torch.topk``'s order.
    """

    k: int = param(20, Interval(int, 1))
    min_overlap: float = param(0.6, Interval(float, 0, 1, "right"))
    reference: tuple[int, ...] | None = None  # the clean top-k feature indices
    scale: float = 1.0
    name = "explanation-topk"
    tags = frozenset({"explanation"})
    spec_options = SALIENCY_OPTIONS

    @property
    def needed(self) -> int:
        """``m = ceil(min_overlap * k)``, rounded to 9 digits first so that 0.6 * 20 is 12, not 13."""
        return math.ceil(round(self.min_overlap * self.k, 9))

    def resolve(self, clean_output: torch.Tensor) -> ExplanationTopK:
        _check_maps(clean_output, self.k + 1, f"explanation-topk with k={self.k}")
        if self.reference is not None:
            return self
        top = clean_output[0].topk(self.k)
        scale = float(top.values[0]) if float(top.values[0]) > 0 else 1.0
        return dataclasses.replace(self, reference=tuple(top.indices.tolist()), scale=scale)

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        _check_maps(outputs, self.k + 1, f"explanation-topk with k={self.k}")
        inside = torch.zeros(outputs.shape[1], dtype=torch.bool, device=outputs.device)
        inside[list(self.reference)] = True
        beaten_by = self.k - self.needed + 1  # outsiders that must beat the m-th feature of S for a failure
        if beaten_by > outputs.shape[1] - self.k:
            return torch.full((len(outputs),), -1.0, dtype=outputs.dtype, device=outputs.device)
        s_m = outputs[:, inside].topk(self.needed, dim=1).values[:, -1]
        r = outputs[:, ~inside].topk(beaten_by, dim=1).values[:, -1]
        return _strict((r - s_m) / self.scale)

    def overlap(self, outputs: torch.Tensor) -> torch.Tensor:
        """Share of the clean top-k in each perturbed top-k (``torch.topk``'s order), for reports and tests."""
        top = outputs.topk(self.k, dim=1).indices
        ref = torch.tensor(self.reference, device=outputs.device)
        return (top.unsqueeze(2) == ref.view(1, 1, -1)).any(2).sum(1) / self.k

    def describe(self) -> str:
        return f"{self.name}:k={self.k},min_overlap={self.min_overlap}"


def _correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each row of ``a`` with ``b``; 0 where a row is constant (no association)."""
    a, b = a - a.mean(1, keepdim=True), b - b.mean()
    den = torch.linalg.vector_norm(a, dim=1) * torch.linalg.vector_norm(b)
    return torch.where(den > 0, (a * b).sum(1) / den.clamp_min(torch.finfo(a.dtype).tiny), torch.zeros_like(den))


def _ranks(a: torch.Tensor) -> torch.Tensor:
    # Average ranks: gradient x input is exactly 0 on every black pixel, so ties are the rule, and torch has no
    # tie-averaging rank; scipy's rankdata does it along an axis.
    ranks = stats.rankdata(a.detach().cpu().double().numpy(), axis=-1, method="average")
    return torch.from_numpy(np.asarray(ranks)).to(a.device, a.dtype)


@register
@dataclasses.dataclass(frozen=True)
class ExplanationCorrelation(Property):
    """The perturbed map's correlation with the clean map falls below ``min_corr``.

    score = min_corr - corr(a', a): ``method="pearson"`` (SAFARI's PCC, continuous in the map) or
    ``"spearman"`` (Pearson of average ranks, piecewise constant). A constant perturbed map has correlation 0.
    """

    min_corr: float = param(0.4, Interval(float, -1, 1, "right"))
    method: Literal["pearson", "spearman"] = param("pearson", CORRELATIONS)
    reference: tuple[float, ...] | None = None  # the clean map (its ranks for spearman)
    name = "explanation-corr"
    tags = frozenset({"explanation"})
    #: ``corr=`` is the spec's name for ``method`` (``method`` reads as the saliency method there).
    spec_options = {**SALIENCY_OPTIONS, "corr": CORRELATIONS}

    def resolve(self, clean_output: torch.Tensor) -> ExplanationCorrelation:
        _check_maps(clean_output, 2, "explanation-corr")
        if self.reference is not None:
            return self
        ref = clean_output[:1] if self.method == "pearson" else _ranks(clean_output[:1])
        return dataclasses.replace(self, reference=tuple(ref[0].tolist()))

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        _check_maps(outputs, 2, "explanation-corr")
        ref = torch.tensor(self.reference, dtype=outputs.dtype, device=outputs.device)
        maps = outputs if self.method == "pearson" else _ranks(outputs)
        return self.min_corr - _correlation(maps, ref)

    def describe(self) -> str:
        return f"{self.name}:min_corr={self.min_corr},method={self.method}"
