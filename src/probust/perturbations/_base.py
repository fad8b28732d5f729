"""The input model Pr(.|x) of Definition 1, as a pushforward of a standard normal latent.

Every perturbation draws a latent ``z ~ N(0, I)`` of a shape it chooses and maps it
deterministically to ``x' = clip(x + displacement(z))``. A single latent law for every family
means that Markov-chain kernels (preconditioned Crank-Nicolson, Langevin, HMC) and importance
sampling proposals written once in latent space work for every perturbation, and that
``apply`` is differentiable in ``z`` for gradient-informed estimators.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from typing import ClassVar

import torch

from ..errors import ConfigurationError, InputError

Clip = tuple[float, float] | None


def positive(name: str, value: float) -> float:
    """Check that a radius or scale is a finite positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Perturbation(ABC):
    """Base class: a latent standard normal pushed to ``x' = clip(x + displacement(z))``.

    Parameters
    ----------
    clip
        Optional valid input range ``(lo, hi)``; perturbed inputs are clamped into it. Off by default:
        clamping changes the law of ``x'`` (it puts mass on the faces of the box), so it is an explicit choice.
    """

    clip: Clip = None

    #: Name used in the CLI spec string, e.g. ``"uniform-linf"``.
    spec_name: ClassVar[str]

    def __post_init__(self) -> None:
        if self.clip is not None:
            lo, hi = (float(c) for c in self.clip)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ConfigurationError(f"clip must be (lo, hi) with finite lo < hi, got {self.clip!r}")
            object.__setattr__(self, "clip", (lo, hi))

    # -- latent law ---------------------------------------------------------------------------
    def latent_shape(self, x_shape: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one latent sample for an input of shape ``x_shape`` (default: the same shape)."""
        return tuple(x_shape)

    def sample_latent(
        self, n: int, x_shape: torch.Size | tuple[int, ...], generator: torch.Generator
    ) -> torch.Tensor:
        """Draw ``n`` latent samples ``z ~ N(0, I)`` in float32 on the generator's device.

        Latents are always float32, whatever the model's dtype, so that a seed gives the same samples for
        float32 and float64 models; ``apply`` casts them to the input's dtype.
        """
        return torch.randn((n, *self.latent_shape(x_shape)), generator=generator, dtype=torch.float32)

    @staticmethod
    def log_prob(z: torch.Tensor) -> torch.Tensor:
        """Log-density of the latent law N(0, I), one value per sample (leading dimension)."""
        flat = z.flatten(1)
        return -0.5 * (flat * flat).sum(1) - 0.5 * flat.shape[1] * math.log(2 * math.pi)

    # -- pushforward ----------------------------------------------------------------------------
    @abstractmethod
    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        """Map latent samples ``z`` (batch first) to additive perturbations of shape ``(n, *x_shape)``."""

    def apply(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Perturbed inputs ``x' = clip(x + displacement(z))``, batch first; differentiable in ``z``."""
        xp = x.unsqueeze(0) + self.displacement(z.to(x.dtype), tuple(x.shape))
        return xp if self.clip is None else xp.clamp(*self.clip)

    def check_input(self, x: torch.Tensor) -> None:
        """Reject an input outside the declared ``clip`` range (with a dtype-aware tolerance)."""
        if self.clip is None:
            return
        lo, hi = self.clip
        tol = 4 * torch.finfo(x.dtype).eps * max(1.0, abs(lo), abs(hi)) if x.is_floating_point() else 0.0
        xmin, xmax = float(x.min()), float(x.max())
        if xmin < lo - tol or xmax > hi + tol:
            raise InputError(
                f"input values span [{xmin:.4g}, {xmax:.4g}] but the perturbation clips to [{lo:g}, {hi:g}]; "
                "rescale the input into the clip range or change clip="
            )

    # -- spec strings (CLI) -------------------------------------------------------------------------
    def to_spec(self) -> str:
        """The CLI spec string, e.g. ``uniform-linf:eps=0.1,clip=0:1``; inverse of :func:`parse_perturbation`."""
        parts = [
            f"{f.name}={getattr(self, f.name):g}" for f in dataclasses.fields(self) if f.name != "clip"
        ]
        if self.clip is not None:
            parts.append(f"clip={self.clip[0]:g}:{self.clip[1]:g}")
        return f"{self.spec_name}:{','.join(parts)}"
