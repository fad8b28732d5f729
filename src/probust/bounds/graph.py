"""A network as a graph of bound-friendly layers, traced with torch.fx, and the backward pass over it.

Any ``nn.Module`` is traced (``torch.fx``; the standard torch layers and ``bounds.layers`` are leaves), every
node is evaluated once on a concrete batch, and each becomes one layer of ``bounds.ops.RULES``: modules as they
are, residual ``a + b`` / ``a - b`` as ``Sum``, arithmetic with a constant as ``ElementwiseAffine``, ``torch.cat``
as ``Cat``, view / reshape / flatten / squeeze as ``Reshape``, permute / transpose as ``Permute``, constant
``pad`` as ``Pad``, torch.relu / sigmoid / tanh as their modules; shape queries (``x.size(0)``) are constants.
Each replacement is checked against the traced operation on that batch, so a node is either followed exactly or
refused with ``UnsupportedLayerError``. An ``nn.Sequential`` is the chain special case: node k reads node k - 1
(built without tracing when all its layers are leaves, the same nodes fx would give, ~10 ms sooner).

The backward pass (CROWN's, ``Graph.pull_back``) visits the nodes in reverse topological order and adds up the
coefficients that reach a node from several consumers (a residual branch and its skip), which is what a linear
function of the node's output needs: ``lam_1 . h + lam_2 . h = (lam_1 + lam_2) . h``.
"""

from __future__ import annotations

import copy
import dataclasses
import operator

import torch
from torch import fx, nn

from .layers import Cat, ElementwiseAffine, Pad, Permute, Reshape, Sum
from .ops import RULES, SUPPORTED, Rule, UnsupportedLayerError, rule_for

#: The network's input, as a node index.
INPUT = -1
#: Elements of one coefficient tensor at most (64 MB in float64): rows of a backward pass go in chunks of this.
CHUNK_ELEMENTS = 8_000_000

_ADD = {operator.add, torch.add, "add"}
_SUB = {operator.sub, torch.sub, "sub"}
_MUL = {operator.mul, torch.mul, "mul"}
_DIV = {operator.truediv, torch.div, "div"}
_NEG = {operator.neg, torch.neg, "neg"}
_ACTIVATIONS = {
    torch.relu: nn.ReLU,
    nn.functional.relu: nn.ReLU,
    "relu": nn.ReLU,
    torch.sigmoid: nn.Sigmoid,
    nn.functional.sigmoid: nn.Sigmoid,
    "sigmoid": nn.Sigmoid,
    torch.tanh: nn.Tanh,
    nn.functional.tanh: nn.Tanh,
    "tanh": nn.Tanh,
}
_RESHAPES = {
    torch.flatten,
    torch.reshape,
    torch.squeeze,
    torch.unsqueeze,
    "view",
    "reshape",
    "flatten",
    "squeeze",
    "unsqueeze",
    "contiguous",
}
_PERMUTES = {torch.permute, torch.transpose, "permute", "transpose"}
_CATS = {torch.cat, torch.concat}
_PADS = {nn.functional.pad, torch._C._nn.pad}
_SHAPE_QUERIES = {"size", "dim"}
FUNCTIONS = "+ - * / by constants, residual + and -, cat, view / reshape / flatten, permute / transpose, pad"


@dataclasses.dataclass(frozen=True)
class Node:
    """One layer of the graph: ``layer(*[output of i for i in inputs])`` (INPUT: the network's input)."""

    layer: nn.Module
    inputs: tuple[int, ...]
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    rule: Rule


