"""One rule per layer type: its interval pass (IBP), its relaxation and its backward (CROWN) pass.

The model to imitate is auto_LiRPA's ``Bound`` operators (which do not install with the supported torch). Every
tensor here is batched: intervals are (B, *shape) with B boxes, backward coefficients ``lam`` are (B, m, *shape)
with m specification rows. A rule's ``backward`` pulls ``lam . y`` (y the layer's output) back to a *lower* bound
``sum_i lam_i . h_i + bias`` over its inputs h_i, given the relaxation of the layer (nonlinear layers only, built
once by ``relax`` from the bounds of its input). The lines themselves are in ``bounds.relaxations``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ProbustError
from . import relaxations as rx
from .layers import Cat, ElementwiseAffine, Pad, Permute, Reshape, Sum

Interval = tuple[torch.Tensor, torch.Tensor]


class UnsupportedLayerError(ProbustError, TypeError):
    """The network contains a layer or operation the bound propagation does not handle."""


class Rule:
    """How the bounds follow one layer type (affine by default: an exact backward pass, no relaxation)."""

    #: linear part not diagonal (up to a reshape or permutation): IBP over a box is exact through one such layer
    mixing = False
    #: relaxed from bounds on its input (``relax``), which are tightened first
    nonlinear = False

    def interval(self, layer: nn.Module, ins: list[Interval]) -> Interval:
        """IBP: a box containing the layer's image of its input boxes, as centre ``layer(mid)`` +- ``layer(rad)``
        (exact for linear layers without offset and non-negative weights: average pooling, reshapes; the other
        rules override it)."""
        ((lo, hi),) = ins
        mid, rad = layer((hi + lo) / 2), layer((hi - lo) / 2)
        return mid - rad, mid + rad

    def relax(self, layer: nn.Module, lo: torch.Tensor, hi: torch.Tensor, in_shape: tuple[int, ...]) -> dict:
        """A nonlinear layer's lines from the bounds ``[lo, hi]`` (B, *in_shape) of its input, for ``backward``."""
        raise NotImplementedError

    def backward(
        self,
        layer: nn.Module,
        lam: torch.Tensor,
        in_shapes: list[tuple[int, ...]],
        relaxation,
        alpha: torch.Tensor | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor | float]:
        """The coefficients of each input and the bias (B, m) (module docstring)."""
        raise NotImplementedError


def _rows(lam: torch.Tensor) -> torch.Tensor:
    """(B, m, *shape) -> (B m, *shape) for torch functions that take one batch axis."""
    return lam.flatten(0, 1)


