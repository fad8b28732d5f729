"""Gaussian noise, plain or truncated to an L-infinity or L2 ball.

``Gaussian(sigma)``: x' = x + sigma z. ``TruncatedGaussian(sigma, eps, p)``: the same law
conditioned on ||x' - x||_p <= eps, sampled exactly as a pushforward of N(0, I):

* p = inf: coordinates are independent truncated normals on [-a, a], a = eps / sigma, by inverse
  transform, ``t = -sign(z) ndtri(Phi(-a) + Phi(-|z|) (1 - 2 Phi(-a)))`` (written on the lower tail
  for both signs so that neither tail loses precision).
* p = 2: the law is rotation invariant, so the direction g / ||g|| is kept and the radius ||g|| ~ chi_d
  is remapped by ``rho = F^{-1}(F(||g||) F(a))``, F the chi_d CDF, which is chi_d truncated to [0, a].
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from .._scipy import special
from ..components import Options, param, register
from ._base import POSITIVE, Perturbation


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class Gaussian(Perturbation):
    """Isotropic Gaussian noise with standard deviation ``sigma`` per coordinate (unbounded)."""

    sigma: float = param(check=POSITIVE)
    name = "gaussian"
    example = "gaussian:sigma=0.1,clip=0:1"

    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        return self.sigma * z


class _TruncatedChiRadius(torch.autograd.Function):
    """rho = F^{-1}(c F(r)) for the chi_d CDF F, with c = F(a); scipy has the inverse, torch does not."""

    @staticmethod
    def forward(ctx, r: torch.Tensor, d: int, a: float) -> torch.Tensor:  # type: ignore[override]
        r64 = r.detach().double().cpu().numpy()
        c = special.gammainc(d / 2, a * a / 2)
        rho = np.sqrt(2 * special.gammaincinv(d / 2, c * special.gammainc(d / 2, r64 * r64 / 2)))
        rho_t = torch.as_tensor(np.minimum(rho, a), dtype=r.dtype, device=r.device)
        ctx.save_for_backward(r, rho_t)
        ctx.log_c, ctx.d = math.log(c), d
        return rho_t

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        # d rho / d r = c f(r) / f(rho), with f(t) proportional to t^(d-1) exp(-t^2 / 2).
        r, rho = ctx.saved_tensors
        log_ratio = ctx.log_c + (ctx.d - 1) * (r.log() - rho.log()) + (rho * rho - r * r) / 2
        return grad * log_ratio.exp(), None, None


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class TruncatedGaussian(Perturbation):
    """Gaussian noise ``N(0, sigma^2 I)`` conditioned on ``||x' - x||_p <= eps``, for p in {2, inf}."""

    sigma: float = param(check=POSITIVE)
    eps: float = param(check=POSITIVE)
    p: float = param(math.inf, Options(2.0, math.inf))
    name = "truncated-gaussian"
    example = "truncated-gaussian:sigma=0.1,eps=0.2,clip=0:1"

    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        a = self.eps / self.sigma
        if self.p == math.inf:
            tail = special.ndtr(-a)
            t = -torch.sign(z) * torch.special.ndtri(tail + torch.special.ndtr(-z.abs()) * (1 - 2 * tail))
            return self.sigma * t.clamp(-a, a)
        flat = z.flatten(1)
        r = flat.norm(dim=1, keepdim=True)
        rho = _TruncatedChiRadius.apply(r, flat.shape[1], a)
        return (self.sigma * rho * flat / r).reshape(-1, *x_shape)
