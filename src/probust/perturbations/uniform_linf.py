"""Uniform noise in the L-infinity ball: x' ~ U(x + [-eps, eps]^d).

The latent is standard uniform, u ~ U(0, 1)^d, and ``x' = x + eps (2u - 1)``, computed as one fused
``addcmul``. This is the input model of Webb et al. (ICLR'19) and of the PRBench / AT-PR evaluation
protocol.
"""

from __future__ import annotations

import dataclasses

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
    latent_law = "uniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "eps", positive("eps", self.eps))

    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        return self.eps * (2 * z - 1)

    def shift(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(x - self.eps, z, torch.tensor(2 * self.eps, dtype=x.dtype))