def _summed(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(2).sum(2)


class LinearRule(Rule):
    mixing = True

    def interval(self, layer, ins):
        ((lo, hi),) = ins
        mid, rad = (hi + lo) / 2, (hi - lo) / 2
        mid, rad = layer(mid), nn.functional.linear(rad, layer.weight.abs())
        return mid - rad, mid + rad

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        return [lam @ layer.weight], (lam @ layer.bias if layer.bias is not None else 0.0)


class Conv2dRule(Rule):
    mixing = True

    def interval(self, layer, ins):
        ((lo, hi),) = ins
        mid, rad = (hi + lo) / 2, (hi - lo) / 2
        rad = nn.functional.conv2d(
            rad,
            layer.weight.abs(),
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            groups=layer.groups,
        )
        mid = layer(mid)
        return mid - rad, mid + rad

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        # the transpose of the convolution; output_padding restores rows/columns that a stride > 1 leaves
        # out of the shape formula but that do feed the convolution's last outputs
        in_shape = in_shapes[0]
        natural = [
            (lam.shape[3 + i] - 1) * layer.stride[i]
            - 2 * layer.padding[i]
            + layer.dilation[i] * (layer.kernel_size[i] - 1)
            + 1
            for i in range(2)
        ]
        back = nn.functional.conv_transpose2d(
            _rows(lam),
            layer.weight,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            groups=layer.groups,
            output_padding=(in_shape[-2] - natural[0], in_shape[-1] - natural[1]),
        )
        bias = (lam.sum((3, 4)) @ layer.bias) if layer.bias is not None else 0.0
        return [back.reshape(*lam.shape[:2], *in_shape)], bias


def _batchnorm_affine(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``scale * h + shift`` per channel."""
    scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
    return scale, layer.bias - layer.running_mean * scale


class DiagonalRule(Rule):
    """BatchNorm (eval) and ElementwiseAffine: ``h * scale + shift``, scale and shift broadcast per element."""

    @staticmethod
    def _affine(layer: nn.Module, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(layer, ElementwiseAffine):
            return layer.scale.expand(shape), layer.shift.expand(shape)
        scale, shift = _batchnorm_affine(layer)
        view = (-1,) + (1,) * (len(shape) - 1)
        return scale.view(view), shift.view(view)

    def interval(self, layer, ins):
        ((lo, hi),) = ins
        mid, rad = (hi + lo) / 2, (hi - lo) / 2
        mid, rad = layer(mid), rad * self._affine(layer, lo.shape[1:])[0].abs()
        return mid - rad, mid + rad

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        scale, shift = self._affine(layer, in_shapes[0])
        return [lam * scale], _summed(lam * shift)


class AvgPoolRule(Rule):
    """Non-negative weights: the default interval pass is exact; the backward pass spreads lam / K over each window."""

    mixing = True

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        geometry = rx.pool_geometry(layer, in_shapes[0])
        size = geometry[1][0] * geometry[1][1]
        coef = _rows(lam).reshape(lam.shape[0] * lam.shape[1], geometry[0][0], 1, -1) / size
        back = rx.fold_windows(coef.expand(-1, -1, size, -1), geometry)
        return [back.reshape(*lam.shape[:2], *in_shapes[0])], 0.0


class ReshapeRule(Rule):
    """Flatten / Unflatten / Reshape / Identity / Dropout (eval) / Permute: the coefficients move with the
    entries (the interval pass is the default centre-radius one, as before graphs, so the numbers are the same)."""

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        if isinstance(layer, Permute):
            inverse = sorted(range(len(layer.perm)), key=layer.perm.__getitem__)
            return [lam.permute(0, 1, *(p + 2 for p in inverse))], 0.0
        return [lam.reshape(*lam.shape[:2], *in_shapes[0])], 0.0


class PadRule(Rule):
    def interval(self, layer, ins):
        ((lo, hi),) = ins
        return layer(lo), layer(hi)

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        inner = nn.functional.pad(lam, tuple(-p for p in layer.pad))  # negative padding crops the border off
        bias = layer.value * (_summed(lam) - _summed(inner)) if layer.value else 0.0
        return [inner], bias


class SumRule(Rule):
    """A residual ``a + b`` (or ``a - b``): each input receives the coefficients times its sign."""

    mixing = True

    def interval(self, layer, ins):
        lo = sum(s * (low if s > 0 else up) for s, (low, up) in zip(layer.signs, ins, strict=True))
        hi = sum(s * (up if s > 0 else low) for s, (low, up) in zip(layer.signs, ins, strict=True))
        return lo, hi

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        return [lam * s if s != 1 else lam for s in layer.signs], 0.0


class CatRule(Rule):
    def interval(self, layer, ins):
        return layer(*(lo for lo, _ in ins)), layer(*(hi for _, hi in ins))

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        return list(lam.split([s[layer.dim] for s in in_shapes], layer.dim + 2)), 0.0


class ReluRule(Rule):
    nonlinear = True

    def interval(self, layer, ins):
        ((lo, hi),) = ins
        return layer(lo), layer(hi)

    def relax(self, layer, lo, hi, in_shape):
        return {k: v.unsqueeze(1) for k, v in rx.relu_lines(lo, hi).items()}

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        """``alpha`` (broadcastable to lam, in [0, 1]): the lower slopes of the unstable neurons (None: CROWN's);
        stable neurons are relaxed exactly whatever alpha says."""
        slope_low = (
            relaxation["slope_low"]
            if alpha is None
            else torch.where(relaxation["unstable"], alpha, relaxation["active"])
        )
        pos, neg = lam.clamp_min(0), lam.clamp_max(0)
        return [pos * slope_low + neg * relaxation["slope_up"]], _summed(neg * relaxation["icpt_up"])


class SShapedRule(ReluRule):
    """Sigmoid and tanh: monotone (IBP maps the ends) and relaxed between two lines."""

    def relax(self, layer, lo, hi, in_shape):
        return {k: v.unsqueeze(1) for k, v in rx.s_shaped_lines(layer, lo, hi).items()}

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        pos, neg = lam.clamp_min(0), lam.clamp_max(0)
        back = pos * relaxation["slope_low"] + neg * relaxation["slope_up"]
        return [back], _summed(pos * relaxation["icpt_low"] + neg * relaxation["icpt_up"])


class MaxPoolRule(ReluRule):
    mixing = True  # each output is exact under IBP, but it depends on several inputs

    def relax(self, layer, lo, hi, in_shape):
        geometry = rx.pool_geometry(layer, in_shape)
        lower, upper, offset = (t.unsqueeze(1) for t in rx.maxpool_lines(lo, hi, geometry, batched=True))
        return {"geometry": geometry, "lower": lower, "upper": upper, "offset": offset}

    def backward(self, layer, lam, in_shapes, relaxation, alpha=None):
        geometry = relaxation["geometry"]
        (n_boxes, m), channels = lam.shape[:2], geometry[0][0]
        lam = lam.reshape(n_boxes, m, channels, 1, -1)
        pos, neg = lam.clamp_min(0), lam.clamp_max(0)
        back = rx.fold_windows(_rows(pos * relaxation["lower"] + neg * relaxation["upper"]), geometry)
        return [back.reshape(n_boxes, m, *in_shapes[0])], _summed(neg.squeeze(3) * relaxation["offset"])


RULES: dict[type, Rule] = {
    nn.Linear: LinearRule(),
    nn.Conv2d: Conv2dRule(),
    nn.BatchNorm1d: DiagonalRule(),
    nn.BatchNorm2d: DiagonalRule(),
    ElementwiseAffine: DiagonalRule(),
    nn.AvgPool1d: AvgPoolRule(),
    nn.AvgPool2d: AvgPoolRule(),
    nn.Flatten: ReshapeRule(),
    nn.Unflatten: ReshapeRule(),
    nn.Identity: ReshapeRule(),
    nn.Dropout: ReshapeRule(),
    Reshape: ReshapeRule(),
    Permute: ReshapeRule(),
    Pad: PadRule(),
    Sum: SumRule(),
    Cat: CatRule(),
    nn.ReLU: ReluRule(),
    nn.Sigmoid: SShapedRule(),
    nn.Tanh: SShapedRule(),
    nn.MaxPool1d: MaxPoolRule(),
    nn.MaxPool2d: MaxPoolRule(),
}
SUPPORTED = ", ".join(t.__name__ for t in RULES)


def rule_for(layer: nn.Module) -> Rule:
    """The rule of a layer, or ``UnsupportedLayerError`` naming it and what is supported."""
    if isinstance(layer, nn.Conv2d) and (layer.padding_mode != "zeros" or isinstance(layer.padding, str)):
        raise UnsupportedLayerError(f"bound propagation supports Conv2d with numeric zero padding only, got {layer}")
    if isinstance(layer, (*rx.MAXPOOL, *rx.AVGPOOL)) and rx.pool_refusal(layer):
        raise UnsupportedLayerError(f"bound propagation does not support {layer}: {rx.pool_refusal(layer)}")
    rule = RULES.get(type(layer))
    if rule is None:
        raise UnsupportedLayerError(
            f"bound propagation does not support layer {type(layer).__name__} ({layer}); supported: {SUPPORTED}"
        )
    return rule
