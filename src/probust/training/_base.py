"""The one interface every training method implements, and the pieces they share.

A method is a frozen dataclass of hyper-parameters with one job: the loss of a mini-batch. The trainer
(:mod:`probust.training.trainer`) owns everything else (data order, optimiser, epochs, records), so that
every method is trained and timed under the same budget.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ..errors import ConfigurationError
from ..perturbations import Perturbation

__all__ = ["Method", "Step", "check_level", "noise_draws", "noise_losses"]


@dataclasses.dataclass(frozen=True)
class Step:
    """What a loss may depend on besides the batch: the training law, the radius, randomness and progress.

    ``perturbation`` is the law PR is measured under (e.g. ``UniformLinf(eps, clip=(0, 1))``); ``eps`` its
    L-infinity radius, the budget of the adversarial methods; ``generator`` the trainer's seeded torch
    generator (the only source of randomness); ``progress`` the fraction of training done, in [0, 1).
    """

    perturbation: Perturbation
    eps: float
    generator: torch.Generator
    progress: float

    @property
    def clip(self) -> tuple[float, float]:
        return self.perturbation.clip or (-float("inf"), float("inf"))


class Method(ABC):
    """A training method: ``loss(model, x, y, step)`` returns the scalar to minimise for one batch.

    Subclasses are frozen dataclasses; their fields are the hyper-parameters, recorded with every run.
    ``cost`` is the number of forward-backward passes per batch relative to ERM (an a-priori figure for
    planning; the record holds the measured seconds).
    """

    name: ClassVar[str]
    cost: ClassVar[float] = 1.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not value >= 0:
                raise ConfigurationError(f"{self.name}: {field.name} must be >= 0, got {value!r}")

    @abstractmethod
    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: Step) -> torch.Tensor:
        """The training loss of the batch ``(x, y)`` (a differentiable scalar)."""

    def params(self) -> dict[str, Any]:
        """The hyper-parameters as a JSON-ready dict."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]


def noise_draws(x: torch.Tensor, m: int, step: Step) -> torch.Tensor:
    """``m`` draws per input from the training law, shape ``(m * B, C, H, W)`` (draw-major).

    The latents come from the perturbation's own base law and pushforward (``latent_shape``,
    ``displacement``, ``clip``), so training noise is exactly the law PR is measured under; they are drawn
    with the trainer's torch generator (batched over the whole mini-batch) rather than the estimators'
    per-input counter streams.
    """
    p = step.perturbation
    shape = tuple(x.shape[1:])
    n = m * len(x)
    size = (n, *p.latent_shape(shape))
    if p.latent_law == "uniform":
        z = torch.rand(size, generator=step.generator, dtype=x.dtype)
    else:
        z = torch.randn(size, generator=step.generator, dtype=x.dtype)
    xp = x.repeat(m, *([1] * (x.ndim - 1))) + p.displacement(z, shape).to(x.dtype)
    return xp if p.clip is None else xp.clamp_(*p.clip)


def noise_losses(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, m: int, step: Step) -> torch.Tensor:
    """Cross-entropy at ``m`` draws per input from the training law, shape ``(m, B)``."""
    return F.cross_entropy(model(noise_draws(x, m, step)), y.repeat(m), reduction="none").view(m, len(x))


def check_level(method: str, name: str, value: float) -> None:
    """A risk level (CVaR's beta, EVaR's alpha) must lie in (0, 1]."""
    if not 0 < value <= 1:
        raise ConfigurationError(f"{method}: {name} must be in (0, 1], got {value}")
