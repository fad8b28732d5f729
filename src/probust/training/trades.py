"""TRADES (Zhang et al., "Theoretically principled trade-off between robustness and accuracy", ICML 2019).

``loss = CE(f(x), y) + beta * KL(f(x) || f(x_adv))``, x_adv maximising the KL by PGD from
``x + 0.001 N(0, I)``, as the authors' code (yaodongyu/TRADES) does; beta = 6 is their MNIST/CIFAR default.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..components import param, register
from ._attacks import kl_objective, pgd
from ._base import STEPS, WEIGHT, Method, Step


def kl_term(model: torch.nn.Module, x: torch.Tensor, anchor: torch.Tensor, anchor_logits: torch.Tensor,
            alpha: float, steps: int, step: Step) -> torch.Tensor:
    """``KL(f(anchor) || f(x_adv))`` averaged over the batch, x_adv from KL-PGD in the eps-ball around the clean
    ``x``, started at ``anchor + 0.001 N(0, I)``.

    Shared by TRADES (anchor = the clean input) and our mix-at (anchor = a draw from the training law).
    """
    start = anchor + 0.001 * torch.randn(anchor.shape, generator=step.generator, dtype=anchor.dtype)
    xa = pgd(model, x, kl_objective(anchor_logits), step.eps, alpha, steps, step.clip, start=start)
    return F.kl_div(F.log_softmax(model(xa), 1), F.log_softmax(anchor_logits, 1), log_target=True,
                    reduction="batchmean")


@register
@dataclasses.dataclass(frozen=True)
class TRADES(Method):
    """CE on the clean batch plus ``beta`` times the KL to the worst input of the ball (``steps`` KL-PGD steps)."""

    beta: float = param(6.0, WEIGHT)
    steps: int = param(10, STEPS)
    alpha_ratio: float = param(0.25, WEIGHT)
    name = "trades"
    tags = frozenset({"adversarial"})

    @property
    def cost(self) -> float:  # type: ignore[override]
        return 2.0 + self.steps

    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: Step) -> torch.Tensor:
        logits = model(x)
        kl = kl_term(model, x, x, logits, self.alpha_ratio * step.eps, self.steps, step)
        return F.cross_entropy(logits, y) + self.beta * kl
