"""Empirical risk minimisation: cross-entropy on the clean batch (the baseline every method is compared to)."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..components import register
from ._base import Method, Step


@register
@dataclasses.dataclass(frozen=True)
class ERM(Method):
    """``loss = CE(f(x), y)``."""

    name = "erm"
    cost = 1.0

    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: Step) -> torch.Tensor:
        return F.cross_entropy(model(x), y)
