"""Small layers that the ONNX converter emits and the bound propagation understands."""

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
