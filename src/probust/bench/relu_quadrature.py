"""Failure probability of a small ReLU network by nested adaptive quadrature with exact line integrals.

For an input x in d = 2 or 3 dimensions and noise delta with density rho, write delta = (u, t) with u the
first d - 1 coordinates and t the last. Then

    p = P[score(x + delta) > 0] = integral over u of rho_u(u) * M(u) du,
    M(u) = integral of rho_t(t | u) 1{score(x + (u, t)) > 0} dt,

and M(u) is computed *exactly* from the failure intervals of the line (:func:`line_failure_intervals`):
their length (uniform laws; for the L2 ball the line is cut to ``|t| <= sqrt(eps^2 - |u|^2)``) or their
Gaussian mass ``Phi(b / sigma) - Phi(a / sigma)`` (tails evaluated without cancellation). The outer
integrals over u are globally adaptive 7-point Gauss / 15-point Kronrod quadrature (QUADPACK's QK15 rule,
Piessens et al. 1983), vectorised so that all nodes of all active sub-intervals are one batch of lines, with
the error estimate |K15 - G7| per sub-interval (conservative for smooth integrands, whose K15 error is far
smaller than the G7 one). M(u) is continuous and piecewise smooth (kinks where the line crosses a vertex
of the arrangement of linear regions), which bisection localises. In 3 dimensions the error of the inner
integrals is integrated by the outer rule and added to the outer estimate.

A zero integrand at all first nodes would return 0 for a small failure region, so each
outer integral first scans a uniform grid and integrates only over the runs where the integrand is
positive, widened by one grid step (a failure component narrower than a grid step in u could be missed:
the independent checks in ``tests/bench`` guard against that). Gaussian outer coordinates are truncated at
``|u_i| <= 10 sigma``, which drops at most ``(d - 1) * 2 * Phi_bar(10) < 3.1e-23`` of probability.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from .._scipy import special
from .relu_net import ReluNet, line_failure_intervals

#: Gaussian outer coordinates are integrated over [-K sigma, K sigma] (the line itself over +-40 sigma).
GAUSS_OUTER_K = 10.0
GAUSS_LINE_K = 40.0
FAMILIES = ("gaussian", "uniform-linf", "uniform-l2")

# QUADPACK dqk15: Kronrod nodes (positive half, decreasing; 0 last), Kronrod weights, and the 7-point
# Gauss weights of the nodes xgk[1], xgk[3], xgk[5], xgk[7].
_XGK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                 0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                 0.207784955007898467600689403773245, 0.0])
_WGK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                 0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                 0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                 0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_WG = np.array([0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                0.381830050505118944950369775488975, 0.417959183673469387755102040816327])
NODES = np.concatenate([-_XGK[:-1], _XGK[::-1]])  # 15 nodes on [-1, 1], increasing
K_WEIGHTS = np.concatenate([_WGK[:-1], _WGK[::-1]])
G_WEIGHTS = np.zeros(15)
G_WEIGHTS[[1, 3, 5, 7, 9, 11, 13]] = np.concatenate([_WG[:-1], _WG[::-1]])


@dataclasses.dataclass(frozen=True)
class QuadratureValue:
    """A failure probability with its error estimate (quadrature plus the Gaussian truncation bound)."""

    value: float
    abs_error: float
    n_lines: int


def gaussian_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Phi(b) - Phi(a)`` elementwise for a <= b, from whichever tail avoids cancellation."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    right = special.ndtr(-a) - special.ndtr(-b)  # exact to relative rounding when a >= 0
    left = special.ndtr(b) - special.ndtr(a)  # ... when b <= 0
    middle = 1.0 - special.ndtr(a) - special.ndtr(-b)
    return np.where(a >= 0, right, np.where(b <= 0, left, middle))


def adaptive_gk15(
    f: Callable[[np.ndarray], np.ndarray], a: float, b: float, rtol: float, max_rounds: int = 60
) -> tuple[np.ndarray, float]:
    """Globally adaptive G7/K15 quadrature of a vectorised ``f: (n,) -> (n, m)``; column 0 drives it.

    Returns the integrals of the m columns and the error estimate of column 0 (sum of |K15 - G7| over
    the final sub-intervals). Each round bisects every sub-interval whose error exceeds its share
    ``rtol |I| / #intervals``; a sub-interval narrower than 1e-13 (b - a) is not split further.
    """
    lo, hi = np.array([a]), np.array([b])
    done_val, done_err = 0.0, 0.0
    for _ in range(max_rounds):
        half, mid = (hi - lo) / 2, (hi + lo) / 2
        vals = f((mid[:, None] + half[:, None] * NODES[None, :]).ravel()).reshape(len(lo), 15, -1)
        k = half[:, None] * np.einsum("inm,n->im", vals, K_WEIGHTS)
        g = half[:, None] * np.einsum("inm,n->im", vals, G_WEIGHTS)
        err = np.abs(k[:, 0] - g[:, 0])
        total = done_val + k.sum(axis=0)
        budget = rtol * abs(total[0])
        split = (err > budget / (len(lo) + 1)) & (hi - lo > 1e-13 * (b - a))
        if err.sum() + done_err <= budget or not split.any():
            return total, float(err.sum() + done_err)
        done_val = done_val + k[~split].sum(axis=0)
        done_err += float(err[~split].sum())
        lo, hi = np.concatenate([lo[split], mid[split]]), np.concatenate([mid[split], hi[split]])
    return total, float(err.sum() + done_err)


def _on_support(f, lo: float, hi: float, points: int, rtol: float) -> tuple[np.ndarray, float]:
    """Integrate over the runs of a uniform grid where column 0 of ``f`` is positive (widened by a step)."""
    grid = np.linspace(lo, hi, points)
    positive = f(grid)[:, 0] > 0
    if not positive.any():
        return np.zeros(f(grid[:1]).shape[1]), 0.0
    idx = np.flatnonzero(positive)
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    value, error = 0.0, 0.0
    for run in runs:
        v, e = adaptive_gk15(f, grid[max(run[0] - 1, 0)], grid[min(run[-1] + 1, points - 1)], rtol)
        value, error = value + v, error + e
    return value, error


def failure_probability(
    net: ReluNet, x: np.ndarray, family: str, scale: float, label: int | None = None,
    rtol: float = 1e-10, grid: int = 4097, inner_grid: int = 257,
) -> QuadratureValue:
    """``P[label change]`` of ``net`` at ``x`` under unclipped ``family`` noise of size ``scale``.

    Parameters
    ----------
    net, x
        The network and the clean input (d = 2 or 3).
    family
        ``"gaussian"`` (sigma = scale), ``"uniform-linf"`` or ``"uniform-l2"`` (eps = scale).
    label
        Reference class (default: the prediction at x).
    rtol
        Relative tolerance of every quadrature.
    grid, inner_grid
        Points of the support scan of the outermost integral and of the inner one (3 dimensions).
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; use one of {FAMILIES}")
    d = len(x)
    if d not in (2, 3):
        raise ValueError(f"the quadrature handles inputs of dimension 2 or 3, got {d}")
    label = net.label(x) if label is None else label
    x = np.asarray(x, dtype=np.float64)
    lines = [0]

    def radius(u_sq: np.ndarray) -> np.ndarray:
        """Half-range of the next coordinate given the squared norm of the previous ones."""
        if family == "gaussian":
            return np.full_like(u_sq, GAUSS_OUTER_K * scale)
        if family == "uniform-linf":
            return np.full_like(u_sq, scale)
        return np.sqrt(np.maximum(scale * scale - u_sq, 0.0))

    def density(v: np.ndarray) -> np.ndarray:
        if family == "gaussian":
            return np.exp(-0.5 * (v / scale) ** 2) / (scale * math.sqrt(2 * math.pi))
        return np.full_like(v, 1.0 / (2 * scale) if family == "uniform-linf" else 1.0)

    def line_mass(u: np.ndarray) -> np.ndarray:
        """M(u) for a batch ``(L, d - 1)`` of outer points."""
        lines[0] += len(u)
        half = GAUSS_LINE_K * scale if family == "gaussian" else radius((u * u).sum(axis=1))
        origins = np.tile(x, (len(u), 1))
        origins[:, : d - 1] += u
        line, starts, ends = line_failure_intervals(net, origins, d - 1, -half, half, label)
        if family == "gaussian":
            mass = gaussian_mass(starts / scale, ends / scale)
        else:
            mass = (ends - starts) / (2 * scale) if family == "uniform-linf" else ends - starts
        return np.bincount(line, weights=mass, minlength=len(u))

    def innermost(prefix: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        def f(v: np.ndarray) -> np.ndarray:
            u = np.column_stack([np.tile(prefix, (len(v), 1)), v])
            return (density(v) * line_mass(u))[:, None]
        return f

    if d == 2:
        r = float(radius(np.zeros(1))[0])
        value, err = _on_support(innermost(np.empty(0)), -r, r, grid, rtol)
        value = value[0]
    else:
        def outer(v: np.ndarray) -> np.ndarray:
            out = np.zeros((len(v), 2))
            for i, u0 in enumerate(v):
                r = float(radius(np.array([u0 * u0]))[0])
                if r > 0:
                    val, e = _on_support(innermost(np.array([u0])), -r, r, inner_grid, rtol)
                    out[i] = density(np.array([u0]))[0] * np.array([val[0], e])
            return out

        r = float(radius(np.zeros(1))[0])
        (value, inner_err), err = _on_support(outer, -r, r, inner_grid, rtol)
        err += abs(inner_err)
    if family == "uniform-l2":
        volume = math.pi ** (d / 2) * scale**d / math.gamma(d / 2 + 1)
        value, err = value / volume, err / volume
    if family == "gaussian":
        err += (d - 1) * 2 * float(special.ndtr(-GAUSS_OUTER_K))
    return QuadratureValue(float(value), float(err), lines[0])
