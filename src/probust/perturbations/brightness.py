"""Brightness: a random offset added to every coordinate (PRoA: U[-0.3, 0.3]; TSS: N(0, 0.2^2)).

``brightness:delta=0.2,clip=0:1`` adds b ~ U[-0.2, 0.2] to the whole input, then clips to [0, 1];
``law=normal`` makes b ~ N(0, delta^2). Works on inputs of any shape.
"""

from __future__ import annotations

import dataclasses

import torch

from ..components import param, register
from ._base import POSITIVE
from ._semantic import Semantic


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class Brightness(Semantic):
    """Adds b ~ U[-delta, delta] (or N(0, delta^2)) to every coordinate of the input.

    Examples
    --------
    >>> Brightness(delta=0.2, clip=(0, 1)).to_spec()
    'brightness:delta=0.2,clip=0:1'
    """

    delta: float = param(check=POSITIVE)
    name = "brightness"
    example = "brightness:delta=0.2,clip=0:1"
    size_field = "delta"
    needs_image = False

    def transform(self, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b = self.amount(z[:, 0])
        return images + b.reshape(-1, *[1] * (images.ndim - 1))
