"""Translation by a random shift in pixels (TSS: N(0, sigma^2) per axis; PRoA: uniform, 15% of the width).

``translation:px=3`` moves the content by (dx, dy), independent and uniform on [-3, 3] pixels each
(dx to the right, dy downwards); ``law=normal`` makes them N(0, px^2). Shifts are continuous: with
``interpolation=nearest`` the image moves by whole pixels (the nearest ones), with the default bilinear
interpolation by fractions of a pixel.
"""

from __future__ import annotations

import dataclasses

import torch

from ..components import param, register
from ._base import POSITIVE
from ._semantic import Warp


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class Translation(Warp):
    """Shift of the content by (dx, dy) pixels, each ~ U[-px, px] (or N(0, px^2) with law=normal).

    Examples
    --------
    >>> Translation(px=2.5, interpolation="nearest").to_spec()
    'translation:px=2.5,interpolation=nearest'
    """

    px: float = param(check=POSITIVE)
    name = "translation"
    example = "translation:px=2,clip=0:1"
    size_field = "px"
    n_params = 2

    def source_map(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        eye = torch.eye(2, dtype=z.dtype, device=z.device).expand(len(z), 2, 2)
        return eye, -self.amount(z)  # out(p) = in(p - d)
