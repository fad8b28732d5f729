"""mix-at (ours): TRADES' consistency term anchored on a draw from the law PR is measured under.

``loss = CE(f(x'), y) + beta(t) KL(f(x') || f(x_adv))`` with x' ~ Pr(.|x) (one draw per input) and x_adv
maximising that KL by ``steps`` KL-PGD steps in the eps-ball around x, started at x'. The CE on the noisy draw
pushes the typical perturbation to the right class (what PR counts); the KL makes the whole ball agree with it
(what adversarial accuracy counts); beta ramps linearly from 0 to ``kl_beta`` over the first ``warmup`` fraction
of training, so that the model first learns the task. Cost: steps + 2 passes per batch, i.e. at most PGD-AT's.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..components import Interval, param, register
from ._base import STEPS, WEIGHT, Method, Step, noise_draws
from .trades import kl_term


@register
@dataclasses.dataclass(frozen=True)
class MixAT(Method):
    """CE at a noise draw plus a warmed-up ``kl_beta`` times the KL from it to the worst input of the ball."""

    kl_beta: float = param(6.0, WEIGHT)
    steps: int = param(8, STEPS)
    alpha_ratio: float = param(0.25, WEIGHT)
    warmup: float = param(0.3, Interval(float, 0, 1))
    name = "mix-at"
    tags = frozenset({"adversarial", "noise"})

    @property
    def cost(self) -> float:  # type: ignore[override]
        return 2.0 + self.steps

    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: Step) -> torch.Tensor:
        xn = noise_draws(x, 1, step)
        logits = model(xn)
        ramp = min(1.0, step.progress / self.warmup) if self.warmup > 0 else 1.0
        kl = kl_term(model, x, xn, logits, self.alpha_ratio * step.eps, self.steps, step)
        return F.cross_entropy(logits, y) + self.kl_beta * ramp * kl
