"""Probabilistically robust learning (Robey et al., ICML 2022): minimise CVaR_beta of the loss over the
perturbation law.

``CVaR_beta(l) = min_t t + E[(l(x') - t)_+] / beta`` (Rockafellar-Uryasev), the expectation over
``x' ~ Pr(.|x)`` estimated with M draws per input. advbench's CVaR_SGD approximates the inner min with 5
gradient steps on one threshold per input, but divides the step by the batch size, so t barely moves and the
loss is not a beta-tail (training-anchors.md). Here t is the exact minimiser, the empirical (1 - beta)-quantile
of each input's M losses (detached: the envelope theorem makes d CVaR / d theta = E[dl/dtheta | l >= t] / beta
at the optimum), which is what those steps aim at.
"""

from __future__ import annotations

import dataclasses

import torch

from ..components import param, register
from ._base import DRAWS, LEVEL, Method, Step, noise_losses


@register
@dataclasses.dataclass(frozen=True)
class PRLCVaR(Method):
    """``mean_i [t_i + mean_m (l_im - t_i)_+ / beta]`` over M = ``samples`` draws, t_i the per-input quantile."""

    beta: float = param(0.5, LEVEL)
    samples: int = param(10, DRAWS)
    name = "prl-cvar"
    tags = frozenset({"noise"})

    @property
    def cost(self) -> float:  # type: ignore[override]
        return float(self.samples)

    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: Step) -> torch.Tensor:
        losses = noise_losses(model, x, y, self.samples, step)
        t = torch.quantile(losses.detach(), 1 - self.beta, dim=0)
        return (t + (losses - t).clamp_min(0).mean(0) / self.beta).mean()
