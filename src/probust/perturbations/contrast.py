"""Contrast: the input scaled by a random factor about its own mean (CC-Cert, PRoA: U[1 - d, 1 + d]).

``contrast:factor=0.3`` maps x to m + c (x - m) with c ~ U[0.7, 1.3], where m is the mean of the image
over all its coordinates (the clean input; in a ``compose``, the previous family's output): torchvision's
``adjust_contrast`` convention for one channel, the mean grey level is kept. ``law=normal`` makes
c = exp(factor g), g ~ N(0, 1) (TSS). Any input shape.
"""

from __future__ import annotations

import dataclasses

import torch

from ..components import param, register
from ._base import POSITIVE
from ._semantic import Semantic


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class Contrast(Semantic):
    """Scales the input about its mean by c ~ U[1 - factor, 1 + factor] (or exp(N(0, factor^2))).

    Examples
    --------
    >>> Contrast(factor=0.3, clip=(0, 1)).to_spec()
    'contrast:factor=0.3,clip=0:1'
    """

    factor: float = param(check=POSITIVE)
    name = "contrast"
    example = "contrast:factor=0.3,clip=0:1"
    size_field = "factor"
    needs_image = False

    def validate(self) -> None:
        self.check_multiplier()

    def transform(self, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        c = self.multiplier(z[:, 0]).reshape(-1, *[1] * (images.ndim - 1))
        mean = images.flatten(1).mean(1).reshape(c.shape)
        return mean + c * (images - mean)
