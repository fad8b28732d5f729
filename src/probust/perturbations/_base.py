"""The input model Pr(.|x) of Definition 1, as a pushforward of a simple latent base law.

Every perturbation draws a latent ``z`` from a standard law -- the normal N(0, I) or the uniform
U(0, 1)^m, as it declares in ``latent_law`` -- of a shape it chooses, and maps it deterministically to
``x' = clip(x + displacement(z))``, differentiable in ``z``. Estimators that move in Gaussian coordinates
(preconditioned Crank-Nicolson, Langevin, HMC, shifted importance proposals) call
``latent_from_normal(g)``, which is the identity for normal latents and the normal CDF for uniform ones,
so one kernel written in Gaussian space serves every perturbation.

Why not a normal latent everywhere: for uniform noise the normal-CDF map costs a normal draw plus an
``erf`` per coordinate, which on a CPU is about a quarter of a small CNN's forward pass; plain Monte
Carlo, the workhorse, should pay only for the model (``benchmarks/mc_throughput.py``).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from abc import ABC, abstractmethod
from typing import ClassVar, Literal

import numpy as np
import torch

from .. import _counter_rng
from ..components import Component, Constraint, Interval, param
from ..errors import ConfigurationError, InputError

Clip = tuple[float, float] | None
LatentLaw = Literal["normal", "uniform"]


def coordinates(name: str, value: object) -> float | tuple[float, ...]:
    """A scalar or one value per input coordinate (any array-like, flattened in C order) as a float or tuple.

    A single-element array becomes a float: it is the same law.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        flat = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    flat = flat.ravel()
    if flat.size == 0:
        raise ConfigurationError(f"{name} must not be empty")
    if not np.isfinite(flat).all():
        raise ConfigurationError(f"{name} must be finite, got {value!r}")
    return float(flat[0]) if flat.size == 1 else tuple(flat.tolist())


def as_tensor(value: float | tuple[float, ...], x: torch.Tensor) -> torch.Tensor | float:
    """A scalar as is, per-coordinate values as a tensor of ``x``'s shape, dtype and device."""
    if isinstance(value, float):
        return value
    return torch.tensor(value, dtype=x.dtype, device=x.device).reshape(x.shape)


def check_coordinates(name: str, value: float | tuple[float, ...], x: torch.Tensor) -> None:
    if not isinstance(value, float) and len(value) != x.numel():
        raise InputError(
            f"{name} has {len(value)} per-coordinate values but the input has {x.numel()} coordinates "
            f"(shape {tuple(x.shape)}); give one value per coordinate, in C order, or a single number"
        )


