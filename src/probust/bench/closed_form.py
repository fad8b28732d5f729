"""Linear classifiers whose failure probability under noise is known in closed form.

The model has two logits ``(0, w . x + b)``; at the clean input ``w . x + b = -m < 0`` (class 0 wins by
margin m), so a perturbation ``delta`` causes a failure exactly when ``w . delta > m``:

* Gaussian ``delta ~ N(0, sigma^2 I)``: ``w . delta ~ N(0, sigma^2 |w|^2)``, so
  ``p = Phi_bar(m / (sigma |w|))``.
* uniform in the L2 ball of radius eps in d dimensions: the projection ``t = w . delta / (eps |w|)`` has
  density proportional to ``(1 - t^2)^((d-1)/2)`` on [-1, 1], i.e. ``(1 + t)/2 ~ Beta((d+1)/2, (d+1)/2)``,
  so ``p = P[Beta > (1 + m / (eps |w|)) / 2]``.
* uniform in the L-infinity ball with equal weights ``w = (1, ..., 1)``: ``w . delta = eps (2 S - d)`` with
  ``S`` Irwin-Hall(d) (a sum of d standard uniforms), so ``p = P[S > (d + m / eps) / 2]``.

Irwin-Hall tails are computed with the exact alternating sum in high-precision arithmetic (mpmath):
in double precision the sum cancels catastrophically for d beyond ~20.
"""

from __future__ import annotations

import dataclasses
import math

import mpmath
import numpy as np
import torch

from .._scipy import optimize, stats
from ..perturbations import Gaussian, Perturbation, UniformL2, UniformLinf


def gaussian_tail(margin: float, sigma: float, w_norm: float) -> float:
    """``P[w . delta > margin]`` for ``delta ~ N(0, sigma^2 I)``."""
    return float(stats.norm.sf(margin / (sigma * w_norm)))


def l2_ball_tail(margin: float, eps: float, w_norm: float, dim: int) -> float:
    """``P[w . delta > margin]`` for ``delta`` uniform in the d-dimensional L2 ball of radius eps."""
    a = (dim + 1) / 2
    return float(stats.beta.sf((1 + margin / (eps * w_norm)) / 2, a, a))


