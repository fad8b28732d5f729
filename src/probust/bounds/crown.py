"""CROWN and alpha-CROWN: backward linear relaxation of ReLU, sigmoid and tanh networks, chains or graphs.

Zhang, Weng, Chen, Hsieh & Daniel, "Efficient neural network robustness certification with general
activation functions", NeurIPS 2018 (CROWN); Xu, Zhang, Wang, Wang, Jana, Lin & Hsieh, "Fast and complete:
enabling complete neural network verification with rapid and massively parallel incomplete verifiers",
ICLR 2021 (alpha-CROWN).

Given a network f, any ``nn.Module`` that ``bounds.graph`` traces into Linear, Conv2d, BatchNorm (eval), reshapes,
permutations, constant padding, average pooling, ElementwiseAffine, residual sums, concatenations, ReLU, sigmoid,
tanh and max-pooling layers (an ``nn.Sequential`` is the chain special case), an input box ``[lo, hi]`` (or an L2
ball) around x0, and a specification matrix C, it returns
``A in R^{m x d}`` and ``c in R^m`` with

    C f(x0 + delta) >= A delta + c      for every x0 + delta in the input set            (1)

Each ReLU y = max(z, 0) with pre-activation bounds l < 0 < u is relaxed between the lines
``alpha z <= y <= u (z - l) / (u - l)``; the linear function is pulled back layer by layer through these
relaxations (in reverse topological order over a graph, adding up the coefficients of a node read by several
layers), choosing for each coefficient the relaxation side that keeps (1) a lower bound. The lower
line is below the ReLU for *every* alpha in [0, 1] (alpha z <= max(z, 0) for all z), so (1) holds for any
such choice: CROWN takes alpha = 1 if u > -l else 0 (the adaptive line), alpha-CROWN maximises an
objective of (A, c) over the alphas by projected gradient ascent (Adam, clamped to [0, 1]), one alpha per
specification row and unstable neuron, with the pre-activation bounds held fixed.

Sigmoid and tanh are relaxed between CROWN's tangent and secant lines, max-pooling windows between DeepPoly's
lines with a tighter upper one (``bounds.relaxations``, where each is argued sound).

Pre-activation bounds of each nonlinear layer (ReLU, sigmoid, tanh, max-pool; ``NetworkBounds.preactivation``,
computed once per input set and shared by every specification, so callers that need several specifications pay
for them once): interval
bound propagation (IBP) first, then the CROWN backward pass from that layer, concretised over the input
set, only for the neurons IBP leaves unstable (a ReLU's) or all of them (the other nonlinear layers), and the
intersection of both. Why this is the same
relaxation as running CROWN on every neuron, or tighter: a neuron that is stable (l >= 0 or u <= 0) is
relaxed exactly whatever its l and u, so its CROWN bounds would not change any line; intersecting two
sound intervals is sound.

Why our own code: auto_LiRPA does not install with the supported torch, and ``bound-propagation`` has
no Conv2d / Flatten / pooling support (docs/design.md).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import torch
from torch import nn

from . import relaxations as rx
from .graph import CHUNK_ELEMENTS, INPUT, Graph
from .ops import UnsupportedLayerError

__all__ = ["LinearBound", "NetworkBounds", "Objective", "UnsupportedLayerError", "crown_linear_bounds"]


@dataclasses.dataclass(frozen=True)
class LinearBound:
    """``C f(x0 + delta) >= A delta + c`` for all delta in the input set (A: m x d, c: m)."""

    A: torch.Tensor
    c: torch.Tensor


#: objective(A, c) -> (m,) scores to maximise, row i depending on (A[i], c[i]) only; A is (m, d).
Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class NetworkBounds:
    """CROWN / alpha-CROWN bounds of one network over one input set around x0 (see the module docstring).

    The pre-activation bounds of every nonlinear layer (``preactivation``) are computed on first use and kept, so
    every specification bounded through this object reuses them.

    Parameters
    ----------
    model
        Any ``nn.Module`` that ``bounds.graph.Graph`` follows (an ``nn.Sequential`` of Linear, Conv2d, BatchNorm,
        Flatten, ReLU, Sigmoid, Tanh, pooling... or a residual / branching module of them).
    x0
        Centre input, without batch dimension.
    box, l2_radius
        The input set: an axis-aligned box ``(lo, hi)`` containing x0, or the L2 ball of that radius.
    """

    def __init__(
        self, model: nn.Module, x0: torch.Tensor, *, box: tuple[torch.Tensor, torch.Tensor] | None = None,
        l2_radius: float | None = None,
    ) -> None:
        if (box is None) == (l2_radius is None):
            raise ValueError("give exactly one input set: box=(lo, hi) or l2_radius=r")
        self.graph = Graph(model, x0)
        #: the layer of each node and the shape of its (first) input, without batch dimension
        self.layers = [node.layer for node in self.graph.nodes]
        self.shapes, self.out_shape = [node.in_shapes[0] for node in self.graph.nodes], self.graph.out_shape
        self.x0 = x0.detach().double().cpu()
        self.box = None if box is None else (box[0].detach().double().cpu(), box[1].detach().double().cpu())
        self.l2_radius = l2_radius
        self._relaxations: dict[int, dict] = {}  # of each nonlinear node, built with ``preactivation``

    def lower(self, A: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """min over the input set of ``A delta + c`` (A: (m, d) or (m, *x0.shape); differentiable)."""
        flat = A.flatten(1)
        if self.l2_radius is not None:
            return c - self.l2_radius * flat.norm(dim=1)
        lo, hi = ((t - self.x0).flatten() for t in self.box)  # type: ignore[union-attr]
        return flat.clamp_min(0) @ lo + flat.clamp_max(0) @ hi + c

    def _backward(self, start: int, lam: torch.Tensor, alphas: dict[int, torch.Tensor] | None = None) -> LinearBound:
        """Pull ``lam . h_start`` (output of node ``start``) back to the input: (A, c) in delta form, with the
        relaxations of the nonlinear nodes below ``start``."""
        A, bias = self.graph.pull_back(start, lam.unsqueeze(0), self._relaxations, alphas)
        return LinearBound(A[0], A[0].flatten(1) @ self.x0.flatten() + bias[0])

    @functools.cached_property
    def preactivation(self) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """Node index of each nonlinear layer -> (lower, upper) bounds of its input over the input set."""
        bounds: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        if self.box is not None:
            lo, hi = self.box
        else:  # IBP starts from the ball's bounding box; CROWN below concretises over the ball itself
            lo, hi = self.x0 - self.l2_radius, self.x0 + self.l2_radius
        intervals = {INPUT: (lo.unsqueeze(0), hi.unsqueeze(0))}
        with torch.no_grad():
            for k, node in enumerate(self.graph.nodes):
                ins = [intervals[i] for i in node.inputs]
                if node.rule.nonlinear:
                    lo, hi = ins[0][0][0], ins[0][1][0]
                    # before the first nonlinear layer, one mixing layer over a box: IBP is exact, CROWN cannot help
                    exact = self.box is not None and not bounds and self.graph.mixing_before(k) <= 1
                    # a ReLU's inputs are only worth tightening where the sign is unknown; the others' all are
                    loose = (lo < 0) & (hi > 0) if isinstance(node.layer, nn.ReLU) else torch.ones_like(lo, dtype=bool)
                    unstable = torch.nonzero(loose.flatten()).flatten()
                    if not exact and unstable.numel() and node.inputs[0] != INPUT:
                        lo, hi = self._tighten(node.inputs[0], lo, hi, unstable)
                    bounds[k] = (lo, hi)
                    self._relaxations[k] = node.rule.relax(node.layer, lo.unsqueeze(0), hi.unsqueeze(0),
                                                           node.in_shapes[0])
                    ins = [(lo.unsqueeze(0), hi.unsqueeze(0))]
                intervals[k] = node.rule.interval(node.layer, ins)
        return bounds

    def _tighten(
        self, start: int, lo: torch.Tensor, hi: torch.Tensor, idx: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Intersect [lo, hi] with CROWN's bounds of the output of node ``start`` at the flat neuron indices idx."""
        shape = lo.shape
        lo, hi = lo.flatten().clone(), hi.flatten().clone()
        # rows in chunks: a conv net's 2 x 10^4 rows x 10^5 coefficients would take gigabytes in one pass
        for part in idx.split(max(1, CHUNK_ELEMENTS // (2 * self.graph.widest))):
            n = part.numel()
            rows = torch.zeros(n, lo.numel(), dtype=lo.dtype)
            rows[torch.arange(n), part] = 1.0
            rows = rows.reshape(n, *shape)
            bound = self._backward(start, torch.cat([rows, -rows]))  # lower bounds of h_i and of -h_i
            both = self.lower(bound.A, bound.c)
            lo[part], hi[part] = torch.maximum(lo[part], both[:n]), torch.minimum(hi[part], -both[n:])
        return lo.reshape(shape), hi.reshape(shape)

    @torch.no_grad()
    def linear_bounds(self, spec: torch.Tensor, alphas: dict[int, torch.Tensor] | None = None) -> LinearBound:
        """Linear lower bounds ``spec @ f(x0 + delta) >= A delta + c`` valid on the input set.

        Parameters
        ----------
        spec
            ``(m, n_outputs)`` matrix C; e.g. rows ``e_y - e_j`` bound the margins of class y.
        alphas
            Optional lower-line slopes in [0, 1] per ReLU node index, broadcastable to ``(m, *neurons)``
            (missing layers: CROWN's choice). Any values in [0, 1] give a sound bound; others are refused.
        """
        for k, alpha in (alphas or {}).items():
            if not isinstance(self.layers[k], nn.ReLU) or alpha.min() < 0 or alpha.max() > 1:
                raise ValueError(f"alphas[{k}] must be slopes in [0, 1] of a ReLU layer")
        self.preactivation  # noqa: B018 (the relaxations below the output)
        bound = self._backward(len(self.layers) - 1, self._spec(spec), alphas)
        return LinearBound(bound.A.reshape(spec.shape[0], *self.x0.shape), bound.c)

    def _spec(self, spec: torch.Tensor) -> torch.Tensor:
        """The specification rows over the flattened outputs, shaped like the network's output."""
        return spec.to(torch.float64).reshape(spec.shape[0], *self.out_shape)

    def alpha_crown(
        self, spec: torch.Tensor, objective: Objective | None = None, *, iterations: int = 30, lr: float = 0.1
    ) -> LinearBound:
        """alpha-CROWN: per row, the bound of the best alphas found for ``objective`` (default: ``lower``).

        Projected Adam ascent on the sum of the rows' objectives (rows have their own alphas, so this
        maximises each row's objective), starting from CROWN's slopes; each row keeps its best iterate,
        so its objective is never below CROWN's. Pre-activation bounds stay CROWN's (``preactivation``).
        """
        objective = self.lower if objective is None else objective
        m = spec.shape[0]
        spec = self._spec(spec)
        alphas = {k: rx.crown_slopes(lo, hi).expand(m, *lo.shape).clone().requires_grad_(True)
                  for k, (lo, hi) in self.preactivation.items()
                  if isinstance(self.layers[k], nn.ReLU) and ((lo < 0) & (hi > 0)).any()}
        if not alphas:  # every neuron stable: the relaxation is exact, nothing to optimise
            return self.linear_bounds(spec)
        optimiser = torch.optim.Adam(alphas.values(), lr=lr)
        best_A = best_c = best = None
        for step in range(iterations + 1):
            with torch.enable_grad():
                bound = self._backward(len(self.layers) - 1, spec, alphas)
                score = objective(bound.A.flatten(1), bound.c)
            with torch.no_grad():
                if best is None:
                    best_A, best_c, best = bound.A.detach().clone(), bound.c.detach().clone(), score.detach().clone()
                better = score > best
                best_A[better], best_c[better], best[better] = bound.A[better], bound.c[better], score[better]
            if step == iterations:
                break
            optimiser.zero_grad()
            (-score.sum()).backward()
            optimiser.step()
            with torch.no_grad():
                for alpha in alphas.values():
                    alpha.clamp_(0.0, 1.0)  # the projection: every slope in [0, 1] keeps (1) sound
        return LinearBound(best_A.reshape(m, *self.x0.shape), best_c)


def crown_linear_bounds(
    model: nn.Module,
    x0: torch.Tensor,
    spec: torch.Tensor,
    *,
    box: tuple[torch.Tensor, torch.Tensor] | None = None,
    l2_radius: float | None = None,
) -> LinearBound:
    """CROWN's ``spec @ f(x0 + delta) >= A delta + c`` on the input set (one-off ``NetworkBounds``).

    Parameters as in ``NetworkBounds`` and ``NetworkBounds.linear_bounds``; build a ``NetworkBounds`` to
    bound several specifications over the same input set.
    """
    return NetworkBounds(model, x0, box=box, l2_radius=l2_radius).linear_bounds(spec)
