"""Gaussian blur with a random width (PRoA, CC-Cert: sigma ~ U[0, sigma_max]).

``gaussian-blur:sigma=2`` convolves the image with a normalised Gaussian kernel of standard deviation
s ~ U[0, 2] pixels, separable, truncated at radius ``ceil(3 sigma)`` (the kernel of the widest blur keeps
99.7% of its mass per axis; PRoA's fixed 11x11 kernel would saturate at large sigma and lose the gradient
in s). ``border=`` pads as in :mod:`probust.perturbations._semantic` (default ``reflection``, the usual
blur convention: zeros would darken the edges). Only the uniform law: a normal width has no bounded kernel.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from ..components import Options, param, register
from ..errors import ConfigurationError
from ._base import POSITIVE
from ._semantic import BORDERS, Semantic, pad


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class GaussianBlur(Semantic):
    """Gaussian blur of width s ~ U[0, sigma] pixels, kernel radius ceil(3 sigma).

    Examples
    --------
    >>> GaussianBlur(sigma=1.5).to_spec()
    'gaussian-blur:sigma=1.5'
    """

    sigma: float = param(check=POSITIVE)
    border: str = param("reflection", Options(*BORDERS))
    name = "gaussian-blur"
    example = "gaussian-blur:sigma=1,clip=0:1"
    size_field = "sigma"

    def validate(self) -> None:
        if self.law != "uniform":
            raise ConfigurationError("gaussian-blur takes law=uniform only (s ~ U[0, sigma]): a kernel must be bounded")

    @property
    def radius(self) -> int:
        return math.ceil(3 * self.sigma)

    def kernels(self, z: torch.Tensor) -> torch.Tensor:
        """One normalised 1-D kernel per sample, ``(n, 2r + 1)``; s = 0 is the identity (a unit impulse)."""
        s = (self.sigma * z[:, :1]).clamp_min(1e-6)  # exp(-j^2 / 2s^2) underflows to exactly 0 for j != 0
        j = torch.arange(-self.radius, self.radius + 1, dtype=z.dtype, device=z.device)
        w = torch.exp(-0.5 * (j / s) ** 2)
        return w / w.sum(1, keepdim=True)

    def transform(self, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        n, c, h, w = images.shape
        r, k = self.radius, self.kernels(z)
        weight = k.repeat_interleave(c, 0)  # (n C, K): one group per image and channel
        flat = images.reshape(1, n * c, h, w)
        rows = F.conv2d(pad(flat, 3, r, self.border), weight[:, None, None, :], groups=n * c)
        out = F.conv2d(pad(rows, 2, r, self.border), weight[:, None, :, None], groups=n * c)
        return out.reshape(n, c, h, w)
