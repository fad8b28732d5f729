"""Uniform inputs in a fixed box: x' ~ U(prod_i [lo_i, hi_i]), the input set of a VNNLIB property.

The box does not move with x (x is only the reference input, which must lie in it: the box centre for a
VNN-COMP property). The latent is standard uniform, u ~ U(0, 1)^d, and ``x' = lo + (hi - lo) u``. A
coordinate with ``lo_i == hi_i`` is held fixed.
"""

from __future__ import annotations

import dataclasses

import torch

from ..components import Interval, param, register
from ..errors import ConfigurationError, InputError
from ._base import Coordinates, Perturbation, as_tensor, check_coordinates


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class Box(Perturbation):
    """Uniform distribution on the box lo <= x' <= hi (bounds per coordinate, in C order, or one for all).

    Examples
    --------
    >>> Box(lo=[0.0, -1.0], hi=[0.5, 1.0]).to_spec()
    'box:lo=0:-1,hi=0.5:1'
    """

    lo: float | tuple[float, ...] = param(check=Coordinates(Interval(float)))
    hi: float | tuple[float, ...] = param(check=Coordinates(Interval(float)))
    name = "box"
    example = "box:lo=0,hi=1"
    latent_law = "uniform"

    def validate(self) -> None:
        lo_t, hi_t = (torch.tensor(v, dtype=torch.float64).flatten() for v in (self.lo, self.hi))
        if lo_t.numel() != hi_t.numel() and lo_t.numel() > 1 and hi_t.numel() > 1:
            raise ConfigurationError(f"lo has {lo_t.numel()} values but hi has {hi_t.numel()}; give as many of each")
        lo_t, hi_t = torch.broadcast_tensors(lo_t, hi_t)
        bad = torch.nonzero(lo_t > hi_t).flatten()
        if bad.numel():
            i = int(bad[0])
            raise ConfigurationError(
                f"box has lo > hi at {bad.numel()} coordinate(s), first at {i}: lo={float(lo_t[i]):g} > "
                f"hi={float(hi_t[i]):g}; every lower bound must be <= its upper bound"
            )

    def check_input(self, x: torch.Tensor) -> None:
        super().check_input(x)
        check_coordinates("lo", self.lo, x)
        check_coordinates("hi", self.hi, x)
        xd = x.detach().double().cpu()
        lo, hi = as_tensor(self.lo, xd), as_tensor(self.hi, xd)
        tol = 4 * torch.finfo(x.dtype).eps * max(1.0, float(xd.abs().max()))
        if bool((xd < lo - tol).any() or (xd > hi + tol).any()):
            raise InputError("the reference input x lies outside the box [lo, hi]; pass a point of the box "
                             "(e.g. its centre (lo + hi) / 2)")

    def bounds(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(lo, hi)`` as tensors of ``x``'s shape, dtype and device."""
        return (torch.as_tensor(as_tensor(self.lo, x), dtype=x.dtype, device=x.device).expand(x.shape),
                torch.as_tensor(as_tensor(self.hi, x), dtype=x.dtype, device=x.device).expand(x.shape))

    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        raise TypeError("a Box does not move with x: use apply(x, z) or shift(x, z), not displacement(z)")

    def affine_form(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = self.bounds(x)
        return lo, hi - lo
