"""Linear relaxations of the nonlinear layers: lines below and above y = f(z) for z in [l, u], per neuron.

ReLU (CROWN, Zhang et al. NeurIPS 2018): for l < 0 < u, ``alpha z <= relu(z) <= u (z - l) / (u - l)``; the lower
line is below the ReLU for every alpha in [0, 1], CROWN takes alpha = 1 iff u > -l (``crown_slopes``).

S-shaped functions, sigmoid and tanh (CROWN's Section 3.3 and Table 1; the same lines as auto_LiRPA's
BoundSigmoid / BoundTanh): f is increasing, convex on z <= 0 and concave on z >= 0. With the secant slope
k = (f(u) - f(l)) / (u - l):

    u <= 0 (convex)   upper: the secant;                     lower: the tangent at m = (l + u) / 2
    l >= 0 (concave)  upper: the tangent at m;               lower: the secant
    l < 0 < u         upper: the secant if f'(u) >= k, else the tangent at the d in [0, u] whose tangent passes
                      through (l, f(l));  lower: the secant if f'(l) >= k, else the tangent at the d in [l, 0]
                      whose tangent passes through (u, f(u))

Why the mixed case is sound: a tangent at d >= 0 lies above f on [0, inf) (concavity); if it also passes on or
above (l, f(l)) it is above f on [l, 0] too, because f is convex there and so below its chord from (l, f(l)) to
(0, f(0)), and the tangent is above both ends of that chord. g(d) = f(d) + f'(d) (l - d) - f(l) increases on
d > 0 (g' = f''(d) (l - d) > 0), g(0) <= 0, so the touching point d* is unique and every d >= d* keeps the line
above (l, f(l)): the bisection keeps the end of its bracket where g >= 0, so rounding never makes it unsound.
If f'(u) >= k then d* >= u and the secant itself is above f (f - secant is concave on [0, u], zero at u with a
non-negative slope there, and convex on [l, 0] with both ends <= 0). The lower line is the mirror image.
A degenerate interval (u - l below ``FLAT``) gets the constant lines f(l) <= y <= f(u), exact when l = u.

Max-pooling (DeepPoly, Singh et al. POPL'19, and CROWN's rule, with a tighter upper line): for a window with
input bounds [l_j, u_j], L = max_j l_j attained at j*, only the candidates C = {j : u_j > L} can hold the
maximum (every other x_j <= u_j <= L <= x_j*). Lower line: y >= x_j* (y is above each input). Upper line,
the smaller one at the window's centre of

    y <= max_j u_j                                           (constant)
    y <= x_j* + sum_{j in C, j != j*} (u_j - L) / (u_j - l_j) (x_j - l_j)

The second holds because max_{j in C} x_j <= L + sum_{j in C} relu(x_j - L), relu(x_j* - L) = x_j* - L and
relu(x_j - L) lies below its chord on [l_j, u_j] (l_j <= L < u_j). With one candidate both lines are y = x_j*:
exact. Average pooling is linear (the adjoint of unfolding the windows).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional

#: Intervals narrower than this get constant lines (a secant would divide by ~0).
FLAT = 1e-9
#: Bisection steps for the tangent points: 2^-80 of the bracket, below float64 resolution.
BISECTIONS = 80

MAXPOOL = (nn.MaxPool1d, nn.MaxPool2d)
AVGPOOL = (nn.AvgPool1d, nn.AvgPool2d)


def crown_slopes(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """CROWN's adaptive lower-line slope: 1 where ``u > -l`` (the line nearer the ReLU in area), else 0."""
    return (hi > -lo).to(lo.dtype)


