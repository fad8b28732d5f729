"""Noise augmentation: train on draws from the same law PR is measured under.

Wang et al., "Statistically robust neural network classification", UAI 2021; PRBench's "ERM + DataAug",
which averages the cross-entropy over 20 uniform draws per input (advbench's ERM_DataAug adds no noise, a
bug). ``loss = mean_{m <= M} CE(f(x'_m), y)``, ``x'_m ~ Pr(.|x)``.
"""

from __future__ import annotations

import dataclasses

import torch

from ..components import param, register
from ._base import DRAWS, Method, Step, noise_losses


@register
@dataclasses.dataclass(frozen=True)
class NoiseAugmentation(Method):
    """Cross-entropy averaged over ``samples`` draws per input from the training law."""

    samples: int = param(10, DRAWS)
    name = "noise-aug"
    tags = frozenset({"noise"})

    @property
    def cost(self) -> float:  # type: ignore[override]
        return float(self.samples)

    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: Step) -> torch.Tensor:
        return noise_losses(model, x, y, self.samples, step).mean()
