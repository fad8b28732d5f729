"""What a failure is: a continuous score per model output, failure <=> score > 0.

A continuous score (rather than a 0/1 indicator) is what level-splitting and gradient-based
estimators need: they push samples towards larger scores. Each property is a frozen value object;
``resolve`` fills in what depends on the clean input (the reference label, the reference output).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import ClassVar

import torch

from .components import Component, Constraint, Interval, param, register
from .errors import ConfigurationError, ModelError


def _strict(score: torch.Tensor) -> torch.Tensor:
    """Count an exact tie as a failure: the reference class must win strictly.

    ``argmax`` breaks ties by index, so a tie may or may not change the predicted label depending on
    class order; counting every tie as a failure is deterministic and conservative.
    """
    return torch.where(score == 0, torch.finfo(score.dtype).tiny, score)


#: A class index.
CLASS = Interval(int, 0)


class Property(Component, ABC):
    """A failure criterion on model outputs: ``score(outputs) > 0`` marks a failure.

    A component (:mod:`probust.components`): subclasses are frozen dataclasses with ``param`` fields. Fields
    without a constraint (a reference filled by ``resolve``, a region's polyhedra) are not set from specs.
    ``spec_options`` names spec keys that are not fields but configure the setting (e.g. the saliency method
    of an explanation property; the CLI applies them). Tags in use: ``classification`` (reads logits),
    ``explanation`` (reads saliency maps), ``conformal`` (a prediction-set property), ``no-spec`` (built in
    Python or from VNNLIB only).
    """

    kind = "property"
    spec_options: ClassVar[dict[str, Constraint]] = {}

    def resolve(self, clean_output: torch.Tensor) -> Property:
        """Return a copy with its reference filled from the clean output ``(1, ...)``; default: itself."""
        return self

    @abstractmethod
    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        """Failure scores, one per row of ``outputs`` (batch first); failure <=> score > 0."""

    def parts(self, clean_output: torch.Tensor) -> tuple[Property, ...] | None:
        """Disjoint properties whose failures add up to this one's, or None if it is not a union.

        Called on a resolved property. Rare-event estimators estimate a union part by part
        (``probust.estimators._decompose``): one run follows one direction of rising score and misses
        the failure modes reached from other directions.
        """
        return None

    def to_spec(self) -> str:
        return self.describe() if "no-spec" in self.tags else super().to_spec()

    def describe(self) -> str:
        """Compact description recorded in results, e.g. ``label-change:label=7``."""
        fields = ",".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self))  # type: ignore[arg-type]
        return f"{self.name}:{fields}" if fields else self.name  # type: ignore[attr-defined]


def _check_logits(outputs: torch.Tensor, label: int | None) -> None:
    if outputs.ndim != 2 or outputs.shape[1] < 2:
        raise ModelError(
            f"a classification property needs logits of shape (batch, n_classes >= 2), got {tuple(outputs.shape)}"
        )
    if label is not None and not 0 <= label < outputs.shape[1]:
        raise ConfigurationError(f"label {label} is out of range for a model with {outputs.shape[1]} classes")


@register
@dataclasses.dataclass(frozen=True)
class LabelChange(Property):
    """The predicted label differs from ``label`` (Definition 1).

    score = max_{j != y} z_j - z_y, the logit margin of the best other class over the reference
    class y (Webb et al. ICLR'19). ``label=None`` takes the model's own prediction at the clean input.
    """

    label: int | None = param(None, CLASS)
    name = "label-change"
    tags = frozenset({"classification"})

    def resolve(self, clean_output: torch.Tensor) -> LabelChange:
        _check_logits(clean_output, self.label)
        return self if self.label is not None else LabelChange(int(clean_output[0].argmax()))

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        _check_logits(outputs, self.label)
        ref = outputs[:, self.label]
        others = outputs.clone()
        others[:, self.label] = -torch.inf
        return _strict(others.amax(1) - ref)

    def parts(self, clean_output: torch.Tensor) -> tuple[Property, ...] | None:
        """One part per other class: "the label changes to class j" (:class:`WinningClass`); None with 2 classes."""
        n = clean_output.shape[1]
        return tuple(WinningClass(self.label, j) for j in range(n) if j != self.label) if n > 2 else None


@register
@dataclasses.dataclass(frozen=True)
class WinningClass(Property):
    """The label changes from ``label`` to ``target``: ``target`` is the winning class among the others.

    The parts of a :class:`LabelChange` over all targets j != y are disjoint and add up to it exactly: ties are
    resolved as ``argmax`` resolves them (the smallest index wins among equal other classes) and a tie with y
    counts as a failure, as in ``LabelChange``. score = min(z_j - z_y, z_j - max_{k<j, k!=y} z_k,
    z_j - max_{k>j, k!=y} z_k), each term > 0 (>= 0 for the first and the last) exactly when it holds.
    """

    label: int = param(check=CLASS)
    target: int = param(check=CLASS)
    name = "winning-class"
    tags = frozenset({"classification"})
    example = "winning-class:label=0,target=1"

    def validate(self) -> None:
        if self.target == self.label:
            raise ConfigurationError(f"the target class must differ from the label, got {self.target} for both")

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        _check_logits(outputs, self.label)
        _check_logits(outputs, self.target)
        z_t = outputs[:, self.target]
        others = outputs.clone()
        others[:, [self.label, self.target]] = -torch.inf
        score = _strict(z_t - outputs[:, self.label])
        if self.target > 0:  # an earlier class equal to the target wins: strictly above it
            score = torch.minimum(score, z_t - others[:, : self.target].amax(1))
        if self.target < outputs.shape[1] - 1:  # the target wins a tie with a later class
            score = torch.minimum(score, _strict(z_t - others[:, self.target + 1 :].amax(1)))
        return score


@register
@dataclasses.dataclass(frozen=True)
class TopK(Property):
    """The reference label drops out of the top ``k`` classes.

    score = (k-th largest logit among the other classes) - z_y: positive exactly when k other
    classes beat the reference.
    """

    k: int = param(1, Interval(int, 1))
    label: int | None = param(None, CLASS)
    name = "top-k"
    tags = frozenset({"classification"})
    example = "top-k:k=2"

    def resolve(self, clean_output: torch.Tensor) -> TopK:
        _check_logits(clean_output, self.label)
        if self.k >= clean_output.shape[1]:
            raise ConfigurationError(f"top-k needs k < n_classes = {clean_output.shape[1]}, got k={self.k}")
        return self if self.label is not None else TopK(self.k, int(clean_output[0].argmax()))

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        _check_logits(outputs, self.label)
        others = outputs.clone()
        others[:, self.label] = -torch.inf
        return _strict(others.topk(self.k, dim=1).values[:, -1] - outputs[:, self.label])

    def parts(self, clean_output: torch.Tensor) -> tuple[Property, ...] | None:
        """Top-1 is a label change (its parts); for k > 1 the union has no simple disjoint split: None."""
        return LabelChange(self.label).parts(clean_output) if self.k == 1 else None


@register
@dataclasses.dataclass(frozen=True)
class RegressionTolerance(Property):
    """The output moves more than ``tolerance`` (max-norm) from the reference output.

    score = ||f(x') - f(x)||_inf - tolerance; ``reference=None`` uses the clean output f(x).
    A change of exactly ``tolerance`` is within tolerance (not a failure).
    """

    tolerance: float = param(check=Interval(float, 0, None, "neither"))
    reference: tuple[float, ...] | None = None
    name = "regression-tolerance"
    example = "regression-tolerance:tolerance=5"

    def resolve(self, clean_output: torch.Tensor) -> RegressionTolerance:
        if self.reference is not None:
            return self
        return RegressionTolerance(self.tolerance, tuple(clean_output[0].flatten().tolist()))

    def _deviation(self, outputs: torch.Tensor) -> torch.Tensor:
        """``f(x') - reference``, flattened per input (a ModelError if the sizes differ)."""
        ref = torch.tensor(self.reference, dtype=outputs.dtype, device=outputs.device)
        flat = outputs.flatten(1)
        if flat.shape[1] != ref.numel():
            raise ModelError(f"model output has {flat.shape[1]} values per input, reference has {ref.numel()}")
        return flat - ref

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        return self._deviation(outputs).abs().amax(1) - self.tolerance

    def parts(self, clean_output: torch.Tensor) -> tuple[Property, ...] | None:
        """One part per output and direction, "output k leaves the tolerance upwards / downwards, and no earlier
        output or direction does" (:class:`ToleranceSide`): even one output fails in two opposite directions."""
        return tuple(ToleranceSide(self.tolerance, self.reference, i) for i in range(2 * len(self.reference)))


@register
@dataclasses.dataclass(frozen=True)
class ToleranceSide(RegressionTolerance):
    """Part ``side`` of a :class:`RegressionTolerance`: sides run (output 0 up, output 0 down, output 1 up, ...);
    the part fails when its side leaves the tolerance and no earlier side does. With t_i = +-(y_k - r_k) - tol
    (failure of side i <=> t_i > 0), score = min(t_side, min_{i < side} -t_i), the earlier terms counted > 0 at
    t_i = 0 (a change of exactly tol is within tolerance); the parts add up to the whole exactly."""

    side: int = param(0, Interval(int, 0))
    name = "tolerance-side"
    example = "tolerance-side:tolerance=5,side=1"

    def parts(self, clean_output: torch.Tensor) -> tuple[Property, ...] | None:
        return None

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        d = self._deviation(outputs)
        sides = torch.stack([d, -d], 2).flatten(1) - self.tolerance  # (batch, 2 K): up, down per output
        own = sides[:, self.side]
        return own if self.side == 0 else torch.minimum(own, _strict(-sides[:, : self.side].amax(1)))


@register
@dataclasses.dataclass(frozen=True)
class SoftmaxStability(Property):
    """PRoA's robustness statistic (Zhang, Ruan & Fieldsend, ECML'23; also CC-Cert, Pautov et al. AAAI'22).

    A perturbed input counts as robust only if ``||softmax(x') - softmax(x)||_inf < (p1 - p2) / 2``, with
    p1 >= p2 the two largest clean probabilities: a sufficient condition for an unchanged label, so this
    failure probability is >= the label-change one. score = ||softmax(x') - softmax(x)||_inf - (p1 - p2)/2.
    Use it to compare with numbers published under that convention.
    """

    reference: tuple[float, ...] | None = None
    name = "softmax-stability"
    tags = frozenset({"classification"})

    def resolve(self, clean_output: torch.Tensor) -> SoftmaxStability:
        _check_logits(clean_output, None)
        if self.reference is not None:
            return self
        return SoftmaxStability(tuple(clean_output[0].softmax(0).tolist()))

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        _check_logits(outputs, None)
        ref = torch.tensor(self.reference, dtype=outputs.dtype, device=outputs.device)
        top2 = ref.topk(2).values
        return (outputs.softmax(1) - ref).abs().amax(1) - (top2[0] - top2[1]) / 2

    def describe(self) -> str:
        return self.name  # the reference vector is long and derived from the clean input
