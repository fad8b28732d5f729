"""CROWN: backward linear relaxation of ReLU networks (Zhang et al., NeurIPS'18).

Given a network f = L_n o ... o L_1 made of Linear, Conv2d, BatchNorm (eval), Flatten and ReLU layers, an
input box ``[lo, hi]`` (or an L2 ball) around x0, and a specification matrix C, it returns
``A in R^{m x d}`` and ``c in R^m`` with

    C f(x0 + delta) >= A delta + c      for every x0 + delta in the input set            (1)

Each ReLU y = max(z, 0) with pre-activation bounds l < 0 < u is relaxed between the lines
``alpha z <= y <= u (z - l) / (u - l)`` (alpha = 1 if u > -l else 0, CROWN's adaptive lower line); the
linear function is pulled back layer by layer through these relaxations, choosing for each
coefficient the relaxation side that keeps (1) a lower bound. Pre-activation bounds of each ReLU come
from the same backward pass run from that layer, concretised over the input set (O(L^2) passes, fine
for the small networks of the zoo).

Why our own code: auto_LiRPA does not install with the supported torch, and ``bound-propagation`` has
no Conv2d / Flatten support (docs/design.md).
"""

from __future__ import annotations

import copy
import dataclasses
import math

import torch
from torch import nn

from ..errors import ProbustError


class UnsupportedLayerError(ProbustError, TypeError):
    """The network contains a layer the bound propagation does not handle."""


@dataclasses.dataclass(frozen=True)
class LinearBound:
    """``C f(x0 + delta) >= A delta + c`` for all delta in the input set (A: m x d, c: m)."""

    A: torch.Tensor
    c: torch.Tensor


_SUPPORTED = (nn.Linear, nn.Conv2d, nn.ReLU, nn.Flatten, nn.BatchNorm1d, nn.BatchNorm2d, nn.Identity, nn.Dropout)


def _layers(model: nn.Module) -> list[nn.Module]:
    """The network as a flat list of supported layers (nested Sequentials are flattened)."""
    out: list[nn.Module] = []
    for module in model.children() if isinstance(model, nn.Sequential) else [model]:
        if isinstance(module, nn.Sequential):
            out.extend(_layers(module))
        elif isinstance(module, nn.Conv2d) and (module.padding_mode != "zeros" or isinstance(module.padding, str)):
            raise UnsupportedLayerError(
                f"bound propagation supports Conv2d with numeric zero padding only, got {module}"
            )
        elif isinstance(module, _SUPPORTED):
            out.append(module)
        else:
            raise UnsupportedLayerError(
                f"bound propagation does not support layer {type(module).__name__} ({module}); supported: "
                + ", ".join(t.__name__ for t in _SUPPORTED)
                + ". Express the model as an nn.Sequential of those layers."
            )
    return out


