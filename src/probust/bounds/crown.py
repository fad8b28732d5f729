"""CROWN and alpha-CROWN: backward linear relaxation of ReLU networks.

Zhang, Weng, Chen, Hsieh & Daniel, "Efficient neural network robustness certification with general
activation functions", NeurIPS 2018 (CROWN); Xu, Zhang, Wang, Wang, Jana, Lin & Hsieh, "Fast and complete:
enabling complete neural network verification with rapid and massively parallel incomplete verifiers",
ICLR 2021 (alpha-CROWN).

Given a network f = L_n o ... o L_1 made of Linear, Conv2d, BatchNorm (eval), Flatten / Unflatten, average
pooling, ElementwiseAffine, ReLU and max-pooling layers, an input box ``[lo, hi]`` (or an L2 ball) around
x0, and a specification matrix C, it returns
``A in R^{m x d}`` and ``c in R^m`` with

    C f(x0 + delta) >= A delta + c      for every x0 + delta in the input set            (1)

Each ReLU y = max(z, 0) with pre-activation bounds l < 0 < u is relaxed between the lines
``alpha z <= y <= u (z - l) / (u - l)``; the linear function is pulled back layer by layer through these
relaxations, choosing for each coefficient the relaxation side that keeps (1) a lower bound. The lower
line is below the ReLU for *every* alpha in [0, 1] (alpha z <= max(z, 0) for all z), so (1) holds for any
such choice: CROWN takes alpha = 1 if u > -l else 0 (the adaptive line), alpha-CROWN maximises an
objective of (A, c) over the alphas by projected gradient ascent (Adam, clamped to [0, 1]), one alpha per
specification row and unstable neuron, with the pre-activation bounds held fixed.

Max-pooling (DeepPoly, Singh et al. POPL'19, and CROWN's rule, with a tighter upper line): for a window with
input bounds [l_j, u_j], L = max_j l_j attained at j*, only the candidates C = {j : u_j > L} can hold the
maximum (every other x_j <= u_j <= L <= x_j*). Lower line: y >= x_j* (y is above each input). Upper line,
the smaller one at the window's centre of

    y <= max_j u_j                                           (constant)
    y <= x_j* + sum_{j in C, j != j*} (u_j - L) / (u_j - l_j) (x_j - l_j)

The second holds because max_{j in C} x_j <= L + sum_{j in C} relu(x_j - L), relu(x_j* - L) = x_j* - L and
relu(x_j - L) lies below its chord on [l_j, u_j] (l_j <= L < u_j). With one candidate both lines are y = x_j*:
exact. Average pooling is linear (the adjoint of unfolding the windows).

Pre-activation bounds of each ReLU and max-pool (``NetworkBounds.preactivation``, computed once per input set and
shared by every specification, so callers that need several specifications pay for them once): interval
bound propagation (IBP) first, then the CROWN backward pass from that layer, concretised over the input
set, only for the neurons IBP leaves unstable, and the intersection of both. Why this is the same
relaxation as running CROWN on every neuron, or tighter: a neuron that is stable (l >= 0 or u <= 0) is
relaxed exactly whatever its l and u, so its CROWN bounds would not change any line; intersecting two
sound intervals is sound.

Why our own code: auto_LiRPA does not install with the supported torch, and ``bound-propagation`` has
no Conv2d / Flatten / pooling support (docs/design.md).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional

from ..errors import ProbustError
from .layers import ElementwiseAffine


class UnsupportedLayerError(ProbustError, TypeError):
    """The network contains a layer the bound propagation does not handle."""


@dataclasses.dataclass(frozen=True)
class LinearBound:
    """``C f(x0 + delta) >= A delta + c`` for all delta in the input set (A: m x d, c: m)."""

    A: torch.Tensor
    c: torch.Tensor


#: objective(A, c) -> (m,) scores to maximise, row i depending on (A[i], c[i]) only; A is (m, d).
Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_MAXPOOL = (nn.MaxPool1d, nn.MaxPool2d)
_AVGPOOL = (nn.AvgPool1d, nn.AvgPool2d)
_RESHAPE = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout)  # dropout is the identity in eval mode
_SUPPORTED = (nn.Linear, nn.Conv2d, nn.ReLU, nn.BatchNorm1d, nn.BatchNorm2d, ElementwiseAffine,
              *_MAXPOOL, *_AVGPOOL, *_RESHAPE)
_MIXING = (nn.Linear, nn.Conv2d, *_AVGPOOL)  # layers whose linear part is not diagonal (up to a reshape)
_NONLINEAR = (nn.ReLU, *_MAXPOOL)  # layers relaxed from bounds on their inputs (``preactivation``)


def _layers(model: nn.Module) -> list[nn.Module]:
    """The network as a flat list of supported layers (nested Sequentials are flattened)."""
    out: list[nn.Module] = []
    for module in model.children() if isinstance(model, nn.Sequential) else [model]:
        if isinstance(module, nn.Sequential):
            out.extend(_layers(module))
        elif isinstance(module, nn.Conv2d) and (module.padding_mode != "zeros" or isinstance(module.padding, str)):
            raise UnsupportedLayerError(
                f"bound propagation supports Conv2d with numeric zero padding only, got {module}"
            )
        elif isinstance(module, (*_MAXPOOL, *_AVGPOOL)) and _pool_refusal(module):
            raise UnsupportedLayerError(f"bound propagation does not support {module}: {_pool_refusal(module)}")
        elif isinstance(module, _SUPPORTED):
            out.append(module)
        else:
            raise UnsupportedLayerError(
                f"bound propagation does not support layer {type(module).__name__} ({module}); supported: "
                + ", ".join(t.__name__ for t in _SUPPORTED)
                + ". Express the model as an nn.Sequential of those layers."
            )
    return out


def _pool_refusal(layer: nn.Module) -> str:
    """Why a pooling layer is outside the supported subset ('' if it is inside)."""
    if layer.ceil_mode:
        return "ceil_mode=True is not supported; use ceil_mode=False"
    if getattr(layer, "return_indices", False):
        return "return_indices=True is not supported"
    if isinstance(layer, _AVGPOOL):
        if getattr(layer, "divisor_override", None) is not None:
            return "divisor_override is not supported"
        if not layer.count_include_pad and any(_pair(layer.padding)):
            return "count_include_pad=False with padding is not supported"
    return ""


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)  # type: ignore[return-value]


def _pool_geometry(layer: nn.Module, in_shape: tuple[int, ...]):
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
    return (view, _pair(layer.kernel_size), _pair(layer.stride or layer.kernel_size), _pair(layer.padding),
            _pair(getattr(layer, "dilation", 1)))


def _windows(t: torch.Tensor, geometry, batched: bool = False) -> torch.Tensor:
    """The pooling windows of one input ``t`` (in_shape), padded with -inf: (C, K, n_windows); ``batched``: of
    each input of a batch (B, *in_shape), (B, C, K, n_windows)."""
    view, kernel, stride, padding, dilation = geometry
    padded = functional.pad(t.reshape(-1, *view), (padding[1], padding[1], padding[0], padding[0]),
                            value=-torch.inf)
    cols = functional.unfold(padded, kernel, dilation=dilation, stride=stride)
    windows = cols.reshape(len(cols), view[0], kernel[0] * kernel[1], -1)
    return windows if batched else windows[0]


def _fold_windows(coef: torch.Tensor, geometry) -> torch.Tensor:
    """Adjoint of ``_windows``: window coefficients (m, C, K, n_windows) summed back onto the input (m, C, H, W)."""
    view, kernel, stride, padding, dilation = geometry
    m = coef.shape[0]
    return functional.fold(coef.reshape(m, view[0] * kernel[0] * kernel[1], -1), view[1:], kernel,
                           dilation=dilation, padding=padding, stride=stride)


def _maxpool_relaxation(lo: torch.Tensor, hi: torch.Tensor, geometry, batched: bool = False):
    """Per window (module docstring): lower coefficients (C, K, n), upper coefficients and upper offsets (C, n);
    ``batched``: per input of a batch, with a leading batch dimension."""
    low, up = _windows(lo, geometry, batched), _windows(hi, geometry, batched)
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


def _maxpool_backward(
    layer: nn.Module, lam: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, in_shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pull ``lam . maxpool(h)`` back to a lower bound ``lam' . h + b`` given h in [lo, hi]."""
    geometry = _pool_geometry(layer, in_shape)
    lower, upper, offset = _maxpool_relaxation(lo, hi, geometry)
    m = lam.shape[0]
    lam = lam.reshape(m, geometry[0][0], 1, -1)
    pos, neg = lam.clamp_min(0), lam.clamp_max(0)
    back = _fold_windows(pos * lower + neg * upper, geometry)
    return back.reshape(m, *in_shape), (neg.squeeze(2) * offset).flatten(1).sum(1)


