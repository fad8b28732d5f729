"""AT-PR: adversarial training for probabilistic robustness (Zhang et al., ICCV 2025; the guide's Definition 4),
as the authors' code does it (wellzline/AT-PR, attack_algorithms.py, method ``PR``).

Reproduced, per mini-batch:

1. candidates: one L-infinity PGD example (eps, alpha, K steps, random start, cross-entropy), then
   ``candidates - 1`` more, each with one jittered setting per batch: eps' ~ U(eps - 0.02, eps),
   alpha' ~ U(alpha - 0.003, alpha + 0.003), K' ~ randint(K - 2, K + 10) (inclusive; the authors' absolute
   jitter, which they chose in CIFAR units, is kept as is: on MNIST at eps = 0.1 it is eps' in [0.08, 0.1]);
2. depth of each candidate c: walk z back from c by ``-alpha * sign(grad CE)`` until z is classified correctly;
   depth = ||c - z||_inf (0 for a candidate that is not misclassified);
3. x* = per sample the candidate of largest depth (the one deepest inside the failure region);
   ``loss = CE(f(x*), y)``: no clean term, no noise sampling, no PR weight, as in their code.

Deviation, stated: the authors' walk-back has no cap (it can hang on inputs misclassified even at x); we cap it
at ``max_walk`` = 40 steps, as PRBench's copy of the method does. Their CIFAR-10 defaults are alpha = eps / 4 and
K = 10, used here. Cost: ~136 PGD steps per batch plus the walk-back, versus 11 passes for PGD-AT.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..components import param, register
from ._attacks import ce_objective, pgd, walk_back_depth
from ._base import DRAWS, STEPS, WEIGHT, Method, Step


@register
@dataclasses.dataclass(frozen=True)
class ATPR(Method):
    """Train on the deepest of ``candidates`` jittered PGD examples (see the module docstring)."""

    candidates: int = param(10, DRAWS)
    steps: int = param(10, STEPS)
    alpha_ratio: float = param(0.25, WEIGHT)
    eps_jitter: float = param(0.02, WEIGHT)
    alpha_jitter: float = param(0.003, WEIGHT)
    steps_below: int = param(2, STEPS)
    steps_above: int = param(10, STEPS)
    max_walk: int = param(40, STEPS)
    name = "at-pr"
    tags = frozenset({"adversarial"})

    @property
    def cost(self) -> float:  # type: ignore[override]
        extra = (self.candidates - 1) * (self.steps + (self.steps_above - self.steps_below) / 2)
        return 1.0 + self.steps + extra + self.candidates * 2  # + a few walk-back steps per candidate

    def _draw(self, low: float, high: float, step: Step) -> float:
        return low + (high - low) * float(torch.rand((), generator=step.generator, dtype=torch.float64))

    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: Step) -> torch.Tensor:
        alpha = self.alpha_ratio * step.eps
        objective = ce_objective(y)
        found = [pgd(model, x, objective, step.eps, alpha, self.steps, step.clip, generator=step.generator)]
        for _ in range(self.candidates - 1):
            eps_c = self._draw(max(step.eps - self.eps_jitter, 0.0), step.eps, step)
            alpha_c = self._draw(max(alpha - self.alpha_jitter, 0.0), alpha + self.alpha_jitter, step)
            low, high = max(self.steps - self.steps_below, 1), self.steps + self.steps_above
            k = int(torch.randint(low, high + 1, (), generator=step.generator))
            found.append(pgd(model, x, objective, eps_c, alpha_c, k, step.clip, generator=step.generator))
        stacked = torch.stack(found)  # (C, B, ...)
        depth = walk_back_depth(model, stacked.flatten(0, 1), y.repeat(len(found)), alpha, self.max_walk,
                                step.clip).view(len(found), len(x))
        best = depth.argmax(0)
        x_star = stacked[best, torch.arange(len(x))]
        return F.cross_entropy(model(x_star), y)
