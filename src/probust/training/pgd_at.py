"""PGD adversarial training (Madry et al., "Towards deep learning models resistant to adversarial attacks",
ICLR 2018): ``min_theta E max_{||d||_inf <= eps} CE(f(x + d), y)``, the inner max by L-infinity PGD from a
uniform random start."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..components import param, register
from ._attacks import ce_objective, pgd
from ._base import STEPS, WEIGHT, Method, Step


@register
@dataclasses.dataclass(frozen=True)
class PGDAT(Method):
    """``loss = CE(f(PGD_K(x)), y)`` with ``K = steps`` steps of size ``alpha_ratio * eps``."""

    steps: int = param(10, STEPS)
    alpha_ratio: float = param(0.25, WEIGHT)
    name = "pgd-at"
    tags = frozenset({"adversarial"})

    @property
    def cost(self) -> float:  # type: ignore[override]
        return 1.0 + self.steps

    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: Step) -> torch.Tensor:
        xa = pgd(model, x, ce_objective(y), step.eps, self.alpha_ratio * step.eps, self.steps, step.clip,
                 generator=step.generator)
        return F.cross_entropy(model(xa), y)