def relu_lines(lo: torch.Tensor, hi: torch.Tensor) -> dict[str, torch.Tensor]:
    """The ReLU's chord (``slope_up``, ``icpt_up``), the slopes of stable neurons (``active``) and which neurons are
    ``unstable`` (their lower slope is CROWN's or alpha-CROWN's, chosen at the backward pass)."""
    unstable = (lo < 0) & (hi > 0)
    active = (lo >= 0).to(lo.dtype)
    slope_up = torch.where(unstable, hi / (hi - lo).clamp_min(1e-30), active)
    icpt_up = torch.where(unstable, -slope_up * lo, torch.zeros_like(lo))
    return {
        "unstable": unstable,
        "active": active,
        "slope_up": slope_up,
        "icpt_up": icpt_up,
        "slope_low": torch.where(unstable, crown_slopes(lo, hi), active),
    }


def _sigmoid_derivative(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1 - s)


def _tanh_derivative(z: torch.Tensor) -> torch.Tensor:
    return 1 - torch.tanh(z) ** 2


#: f and f' of each S-shaped layer.
S_SHAPED: dict[type, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]] = {
    nn.Sigmoid: (torch.sigmoid, _sigmoid_derivative),
    nn.Tanh: (torch.tanh, _tanh_derivative),
}


def _touching_point(f, df, anchor: torch.Tensor, end: torch.Tensor, upper: bool) -> torch.Tensor:
    """Per neuron, a tangent point d between 0 and ``end`` whose tangent passes on the sound side of
    (anchor, f(anchor)): g(d) = f(d) + f'(d) (anchor - d) - f(anchor) >= 0 for the upper line (anchor = l,
    end = u), <= 0 for the lower line (anchor = u, end = l). The bracket [0, end] keeps its sound end at
    ``end`` (where the point is used, the module docstring shows g(end) is on the sound side), so the returned
    end is sound whatever the rounding of the steps."""
    f_anchor = f(anchor)
    unsound, sound = torch.zeros_like(end), end.clone()
    for _ in range(BISECTIONS):
        mid = (unsound + sound) / 2
        g = f(mid) + df(mid) * (anchor - mid) - f_anchor
        ok = g >= 0 if upper else g <= 0
        unsound, sound = torch.where(ok, unsound, mid), torch.where(ok, mid, sound)
    return sound


def s_shaped_lines(layer: nn.Module, lo: torch.Tensor, hi: torch.Tensor) -> dict[str, torch.Tensor]:
    """Lower and upper lines ``slope_low z + icpt_low <= f(z) <= slope_up z + icpt_up`` on [lo, hi] (module
    docstring) for a sigmoid or tanh layer, elementwise."""
    f, df = S_SHAPED[type(layer)]
    flat = (hi - lo) < FLAT
    width = torch.where(flat, 1.0, hi - lo)
    f_lo, f_hi = f(lo), f(hi)
    secant = (f_hi - f_lo) / width
    mid = (lo + hi) / 2
    # tangent points: midpoint where the interval is on one side of 0, touching points in the mixed case
    up_point = torch.where(lo >= 0, mid, _touching_point(f, df, lo, hi.clamp_min(0), upper=True))
    low_point = torch.where(hi <= 0, mid, _touching_point(f, df, hi, lo.clamp_max(0), upper=False))
    secant_up = (hi <= 0) | ((lo < 0) & (df(hi) >= secant))
    secant_low = (lo >= 0) | ((hi > 0) & (df(lo) >= secant))
    slope_up = torch.where(secant_up, secant, df(up_point))
    icpt_up = torch.where(secant_up, f_lo - secant * lo, f(up_point) - slope_up * up_point)
    slope_low = torch.where(secant_low, secant, df(low_point))
    icpt_low = torch.where(secant_low, f_lo - secant * lo, f(low_point) - slope_low * low_point)
    return {
        "slope_up": torch.where(flat, 0.0, slope_up),
        "icpt_up": torch.where(flat, f_hi, icpt_up),
        "slope_low": torch.where(flat, 0.0, slope_low),
        "icpt_low": torch.where(flat, f_lo, icpt_low),
    }


def pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)  # type: ignore[return-value]


