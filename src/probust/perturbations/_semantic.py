"""What the semantic families share: the parameter laws, image-shape checks, the affine warp and padding.

A semantic perturbation draws a few scalar parameters (an angle, a shift, a factor, a blur width) from a law
written as a pushforward of a standard latent, and maps the image through them. It is not additive, so it
overrides ``shift`` (the base class clamps to ``clip`` afterwards, as for every family) and refuses
``displacement``. Every family also has ``push(images, z)``, the same map on a batch of images, one latent
row per image, which is what :class:`~probust.perturbations.Compose` chains.

Parameter laws (``law=``): ``"uniform"``, a latent u ~ U(0, 1) mapped to a ~ U[-size, size], or ``"normal"``,
a latent g ~ N(0, 1) mapped to a = size g. Multiplicative parameters (scale, contrast factor) are ``1 + a``
under the uniform law and ``exp(a)`` (log-normal, always positive) under the normal law.

Geometry: pixel coordinates are measured from the image centre, x to the right (columns), y downwards
(rows); a warp is ``out(p) = in(A p + t)`` with ``A``, ``t`` in pixels, resampled by
``torch.nn.functional.affine_grid`` / ``grid_sample`` with ``align_corners=False`` (pixel centres at
half-integers of the unit grid, so a rotation of a non-square image is a true rotation in pixels). Borders
(``border=``): ``"zeros"`` (outside is 0), ``"border"`` (the nearest edge pixel) or ``"reflection"``
(mirrored about the image edge, the edge pixel repeated). Interpolation (``interpolation=``): ``"bilinear"``
(continuous and piecewise differentiable in the parameters; it reproduces affine images exactly) or
``"nearest"`` (piecewise constant: zero gradient, so gradient estimators cannot move; splitting and Monte
Carlo can).

Why torch rather than kornia: the warp is ``affine_grid`` + ``grid_sample`` and the blur a grouped
``conv2d``, both differentiable in the parameters and already installed; kornia adds a dependency for the
same two calls, and its ``rotate`` takes the angle in degrees through the same ``grid_sample``. Under the same
conventions (``align_corners=False``, centre of rotation and scaling at the image centre) kornia's ``rotate``,
``translate`` and ``scale`` agree to 1e-13 in float64, so kornia is the test oracle (a dev dependency only).
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..components import Options, param
from ..errors import ConfigurationError, InputError
from ._base import LatentLaw, Perturbation, exact_number

LAWS = ("uniform", "normal")
BORDERS = ("zeros", "border", "reflection")
INTERPOLATIONS = ("bilinear", "nearest")


def image_shape(x_shape: tuple[int, ...], family: str) -> tuple[int, int, int]:
    """``(C, H, W)`` of an image input shaped ``(C, H, W)`` or ``(H, W)``; InputError for anything else."""
    if len(x_shape) == 3:
        return x_shape[0], x_shape[1], x_shape[2]
    if len(x_shape) == 2:
        return 1, x_shape[0], x_shape[1]
    raise InputError(
        f"{family} transforms images, but the input has shape {tuple(x_shape)}; pass each input in its image "
        "shape, (C, H, W) or (H, W) (e.g. a flattened MNIST digit as (1, 28, 28)), with a model that takes that "
        "shape (put a torch.nn.Flatten first if it expects vectors)"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Semantic(Perturbation):
    """Base of the semantic families: a few scalar parameters per sample from a uniform or normal law."""

    law: str = param("uniform", Options(*LAWS))
    #: Scalar parameters per sample (the latent shape is ``(n_params,)`` whatever the input shape).
    n_params: ClassVar[int] = 1
    #: The field that sets the size of the law (a half-width, or a standard deviation under ``law="normal"``).
    size_field: ClassVar[str]
    #: Whether the family needs an image input (brightness and contrast work on any shape).
    needs_image: ClassVar[bool] = True

    @property  # type: ignore[override]
    def latent_law(self) -> LatentLaw:  # the base class's ClassVar, per instance here: the law is a parameter
        return "normal" if self.law == "normal" else "uniform"

    def latent_shape(self, x_shape: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
        return (self.n_params,)

    def amount(self, z: torch.Tensor) -> torch.Tensor:
        """The symmetric parameter a: ``size (2u - 1)`` (uniform) or ``size g`` (normal)."""
        size = getattr(self, self.size_field)
        return size * z if self.law == "normal" else size * (2 * z - 1)

    def multiplier(self, z: torch.Tensor) -> torch.Tensor:
        """A positive multiplicative parameter: ``1 + a`` (uniform) or ``exp(a)`` (normal, log-normal)."""
        a = self.amount(z)
        return a.exp() if self.law == "normal" else 1 + a

    def check_multiplier(self) -> None:
        """A uniform factor must stay positive: ``size < 1``."""
        size = getattr(self, self.size_field)
        if self.law == "uniform" and size >= 1:
            raise ConfigurationError(
                f"{self.name}: {self.size_field}={size:g} with law=uniform allows factors <= 0 "
                f"(1 - {self.size_field}); use {self.size_field} < 1, or law=normal for a log-normal factor"
            )

    def check_input(self, x: torch.Tensor) -> None:
        super().check_input(x)
        if self.needs_image:
            image_shape(tuple(x.shape), self.name)

    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        raise TypeError(f"{self.name} is not additive: use apply(x, z) or shift(x, z), not displacement(z)")

    def shift(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.push(x.unsqueeze(0).expand(len(z), *x.shape), z)

    def push(self, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The map on a batch ``(n, *x_shape)`` of images with one latent row each (no clipping)."""
        shape = images.shape
        if not self.needs_image:
            return self.transform(images, z).reshape(shape)
        c, h, w = image_shape(tuple(shape[1:]), self.name)
        return self.transform(images.reshape(len(images), c, h, w), z).reshape(shape)

    @abstractmethod
    def transform(self, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The map on ``(n, C, H, W)`` images (``(n, *x_shape)`` if not ``needs_image``), latents ``(n, k)``."""

    def to_spec(self) -> str:
        """``name:size=...`` and every parameter that differs from its default, numbers exactly, clip last."""
        parts = []
        fields = sorted(dataclasses.fields(self), key=lambda f: f.name != self.size_field)  # the size first
        for f in fields:
            value = getattr(self, f.name)
            if f.name == "clip" or (f.default is not dataclasses.MISSING and value == f.default):
                continue
            parts.append(f"{f.name}={exact_number(value) if isinstance(value, float) else value}")
        if self.clip is not None:
            parts.append(f"clip={exact_number(self.clip[0])}:{exact_number(self.clip[1])}")
        return f"{self.name}:{','.join(parts)}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Warp(Semantic):
    """A geometric family: ``out(p) = in(A p + t)`` for a per-sample 2x2 ``A`` and shift ``t`` in pixels."""

    border: str = param("zeros", Options(*BORDERS))
    interpolation: str = param("bilinear", Options(*INTERPOLATIONS))

    @abstractmethod
    def source_map(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A, t)``, shapes ``(n, 2, 2)`` and ``(n, 2)``: where each output pixel reads the input, in pixels."""

    def transform(self, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        a, t = self.source_map(z)
        h, w = images.shape[-2:]
        # pixels p = D q for the unit-grid coordinates q of align_corners=False, D = diag(W/2, H/2)
        half = torch.tensor([w / 2, h / 2], dtype=images.dtype, device=images.device)
        theta = torch.cat([a * half / half[:, None], (t / half)[:, :, None]], dim=2)  # D^-1 A D | D^-1 t
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode=self.interpolation, padding_mode=self.border, align_corners=False)


def pad(images: torch.Tensor, dim: int, r: int, border: str) -> torch.Tensor:
    """Pad ``images`` by ``r`` on both sides of ``dim`` with the same border conventions as ``grid_sample``."""
    n = images.shape[dim]
    if border == "zeros":
        widths = [0, 0] * (images.ndim - 1 - dim % images.ndim) + [r, r]
        return F.pad(images, widths)
    i = torch.arange(-r, n + r, device=images.device)
    if border == "border":
        i = i.clamp(0, n - 1)
    else:  # reflection about the edge, period 2n: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...
        i = i % (2 * n)
        i = torch.where(i < n, i, 2 * n - 1 - i)
    return images.index_select(dim, i)


def rotation_matrix(radians: torch.Tensor) -> torch.Tensor:
    """``A`` of a rotation of the content by ``radians`` counter-clockwise on screen (y downwards), ``(n, 2, 2)``.

    Forward map F = [[cos, sin], [-sin, cos]] (it takes the right-hand neighbour (1, 0) to the one above,
    (0, -1), at 90 degrees); the output reads the input at F^-1 p = [[cos, -sin], [sin, cos]] p.
    """
    c, s = radians.cos(), radians.sin()
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