def irwin_hall_tail(s: float, dim: int) -> float:
    """``P[U_1 + ... + U_d > s]`` for i.i.d. standard uniforms, exactly (to double precision).

    By symmetry this is the CDF ``F(d - s) = (1/d!) sum_{k=0}^{floor(t)} (-1)^k C(d, k) (t - k)^d`` at
    ``t = d - s``. The working precision is chosen from the size of the largest term, so the alternating
    sum keeps at least 30 significant digits after cancellation.
    """
    t = mpmath.mpf(dim) - mpmath.mpf(s)
    if t <= 0:
        return 0.0
    if t >= dim:
        return 1.0
    kmax = int(mpmath.floor(t))
    log10_max = max(
        float(mpmath.log10(mpmath.binomial(dim, k)) + dim * mpmath.log10(t - k) - mpmath.log10(mpmath.factorial(dim)))
        for k in range(0, kmax + 1, max(1, kmax // 50))
    )
    with mpmath.workdps(int(max(0.0, log10_max)) + 60 + int(math.log10(dim + 1) * 2)):
        t = mpmath.mpf(dim) - mpmath.mpf(s)
        total = mpmath.fsum((-1) ** k * mpmath.binomial(dim, k) * (t - k) ** dim for k in range(kmax + 1))
        return float(total / mpmath.factorial(dim))


def linear_classifier(w: torch.Tensor, b: float) -> torch.nn.Module:
    """``x -> (0, w . x + b)`` as an ``nn.Linear`` (float64), for inputs of ``w``'s shape."""
    layer = torch.nn.Linear(w.numel(), 2, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[1] = w.flatten().double()
        layer.bias.copy_(torch.tensor([0.0, b], dtype=torch.float64))
    return torch.nn.Sequential(torch.nn.Flatten(), layer).eval()


@dataclasses.dataclass(frozen=True)
class LinearCase:
    """A gold case: model, clean input, perturbation and the exact failure probability."""

    family: str
    dim: int
    model: torch.nn.Module
    x: torch.Tensor
    perturbation: Perturbation
    failure_probability: float


def _solve_margin(tail, target: float, hi: float) -> float:
    """Margin m with ``tail(m) = target`` (tails are decreasing); bisection in log space."""
    def excess(m: float) -> float:
        return math.log(max(tail(m), 1e-300)) - math.log(target)

    return optimize.brentq(excess, 0.0, hi, xtol=1e-14, rtol=1e-13)


#: Above this dimension the Irwin-Hall margin is aimed with the CLT (the gold value stays exact).
_EXACT_SOLVE_MAX_DIM = 200


def linear_case(family: str, dim: int, failure_probability: float, seed: int = 0, scale: float = 0.1) -> LinearCase:
    """A linear gold case with the requested exact failure probability.

    ``family`` is ``"gaussian"`` (sigma = scale), ``"uniform-l2"`` (eps = scale) or ``"uniform-linf"``
    (eps = scale, equal weights). The weight direction (Gaussian, L2) and clean input are random with
    ``seed``; the bias is solved so that the closed form equals ``failure_probability`` (for the L-infinity
    family in more than 200 dimensions it is aimed with the CLT; ``LinearCase.failure_probability`` is
    always the exact value at the chosen bias).
    """
    w, _ = _weights_and_input(family, dim, seed)
    w_norm = float(w.norm())
    if family == "uniform-linf":
        if dim <= _EXACT_SOLVE_MAX_DIM:
            tail = lambda m: irwin_hall_tail((dim + m / scale) / 2, dim)  # noqa: E731
            margin = _solve_margin(tail, failure_probability, dim * scale)
        else:  # exact tails cost seconds here: aim with the CLT (sum of d uniforms on [-1, 1] has variance d/3)
            margin = scale * math.sqrt(dim / 3) * float(stats.norm.isf(failure_probability))
    elif family == "gaussian":
        margin = float(stats.norm.isf(failure_probability)) * scale * w_norm
    elif family == "uniform-l2":
        a = (dim + 1) / 2
        margin = (2 * float(stats.beta.isf(failure_probability, a, a)) - 1) * scale * w_norm
    else:
        raise ValueError(f"unknown family {family!r}; use gaussian, uniform-l2 or uniform-linf")
    case = linear_case_at_margin(family, dim, margin, seed, scale)
    return dataclasses.replace(case, failure_probability=linear_tail(family, dim, margin, scale, w_norm))


def _weights_and_input(family: str, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight vector and clean input of a linear case (random with ``seed``; equal weights for L-inf)."""
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.uniform(0.25, 0.75, dim))
    if family == "uniform-linf":
        return torch.ones(dim, dtype=torch.float64), x
    return torch.tensor(rng.standard_normal(dim)), x


def linear_tail(family: str, dim: int, margin: float, scale: float, w_norm: float) -> float:
    """The exact failure probability of a linear case with clean margin ``margin`` (closed forms above)."""
    if family == "gaussian":
        return gaussian_tail(margin, scale, w_norm)
    if family == "uniform-l2":
        return l2_ball_tail(margin, scale, w_norm, dim)
    if family == "uniform-linf":
        return irwin_hall_tail((dim + margin / scale) / 2, dim)
    raise ValueError(f"unknown family {family!r}; use gaussian, uniform-l2 or uniform-linf")


_PERTURBATIONS = {"gaussian": lambda s: Gaussian(sigma=s), "uniform-l2": lambda s: UniformL2(eps=s),
                  "uniform-linf": lambda s: UniformLinf(eps=s)}


def linear_case_at_margin(
    family: str, dim: int, margin: float, seed: int = 0, scale: float = 0.1, failure_probability: float = math.nan
) -> LinearCase:
    """The linear case of :func:`linear_case` with a given clean margin, built without computing any tail."""
    w, x = _weights_and_input(family, dim, seed)
    return linear_case_with_bias(family, dim, -float(w @ x) - margin, seed, scale, failure_probability)


def linear_case_with_bias(
    family: str, dim: int, bias: float, seed: int = 0, scale: float = 0.1, failure_probability: float = math.nan
) -> LinearCase:
    """The linear case with weights and input from ``seed`` and the given bias, built without any tail.

    PR-Bench stores the bias (so the model is the same float64 function on every machine, whatever the
    rounding of ``w . x``) and the gold value computed from the exact margin ``-(w . x + b)`` of those
    float64 numbers; ``failure_probability`` is only passed through.
    """
    if family not in _PERTURBATIONS:
        raise ValueError(f"unknown family {family!r}; use gaussian, uniform-l2 or uniform-linf")
    w, x = _weights_and_input(family, dim, seed)
    return LinearCase(family, dim, linear_classifier(w, bias), x, _PERTURBATIONS[family](scale), failure_probability)
