"""Bounds of one network over a batch of input boxes in one tensor pass: IBP and CROWN, one box per row.

Branch-and-bound over the input (``estimators.bab``) bounds thousands of small boxes of the same network;
``NetworkBounds`` (``bounds.crown``) bounds one input set per object. Here every tensor carries a leading box
dimension B, and for box b, specification row r and the rows of ``spec`` C:

    IBP:    [l, u] pushed layer by layer (``crown._interval_forward``, already batched)
    CROWN:  C f(x) >= A_b x + c_b  for every x in box b, concretised as
            min_{x in box b} (A_b x + c_b) = A_b^+ lo_b + A_b^- hi_b + c_b

CROWN here is the relaxation of ``bounds.crown`` (Zhang et al., NeurIPS 2018) per box: each ReLU with
pre-activation bounds l < 0 < u is relaxed between ``alpha z`` (CROWN's adaptive slope, alpha = 1 iff u > -l)
and the chord ``u (z - l) / (u - l)``, each max-pool window between its lines in ``bounds.crown``; the bounds
of their inputs are IBP's intersected with CROWN's own (the backward pass from that layer with identity rows,
skipped where IBP is exact: each input of the layer is then a coordinatewise monotone function (ReLU,
diagonal affine, reshape) of one affine form of the input, whose range over a box IBP gets exactly).
The lower bound returned is the larger of IBP's and CROWN's (both sound). Arithmetic is float64 on the CPU,
as in ``bounds.crown``.

Supported layers: Linear, ReLU, MaxPool1d / 2d (``crown``'s relaxation), ElementwiseAffine, BatchNorm1d (eval),
Flatten / Unflatten / Identity / Dropout (eval); others raise ``UnsupportedLayerError`` (the low-dimensional
inputs this serves are vectors: no convolutions yet).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import nn

from .crown import (
    _MAXPOOL,
    UnsupportedLayerError,
    _batchnorm_affine,
    _fold_windows,
    _interval_forward,
    _maxpool_relaxation,
    _pool_geometry,
    crown_slopes,
    double_layers,
)
from .layers import ElementwiseAffine

Relaxation = Literal["crown", "ibp"]
_RESHAPE = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout)
_DIAGONAL = (ElementwiseAffine, nn.BatchNorm1d)
_NONLINEAR = (nn.ReLU, *_MAXPOOL)
_SUPPORTED = (nn.Linear, *_NONLINEAR, *_DIAGONAL, *_RESHAPE)
#: Floats of one backward tensor (box x row x neuron) per chunk of boxes: ~64 MB in float64.
_CHUNK_ELEMENTS = 8_000_000


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
        ``nn.Sequential`` (possibly nested) of the supported layers.
    x0
        One input, without batch dimension (gives the input shape).
    relaxation
        ``"crown"`` (default) or ``"ibp"`` (interval arithmetic only: looser, several times cheaper).
    """

    def __init__(self, model: nn.Module, x0: torch.Tensor, relaxation: Relaxation = "crown") -> None:
        self.layers, shapes = double_layers(model, x0)
        refused = [layer for layer in self.layers if not isinstance(layer, _SUPPORTED)]
        if refused:
            raise UnsupportedLayerError(
                f"batched bounds do not support layer {type(refused[0]).__name__} ({refused[0]}); supported: "
                + ", ".join(t.__name__ for t in _SUPPORTED))
        self.shapes, self.out_shape, self.relaxation = shapes[:-1], shapes[-1], relaxation
        self.widest = max(torch.Size(s).numel() for s in shapes)

    def __call__(self, lo: torch.Tensor, hi: torch.Tensor, spec: torch.Tensor) -> BoxBounds:
        """Bounds over the boxes ``[lo[b], hi[b]]`` (B, *x0.shape) of the rows of ``spec`` (m, n_outputs)."""
        rows = 2 * self.widest if self.relaxation == "crown" else 1
        size = max(1, _CHUNK_ELEMENTS // (rows * max(self.widest, spec.shape[0])))
        parts = [self._bounds(a, b, spec.double()) for a, b in zip(lo.double().split(size), hi.double().split(size),
                                                                  strict=True)]
        slopes = None if parts[0].slopes is None else torch.cat([p.slopes for p in parts])
        return BoxBounds(torch.cat([p.lower for p in parts]), slopes)

    @torch.no_grad()
    def _bounds(self, lo: torch.Tensor, hi: torch.Tensor, spec: torch.Tensor) -> BoxBounds:
        pre: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        low, up = lo, hi
        for k, layer in enumerate(self.layers):
            if isinstance(layer, _NONLINEAR):
                below = self.layers[:k]
                if self.relaxation == "crown" and (sum(isinstance(m, nn.Linear) for m in below) > 1
                                                   or any(isinstance(m, _MAXPOOL) for m in below)):
                    low, up = self._tighten(k, low, up, lo, hi, pre)
                pre[k] = (low, up)
            low, up = _interval_forward(layer, low, up)
        ibp = spec.clamp_min(0) @ low.flatten(1).T + spec.clamp_max(0) @ up.flatten(1).T  # (m, B)
        if self.relaxation == "ibp":
            return BoxBounds(ibp.T, None)
        lam = spec.expand(len(lo), *spec.shape).reshape(len(lo), spec.shape[0], *self.out_shape)
        A, c = self._backward(len(self.layers), lam, pre)
        return BoxBounds(torch.maximum(ibp.T, _concretise(A, c, lo, hi)), A)

    def _tighten(self, k: int, low: torch.Tensor, up: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
                 pre: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """IBP's bounds of layer k's input intersected with CROWN's (rows +-e_i for every neuron i)."""
        n = low[0].numel()
        eye = torch.eye(n, dtype=low.dtype)
        lam = torch.cat([eye, -eye]).reshape(1, 2 * n, *low.shape[1:]).expand(len(low), -1, *low.shape[1:])
        both = _concretise(*self._backward(k, lam, pre), lo, hi)
        return (torch.maximum(low, both[:, :n].reshape(low.shape)),
                torch.minimum(up, -both[:, n:].reshape(up.shape)))

    def _backward(self, upto: int, lam: torch.Tensor,
                  pre: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pull ``lam . h_upto`` (B, m, *shape) back to ``A x + c`` with A (B, m, d), c (B, m)."""
        bias = lam.new_zeros(lam.shape[:2])
        for k in range(upto - 1, -1, -1):
            layer, shape = self.layers[k], self.shapes[k]
            if isinstance(layer, nn.ReLU):
                lam, b = _relu_backward(lam, *pre[k])
            elif isinstance(layer, _MAXPOOL):
                lam, b = _maxpool_backward(layer, lam, *pre[k], shape)
            elif isinstance(layer, nn.Linear):
                lam, b = lam @ layer.weight, lam @ layer.bias if layer.bias is not None else 0.0
            elif isinstance(layer, _DIAGONAL):
                scale, shift = (_batchnorm_affine(layer) if isinstance(layer, nn.BatchNorm1d)
                                else (layer.scale.expand(shape), layer.shift.expand(shape)))
                lam, b = lam * scale, (lam * shift).flatten(2).sum(2)
            else:  # reshapes and identities
                lam, b = lam.reshape(*lam.shape[:2], *shape), 0.0
            bias = bias + b
        return lam.flatten(2), bias


def _relu_backward(lam: torch.Tensor, low: torch.Tensor, up: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A lower bound ``lam' . z + b`` of ``lam . relu(z)`` for z in [low, up] (per box; lam: (B, m, *shape))."""
    low, up = low.unsqueeze(1), up.unsqueeze(1)
    unstable = (low < 0) & (up > 0)
    active = (low >= 0).to(low.dtype)
    slope_up = torch.where(unstable, up / (up - low).clamp_min(1e-30), active)
    slope_low = torch.where(unstable, crown_slopes(low, up), active)
    pos, neg = lam.clamp_min(0), lam.clamp_max(0)
    return pos * slope_low + neg * slope_up, (neg * torch.where(unstable, -slope_up * low, 0.0)).flatten(2).sum(2)


def _maxpool_backward(layer: nn.Module, lam: torch.Tensor, low: torch.Tensor, up: torch.Tensor,
                      shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """A lower bound ``lam' . h + b`` of ``lam . maxpool(h)`` for h in [low, up] (per box; the lines of
    ``crown._maxpool_relaxation``, lam: (B, m, *out_shape))."""
    geometry = _pool_geometry(layer, shape)
    lower, upper, offset = (t.unsqueeze(1) for t in _maxpool_relaxation(low, up, geometry, batched=True))
    (n_boxes, m), channels = lam.shape[:2], geometry[0][0]
    lam = lam.reshape(n_boxes, m, channels, 1, -1)
    pos, neg = lam.clamp_min(0), lam.clamp_max(0)
    back = _fold_windows((pos * lower + neg * upper).flatten(0, 1), geometry)
    return back.reshape(n_boxes, m, *shape), (neg.squeeze(3) * offset).flatten(2).sum(2)


def _concretise(A: torch.Tensor, c: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """``min over x in [lo_b, hi_b] of A_b x + c_b`` for every box b and row: (B, m)."""
    lo, hi = lo.flatten(1).unsqueeze(2), hi.flatten(1).unsqueeze(2)
    return (A.clamp_min(0) @ lo + A.clamp_max(0) @ hi).squeeze(2) + c
