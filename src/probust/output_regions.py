"""Failure properties linear in the model's outputs: a union of polyhedra of the (flattened) output vector.

``OutputRegion`` states failure as ``OR_i AND_j (a_ij . y + b_ij >= 0)``, the form of a VNNLIB output
specification (VNN-COMP: the property is violated iff the outputs satisfy the assertions) and of every
property that is linear in the outputs: a label change is the union over j != y of ``y_j - y_y >= 0``, a
regression tolerance the union of ``+-(y_k - ref_k) - tol >= 0``. ``output_region`` rewrites those
properties in this form, which is what white-box certificates bound (PROVEN: one linear bound per
half-space, the smallest tail per polyhedron, a union bound over the polyhedra).

A point on the boundary counts as a failure (VNNLIB's inequalities are non-strict); for a strict property
(``RegressionTolerance``: ``> tol``) the closed region contains the failures, so bounds on it stay sound.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import torch

from .components import register
from .errors import ConfigurationError, ModelError
from .properties import LabelChange, Property, RegressionTolerance, TopK, _strict

#: One half-space a . y + b >= 0 as (a, b); a polyhedron is a tuple of them.
Halfspace = tuple[tuple[float, ...], float]
Polytope = tuple[Halfspace, ...]


def _halfspace(coefficients: Sequence[float], offset: float) -> Halfspace:
    a = tuple(float(v) for v in torch.as_tensor(coefficients, dtype=torch.float64).flatten().tolist())
    if not a or not any(a):
        raise ConfigurationError(f"a half-space needs at least one non-zero output coefficient, got {a}")
    return a, float(offset)


@register
@dataclasses.dataclass(frozen=True)
class OutputRegion(Property):
    """Failure <=> the flattened outputs y lie in ``OR_i AND_j (a_ij . y + b_ij >= 0)``.

    score = max_i min_j (a_ij . y + b_ij): >= 0 exactly on the region (a score of exactly 0, on the boundary,
    counts as a failure). Build it with ``halfspace`` / ``polytope`` and combine with ``|`` (union) and ``&``
    (intersection).

    Examples
    --------
    >>> region = OutputRegion.halfspace([-1.0, 1.0], 0.0)  # failure: y1 >= y0
    >>> region.describe()
    'output-region:-y0+y1>=0'
    >>> float(region.score(torch.tensor([[2.0, 1.0]]))[0])
    -1.0
    """

    polytopes: tuple[Polytope, ...]
    name = "output-region"
    tags = frozenset({"no-spec"})
    example = "built in Python (OutputRegion.halfspace, .polytope, | and &) or read with --vnnlib"

    @classmethod
    def demo(cls) -> OutputRegion:
        return cls.halfspace([-1.0, 1.0, 0.0, 0.0, 0.0]) | cls.halfspace([1.0, -1.0, 0.0, 0.0, 0.0], -1.0)

    def validate(self) -> None:
        polytopes = tuple(tuple(_halfspace(a, b) for a, b in poly) for poly in self.polytopes)
        if not polytopes or not all(polytopes):
            raise ConfigurationError("an output region needs at least one polyhedron of at least one half-space")
        sizes = {len(a) for poly in polytopes for a, _ in poly}
        if len(sizes) != 1:
            raise ConfigurationError(f"every half-space must have one coefficient per output, got sizes {sizes}")
        object.__setattr__(self, "polytopes", polytopes)

    @classmethod
    def halfspace(cls, coefficients: Sequence[float], offset: float = 0.0) -> OutputRegion:
        """Failure <=> ``coefficients . y + offset >= 0``."""
        return cls(((_halfspace(coefficients, offset),),))

    @classmethod
    def polytope(cls, matrix: Sequence[Sequence[float]], offsets: Sequence[float]) -> OutputRegion:
        """Failure <=> every row: ``matrix @ y + offsets >= 0``."""
        return cls((tuple(_halfspace(a, b) for a, b in zip(matrix, offsets, strict=True)),))

    def __or__(self, other: OutputRegion) -> OutputRegion:
        return OutputRegion(self.polytopes + other.polytopes)

    def __and__(self, other: OutputRegion) -> OutputRegion:  # (A | B) & (C | D) = AC | AD | BC | BD
        return OutputRegion(tuple(p + q for p, q in itertools.product(self.polytopes, other.polytopes)))

    @property
    def n_outputs(self) -> int:
        return len(self.polytopes[0][0][0])

    def matrices(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each polyhedron as ``(A, b)`` float64 tensors: failure <=> some ``A y + b >= 0`` row-wise."""
        return [(torch.tensor([a for a, _ in poly], dtype=torch.float64),
                 torch.tensor([b for _, b in poly], dtype=torch.float64)) for poly in self.polytopes]

    def resolve(self, clean_output: torch.Tensor) -> OutputRegion:
        self._check(clean_output)
        return self

    def _check(self, outputs: torch.Tensor) -> torch.Tensor:
        flat = outputs.flatten(1)
        if flat.shape[1] != self.n_outputs:
            raise ModelError(
                f"the output region is stated over {self.n_outputs} outputs but the model returns "
                f"{flat.shape[1]} values per input"
            )
        return flat

    def polytope_scores(self, outputs: torch.Tensor) -> torch.Tensor:
        """``min_j (a_ij . y + b_ij)`` for each polyhedron i: shape (batch, polyhedra); >= 0 inside."""
        flat = self._check(outputs)
        return torch.stack([(flat @ A.to(flat.dtype).T.to(flat.device) + b.to(flat.dtype).to(flat.device)).amin(1)
                            for A, b in self.matrices()], 1)

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        return _strict(self.polytope_scores(outputs).amax(1))

    def parts(self, clean_output: torch.Tensor) -> tuple[Property, ...] | None:
        """One part per polyhedron, "in this one and in no earlier one" (:class:`FirstRegion`); None for one."""
        return tuple(FirstRegion(self, i) for i in range(len(self.polytopes))) if len(self.polytopes) > 1 else None

    def describe(self) -> str:
        def term(a: float, i: int) -> str:
            return ("+" if a > 0 else "-") + ("" if abs(a) == 1 else f"{abs(a):g}*") + f"y{i}"

        def half(a: tuple[float, ...], b: float) -> str:
            text = "".join(term(v, i) for i, v in enumerate(a) if v) + (f"{b:+g}" if b else "")
            return text.lstrip("+") + ">=0"

        return f"{self.name}:" + " | ".join(" & ".join(half(a, b) for a, b in poly) for poly in self.polytopes)


