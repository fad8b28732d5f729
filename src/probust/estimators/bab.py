"""Branch-and-bound over the input box with sampling inside the undecided boxes: sound and exact bounds on p.

Quantitative verification of low-dimensional inputs: counting the failing inputs is the #DNN-Verification
problem (Marzari, Corsi, Cicalese & Farinelli, "The #DNN-Verification problem: counting unsafe inputs for
deep neural networks", IJCAI 2023); eps-ProVe (Marzari, Corsi, Marchesini, Farinelli & Cicalese, "Enumerating
safe regions in deep neural networks with provable probabilistic guarantees", AAAI 2024) enumerates regions
that are safe with a statistical guarantee; complete verifiers (alpha,beta-CROWN, Marabou) split the input
box of low-dimensional controllers the same way. Here, for inputs uniform on a box (Box, UniformLinf; with a
clip the law is that of x' = clip(lo + w z), z uniform on the unit cube, and the mass of a sub-box of z is its
volume), with failure a union of polytopes OR_i AND_j g_ij(f(x)) >= 0 (``output_regions``):

    U = {[0, 1]^D}; bound it                                  # D: the coordinates of non-zero width
    until U is empty, ``max_boxes`` boxes are bounded or mass(U) <= ``tolerance``:
        take the ``split_batch`` boxes of U of largest mass
        bisect each along argmax_i (a_i + mean_j a_j) w_i     # a_i = sum_r |A_ri| over the rows still open:
                                                              # CROWN slope x width (IBP: the widest side)
        bound all children in one tensor pass (``bounds.batched``, CROWN or IBP):
            failing    if for some i: min_j lower g_ij > 0    -> m_fail += mass
            safe       if for every i: min_j upper g_ij < 0   -> dropped
            undecided  otherwise                              -> into U
    sound:     m_fail <= p <= m_fail + M                      # M = mass(U)
    sampling:  n = budget draws: box b of U with probability m_b / M, then uniform in it; k fail
    exact:     p in [m_fail + M CP_low(k, n), m_fail + M CP_high(k, n)]   (Clopper-Pearson at ``confidence``)

Why the exact interval holds at ``confidence``: the partition uses no randomness and no query, so m_fail, M
and U are constants. Drawing b with probability m_b / M and then uniformly in b is the perturbation law
conditioned on U, so the n draws are i.i.d. Bernoulli(q) with q = P(F and U) / M, and since the failing boxes
lie in F and the safe ones outside it, p = m_fail + M q exactly: Clopper-Pearson's coverage for q is the
interval's for p. Each box receives n m_b / M draws on average (allocation by mass, multinomial); all the
queries go where the bounds could not decide, so the estimate's standard deviation M sqrt(q (1 - q) / n) is
about sqrt(M) times Monte Carlo's sqrt(p / n) for small p. ``guarantee = "exact"``: ``ci`` rests on i.i.d.
sampling; the sound bounds (``BabResult.sound_low`` / ``sound_high``) rest on the bounds alone and hold for
the model itself, whatever the seed.

Bounds: CROWN over every box of a batch in one pass (``bounds.batched``; ``relaxation="ibp"`` for interval
bounds), in float64 as PROVEN's; a box is decided only by a margin above ``DECISION_MARGIN``. Masses are
dyadic (products of halvings), hence exact, and summed with ``math.fsum`` (correctly rounded).

Other laws. Gaussian noise and truncated Gaussian noise (p = inf) are products of independent coordinates as
well: the same partition runs over the latent box of t, x' = clip(x + sigma t), with the masses and draws of
``_bab_laws`` (products of 1-D normal masses; inverse-CDF draws); the unbounded Gaussian's partition covers a
box of mass 1 - delta, delta <= ``gaussian_tail``, and delta counts as undecided (diagnostics say so).
Semantic perturbations (rotation, translation, scaling, brightness, contrast, blur, compositions): the bounds
cannot follow their image transforms, so nothing is proven and ``sound_low`` / ``sound_high`` are None; the
partition of their latent then serves stratified sampling only (``_bab_strata``), with an exact interval.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch

from .. import _rng
from ..bounds.batched import BatchedBounds
from ..components import Interval, Options, param, register
from ..errors import ConfigurationError, needs_layers
from ..intervals import ConfidenceInterval, binomial_ci
from ..output_regions import OutputRegion, output_region
from ..perturbations import Box, Gaussian, TruncatedGaussian, UniformLinf
from ..querying import Oracle
from ..result import BabResult, FailingRegion
from . import _bab_strata
from ._bab_laws import ProductLaw
from ._base import Estimator, Outcome

#: Most coordinates of non-zero width: halving every side of a box once takes 2^D boxes, 65,536 here,
#: beyond which splitting cannot shrink the undecided mass and the run is Monte Carlo at a higher cost.
MAX_DIMENSION = 16
#: A bound decides a box only with this margin (float64 rounding of the bounds is ~1e-14).
DECISION_MARGIN = 1e-9
#: Proven-failing boxes a result lists (the heaviest).
MAX_REGIONS = 10
#: Draws per random block: the numbers of a seed do not depend on the model's batch size.
_BLOCK = 16_384


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class BranchAndBound(Estimator):
    """Sound bounds on p by partitioning the input box, narrowed by sampling inside the undecided boxes.

    Parameters
    ----------
    max_boxes
        Boxes bounded at most (bound evaluations; they cost no model query).
    split_batch
        Boxes split per round, the heaviest first; their children are bounded in one tensor pass.
    tolerance
        Stop splitting once the sound interval is this narrow (the mass of the undecided boxes).
    relaxation
        ``"crown"`` (default) or ``"ibp"`` (interval bounds: looser, cheaper, splits the widest side).
    gaussian_tail
        Under Gaussian noise, the most probability left outside the partitioned box (``_bab_laws``); it counts
        as undecided: it is added to the sound upper bound and to the interval's upper end.
    """

    max_boxes: int = param(16_384, Interval(int, 1))
    split_batch: int = param(256, Interval(int, 1))
    tolerance: float = param(0.0, Interval(float, 0, 1))
    relaxation: Literal["crown", "ibp"] = param("crown", Options("crown", "ibp"))
    gaussian_tail: float = param(1e-15, Interval(float, 0, 1, "neither"))
    name = "bab"
    guarantee = "exact"
    result_type = BabResult
    tags = frozenset({"white-box"})

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        if _bab_strata.is_semantic(oracle.perturbation):
            return self._sampling_only(oracle, confidence, entropy)
        space = _Space.of(oracle, self.gaussian_tail)
        rows = _Rows.of(output_region(oracle.failure, oracle.clean_output.flatten(1).shape[1]))
        bounds = BatchedBounds(oracle.model, oracle.x, self.relaxation)  # type: ignore[arg-type]
        fresh, pool = space.root(1), space.root(0)  # to bound; undecided, heaviest first
        failing, n_safe, bounded = space.root(0), 0, 0
        while len(fresh):
            verdict, fresh.split_dim = rows.classify(bounds, fresh, space)
            bounded += len(fresh)
            failing = failing.join(fresh.take(verdict == 1))
            n_safe += int((verdict == -1).sum())
            pool = pool.join(fresh.take(verdict == 0)).heaviest_first()
            wide = math.fsum(pool.mass.tolist()) > self.tolerance
            heavy = min(self.split_batch, len(pool), (self.max_boxes - bounded) // 2) if wide else 0
            fresh, pool = pool.take(slice(0, heavy)).bisect(space.law), pool.take(slice(heavy, None))
        m_fail, m_open, tail = math.fsum(failing.mass.tolist()), math.fsum(pool.mass.tolist()), space.law.tail
        k, n = _sample(oracle, pool, space, entropy) if len(pool) else (0, 0)
        q = binomial_ci(k, n, confidence, "clopper-pearson") if n else None
        q_low, q_high = (q.low, q.high) if q else (0.0, 0.0)  # no undecided box: p = m_fail (+ the tail's share)
        ci = ConfidenceInterval(m_fail + m_open * q_low, min(1.0, m_fail + m_open * q_high + tail), confidence,
                                "proven-failing mass + undecided mass x clopper-pearson" + (" + tail" if tail else ""))
        diagnostics = {"bound_evaluations": bounded, "mass_failing": m_fail, "mass_undecided": m_open,
                       "undecided_draws": n, "undecided_failures": k, "dimension": space.dim,
                       "law": space.law.kind, **_tail_note(tail)}
        extra = {"sound_low": m_fail, "sound_high": min(1.0, m_fail + m_open + tail), "boxes_failing": len(failing),
                 "boxes_safe": n_safe, "boxes_undecided": len(pool), "failing_regions": space.regions(failing)}
        return Outcome(m_fail + m_open * k / max(n, 1), ci, diagnostics=diagnostics, extra=extra)


    def _sampling_only(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        """Semantic latents: the partition without bounds, stratified draws, no sound bound (``_bab_strata``)."""
        dim = math.prod(oracle.perturbation.latent_shape(tuple(oracle.x.shape)))
        if dim > MAX_DIMENSION:
            raise ConfigurationError(f"bab partitions the latent, which pays in at most {MAX_DIMENSION} dimensions; "
                                     f"this perturbation has {dim} latent parameters: use amls (or mc)")
        if oracle.remaining < _bab_strata.MIN_BUDGET:
            raise ConfigurationError(f"bab samples a semantic latent box by box: give budget >= "
                                     f"{_bab_strata.MIN_BUDGET}, got {oracle.remaining}")
        estimate, ci, diagnostics = _bab_strata.estimate(oracle, dim, confidence, self.max_boxes, self.split_batch,
                                                         entropy)
        extra = {"sound_low": None, "sound_high": None, "boxes_failing": 0, "boxes_safe": 0,
                 "boxes_undecided": diagnostics["boxes"]}
        return Outcome(estimate, ci, diagnostics={**diagnostics, "dimension": dim}, extra=extra)


def _tail_note(tail: float) -> dict[str, object]:
    """Diagnostics of the Gaussian tail left out of the partition (none under a bounded law)."""
    if not tail:
        return {}
    return {"mass_outside_partition": tail,
            "tail_note": "Gaussian support is unbounded: the partition covers a box of mass 1 - "
                         "mass_outside_partition; the rest counts as undecided (added to sound_high and to the "
                         "interval's upper end) and is not sampled"}


@dataclasses.dataclass
class _Boxes:
    """Boxes ``[lo, hi]`` (N, D) of the partition coordinates, their probabilities, the dimension to split along."""

    lo: torch.Tensor
    hi: torch.Tensor
    mass: torch.Tensor
    split_dim: torch.Tensor

    def __len__(self) -> int:
        return len(self.lo)

    def take(self, index: torch.Tensor | slice) -> _Boxes:
        return _Boxes(self.lo[index], self.hi[index], self.mass[index], self.split_dim[index])

    def join(self, other: _Boxes) -> _Boxes:
        return _Boxes(*(torch.cat([getattr(self, f), getattr(other, f)]) for f in ("lo", "hi", "mass", "split_dim")))

    def heaviest_first(self) -> _Boxes:
        return self.take(torch.argsort(self.mass, descending=True, stable=True))

    def bisect(self, law: ProductLaw) -> _Boxes:
        """Both halves of every box along its split dimension (all lower halves, then all upper ones)."""
        rows, dims = torch.arange(len(self)), self.split_dim
        mid = (self.lo[rows, dims] + self.hi[rows, dims]) / 2
        lower_hi, upper_lo = self.hi.clone(), self.lo.clone()
        lower_hi[rows, dims], upper_lo[rows, dims] = mid, mid
        lo, hi = torch.cat([self.lo, upper_lo]), torch.cat([lower_hi, self.hi])
        return _Boxes(lo, hi, law.mass(lo, hi), dims.repeat(2))


@dataclasses.dataclass(frozen=True)
class _Space:
    """x' = clip(base + scale t): the partition runs over t, the ``varying`` coordinates, which follow ``law``.

    Box, uniform-linf: base = lo, scale = width, t uniform on [0, 1] (the perturbation's own latent).
    Gaussian: base = x, scale = sigma, t standard normal (its latent). Truncated Gaussian, p = inf: t is normal
    on [-a, a], a = eps / sigma, and its latent is the normal z that the perturbation maps to t (``latent_of``).
    """

    base: torch.Tensor
    scale: torch.Tensor
    varying: torch.Tensor
    clip: tuple[float, float] | None
    law: ProductLaw
    truncation: float | None = None  # a of a truncated Gaussian

    @classmethod
    def of(cls, oracle: Oracle, gaussian_tail: float) -> _Space:
        pert = oracle.perturbation
        if not isinstance(oracle.model, torch.nn.Module):
            raise needs_layers("bab", oracle.model)
        x = oracle.x.detach().double().cpu()
        truncation = None
        if isinstance(pert, (Box, UniformLinf)):
            base, scale = pert.affine_form(x)
        elif isinstance(pert, Gaussian) or (isinstance(pert, TruncatedGaussian) and pert.p == math.inf):
            base, scale = x, torch.full_like(x, pert.sigma)
            truncation = pert.eps / pert.sigma if isinstance(pert, TruncatedGaussian) else None
        else:
            raise ConfigurationError(f"bab partitions a box of independent coordinates (box, uniform-linf, gaussian, "
                                     f"truncated-gaussian with p=inf), got {pert.to_spec()}: use mc or amls")
        varying = torch.nonzero(scale.flatten() > 0).flatten()
        if len(varying) > MAX_DIMENSION:
            raise ConfigurationError(f"bab partitions the input box, which pays in at most {MAX_DIMENSION} dimensions; "
                                     f"this input varies in {len(varying)} coordinates: use amls (or mc)")
        if not len(varying):
            raise ConfigurationError("the box has no coordinate of non-zero width: every input is x itself")
        law = (ProductLaw.uniform() if isinstance(pert, (Box, UniformLinf))
               else ProductLaw.normal(len(varying), gaussian_tail) if truncation is None
               else ProductLaw.truncated_normal(truncation))
        return cls(base, scale, varying, pert.clip, law, truncation)

    @property
    def dim(self) -> int:
        return len(self.varying)

    def root(self, n: int) -> _Boxes:
        """``n`` copies (0 or 1) of the box the partition starts from."""
        lo = torch.full((n, self.dim), self.law.root_lo, dtype=torch.float64)
        hi = torch.full((n, self.dim), self.law.root_hi, dtype=torch.float64)
        return _Boxes(lo, hi, self.law.mass(lo, hi), torch.zeros(n, dtype=torch.long))

    def latent(self, t: torch.Tensor) -> torch.Tensor:
        """The perturbation's latents (N, *x.shape) of partition points t (the other coordinates do not move x)."""
        if self.truncation is not None:  # invert t = -sign(z) ndtri(T + ndtr(-|z|) (1 - 2T)), T = ndtr(-a)
            edge = float(torch.special.ndtr(torch.tensor(-self.truncation, dtype=torch.float64)))
            inner = ((torch.special.ndtr(-t.abs()) - edge) / (1 - 2 * edge)).clamp_min(1e-300)
            t = -torch.sign(t) * torch.special.ndtri(inner)
        full = t.new_zeros(len(t), self.base.numel())
        full[:, self.varying] = t
        return full.reshape(len(t), *self.base.shape)

    def _points(self, t: torch.Tensor) -> torch.Tensor:
        """base + scale t (N, x.numel()), unclipped."""
        full = self.base.flatten().repeat(len(t), 1)
        full[:, self.varying] += self.scale.flatten()[self.varying] * t
        return full

    def sides(self, boxes: _Boxes) -> torch.Tensor:
        """The boxes' input widths per varying coordinate: scale x width, exact where no clip bites
        (rounding must not break the ties of equal sides: the split, hence the partition, would depend on it)."""
        side = self.scale.flatten()[self.varying] * (boxes.hi - boxes.lo)
        if self.clip is None:
            return side
        a, b = (self._points(t)[:, self.varying] for t in (boxes.lo, boxes.hi))
        return torch.where((a < self.clip[0]) | (b > self.clip[1]), b.clamp(*self.clip) - a.clamp(*self.clip), side)

    def regions(self, boxes: _Boxes) -> tuple[FailingRegion, ...]:
        """The ``MAX_REGIONS`` heaviest boxes as input regions."""
        heavy = boxes.heaviest_first().take(slice(0, MAX_REGIONS))
        lo, hi = (self.inputs(t).flatten(1).tolist() for t in (heavy.lo, heavy.hi))
        return tuple(FailingRegion(tuple(a), tuple(b), m) for a, b, m in zip(lo, hi, heavy.mass.tolist(), strict=True))

    def inputs(self, t: torch.Tensor) -> torch.Tensor:
        x = self._points(t).reshape(len(t), *self.base.shape)
        return x if self.clip is None else x.clamp(*self.clip)


@dataclasses.dataclass(frozen=True)
class _Rows:
    """The failure's half-spaces g_r(y) = a_r . y + b_r >= 0; ``spec`` = (a; -a) bounds both sides of each."""

    spec: torch.Tensor
    offset: torch.Tensor
    polytope: torch.Tensor  # the polytope of each half-space

    @classmethod
    def of(cls, region: OutputRegion) -> _Rows:
        matrices = region.matrices()
        a = torch.cat([A for A, _ in matrices])
        sizes = torch.tensor([len(b) for _, b in matrices])
        return cls(torch.cat([a, -a]), torch.cat([b for _, b in matrices]),
                   torch.repeat_interleave(torch.arange(len(matrices)), sizes))

    def classify(self, bounds: BatchedBounds, boxes: _Boxes, space: _Space) -> tuple[torch.Tensor, torch.Tensor]:
        """Per box: 1 failing, -1 safe, 0 undecided (module docstring), and the dimension to split it along."""
        lo_x, hi_x = space.inputs(boxes.lo), space.inputs(boxes.hi)
        result = bounds(lo_x, hi_x, self.spec)
        r = len(self.offset)
        low, up = result.lower[:, :r] + self.offset, self.offset - result.lower[:, r:]
        fails = (self._per_polytope(low) > DECISION_MARGIN).any(1)
        safe = (self._per_polytope(up) < -DECISION_MARGIN).all(1)
        influence = space.sides(boxes)  # IBP: the widest side
        if result.slopes is not None:  # CROWN: |slope| x width, over the rows whose sign is still open
            coef = (result.slopes[:, :, space.varying].abs() * _open_rows(low, up)).sum(1)
            # + the mean slope: a side of slope 0 (a relaxation symmetric in it, |u| over a box centred on u = 0)
            # is still split once it is the widest by far (else boxes become slabs: measured, 3d-box-1e-3)
            influence = (coef + coef.mean(1, keepdim=True)) * influence
        influence = torch.where(influence.sum(1, keepdim=True) > 0, influence, boxes.hi - boxes.lo)
        return torch.where(fails, 1, torch.where(safe, -1, 0)), influence.argmax(1)

    def _per_polytope(self, values: torch.Tensor) -> torch.Tensor:
        """min over each polytope's rows: (N, polytopes)."""
        out = values.new_full((len(values), int(self.polytope.max()) + 1), math.inf)
        return out.scatter_reduce(1, self.polytope.expand_as(values), values, "amin")


def _open_rows(low: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """Mask (N, 2R, 1) of the bound rows (both sides) of the half-spaces whose sign a box leaves open."""
    return ((low <= DECISION_MARGIN) & (up >= -DECISION_MARGIN)).repeat(1, 2).unsqueeze(2)


def _sample(oracle: Oracle, boxes: _Boxes, space: _Space, entropy: int) -> tuple[int, int]:
    """Failures among the remaining budget's draws from the law conditioned on the union of ``boxes``."""
    n, k = oracle.remaining, 0
    cumulative = torch.cumsum(boxes.mass, 0)
    for block, first in enumerate(range(0, n, _BLOCK)):
        u = torch.from_numpy(_rng.block_generator(entropy, 0, block).random((min(_BLOCK, n - first), 1 + space.dim)))
        pick = torch.searchsorted(cumulative, u[:, 0] * cumulative[-1], right=True).clamp_max(len(boxes) - 1)
        t = space.law.draw(boxes.lo[pick], boxes.hi[pick], u[:, 1:])
        k += int((oracle.scores(space.latent(t)) > 0).sum())
    return k, n
