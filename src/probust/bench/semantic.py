"""Semantic gold cases: small images where a semantic family's failure probability is known exactly.

Bilinear resampling reproduces affine images exactly, so on the ramp image x(row, col) = 0.5 + 0.1 (col - c)
(c the centre column) a model that reads one pixel near the centre sees a closed-form function of the
family's parameters: ``0.5 + 0.1 (cos t dc)`` after a rotation by t, ``0.5 + 0.1 (dc - dx)`` after a shift
dx, ``0.5 + 0.1 dc / s`` after a scaling s, ``0.5 + 0.1 c dc`` after a contrast change c (the ramp's mean is
0.5), ``0.5 + b`` for the image mean after a brightness offset b; on the unit impulse the blurred centre is
``k0(s)^2``, k0 the centre weight of the normalised kernel. The model is a linear classifier with logits
``(read - threshold, 0)``: the failure is ``read <= threshold`` (ties fail), and the failure probability is
the law's measure of a set of parameters found by root bracketing on a fine grid and Brent's method, in the
latent coordinates (Lebesgue measure for uniform latents, the normal CDF for normal ones), or a 1-D
quadrature for a composition. The source point of every read pixel stays inside the image, so the border
never enters. tests/bench/test_semantic_gold.py re-derives each value from its own closed form and checks
it against probust's Monte Carlo through ``grid_sample``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .._scipy import integrate, optimize, special
from ..perturbations import (
    Brightness,
    Compose,
    Contrast,
    GaussianBlur,
    Perturbation,
    Rotation,
    Scaling,
    Semantic,
    Translation,
    parse_perturbation,
)

SLOPE = 0.1


#: Slope along the rows: the tilted ramp makes a rotation's two failing tails unequal (its gradient is turned
#: by atan(0.01) = 0.57 degrees), which is what splitting estimators found hard on real digits.
ROW_SLOPE = {"ramp": 0.0, "tilted-ramp": 0.001}


def image(kind: str, size: int) -> torch.Tensor:
    """``ramp``: 0.5 + 0.1 (col - centre) (+ 0.001 (row - centre) for ``tilted-ramp``); ``impulse``: 1 at the
    centre, 0 elsewhere; shape (1, size, size)."""
    c = (size - 1) // 2
    if kind in ROW_SLOPE:
        offsets = torch.arange(size, dtype=torch.float64) - c
        return (0.5 + SLOPE * offsets + ROW_SLOPE[kind] * offsets[:, None]).expand(1, size, size).clone()
    x = torch.zeros(1, size, size, dtype=torch.float64)
    x[0, c, c] = 1.0
    return x


def reader(size: int, pixel: list[int] | None, threshold: float) -> torch.nn.Module:
    """Logits ``(read - threshold, 0)``, read = one pixel (row, col), or the image mean if ``pixel`` is None."""
    layer = torch.nn.Linear(size * size, 2, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
        if pixel is None:
            layer.weight[0] = 1.0 / (size * size)
        else:
            layer.weight[0, pixel[0] * size + pixel[1]] = 1.0
        layer.bias[0] = -threshold
    return torch.nn.Sequential(torch.nn.Flatten(), layer).eval()


def _param(pert: Semantic, u: np.ndarray) -> np.ndarray:
    """The family's parameter (angle, shift, factor, width) at latent values ``u``, by the family's own law."""
    z = torch.as_tensor(u, dtype=torch.float64)
    if isinstance(pert, GaussianBlur):
        return (pert.sigma * z).numpy()
    return (pert.multiplier(z) if isinstance(pert, (Scaling, Contrast)) else pert.amount(z)).numpy()


def read_function(pert: Semantic, size: int, pixel: list[int] | None,
                  kind: str = "ramp") -> Callable[[np.ndarray], np.ndarray]:
    """The value the model reads as a function of the (first) latent coordinate of ``pert``."""
    c = (size - 1) // 2
    dc = 0 if pixel is None else pixel[1] - c
    if isinstance(pert, Rotation):  # the pixel (0, dc) reads the source (dc cos t, dc sin t)
        def rotated(u: np.ndarray) -> np.ndarray:
            t = np.radians(_param(pert, u))
            return 0.5 + dc * (SLOPE * np.cos(t) + ROW_SLOPE[kind] * np.sin(t))
        return rotated
    if kind == "tilted-ramp":
        raise TypeError("the tilted ramp is a rotation case only")
    if isinstance(pert, Translation) and pert.interpolation == "nearest":  # the nearest column, ties to even
        return lambda u: 0.5 + SLOPE * (np.round(c + dc - _param(pert, u)) - c)
    if isinstance(pert, Translation):
        return lambda u: 0.5 + SLOPE * (dc - _param(pert, u))
    if isinstance(pert, Scaling):
        return lambda u: 0.5 + SLOPE * dc / _param(pert, u)
    if isinstance(pert, Contrast):
        return lambda u: 0.5 + SLOPE * dc * _param(pert, u)
    if isinstance(pert, Brightness):
        return lambda u: 0.5 + SLOPE * dc + _param(pert, u)
    if isinstance(pert, GaussianBlur):
        j = np.arange(-pert.radius, pert.radius + 1)
        return lambda u: np.exp(-0.5 * (j / np.maximum(_param(pert, u), 1e-6)[:, None]) ** 2).sum(1) ** -2.0
    raise TypeError(f"no semantic gold construction for {pert.to_spec()}")


def _failing_intervals(h: Callable[[np.ndarray], np.ndarray], lo: float, hi: float) -> list[tuple[float, float]]:
    """Maximal intervals of [lo, hi] where h <= 0, from sign changes on a grid refined by Brent's method."""
    grid = np.linspace(lo, hi, 20_001)
    fail = h(grid) <= 0
    edges = [lo]
    for i in np.flatnonzero(fail[1:] != fail[:-1]):
        edges.append(optimize.brentq(lambda v: float(h(np.array([v]))[0]), grid[i], grid[i + 1], xtol=1e-15,
                                     rtol=1e-15))
    edges.append(hi)
    starts = fail[np.r_[0, np.flatnonzero(fail[1:] != fail[:-1]) + 1]]
    return [(a, b) for a, b, f in zip(edges[:-1], edges[1:], starts, strict=True) if f]


