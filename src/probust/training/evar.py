"""Entropic value-at-risk of the loss over the perturbation law (Ahmadi-Javid 2012; the PRASS line of
risk-averse PR training).

``EVaR_alpha(l) = inf_{theta > 0} (log E[exp(theta l)] - log alpha) / theta``, the expectation over M draws
per input. The infimum is taken per input over a fixed log-spaced grid of theta (detached choice; the value at
the chosen theta is an upper bound on the empirical EVaR and differentiable in the loss). No public code exists
for EVaR training; one copy reduces to a log-mean-exp over 10 noise samples, i.e. one fixed theta.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ..components import param, register
from ._base import DRAWS, LEVEL, Method, Step, noise_losses

_THETAS = torch.logspace(-1, 1.5, 11)  # 0.1 .. 31.6: from near the mean to near the max of the M losses


@register
@dataclasses.dataclass(frozen=True)
class EVaR(Method):
    """``mean_i min_theta (logmeanexp_m(theta l_im) - log alpha) / theta`` over M = ``samples`` draws."""

    alpha: float = param(0.5, LEVEL)
    samples: int = param(10, DRAWS)
    name = "evar"
    tags = frozenset({"noise"})

    @property
    def cost(self) -> float:  # type: ignore[override]
        return float(self.samples)

    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: Step) -> torch.Tensor:
        m = self.samples
        losses = noise_losses(model, x, y, m, step)
        theta = _THETAS.to(losses.dtype)[:, None]  # (T, 1)
        values = (torch.logsumexp(theta[:, None] * losses, 1) - math.log(m) - math.log(self.alpha)) / theta
        best = values.detach().argmin(0)  # (B,)
        return values.gather(0, best[None])[0].mean()
