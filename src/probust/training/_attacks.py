"""Projected gradient ascent in the L-infinity ball (Madry et al., ICLR 2018), batched.

One routine serves training (PGD-AT, TRADES' KL attack, AT-PR's candidates, our method) and evaluation
(PGD-20 and the stronger restarts/margin attack of the protocol). Written by hand because it is a dozen
lines over ``torch.autograd.grad``; the libraries that ship it (torchattacks, advertorch) would add a
dependency for no gain in correctness.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["ce_objective", "margin_objective", "kl_objective", "pgd", "walk_back_depth"]

Objective = Callable[[torch.Tensor], torch.Tensor]  # logits -> per-sample values to maximise


def ce_objective(y: torch.Tensor) -> Objective:
    return lambda logits: F.cross_entropy(logits, y, reduction="none")


def margin_objective(y: torch.Tensor) -> Objective:
    """Carlini-Wagner margin: best other logit minus the true one (> 0 <=> misclassified)."""
    def objective(logits: torch.Tensor) -> torch.Tensor:
        true = logits.gather(1, y[:, None])[:, 0]
        other = logits.scatter(1, y[:, None], -torch.inf).amax(1)
        return other - true
    return objective


def kl_objective(anchor_logits: torch.Tensor) -> Objective:
    """KL(softmax(anchor) || softmax(logits)) per sample, TRADES' inner maximisation."""
    target = F.log_softmax(anchor_logits.detach(), 1)
    return lambda logits: F.kl_div(F.log_softmax(logits, 1), target, log_target=True, reduction="none").sum(1)


def pgd(
    model: torch.nn.Module,
    x: torch.Tensor,
    objective: Objective,
    eps: float,
    alpha: float,
    steps: int,
    clip: tuple[float, float],
    start: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Maximise ``objective(model(x'))`` over ``||x' - x||_inf <= eps``, x' in ``clip``; returns x' (detached).

    The start is ``start`` if given, else a uniform draw in the ball when ``generator`` is given (random
    start), else ``x`` itself. Each step: x' <- Proj(x' + alpha * sign(grad)).
    """
    x = x.detach()
    if start is not None:
        xa = start.detach()
    elif generator is not None:
        xa = x + eps * (2 * torch.rand(x.shape, generator=generator, dtype=x.dtype) - 1)
    else:
        xa = x
    lo, hi = x - eps, x + eps
    xa = torch.clamp(torch.minimum(torch.maximum(xa, lo), hi), *clip)
    was_training = model.training
    model.eval()
    try:
        for _ in range(steps):
            xa.requires_grad_(True)
            with torch.enable_grad():
                (grad,) = torch.autograd.grad(objective(model(xa)).sum(), xa)
            xa = torch.clamp(torch.minimum(torch.maximum(xa.detach() + alpha * grad.sign(), lo), hi), *clip)
    finally:
        model.train(was_training)
    return xa.detach()


def walk_back_depth(
    model: torch.nn.Module, xa: torch.Tensor, y: torch.Tensor, alpha: float, max_steps: int, clip: tuple[float, float]
) -> torch.Tensor:
    """AT-PR's depth of ``xa`` in the failure region: ``||xa - z||_inf`` after walking z back by
    ``-alpha * sign(grad CE)`` until z is classified correctly (at most ``max_steps`` steps; a sample still
    misclassified then gets the depth reached). Correctly classified samples have depth 0. Only the samples
    still misclassified are evaluated at each step.
    """
    was_training = model.training
    model.eval()
    z = xa.detach().clone()
    try:
        with torch.no_grad():
            active = torch.nonzero(model(z).argmax(1) != y).flatten()
        for _ in range(max_steps):
            if len(active) == 0:
                break
            za = z[active].requires_grad_(True)
            with torch.enable_grad():
                (grad,) = torch.autograd.grad(F.cross_entropy(model(za), y[active], reduction="sum"), za)
            za = torch.clamp(za.detach() - alpha * grad.sign(), *clip)
            z[active] = za
            with torch.no_grad():
                still = model(za).argmax(1) != y[active]
            active = active[still]
    finally:
        model.train(was_training)
    return (xa - z).flatten(1).abs().amax(1)