def exact_number(value: float) -> str:
    """The shortest text that reads back as exactly ``value`` (``repr``, without a trailing ``.0``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


#: A radius, scale or size: a finite number > 0.
POSITIVE = Interval(float, 0, None, "neither")


@dataclasses.dataclass(frozen=True)
class Coordinates(Constraint):
    """A number allowed by ``each``, or one such number per input coordinate (any array-like, C order).

    In a spec, per-coordinate values are separated by colons: ``eps=0.1:0.2:0.3``.
    """

    each: Interval

    def check(self, value: object) -> float | tuple[float, ...]:
        if isinstance(value, (bool, str)):
            raise ValueError
        try:
            flat = coordinates("value", value)
        except ConfigurationError:
            raise ValueError from None
        for v in (flat,) if isinstance(flat, float) else flat:
            self.each.check(v)
        return flat

    def describe(self) -> str:
        return f"{self.each.describe()}, or one such number per input coordinate"

    def parse(self, text: str) -> float | tuple[float, ...]:
        return tuple(float(v) for v in text.split(":")) if ":" in text else float(text)

    def invalid(self) -> tuple[object, ...]:
        return self.each.invalid()


@dataclasses.dataclass(frozen=True)
class Range(Constraint):
    """A valid input range ``(lo, hi)`` with finite ``lo < hi`` (``clip=lo:hi`` in a spec)."""

    def check(self, value: object) -> tuple[float, float]:
        try:
            lo, hi = (float(c) for c in value)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError
        return lo, hi

    def describe(self) -> str:
        return "a pair (lo, hi) of finite numbers with lo < hi"

    def parse(self, text: str) -> tuple[float, ...]:
        return tuple(float(v) for v in text.split(":"))

    def invalid(self) -> tuple[object, ...]:
        return ((1.0, 0.0), (0.0,), "x")


class _DeprecatedSpecName:
    """``spec_name``, the old spelling of a perturbation's ``name``: still read, with a DeprecationWarning."""

    def __get__(self, obj: object, owner: type) -> str:
        warnings.warn("Perturbation.spec_name is deprecated; use name", DeprecationWarning, stacklevel=2)
        return owner.name  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Perturbation(Component, ABC):
    """Base class: a standard latent ``z`` pushed to ``x' = clip(x + displacement(z))``.

    Parameters
    ----------
    clip
        Optional valid input range ``(lo, hi)``; perturbed inputs are clamped into it. Off by default:
        clamping changes the law of ``x'`` (it puts mass on the faces of the box), so it is an explicit choice.
    """

    clip: Clip = param(None, Range())

    kind = "perturbation"
    spec_name = _DeprecatedSpecName()  # unannotated: not a dataclass field
    #: The latent base law: standard normal N(0, I) or standard uniform U(0, 1)^m.
    latent_law: ClassVar[LatentLaw] = "normal"

    # -- latent law ---------------------------------------------------------------------------
    def latent_shape(self, x_shape: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one latent sample for an input of shape ``x_shape`` (default: the same shape)."""
        return tuple(x_shape)

    def sample_latent(
        self,
        n: int,
        x_shape: torch.Size | tuple[int, ...],
        generator: np.random.Generator,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` latent samples from the base law as a float32 tensor (into ``out`` if given, on its device).

        One 63-bit key is drawn from ``generator``: uniforms are the counter-based uniforms 0 .. of that key
        (:mod:`probust._counter_rng`, the same numbers on every device), normals come from torch's sampler
        seeded with it, on ``out``'s device (torch's normal sampler is 2x faster than numpy's; its numbers
        depend on the device type). Latents are always float32, whatever the model's dtype, so that a seed
        gives the same samples for float32 and float64 models; ``apply`` casts them to the input's dtype.
        Random-number generation is the main cost of plain Monte Carlo besides the model itself, and ``out``
        lets a caller fill one buffer instead of concatenating blocks.
        """
        shape = (n, *self.latent_shape(x_shape))
        if out is None:
            out = torch.empty(shape, dtype=torch.float32)
        key = int(generator.integers(2**63))
        if self.latent_law == "uniform":
            _counter_rng.uniforms(key, 0, out)
        else:
            torch.randn(shape, generator=torch.Generator(out.device).manual_seed(key), out=out)
        return out

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Log-density of the latent base law, one value per sample (leading dimension)."""
        flat = z.flatten(1)
        if self.latent_law == "uniform":
            inside = ((flat >= 0) & (flat <= 1)).all(1)
            return torch.where(inside, 0.0, -torch.inf).to(flat.dtype)
        return -0.5 * (flat * flat).sum(1) - 0.5 * flat.shape[1] * math.log(2 * math.pi)

    def latent_from_normal(self, g: torch.Tensor) -> torch.Tensor:
        """Latent with the base law from standard normal coordinates ``g`` (identity, or the normal CDF)."""
        return torch.special.ndtr(g) if self.latent_law == "uniform" else g

    # -- pushforward ----------------------------------------------------------------------------
    @abstractmethod
    def displacement(self, z: torch.Tensor, x_shape: tuple[int, ...]) -> torch.Tensor:
        """Map latent samples ``z`` (batch first) to additive perturbations of shape ``(n, *x_shape)``."""

    def affine_form(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(lo, width)`` of x's shape, dtype and device when ``x' = clip(lo + width z)`` for the uniform latent.

        None (the default) for families of any other form. Those that have it get ``shift`` from it and are
        sampled by plain Monte Carlo in one fused pass (:func:`probust._counter_rng.affine_sampler`).
        """
        return None

    def shift(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``x + displacement(z)`` as a new tensor; families override it with a fused kernel where it pays."""
        form = self.affine_form(x)
        if form is not None:  # two exactly rounded operations: the numbers of the fused sampler
            lo, width = form
            return lo + z * width
        return x.unsqueeze(0) + self.displacement(z, tuple(x.shape))

    def apply(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Perturbed inputs ``x' = clip(x + displacement(z))``, batch first; differentiable in ``z``."""
        xp = self.shift(x, z.to(x.dtype))
        return xp if self.clip is None else xp.clamp_(*self.clip)  # xp is a fresh tensor: in place is safe

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
        def text(value: float | tuple[float, ...]) -> str:  # per-coordinate values: colon-separated, exact
            return ":".join(map(exact_number, value)) if isinstance(value, tuple) else f"{value:g}"

        parts = [f"{f.name}={text(getattr(self, f.name))}" for f in dataclasses.fields(self) if f.name != "clip"]
        if self.clip is not None:
            parts.append(f"clip={self.clip[0]:g}:{self.clip[1]:g}")
        return f"{self.name}:{','.join(parts)}"
