"""Uniform noise in the L-infinity ball: x' ~ U(x + [-eps, eps]^d), or a box around x with one radius per
coordinate, x' ~ U(prod_i [x_i - eps_i, x_i + eps_i]).

The latent is standard uniform, u ~ U(0, 1)^d, and ``x' = x + eps (2u - 1)``, computed as
``(x - eps) + (2 eps) u`` (the affine form that plain Monte Carlo samples in one fused pass). This is the
input model of Webb et al. (ICLR'19) and of the PRBench / AT-PR evaluation protocol.
"""

from __future__ import annotations

import dataclasses

import torch

from ..components import param, register
from ._base import POSITIVE, Coordinates, Perturbation, as_tensor, check_coordinates


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class UniformLinf(Perturbation):
    """Uniform distribution on the L-infinity ball of radius ``eps`` around x (or one radius per coordinate).

    Parameters
    ----------
    eps
        The radius, or one radius per input coordinate (any array-like with as many values as x has
        coordinates, in C order): the box ``prod_i [x_i - eps_i, x_i + eps_i]``.

    Examples
    --------
    >>> UniformLinf(eps=0.1, clip=(0, 1)).to_spec()
    'uniform-linf:eps=0.1,clip=0:1'
    >>> UniformLinf(eps=[0.1, 0.25]).to_spec()
    'uniform-linf:eps=0.1:0.25'
    """

    eps: float | tuple[float, ...] = param(check=Coordinates(POSITIVE))
    name = "uniform-linf"
    example = "uniform-linf:eps=0.03,clip=0:1"
    latent_law = "uniform"

    def check_input(self, x: torch.Tensor) -> None:
        super().check_input(x)
        check_coordinates("eps", self.eps, x)

    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        eps = self.eps if isinstance(self.eps, float) else torch.tensor(self.eps, dtype=z.dtype).reshape(x_shape)
        return eps * (2 * z - 1)

    def affine_form(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        eps = as_tensor(self.eps, x)
        return x - eps, torch.as_tensor(2 * eps, dtype=x.dtype, device=x.device).expand(x.shape)