def _measure(intervals: list[tuple[float, float]], law: str) -> float:
    """Mass of the intervals under U(0, 1), or under N(0, 1) (each tail from the CDF of its own side)."""
    if law == "uniform":
        return float(sum(b - a for a, b in intervals))

    def mass(a: float, b: float) -> float:
        if b <= 0:
            return special.ndtr(b) - special.ndtr(a)
        if a >= 0:
            return special.ndtr(-a) - special.ndtr(-b)
        return 1.0 - special.ndtr(a) - special.ndtr(-b)

    return float(sum(mass(a, b) for a, b in intervals))


def gold(params: dict[str, Any]) -> tuple[float, float, str]:
    """``(p, abs_error, method)`` of a case's parameters (image, size, pixel, threshold, perturbation)."""
    pert = parse_perturbation(params["perturbation"])
    size, pixel, t = params["size"], params.get("pixel"), params["threshold"]
    if isinstance(pert, Compose):  # rotation, then brightness b ~ U[-delta, delta]: integrate over the angle
        rot, bright = pert.parts
        read = read_function(rot, size, pixel, params["image"])
        delta = bright.delta
        cdf = lambda u: np.clip((t - read(np.array([u]))[0] + delta) / (2 * delta), 0.0, 1.0)  # noqa: E731
        kinks = [e for a, b in _failing_intervals(lambda u: np.abs(t - read(u)) - delta, 0.0, 1.0) for e in (a, b)]
        value, err = integrate.quad(cdf, 0.0, 1.0, points=sorted(set(kinks) - {0.0, 1.0}) or None,
                                    epsabs=1e-15, epsrel=1e-13, limit=200)
        return value, max(10 * err, 1e-12 * value), "1-D adaptive quadrature over the angle (scipy quad)"
    read = read_function(pert, size, pixel, params["image"])
    lo, hi = (0.0, 1.0) if pert.latent_law == "uniform" else (-40.0, 40.0)
    value = _measure(_failing_intervals(lambda u: read(u) - t, lo, hi), pert.latent_law)
    return value, 1e-12 * value, "exact failure set in the latent (roots by Brent's method), its measure"


def build(params: dict[str, Any]) -> tuple[torch.nn.Module, torch.Tensor, Perturbation]:
    """Model, clean input and perturbation of a case."""
    return (reader(params["size"], params.get("pixel"), params["threshold"]),
            image(params["image"], params["size"]), parse_perturbation(params["perturbation"]))


def threshold_for(params: dict[str, Any], target: float) -> float:
    """The threshold whose failure probability is ``target`` (the gold is then recomputed at that threshold)."""
    def excess(log_t: float) -> float:
        return math.log(gold({**params, "threshold": math.exp(log_t)})[0] + 1e-300) - math.log(target)
    lo, hi = math.log(1e-6), math.log(2.0)
    return math.exp(optimize.brentq(excess, lo, hi, xtol=1e-14))
