"""Small layers that the ONNX converter emits and the bound propagation understands (graph nodes of functions)."""

from __future__ import annotations

import torch
from torch import nn


class ElementwiseAffine(nn.Module):
    """``h * scale + shift`` with per-element (broadcastable) ``scale`` and ``shift`` of the feature shape.

    ONNX graphs state input normalisation and constant offsets as ``Sub`` / ``Mul`` / ``Div`` / ``Add`` nodes
    with constant operands; this is their one affine, diagonal layer (a dense Linear would cost d^2).
    """

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale))
        self.register_buffer("shift", torch.as_tensor(shift))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * self.scale + self.shift


class Sum(nn.Module):
    """``sum_i sign_i h_i`` of several tensors of one shape: a residual ``a + b`` or ``a - b`` as a graph node."""

    def __init__(self, signs: tuple[float, ...]):
        super().__init__()
        self.signs = tuple(float(s) for s in signs)

    def forward(self, *hs: torch.Tensor) -> torch.Tensor:
        return sum(s * h for s, h in zip(self.signs, hs, strict=True))  # type: ignore[return-value]


class Cat(nn.Module):
    """``torch.cat`` of several tensors along the per-sample dimension ``dim`` (0 is the first feature axis)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, *hs: torch.Tensor) -> torch.Tensor:
        return torch.cat(hs, self.dim + 1)


class Reshape(nn.Module):
    """Any view / reshape / flatten / squeeze that keeps the batch axis: to the per-sample ``shape``."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.reshape(len(h), *self.shape)


class Permute(nn.Module):
    """A permutation of the per-sample axes (``permute`` / ``transpose`` that keep the batch axis first)."""

    def __init__(self, perm: tuple[int, ...]):
        super().__init__()
        self.perm = tuple(perm)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.permute(0, *(p + 1 for p in self.perm))


class Pad(nn.Module):
    """Constant padding ``torch.nn.functional.pad(h, pad, value=value)`` of the trailing axes."""

    def __init__(self, pad: tuple[int, ...], value: float = 0.0):
        super().__init__()
        self.pad, self.value = tuple(pad), float(value)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(h, self.pad, value=self.value)
