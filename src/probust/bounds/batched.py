"""Bounds of one network over a batch of input boxes in one tensor pass: IBP and CROWN, one box per row.

Branch-and-bound over the input (``estimators.bab``) bounds thousands of small boxes of the same network;
``NetworkBounds`` (``bounds.crown``) bounds one input set per object. Both run over the same graph
(``bounds.graph``) and the same layer rules (``bounds.ops``); here every tensor carries a leading box dimension
B, and for box b, specification row r and the rows of ``spec`` C:

    IBP:    [l, u] pushed node by node (``Rule.interval``, batched)
    CROWN:  C f(x) >= A_b x + c_b  for every x in box b, concretised as
            min_{x in box b} (A_b x + c_b) = A_b^+ lo_b + A_b^- hi_b + c_b

CROWN here is the relaxation of ``bounds.crown`` (Zhang et al., NeurIPS 2018) per box: ReLU, sigmoid, tanh and
max-pool lines of ``bounds.relaxations`` (CROWN's adaptive ReLU slope); the bounds of their inputs are IBP's
intersected with CROWN's own (the backward pass from that node with identity rows, skipped where IBP is exact:
at most one node below mixes coordinates (Linear, Conv2d, pooling, residual sum), so each input of the layer is
a coordinatewise monotone function (ReLU, sigmoid, tanh, diagonal affine, reshape) of one affine form of the
input, whose range over a box IBP gets exactly). The lower bound returned is the larger of IBP's and CROWN's
(both sound). Arithmetic is float64 on the CPU, as in ``bounds.crown``.

Supported: what ``bounds.graph.Graph`` follows (Linear, Conv2d, BatchNorm, pooling, reshapes, residual sums,
concatenations, ReLU, sigmoid, tanh...); others raise ``UnsupportedLayerError``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import nn

from .graph import CHUNK_ELEMENTS, INPUT, Graph

Relaxation = Literal["crown", "ibp"]
#: Floats of one backward tensor (box x row x neuron) per chunk of boxes: ~64 MB in float64.


@dataclasses.dataclass(frozen=True)
class BoxBounds:
    """Per box b and specification row r: ``lower[b, r] <= C_r f(x)`` on box b; ``slopes[b, r]`` is the
    linear lower bound's coefficient vector A_br over the flat input (None for IBP)."""

    lower: torch.Tensor
    slopes: torch.Tensor | None


class BatchedBounds:
    """Lower bounds of ``spec @ f(x)`` over each of a batch of input boxes (module docstring).

    Parameters
    ----------
    model
        Any ``nn.Module`` that ``bounds.graph.Graph`` follows (an ``nn.Sequential`` is the chain case).
    x0
        One input, without batch dimension (gives the input shape).
    relaxation
        ``"crown"`` (default) or ``"ibp"`` (interval arithmetic only: looser, several times cheaper).
    """

    def __init__(self, model: nn.Module, x0: torch.Tensor, relaxation: Relaxation = "crown") -> None:
        self.graph = Graph(model, x0)
        self.out_shape, self.relaxation = self.graph.out_shape, relaxation
        self.widest = self.graph.widest

    def __call__(self, lo: torch.Tensor, hi: torch.Tensor, spec: torch.Tensor) -> BoxBounds:
        """Bounds over the boxes ``[lo[b], hi[b]]`` (B, *x0.shape) of the rows of ``spec`` (m, n_outputs)."""
        rows = 2 * self.widest if self.relaxation == "crown" else 1
        size = max(1, CHUNK_ELEMENTS // (rows * max(self.widest, spec.shape[0])))
        parts = [
            self._bounds(a, b, spec.double())
            for a, b in zip(lo.double().split(size), hi.double().split(size), strict=True)
        ]
        slopes = None if parts[0].slopes is None else torch.cat([p.slopes for p in parts])
        return BoxBounds(torch.cat([p.lower for p in parts]), slopes)

    @torch.no_grad()
    def _bounds(self, lo: torch.Tensor, hi: torch.Tensor, spec: torch.Tensor) -> BoxBounds:
        relaxations: dict[int, dict] = {}
        intervals = {INPUT: (lo, hi)}
        for k, node in enumerate(self.graph.nodes):
            ins = [intervals[i] for i in node.inputs]
            if node.rule.nonlinear:
                low, up = ins[0]
                if self.relaxation == "crown" and self.graph.mixing_before(k) > 1:
                    low, up = self._tighten(node.inputs[0], low, up, lo, hi, relaxations)
                relaxations[k] = node.rule.relax(node.layer, low, up, node.in_shapes[0])
                ins = [(low, up)]
            intervals[k] = node.rule.interval(node.layer, ins)
        low, up = intervals[len(self.graph.nodes) - 1]
        ibp = spec.clamp_min(0) @ low.flatten(1).T + spec.clamp_max(0) @ up.flatten(1).T  # (m, B)
        if self.relaxation == "ibp":
            return BoxBounds(ibp.T, None)
        lam = spec.expand(len(lo), *spec.shape).reshape(len(lo), spec.shape[0], *self.out_shape)
        A, c = self.graph.pull_back(len(self.graph.nodes) - 1, lam, relaxations)
        A = A.flatten(2)
        return BoxBounds(torch.maximum(ibp.T, _concretise(A, c, lo, hi)), A)

    def _tighten(
        self,
        start: int,
        low: torch.Tensor,
        up: torch.Tensor,
        lo: torch.Tensor,
        hi: torch.Tensor,
        relaxations: dict[int, dict],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """IBP's bounds of the output of node ``start`` intersected with CROWN's (rows +-e_i for every neuron i)."""
        n = low[0].numel()
        eye = torch.eye(n, dtype=low.dtype)
        lam = torch.cat([eye, -eye]).reshape(1, 2 * n, *low.shape[1:]).expand(len(low), -1, *low.shape[1:])
        A, c = self.graph.pull_back(start, lam, relaxations)
        both = _concretise(A.flatten(2), c, lo, hi)
        return (torch.maximum(low, both[:, :n].reshape(low.shape)), torch.minimum(up, -both[:, n:].reshape(up.shape)))


def _concretise(A: torch.Tensor, c: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """``min over x in [lo_b, hi_b] of A_b x + c_b`` for every box b and row: (B, m)."""
    lo, hi = lo.flatten(1).unsqueeze(2), hi.flatten(1).unsqueeze(2)
    return (A.clamp_min(0) @ lo + A.clamp_max(0) @ hi).squeeze(2) + c