@register
@dataclasses.dataclass(frozen=True)
class FirstRegion(Property):
    """The outputs lie in polyhedron ``index`` of ``region`` and in none before it: the disjoint parts of a union.

    score = min(s_i, -max_{l<i} s_l) with s the polyhedra's scores: s_i >= 0 counts (as in ``OutputRegion``),
    each earlier s_l must be < 0. The parts over all i add up to the region exactly.
    """

    region: OutputRegion
    index: int
    name = "first-region"
    tags = frozenset({"no-spec"})
    example = "a part of an OutputRegion (its parts())"

    @classmethod
    def demo(cls) -> FirstRegion:
        return cls(OutputRegion.demo(), 1)

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        scores = self.region.polytope_scores(outputs)
        own = _strict(scores[:, self.index])
        return own if self.index == 0 else torch.minimum(own, -scores[:, : self.index].amax(1))

    def describe(self) -> str:
        return f"{self.region.describe()} [polyhedron {self.index + 1} of {len(self.region.polytopes)}, none before]"


def output_region(failure: Property, n_outputs: int) -> OutputRegion:
    """The closed output region containing the failures of a property linear in the outputs.

    Label change and top-1 (after ``resolve``: the reference label is known), regression tolerance and
    output regions themselves; other properties raise ``ConfigurationError``.
    """
    if isinstance(failure, OutputRegion):
        return failure
    if isinstance(failure, (LabelChange, TopK)) and getattr(failure, "k", 1) == 1 and failure.label is not None:
        eye = torch.eye(n_outputs, dtype=torch.float64)
        return OutputRegion(tuple(((tuple((eye[j] - eye[failure.label]).tolist()), 0.0),)
                                  for j in range(n_outputs) if j != failure.label))
    if isinstance(failure, RegressionTolerance) and failure.reference is not None:
        eye = torch.eye(n_outputs, dtype=torch.float64)
        return OutputRegion(tuple(((tuple((sign * eye[k]).tolist()), -sign * ref - failure.tolerance),)
                                  for k, ref in enumerate(failure.reference) for sign in (1.0, -1.0)))
    raise ConfigurationError(
        f"the property {failure.describe()} is not linear in the outputs; certificates bound label-change, top-k "
        "with k=1, regression-tolerance and output-region properties (state a linear one as probust.OutputRegion, "
        "e.g. OutputRegion.halfspace([1, 0]) for y0 >= 0)"
    )