def _affine_backward(
    layer: nn.Module, lam: torch.Tensor, in_shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pull ``lam . layer(h)`` back to ``lam' . h + b`` for an affine layer; lam has shape (m, *out_shape)."""
    m = lam.shape[0]
    if isinstance(layer, nn.Linear):
        bias = lam @ layer.bias if layer.bias is not None else lam.new_zeros(m)
        return lam @ layer.weight, bias
    if isinstance(layer, nn.Conv2d):
        # the transpose of the convolution; output_padding restores rows/columns that a stride > 1 leaves
        # out of the shape formula but that do feed the convolution's last outputs
        natural = [
            (lam.shape[2 + i] - 1) * layer.stride[i] - 2 * layer.padding[i]
            + layer.dilation[i] * (layer.kernel_size[i] - 1) + 1
            for i in range(2)
        ]
        back = nn.functional.conv_transpose2d(
            lam, layer.weight, stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
            groups=layer.groups, output_padding=(in_shape[-2] - natural[0], in_shape[-1] - natural[1]),
        )
        bias = (lam.sum((2, 3)) @ layer.bias) if layer.bias is not None else lam.new_zeros(m)
        return back, bias
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
        shift = layer.bias - layer.running_mean * scale
        view = (1, -1) + (1,) * (lam.ndim - 2)
        return lam * scale.view(view), (lam * shift.view(view)).flatten(1).sum(1)
    if isinstance(layer, nn.Flatten):
        return lam.reshape(m, *in_shape), lam.new_zeros(m)
    if isinstance(layer, (nn.Identity, nn.Dropout)):  # dropout is the identity in eval mode
        return lam, lam.new_zeros(m)
    raise UnsupportedLayerError(f"not an affine layer: {type(layer).__name__}")


def _relu_backward(lam: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pull ``lam . relu(z)`` back to a *lower* bound ``lam' . z + b`` given z in [lo, hi]."""
    unstable = (lo < 0) & (hi > 0)
    slope_up = torch.where(unstable, hi / (hi - lo).clamp_min(1e-30), (lo >= 0).to(lo.dtype))
    icpt_up = torch.where(unstable, -slope_up * lo, torch.zeros_like(lo))
    slope_low = torch.where(unstable, (hi > -lo).to(lo.dtype), (lo >= 0).to(lo.dtype))
    pos, neg = lam.clamp_min(0), lam.clamp_max(0)
    new_lam = pos * slope_low + neg * slope_up
    bias = (neg * icpt_up).flatten(1).sum(1)
    return new_lam, bias


def _backward(
    layers: list[nn.Module], shapes: list[tuple[int, ...]], bounds: dict[int, tuple[torch.Tensor, torch.Tensor]],
    upto: int, lam: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pull ``lam . h_upto`` (output of layer ``upto - 1``) back to the input: returns (A, b) with lower bound."""
    bias = lam.new_zeros(lam.shape[0])
    for k in range(upto - 1, -1, -1):
        layer = layers[k]
        if isinstance(layer, nn.ReLU):
            lam, b = _relu_backward(lam, *bounds[k])
        else:
            lam, b = _affine_backward(layer, lam, shapes[k])
        bias = bias + b
    return lam, bias


def _concretize_lower(A: torch.Tensor, b: torch.Tensor, x0: torch.Tensor, box: tuple[torch.Tensor, torch.Tensor] | None,
                      l2: float | None) -> torch.Tensor:
    """min over the input set of ``A x + b`` (box [lo, hi], or L2 ball of radius l2 around x0)."""
    flat = A.flatten(1)
    if l2 is not None:
        return flat @ x0.flatten() + b - l2 * flat.norm(dim=1)
    lo, hi = (t.flatten() for t in box)  # type: ignore[union-attr]
    return flat.clamp_min(0) @ lo + flat.clamp_max(0) @ hi + b


@torch.no_grad()
def crown_linear_bounds(
    model: nn.Module,
    x0: torch.Tensor,
    spec: torch.Tensor,
    *,
    box: tuple[torch.Tensor, torch.Tensor] | None = None,
    l2_radius: float | None = None,
) -> LinearBound:
    """Linear lower bounds ``spec @ f(x0 + delta) >= A delta + c`` valid on the input set.

    Parameters
    ----------
    model
        ``nn.Sequential`` (possibly nested) of Linear, Conv2d, BatchNorm (eval mode), Flatten and ReLU.
    x0
        Centre input, without batch dimension.
    spec
        ``(m, n_outputs)`` matrix C; e.g. rows ``e_y - e_j`` bound the margins of class y.
    box, l2_radius
        The input set: an axis-aligned box ``(lo, hi)`` containing x0, or the L2 ball of that radius.
    """
    if (box is None) == (l2_radius is None):
        raise ValueError("give exactly one input set: box=(lo, hi) or l2_radius=r")
    layers = _layers(model)
    dtype = torch.float64  # bounds in double precision: rounding must not eat the soundness margin
    layers = [copy.deepcopy(layer).double().eval() for layer in layers]
    x0 = x0.to(dtype)
    box = None if box is None else (box[0].to(dtype), box[1].to(dtype))
    shapes: list[tuple[int, ...]] = []
    h = x0.unsqueeze(0)
    for layer in layers:
        shapes.append(tuple(h.shape[1:]))
        h = layer(h)
    bounds: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for k, layer in enumerate(layers):
        if isinstance(layer, nn.ReLU):
            n = math.prod(shapes[k])
            eye = torch.eye(n, dtype=dtype).reshape(n, *shapes[k])
            A, b = _backward(layers, shapes, bounds, k, torch.cat([eye, -eye]))
            both = _concretize_lower(A, b, x0, box, l2_radius)
            bounds[k] = (both[:n].reshape(shapes[k]), -both[n:].reshape(shapes[k]))
    A, b = _backward(layers, shapes, bounds, len(layers), spec.to(dtype))
    c = A.flatten(1) @ x0.flatten() + b
    return LinearBound(A.reshape(spec.shape[0], *x0.shape), c)

