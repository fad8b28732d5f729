"""Several perturbations applied in turn, each with its own independent latent.

``compose(rotation:deg=15;brightness:delta=0.2,clip=0:1)`` rotates, then shifts the brightness, then
clips (each part's ``clip`` applies after that part). The latent is the concatenation of the parts'
latents, flattened. When the parts' base laws differ, the composed latent is normal and each uniform
part reads its slice through the normal CDF (``latent_from_normal``), so the law of x' is the product
law either way and every estimator drives a composition unchanged. Parts may be semantic families or
additive noise (``compose(rotation:deg=10;gaussian:sigma=0.05)``: TSS's rotation plus pixel noise);
a ``box`` does not move with x and cannot be a part.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ..components import register, registry
from ..errors import ConfigurationError
from ._base import LatentLaw, Perturbation
from ._semantic import Semantic
from .box import Box


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class Compose(Perturbation):
    """Perturbations applied in order, with independent latents (the latent is their concatenation).

    Examples
    --------
    >>> from probust.perturbations import Brightness, Rotation
    >>> Compose(parts=(Rotation(deg=15), Brightness(delta=0.2))).to_spec()
    'compose(rotation:deg=15;brightness:delta=0.2)'
    """

    parts: tuple[Perturbation, ...]
    name = "compose"
    example = "compose(rotation:deg=15;brightness:delta=0.2,clip=0:1)"

    @classmethod
    def from_spec(cls, body: str, spec: str = "") -> Compose:
        """``(SPEC;SPEC;...)``: the parts, each a perturbation spec (no nesting)."""
        if not (body.startswith("(") and body.endswith(")")) or "(" in body[1:-1]:
            raise ConfigurationError(f"bad compose spec {spec!r}; expected {cls.example} (no nesting)")
        return cls(parts=tuple(registry("perturbation").get(part) for part in body[1:-1].split(";")))

    def validate(self) -> None:
        if self.clip is not None:
            raise ConfigurationError("compose takes no clip of its own: give clip= to its last part")
        flat: list[Perturbation] = []
        for part in self.parts:
            if not isinstance(part, Perturbation) or isinstance(part, Box):
                raise ConfigurationError(f"compose parts must be perturbations that move with x, got {part!r}")
            flat.extend(part.parts if isinstance(part, Compose) else (part,))  # compose(a;compose(b;c)) = a;b;c
        if not flat:
            raise ConfigurationError("compose needs parts, e.g. compose(rotation:deg=15;brightness:delta=0.2)")
        object.__setattr__(self, "parts", tuple(flat))

    @property  # type: ignore[override]
    def latent_law(self) -> LatentLaw:
        return "uniform" if all(p.latent_law == "uniform" for p in self.parts) else "normal"

    def _sizes(self, x_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        return [tuple(p.latent_shape(x_shape)) for p in self.parts]

    def latent_shape(self, x_shape: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
        return (sum(math.prod(s) for s in self._sizes(tuple(x_shape))),)

    def check_input(self, x: torch.Tensor) -> None:
        for part in self.parts:
            part.check_input(x)

    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        raise TypeError("compose is not additive: use apply(x, z) or shift(x, z), not displacement(z)")

    def shift(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x_shape = tuple(x.shape)
        images = x.unsqueeze(0).expand(len(z), *x_shape)
        start = 0
        for part, shape in zip(self.parts, self._sizes(x_shape), strict=True):
            zp = z[:, start:start + math.prod(shape)].reshape(len(z), *shape)
            start += math.prod(shape)
            if part.latent_law == "uniform" and self.latent_law == "normal":
                zp = part.latent_from_normal(zp)
            images = part.push(images, zp) if isinstance(part, Semantic) else images + part.displacement(zp, x_shape)
            if part.clip is not None:
                images = images.clamp(*part.clip)
        return images

    def to_spec(self) -> str:
        return f"compose({';'.join(p.to_spec() for p in self.parts)})"
