"""The one interface every training method implements, and the pieces they share.

A method is a frozen dataclass of hyper-parameters with one job: the loss of a mini-batch. The trainer
(:mod:`probust.training.trainer`) owns everything else (data order, optimiser, epochs, records), so that
every method is trained and timed under the same budget.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..components import Component, Interval
from ..perturbations import Perturbation

__all__ = ["DRAWS", "LEVEL", "STEPS", "WEIGHT", "Method", "Step", "noise_draws", "noise_losses"]


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


class Method(Component, ABC):
    """A training method: ``loss(model, x, y, step)`` returns the scalar to minimise for one batch.

    Subclasses are frozen dataclasses and components (:mod:`probust.components`): their fields are the
    hyper-parameters, declared with ``param``, recorded with every run. ``cost`` is the number of
    forward-backward passes per batch relative to ERM (an a-priori figure for planning; the record holds the
    measured seconds). Tags in use: ``adversarial`` (searches the ball with gradient steps), ``noise`` (trains
    on draws from the perturbation law).
    """

    kind = "method"
    cost: ClassVar[float] = 1.0

    @abstractmethod
    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: Step) -> torch.Tensor:
        """The training loss of the batch ``(x, y)`` (a differentiable scalar)."""


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


#: Constraints the methods share: a risk level (CVaR's beta, EVaR's alpha), draws per input, gradient steps, a
#: step or weight that may be 0.
LEVEL = Interval(float, 0, 1, "right")
DRAWS = Interval(int, 1)
STEPS = Interval(int, 0)
WEIGHT = Interval(float, 0)