def pool_refusal(layer: nn.Module) -> str:
    """Why a pooling layer is outside the supported subset ('' if it is inside)."""
    if layer.ceil_mode:
        return "ceil_mode=True is not supported; use ceil_mode=False"
    if getattr(layer, "return_indices", False):
        return "return_indices=True is not supported"
    if isinstance(layer, AVGPOOL):
        if getattr(layer, "divisor_override", None) is not None:
            return "divisor_override is not supported"
        if not layer.count_include_pad and any(pair(layer.padding)):
            return "count_include_pad=False with padding is not supported"
    return ""


def pool_geometry(layer: nn.Module, in_shape: tuple[int, ...]):
    """A pooling layer as 2-D windows: input view (C, H, W), kernel, stride, padding, dilation (1-D: H = 1)."""
    one_d = isinstance(layer, (nn.MaxPool1d, nn.AvgPool1d))
    if one_d:
        view = (1, 1, *in_shape) if len(in_shape) == 1 else (in_shape[0], 1, in_shape[1])

        def as2(v):
            return (1, v[0] if isinstance(v, (tuple, list)) else v)

        kernel, stride = as2(layer.kernel_size), as2(layer.stride or layer.kernel_size)
        padding, dilation = as2(layer.padding), as2(getattr(layer, "dilation", 1))
        return view, kernel, stride, (0, padding[1]), dilation
    view = (1, *in_shape) if len(in_shape) == 2 else tuple(in_shape)
    return (
        view,
        pair(layer.kernel_size),
        pair(layer.stride or layer.kernel_size),
        pair(layer.padding),
        pair(getattr(layer, "dilation", 1)),
    )


def windows(t: torch.Tensor, geometry, batched: bool = False) -> torch.Tensor:
    """The pooling windows of one input ``t`` (in_shape), padded with -inf: (C, K, n_windows); ``batched``: of
    each input of a batch (B, *in_shape), (B, C, K, n_windows)."""
    view, kernel, stride, padding, dilation = geometry
    padded = functional.pad(t.reshape(-1, *view), (padding[1], padding[1], padding[0], padding[0]), value=-torch.inf)
    cols = functional.unfold(padded, kernel, dilation=dilation, stride=stride)
    out = cols.reshape(len(cols), view[0], kernel[0] * kernel[1], -1)
    return out if batched else out[0]


def fold_windows(coef: torch.Tensor, geometry) -> torch.Tensor:
    """Adjoint of ``windows``: window coefficients (m, C, K, n_windows) summed back onto the input (m, C, H, W)."""
    view, kernel, stride, padding, dilation = geometry
    m = coef.shape[0]
    return functional.fold(
        coef.reshape(m, view[0] * kernel[0] * kernel[1], -1),
        view[1:],
        kernel,
        dilation=dilation,
        padding=padding,
        stride=stride,
    )


def maxpool_lines(lo: torch.Tensor, hi: torch.Tensor, geometry, batched: bool = False):
    """Per window (module docstring): lower coefficients (C, K, n), upper coefficients and upper offsets (C, n);
    ``batched``: per input of a batch, with a leading batch dimension."""
    low, up = windows(lo, geometry, batched), windows(hi, geometry, batched)
    best = low.argmax(-2, keepdim=True)
    top = low.gather(-2, best)  # L = max_j l_j
    lower = torch.zeros_like(low).scatter_(-2, best, 1.0)
    others = (up > top) & (lower == 0)
    slope = torch.where(others, (up - top) / torch.where(others, up - low, 1.0), 0.0)
    offset = -torch.where(others, slope * low, 0.0).sum(-2)
    centre = (top + up.gather(-2, best)).squeeze(-2) / 2 + torch.where(others, (up - top) / 2, 0.0).sum(-2)
    constant = up.amax(-2)
    use_line = centre <= constant
    upper = torch.where(use_line.unsqueeze(-2), lower + slope, 0.0)
    return lower, upper, torch.where(use_line, offset, constant)
