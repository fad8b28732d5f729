"""Rotation about the image centre by a random angle (PRoA: U[-30, 30] degrees; Fischer et al.: N(0, 30^2)).

``rotation:deg=30`` turns the content by theta ~ U[-30, 30] degrees, ``rotation:deg=10,law=normal`` by
theta ~ N(0, 10^2); positive angles turn it counter-clockwise on screen. Resampled by ``grid_sample``
(border and interpolation conventions in :mod:`probust.perturbations._semantic`).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ..components import param, register
from ._base import POSITIVE
from ._semantic import Warp, rotation_matrix


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class Rotation(Warp):
    """Rotation about the image centre by theta ~ U[-deg, deg] degrees (or N(0, deg^2) with law=normal).

    Examples
    --------
    >>> Rotation(deg=30).to_spec()
    'rotation:deg=30'
    >>> Rotation(deg=10, law="normal", border="reflection").to_spec()
    'rotation:deg=10,law=normal,border=reflection'
    """

    deg: float = param(check=POSITIVE)
    name = "rotation"
    example = "rotation:deg=15,clip=0:1"
    size_field = "deg"

    def source_map(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        radians = self.amount(z[:, 0]) * (math.pi / 180)
        return rotation_matrix(radians), torch.zeros(len(z), 2, dtype=z.dtype, device=z.device)
