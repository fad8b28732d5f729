"""Uniform noise in the L-infinity ball: x' ~ U(x + [-eps, eps]^d).

The latent z ~ N(0, I) is mapped coordinate-wise through the normal CDF,
``delta = eps * (2 Phi(z) - 1) = eps * erf(z / sqrt 2)``, which is exactly uniform on [-eps, eps]
(the probability integral transform) and smooth in z. This is the input model of Webb et al.
(ICLR'19) and of the PRBench / AT-PR evaluation protocol.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ._base import Perturbation, positive


@dataclasses.dataclass(frozen=True, kw_only=True)
class UniformLinf(Perturbation):
    """Uniform distribution on the L-infinity ball of radius ``eps`` around x.

    Examples
    --------
    >>> UniformLinf(eps=0.1, clip=(0, 1)).to_spec()
    'uniform-linf:eps=0.1,clip=0:1'
    """

    eps: float
    spec_name = "uniform-linf"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "eps", positive("eps", self.eps))

    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        return self.eps * torch.special.erf(z * (1 / math.sqrt(2)))