class _Tracer(fx.Tracer):
    """Standard torch layers (fx's default) and every layer with a rule are leaves; containers are traced through."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return _is_leaf(m)


def _is_leaf(m: nn.Module) -> bool:
    """fx's default leaves (torch.nn's layers, not its containers) and the layers of ``bounds.layers``."""
    return type(m) in RULES or (m.__module__.startswith("torch.nn") and not isinstance(m, nn.Sequential))


class Graph:
    """A float64, eval-mode, gradient-free copy of a network as ``nodes`` in topological order (module docstring).

    Parameters
    ----------
    model
        Any ``nn.Module`` of the supported layers and functions (``bounds.ops.SUPPORTED``, ``FUNCTIONS``).
    x0
        One input, without batch dimension (gives the shapes).
    """

    def __init__(self, model: nn.Module, x0: torch.Tensor) -> None:
        self.in_shape = tuple(x0.shape)
        self.nodes: list[Node] = []
        model = copy.deepcopy(model).cpu().double().eval().requires_grad_(False)
        x = x0.detach().double().cpu()
        # two different inputs: a replacement that mixed the batch rows would fail the check in _append
        batch = torch.stack(
            [x, x + 0.01 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)]
        )
        chain = _chain(model)
        with torch.no_grad():
            if chain is not None:  # the special case needs no tracing (which costs ~10 ms a network)
                for layer in chain or [nn.Identity()]:
                    out = layer(batch)
                    self._append(layer, [len(self.nodes) - 1], [batch], out)
                    batch = out
                return
            try:
                traced = _Tracer(autowrap_modules=()).trace(model)  # no patching of math's functions: faster
            except Exception as err:  # fx refuses data-dependent control flow, among others
                raise UnsupportedLayerError(
                    f"bound propagation cannot trace {type(model).__name__}: {str(err).splitlines()[0]}"
                ) from None
            self._convert(traced, model, batch)

    @property
    def widest(self) -> int:
        """The most values of one input or output of any node (a backward row's widest coefficient)."""
        return max(torch.Size(s).numel() for node in self.nodes for s in (*node.in_shapes, node.out_shape))

    def _convert(self, traced: fx.Graph, model: nn.Module, batch: torch.Tensor) -> None:
        values: dict[fx.Node, object] = {}
        index: dict[fx.Node, int] = {}  # input-dependent fx nodes -> node index (INPUT for the input)
        for fx_node in traced.nodes:
            if fx_node.op == "placeholder":
                if index:
                    raise UnsupportedLayerError("bound propagation follows networks of one input tensor")
                values[fx_node], index[fx_node] = batch, INPUT
            elif fx_node.op == "get_attr":
                values[fx_node] = _float64(operator.attrgetter(fx_node.target)(model))
            elif fx_node.op == "output":
                out = fx_node.args[0]
                if not isinstance(out, fx.Node) or out not in index or not isinstance(values[out], torch.Tensor):
                    raise UnsupportedLayerError("bound propagation needs a network that returns one tensor")
                if index[out] == INPUT or index[out] != len(self.nodes) - 1:  # the last node is the output
                    self._append(nn.Identity(), [index[out]], [values[out]], values[out])
            else:
                args = fx.node.map_arg(fx_node.args, values.__getitem__)
                kwargs = fx.node.map_arg(fx_node.kwargs, values.__getitem__)
                fn = model.get_submodule(fx_node.target) if fx_node.op == "call_module" else fx_node.target
                if isinstance(fn, nn.Module):
                    rule_for(fn)  # an unsupported layer is named before it runs
                try:
                    value = (
                        getattr(args[0], fn)(*args[1:], **kwargs)
                        if fx_node.op == "call_method"
                        else fn(*args, **kwargs)
                    )
                except Exception as err:
                    raise UnsupportedLayerError(
                        f"bound propagation could not evaluate {_describe(fx_node)}: {str(err).splitlines()[0]}"
                    ) from None
                deps = [n for n in fx_node.all_input_nodes if n in index]  # distinct; x * x has one
                if not deps:
                    values[fx_node] = _float64(value)  # a constant
                    continue
                values[fx_node] = value
                if not isinstance(values[fx_node], torch.Tensor):
                    if fn not in _SHAPE_QUERIES and not (fn is getattr and args[1] in ("shape", "ndim")):
                        raise UnsupportedLayerError(f"bound propagation does not support {_describe(fx_node)}")
                    continue  # the shape of a tensor: a constant
                layer, inputs = self._layer(fx_node, fn, args, kwargs, deps, values)
                index[fx_node] = self._append(
                    layer, [index[n] for n in inputs], [values[n] for n in inputs], values[fx_node], fx_node
                )

    def _append(
        self,
        layer: nn.Module,
        inputs: list[int],
        ins: list[torch.Tensor],
        out: torch.Tensor,
        fx_node: fx.Node | None = None,
    ) -> int:
        """Add a node after checking that ``layer`` computes what the traced operation did on the batch."""
        rule = rule_for(layer)
        replaced = fx_node is not None and fx_node.op != "call_module"  # else the layer computed ``out`` itself
        if out.shape[0] != len(ins[0]) or replaced and not torch.allclose(layer(*ins), out, rtol=1e-9, atol=1e-12):
            raise UnsupportedLayerError(
                f"bound propagation cannot follow {_describe(fx_node)}: it mixes the batch axis or its arguments "
                f"are outside the supported ones ({FUNCTIONS})"
            )
        self.nodes.append(
            Node(layer, tuple(inputs), tuple(tuple(t.shape[1:]) for t in ins), tuple(out.shape[1:]), rule)
        )
        return len(self.nodes) - 1

    @staticmethod
    def _layer(fx_node: fx.Node, fn, args, kwargs, deps: list[fx.Node], values: dict) -> tuple[nn.Module, list]:
        """The layer computing ``fx_node`` from its input-dependent arguments ``deps`` (and which they are)."""
        out = values[fx_node]
        if isinstance(fn, nn.Module):
            several = isinstance(fn, (Sum, Cat))  # the layers of several inputs
            if kwargs or not all(a in deps for a in fx_node.args) or not (several or len(fx_node.args) == 1):
                raise UnsupportedLayerError(
                    f"bound propagation follows {type(fn).__name__} on input-dependent tensors only, "
                    f"got {_describe(fx_node)} with other arguments"
                )
            return fn, list(fx_node.args)
        if fn in _ACTIVATIONS:
            return _ACTIVATIONS[fn](), deps[:1]
        if fn in _CATS:
            dim = kwargs.get("dim", args[1] if len(args) > 1 else 0) % out.ndim
            if dim == 0 or any(not isinstance(t, fx.Node) or t not in deps for t in fx_node.args[0]):
                raise UnsupportedLayerError(
                    f"bound propagation concatenates input-dependent tensors along a "
                    f"feature axis only, got {_describe(fx_node)}"
                )
            return Cat(dim - 1), list(fx_node.args[0])
        if fn in _RESHAPES:
            return Reshape(tuple(out.shape[1:])), deps[:1]
        if fn in _PERMUTES:
            ndim = values[deps[0]].ndim
            if fn in ("permute", torch.permute):  # x.permute(0, 2, 1), x.permute((0, 2, 1)), torch.permute(x, dims)
                dims = [d % ndim for d in (args[1] if isinstance(args[1], (tuple, list)) else args[1:])]
            else:
                dims = list(range(ndim))
                a, b = (d % ndim for d in args[1:3])
                dims[a], dims[b] = dims[b], dims[a]
            if not dims or dims[0] != 0:
                raise UnsupportedLayerError(f"bound propagation permutes feature axes only, got {_describe(fx_node)}")
            return Permute(tuple(d - 1 for d in dims[1:])), deps[:1]
        if fn in _PADS:
            mode = kwargs.get("mode", args[2] if len(args) > 2 else "constant")
            value = kwargs.get("value", args[3] if len(args) > 3 else None)
            if mode != "constant":
                raise UnsupportedLayerError(f"bound propagation supports constant padding only, got mode {mode!r}")
            return Pad(tuple(args[1]), 0.0 if value is None else value), deps[:1]
        dep_args = [a for a in fx_node.args if isinstance(a, fx.Node) and a in deps]  # x + x: twice
        if fn in _ADD | _SUB and len(dep_args) == 2 and not kwargs:
            return Sum((1.0, 1.0 if fn in _ADD else -1.0)), dep_args
        if fn in _MUL | _DIV and len(dep_args) == 2:
            raise UnsupportedLayerError(
                f"bound propagation cannot follow a product of two input-dependent tensors ({_describe(fx_node)})"
            )
        if len(dep_args) == 1 and fn in _ADD | _SUB | _MUL | _DIV | _NEG and not kwargs:
            return _constant_affine(fn, args, fx_node.args.index(dep_args[0]), out), dep_args
        raise UnsupportedLayerError(
            f"bound propagation does not support {_describe(fx_node)}; it follows the "
            f"layers {SUPPORTED} and the functions {FUNCTIONS}"
        )

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.nodes[-1].out_shape

    def is_chain(self) -> bool:
        """Whether node k reads exactly node k - 1 (an ``nn.Sequential``)."""
        return all(node.inputs == (k - 1,) for k, node in enumerate(self.nodes))

    def mixing_before(self, k: int) -> int:
        """How many nodes before node k mix their inputs' coordinates (``Rule.mixing``)."""
        return sum(node.rule.mixing for node in self.nodes[:k])

    def pull_back(
        self,
        start: int,
        lam: torch.Tensor,
        relaxations: dict[int, dict],
        alphas: dict[int, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pull ``lam . h_start`` (lam: (B, m, *out_shape of node start)) back to ``A . x + c`` over the input,
        given the relaxations of the nonlinear nodes below; returns A (B, m, *in_shape) and c (B, m)."""
        pending = {start: lam}
        bias = lam.new_zeros(lam.shape[:2])
        for k in range(start, -1, -1):
            if k not in pending:
                continue  # no path from node k to node start
            node = self.nodes[k]
            alpha = None if alphas is None else alphas.get(k)
            lams, b = node.rule.backward(node.layer, pending.pop(k), list(node.in_shapes), relaxations.get(k), alpha)
            bias = bias + b
            for i, coef in zip(node.inputs, lams, strict=True):
                pending[i] = pending[i] + coef if i in pending else coef
        A = pending.get(INPUT, lam.new_zeros(*lam.shape[:2], *self.in_shape))
        return A, bias


def _float64(value):
    """Floating tensor constants (a buffer, ``torch.ones(...)`` in forward) in the bounds' precision."""
    return value.double() if isinstance(value, torch.Tensor) and value.is_floating_point() else value


def _chain(model: nn.Module) -> list[nn.Module] | None:
    """The layers of a (nested) ``nn.Sequential`` of leaf layers, in order; None for any other module."""
    if not isinstance(model, nn.Sequential):
        return None
    layers: list[nn.Module] = []
    for child in model.children():
        inner = _chain(child) if isinstance(child, nn.Sequential) else [child] if _is_leaf(child) else None
        if inner is None:
            return None
        layers.extend(inner)
    return layers


def _constant_affine(fn, args, position: int, out: torch.Tensor) -> ElementwiseAffine:
    """``h + c``, ``c - h``, ``h * c``, ``h / c``, ``-h`` (h at ``position`` of args) as ``h * scale + shift``."""
    shape = tuple(out.shape[1:])
    if fn in _NEG:
        return ElementwiseAffine(-torch.ones(shape, dtype=out.dtype), torch.zeros(shape, dtype=out.dtype))
    other = args[1 - position]
    const = torch.as_tensor(other, dtype=out.dtype)
    if const.ndim == out.ndim:  # a constant with a batch axis of 1
        const = const[0]
    const = const.expand(shape).clone()
    one, zero = torch.ones(shape, dtype=out.dtype), torch.zeros(shape, dtype=out.dtype)
    if fn in _ADD:
        return ElementwiseAffine(one, const)
    if fn in _SUB:
        return ElementwiseAffine(one, -const) if position == 0 else ElementwiseAffine(-one, const)
    if fn in _MUL:
        return ElementwiseAffine(const, zero)
    if position == 0:
        return ElementwiseAffine(1 / const, zero)
    raise UnsupportedLayerError("bound propagation cannot follow a division by an input-dependent tensor")


def _describe(fx_node: fx.Node | None) -> str:
    """The operation of a traced node, as a user can find it in the model's code."""
    if fx_node is None:
        return "the network's output"
    target = fx_node.target
    if fx_node.op == "call_module":
        return f"layer {target} (node {fx_node.name})"
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    kind = "method" if fx_node.op == "call_method" else "function"
    return f"{kind} {name} (node {fx_node.name})"
