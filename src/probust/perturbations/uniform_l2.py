"""Uniform noise in the L2 ball of radius eps, sampled exactly.

If g ~ N(0, I_{d+2}) then g / ||g|| is uniform on the sphere S^{d+1} and its first d coordinates are
uniform in the unit ball B^d (Voelker, Gosmann & Stewart 2017, "Efficiently sampling vectors and
coordinates from the n-sphere and n-ball"). So the latent has d + 2 coordinates and
``delta = eps * g[:d] / ||g||`` -- exact, with no rejection and differentiable in g.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ..components import param, register
from ._base import POSITIVE, Perturbation


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class UniformL2(Perturbation):
    """Uniform distribution on the L2 ball of radius ``eps`` around x (over all input coordinates)."""

    eps: float = param(check=POSITIVE)
    name = "uniform-l2"
    example = "uniform-l2:eps=0.5,clip=0:1"

    def latent_shape(self, x_shape: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(x_shape) + 2,)

    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        d = math.prod(x_shape)
        direction = z[:, :d] / z.norm(dim=1, keepdim=True)
        return (self.eps * direction).reshape(-1, *x_shape)