def double_layers(model: nn.Module, x0: torch.Tensor) -> tuple[list[nn.Module], list[tuple[int, ...]]]:
    """float64, eval-mode, gradient-free copies of the layers and the input shape of each (no batch dim).

    Bounds are computed in double precision: rounding must not eat the soundness margin.
    """
    layers = [copy.deepcopy(layer).double().eval().requires_grad_(False) for layer in _layers(model)]
    shapes: list[tuple[int, ...]] = []
    with torch.no_grad():
        h = x0.detach().double().cpu().unsqueeze(0)
        for layer in layers:
            shapes.append(tuple(h.shape[1:]))
            h = layer(h)
    return layers, shapes + [tuple(h.shape[1:])]


def _affine_backward(
    layer: nn.Module, lam: torch.Tensor, in_shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pull ``lam . layer(h)`` back to ``lam' . h + b`` for an affine layer; lam has shape (m, *out_shape)."""
    m = lam.shape[0]
    if isinstance(layer, nn.Linear):
        bias = lam @ layer.bias if layer.bias is not None else lam.new_zeros(m)
        return lam @ layer.weight, bias
    if isinstance(layer, nn.Conv2d):
        # the transpose of the convolution; output_padding restores rows/columns that a stride > 1 leaves
        # out of the shape formula but that do feed the convolution's last outputs
        natural = [
            (lam.shape[2 + i] - 1) * layer.stride[i] - 2 * layer.padding[i]
            + layer.dilation[i] * (layer.kernel_size[i] - 1) + 1
            for i in range(2)
        ]
        back = nn.functional.conv_transpose2d(
            lam, layer.weight, stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
            groups=layer.groups, output_padding=(in_shape[-2] - natural[0], in_shape[-1] - natural[1]),
        )
        bias = (lam.sum((2, 3)) @ layer.bias) if layer.bias is not None else lam.new_zeros(m)
        return back, bias
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        scale, shift = _batchnorm_affine(layer)
        view = (1, -1) + (1,) * (lam.ndim - 2)
        return lam * scale.view(view), (lam * shift.view(view)).flatten(1).sum(1)
    if isinstance(layer, _AVGPOOL):  # each window's mean: lam / K spread over the window
        geometry = _pool_geometry(layer, in_shape)
        size = geometry[1][0] * geometry[1][1]
        coef = (lam.reshape(m, geometry[0][0], 1, -1) / size).expand(-1, -1, size, -1)
        return _fold_windows(coef, geometry).reshape(m, *in_shape), lam.new_zeros(m)
    if isinstance(layer, ElementwiseAffine):
        scale, shift = (t.expand(in_shape) for t in (layer.scale, layer.shift))
        return lam * scale, (lam * shift).flatten(1).sum(1)
    if isinstance(layer, _RESHAPE):
        return lam.reshape(m, *in_shape), lam.new_zeros(m)
    raise UnsupportedLayerError(f"not an affine layer: {type(layer).__name__}")


def _batchnorm_affine(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``scale * h + shift`` per channel."""
    scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
    return scale, layer.bias - layer.running_mean * scale


def _interval_forward(layer: nn.Module, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IBP: a box containing ``layer([lo, hi])`` (batched), as centre ``layer(mid)`` +- ``|linear part| rad``."""
    if isinstance(layer, (nn.ReLU, *_MAXPOOL)):  # monotone
        return layer(lo), layer(hi)
    mid, rad = (hi + lo) / 2, (hi - lo) / 2
    if isinstance(layer, nn.Linear):
        rad = nn.functional.linear(rad, layer.weight.abs())
    elif isinstance(layer, nn.Conv2d):
        rad = nn.functional.conv2d(rad, layer.weight.abs(), stride=layer.stride, padding=layer.padding,
                                   dilation=layer.dilation, groups=layer.groups)
    elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        rad = rad * _batchnorm_affine(layer)[0].abs().view((1, -1) + (1,) * (rad.ndim - 2))
    elif isinstance(layer, ElementwiseAffine):
        rad = rad * layer.scale.abs()
    else:  # average pooling (non-negative weights), reshapes, Identity, Dropout (eval)
        rad = layer(rad)
    mid = layer(mid)
    return mid - rad, mid + rad


def crown_slopes(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """CROWN's adaptive lower-line slope: 1 where ``u > -l`` (the line nearer the ReLU in area), else 0."""
    return (hi > -lo).to(lo.dtype)


def _relu_backward(
    lam: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, alpha: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pull ``lam . relu(z)`` back to a *lower* bound ``lam' . z + b`` given z in [lo, hi].

    ``alpha`` (broadcastable to lam, values in [0, 1]) are the lower-line slopes of the unstable neurons;
    None takes CROWN's adaptive choice. Stable neurons are relaxed exactly whatever alpha says.
    """
    unstable = (lo < 0) & (hi > 0)
    active = (lo >= 0).to(lo.dtype)
    slope_up = torch.where(unstable, hi / (hi - lo).clamp_min(1e-30), active)
    icpt_up = torch.where(unstable, -slope_up * lo, torch.zeros_like(lo))
    slope_low = torch.where(unstable, crown_slopes(lo, hi) if alpha is None else alpha, active)
    pos, neg = lam.clamp_min(0), lam.clamp_max(0)
    new_lam = pos * slope_low + neg * slope_up
    bias = (neg * icpt_up).flatten(1).sum(1)
    return new_lam, bias


class NetworkBounds:
    """CROWN / alpha-CROWN bounds of one network over one input set around x0 (see the module docstring).

    The pre-activation bounds of every ReLU (``preactivation``) are computed on first use and kept, so
    every specification bounded through this object reuses them.

    Parameters
    ----------
    model
        ``nn.Sequential`` (possibly nested) of Linear, Conv2d, BatchNorm (eval mode), Flatten / Unflatten,
        ElementwiseAffine, ReLU, MaxPool1d / 2d and AvgPool1d / 2d.
    x0
        Centre input, without batch dimension.
    box, l2_radius
        The input set: an axis-aligned box ``(lo, hi)`` containing x0, or the L2 ball of that radius.
    """

    def __init__(
        self, model: nn.Module, x0: torch.Tensor, *, box: tuple[torch.Tensor, torch.Tensor] | None = None,
        l2_radius: float | None = None,
    ) -> None:
        if (box is None) == (l2_radius is None):
            raise ValueError("give exactly one input set: box=(lo, hi) or l2_radius=r")
        self.layers, shapes = double_layers(model, x0)
        self.shapes, self.out_shape = shapes[:-1], shapes[-1]
        self.x0 = x0.detach().double().cpu()
        self.box = None if box is None else (box[0].detach().double().cpu(), box[1].detach().double().cpu())
        self.l2_radius = l2_radius

    def lower(self, A: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """min over the input set of ``A delta + c`` (A: (m, d) or (m, *x0.shape); differentiable)."""
        flat = A.flatten(1)
        if self.l2_radius is not None:
            return c - self.l2_radius * flat.norm(dim=1)
        lo, hi = ((t - self.x0).flatten() for t in self.box)  # type: ignore[union-attr]
        return flat.clamp_min(0) @ lo + flat.clamp_max(0) @ hi + c

    def _backward(
        self, upto: int, lam: torch.Tensor, bounds: dict[int, tuple[torch.Tensor, torch.Tensor]],
        alphas: dict[int, torch.Tensor] | None = None,
    ) -> LinearBound:
        """Pull ``lam . h_upto`` (output of layer ``upto - 1``) back to the input: (A, c) in delta form,
        given the pre-activation ``bounds`` of the ReLUs below ``upto``."""
        bias = lam.new_zeros(lam.shape[0])
        for k in range(upto - 1, -1, -1):
            layer = self.layers[k]
            if isinstance(layer, nn.ReLU):
                lam, b = _relu_backward(lam, *bounds[k], None if alphas is None else alphas.get(k))
            elif isinstance(layer, _MAXPOOL):
                lam, b = _maxpool_backward(layer, lam, *bounds[k], self.shapes[k])
            else:
                lam, b = _affine_backward(layer, lam, self.shapes[k])
            bias = bias + b
        return LinearBound(lam, lam.flatten(1) @ self.x0.flatten() + bias)

    @functools.cached_property
    def preactivation(self) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """Layer index of each ReLU and max-pool -> (lower, upper) bounds of its input over the input set."""
        bounds: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        if self.box is not None:
            lo, hi = self.box
        else:  # IBP starts from the ball's bounding box; CROWN below concretises over the ball itself
            lo, hi = self.x0 - self.l2_radius, self.x0 + self.l2_radius
        lo, hi = lo.unsqueeze(0), hi.unsqueeze(0)
        with torch.no_grad():
            for k, layer in enumerate(self.layers):
                if isinstance(layer, _NONLINEAR):
                    lo, hi = lo[0], hi[0]
                    # before the first nonlinear layer, one mixing layer over a box: IBP is exact, CROWN cannot help
                    mixing = sum(isinstance(m, _MIXING) for m in self.layers[:k])
                    exact = self.box is not None and not bounds and mixing <= 1
                    # a max-pool's inputs are all worth tightening; a ReLU's only where the sign is unknown
                    loose = (lo < 0) & (hi > 0) if isinstance(layer, nn.ReLU) else torch.ones_like(lo, dtype=bool)
                    unstable = torch.nonzero(loose.flatten()).flatten()
                    if not exact and unstable.numel():
                        lo, hi = self._tighten(k, lo, hi, unstable, bounds)
                    bounds[k] = (lo, hi)
                    lo, hi = lo.unsqueeze(0), hi.unsqueeze(0)
                lo, hi = _interval_forward(layer, lo, hi)
        return bounds

    def _tighten(
        self, k: int, lo: torch.Tensor, hi: torch.Tensor, idx: torch.Tensor,
        bounds: dict[int, tuple[torch.Tensor, torch.Tensor]],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Intersect [lo, hi] with CROWN's bounds of the input of layer k at the flat neuron indices idx."""
        n = idx.numel()
        rows = torch.zeros(n, lo.numel(), dtype=lo.dtype)
        rows[torch.arange(n), idx] = 1.0
        rows = rows.reshape(n, *lo.shape)
        bound = self._backward(k, torch.cat([rows, -rows]), bounds)  # lower bounds of h_i and of -h_i
        both = self.lower(bound.A, bound.c)
        lo, hi = lo.flatten().clone(), hi.flatten().clone()
        lo[idx], hi[idx] = torch.maximum(lo[idx], both[:n]), torch.minimum(hi[idx], -both[n:])
        return lo.reshape(self.shapes[k]), hi.reshape(self.shapes[k])

    @torch.no_grad()
    def linear_bounds(self, spec: torch.Tensor, alphas: dict[int, torch.Tensor] | None = None) -> LinearBound:
        """Linear lower bounds ``spec @ f(x0 + delta) >= A delta + c`` valid on the input set.

        Parameters
        ----------
        spec
            ``(m, n_outputs)`` matrix C; e.g. rows ``e_y - e_j`` bound the margins of class y.
        alphas
            Optional lower-line slopes in [0, 1] per ReLU layer index, broadcastable to ``(m, *neurons)``
            (missing layers: CROWN's choice). Any values in [0, 1] give a sound bound; others are refused.
        """
        for k, alpha in (alphas or {}).items():
            if not isinstance(self.layers[k], nn.ReLU) or alpha.min() < 0 or alpha.max() > 1:
                raise ValueError(f"alphas[{k}] must be slopes in [0, 1] of a ReLU layer")
        bound = self._backward(len(self.layers), self._spec(spec), self.preactivation, alphas)
        return LinearBound(bound.A.reshape(spec.shape[0], *self.x0.shape), bound.c)

    def _spec(self, spec: torch.Tensor) -> torch.Tensor:
        """The specification rows over the flattened outputs, shaped like the network's output."""
        return spec.to(torch.float64).reshape(spec.shape[0], *self.out_shape)

    def alpha_crown(
        self, spec: torch.Tensor, objective: Objective | None = None, *, iterations: int = 30, lr: float = 0.1
    ) -> LinearBound:
        """alpha-CROWN: per row, the bound of the best alphas found for ``objective`` (default: ``lower``).

        Projected Adam ascent on the sum of the rows' objectives (rows have their own alphas, so this
        maximises each row's objective), starting from CROWN's slopes; each row keeps its best iterate,
        so its objective is never below CROWN's. Pre-activation bounds stay CROWN's (``preactivation``).
        """
        objective = self.lower if objective is None else objective
        m = spec.shape[0]
        spec = self._spec(spec)
        alphas = {k: crown_slopes(lo, hi).expand(m, *lo.shape).clone().requires_grad_(True)
                  for k, (lo, hi) in self.preactivation.items()
                  if isinstance(self.layers[k], nn.ReLU) and ((lo < 0) & (hi > 0)).any()}
        if not alphas:  # every neuron stable: the relaxation is exact, nothing to optimise
            return self.linear_bounds(spec)
        optimiser = torch.optim.Adam(alphas.values(), lr=lr)
        best_A = best_c = best = None
        for step in range(iterations + 1):
            with torch.enable_grad():
                bound = self._backward(len(self.layers), spec, self.preactivation, alphas)
                score = objective(bound.A.flatten(1), bound.c)
            with torch.no_grad():
                if best is None:
                    best_A, best_c, best = bound.A.detach().clone(), bound.c.detach().clone(), score.detach().clone()
                better = score > best
                best_A[better], best_c[better], best[better] = bound.A[better], bound.c[better], score[better]
            if step == iterations:
                break
            optimiser.zero_grad()
            (-score.sum()).backward()
            optimiser.step()
            with torch.no_grad():
                for alpha in alphas.values():
                    alpha.clamp_(0.0, 1.0)  # the projection: every slope in [0, 1] keeps (1) sound
        return LinearBound(best_A.reshape(m, *self.x0.shape), best_c)


def crown_linear_bounds(
    model: nn.Module,
    x0: torch.Tensor,
    spec: torch.Tensor,
    *,
    box: tuple[torch.Tensor, torch.Tensor] | None = None,
    l2_radius: float | None = None,
) -> LinearBound:
    """CROWN's ``spec @ f(x0 + delta) >= A delta + c`` on the input set (one-off ``NetworkBounds``).

    Parameters as in ``NetworkBounds`` and ``NetworkBounds.linear_bounds``; build a ``NetworkBounds`` to
    bound several specifications over the same input set.
    """
    return NetworkBounds(model, x0, box=box, l2_radius=l2_radius).linear_bounds(spec)
