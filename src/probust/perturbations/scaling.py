"""Isotropic scaling about the image centre by a random factor (PRoA, CC-Cert: U[1 - f, 1 + f]).

``scaling:factor=0.3`` scales the content by s ~ U[0.7, 1.3] (s > 1 zooms in); ``law=normal`` makes
s = exp(f g), g ~ N(0, 1) (log-normal).
"""

from __future__ import annotations

import dataclasses

import torch

from ..components import param, register
from ._base import POSITIVE
from ._semantic import Warp


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class Scaling(Warp):
    """Scaling about the image centre by s ~ U[1 - factor, 1 + factor] (or exp(N(0, factor^2))).

    Examples
    --------
    >>> Scaling(factor=0.2).to_spec()
    'scaling:factor=0.2'
    """

    factor: float = param(check=POSITIVE)
    name = "scaling"
    example = "scaling:factor=0.1,clip=0:1"
    size_field = "factor"

    def validate(self) -> None:
        self.check_multiplier()

    def source_map(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.multiplier(z[:, 0])
        eye = torch.eye(2, dtype=z.dtype, device=z.device)
        return eye / s[:, None, None], torch.zeros(len(z), 2, dtype=z.dtype, device=z.device)  # out(p) = in(p / s)
