"""ONNX nodes as standard torch layers and functions: the graph converter behind :mod:`probust._onnx`.

Each ONNX node becomes a torch layer (``call_module``: ``nn.Linear``, ``nn.Conv2d``, ``nn.BatchNorm2d``,
``nn.ReLU``, ``nn.Sigmoid``, ``nn.Tanh``, ``nn.MaxPool2d``, ``nn.AvgPool2d``, ``nn.Flatten``, ``nn.Unflatten``,
:class:`~probust.bounds.ElementwiseAffine`), a torch function (``call_function``: ``operator.add`` for a residual
Add, ``torch.cat``, ``torch.permute``, ``torch.nn.functional.pad``) or, when every input is a constant, a constant
folded by onnx's reference evaluator (the ``Shape -> Gather -> Concat -> Reshape`` chains of exporters). A graph
whose nodes form one chain of layers becomes the ``nn.Sequential`` of those layers; any other graph a
``torch.fx.GraphModule``, traceable by torch.fx and made only of the layers and functions above.

Batch axis: probust feeds the converted module a batch. An ONNX graph whose input has rank >= 2 carries the batch
as its axis 0 (no node may touch that axis); one whose input has rank 1 (nn4sys, VNN-COMP's ``test`` networks)
has none, and every ONNX axis is then shifted by one in the torch module (``shift``).

Written by hand: ``onnx2torch`` (PyPI) needs torchvision, which would pull another torch build, and emits its own
operator modules (``OnnxMatMul``, ``OnnxBinaryMathOperation``...) that the bound propagation would have to learn;
this converter maps each node to a layer or function the bounds already know.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx, nn

from .bounds import ElementwiseAffine

__all__ = ["GraphInput", "OnnxConversionError", "convert_model", "graph_input"]


class OnnxConversionError(Exception):
    """Why a graph is outside the converter's subset (internal: the caller falls back to onnxruntime)."""


@dataclass
class _Value:
    """A computed tensor: its fx node and a zero example of batch 1 (the shapes come from running the layers)."""

    node: fx.Node
    example: torch.Tensor

    @property
    def features(self) -> tuple[int, ...]:
        return tuple(self.example.shape[1:])


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A writable float64 copy (onnx's arrays are read-only: torch.from_numpy on them warns); ``copy_`` into a
    layer rounds it to the layer's dtype, exactly for a float32 graph's weights."""
    return torch.from_numpy(np.array(array, dtype=np.float64))


def _attributes(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _features(shape: tuple[int, ...], value: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A constant operand broadcast to one input's feature shape (dropping a leading batch dimension of 1)."""
    t = _tensor(value).to(dtype)
    if t.ndim == len(shape) + 1 and t.shape[0] == 1:
        t = t[0]
    try:
        return torch.broadcast_to(t, shape).clone()
    except RuntimeError:
        raise OnnxConversionError(f"a constant of shape {tuple(t.shape)} does not broadcast to {shape}") from None


def _symmetric(pads: list[int]) -> tuple[int, ...] | None:
    """The per-axis padding of ONNX ``pads`` (all begins, then all ends), or None when begins and ends differ."""
    half = len(pads) // 2
    return tuple(pads[:half]) if list(pads[:half]) == list(pads[half:]) else None


@dataclass(frozen=True)
class GraphInput:
    """An ONNX graph's input: its name, one input's shape, whether axis 0 is a batch axis, and its dtype."""

    name: str
    shape: tuple[int, ...]
    batched: bool
    dtype: torch.dtype


class _Builder:
    """Builds the fx graph of one ONNX graph, node by node (ONNX lists nodes in topological order)."""

    def __init__(self, graph, consts: dict[str, np.ndarray], source: GraphInput, opset: int):
        dtype, batched = source.dtype, source.batched
        self.root, self.dtype = nn.Module(), dtype
        self.graph = fx.Graph(owning_module=self.root)
        self.onnx, self.opset, self.shift = graph, opset, 0 if batched else 1
        self.consts = dict(consts)
        placeholder = self.graph.placeholder("x")
        self.values = {source.name: _Value(placeholder, torch.zeros(1, *source.shape, dtype=dtype))}

    # -- emitting --------------------------------------------------------------------------------------
    def layer(self, module: nn.Module, x: _Value) -> _Value:
        name = f"layer{len(self.root._modules)}"
        self.root.add_module(name, module.eval())
        module.to(self.dtype)  # a layer's weights are set in self.dtype: float64 graphs keep their precision
        with torch.no_grad():
            example = module(x.example)
        return _Value(self.graph.call_module(name, (x.node,)), example)

    def function(self, fn: Callable, args: tuple, example_args: tuple, **kwargs) -> _Value:
        with torch.no_grad():
            example = fn(*example_args, **kwargs)
        return _Value(self.graph.call_function(fn, args, kwargs), example)

    # -- axes ------------------------------------------------------------------------------------------
    def onnx_shape(self, x: _Value) -> tuple[int, ...]:
        """``x``'s shape as the ONNX graph sees it (batch 1 as axis 0 if the graph has a batch axis)."""
        return tuple(x.example.shape[self.shift :])

    def axis(self, axis: int, x: _Value, what: str) -> int:
        """The torch axis of ONNX ``axis`` of ``x``; the batch axis is refused."""
        rank = len(self.onnx_shape(x))
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < rank or (self.shift == 0 and axis == 0):
            raise OnnxConversionError(f"{what} on axis {axis} of a rank-{rank} tensor (the batch axis?)")
        return axis + self.shift

    def reshape(self, x: _Value, onnx_dims: tuple[int, ...]) -> _Value:
        """``x`` reshaped to the ONNX shape ``onnx_dims`` (resolved: no 0 or -1), as Flatten + Unflatten."""
        if self.shift == 0 and (not onnx_dims or onnx_dims[0] != 1):
            raise OnnxConversionError(f"a reshape of {self.onnx_shape(x)} to {onnx_dims} moves the batch axis")
        dims = tuple(onnx_dims[1 - self.shift :])
        if int(np.prod(dims)) != int(np.prod(x.features)) or not dims:
            raise OnnxConversionError(f"a reshape of {self.onnx_shape(x)} to {onnx_dims} moves the batch axis")
        if dims == x.features:
            return x
        x = self.layer(nn.Flatten(), x)
        return self.layer(nn.Unflatten(1, dims), x) if len(dims) > 1 else x

    # -- nodes -----------------------------------------------------------------------------------------
    def convert(self) -> _Value:
        for node in self.onnx.node:
            self.node(node)
        name = self.onnx.output[0].name
        if name not in self.values:
            raise OnnxConversionError("the graph's output is a constant")
        out = self.values[name]
        self.graph.output(out.node)
        return out

    def node(self, node) -> None:
        op, attrs = node.op_type, _attributes(node)
        ins = list(node.input)
        if all(i in self.consts or not i for i in ins):
            self.fold(node)
            return
        if op == "Shape":  # of a computed tensor: its static shape (batch 1)
            x = self.values[ins[0]]
            shape = np.array(self.onnx_shape(x), dtype=np.int64)
            self.consts[node.output[0]] = shape[attrs.get("start", 0) : attrs.get("end", len(shape))]
            return
        xs = [self.values.get(i) for i in ins]
        consts = [self.consts.get(i) for i in ins]
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise OnnxConversionError(f"ONNX operator {op} is not supported by the converter")
        self.values[node.output[0]] = handler(node, attrs, xs, consts)

    def fold(self, node) -> None:
        from onnx.reference import ReferenceEvaluator

        try:
            outputs = ReferenceEvaluator(node, opsets={"": self.opset}).run(
                None, {i: self.consts[i] for i in node.input if i}
            )
        except Exception as err:  # the reference evaluator raises whatever its numpy code raises
            raise OnnxConversionError(f"cannot fold the constant node {node.op_type} ({node.name}): {err}") from err
        self.consts.update(zip(node.output, outputs, strict=False))  # optional outputs may be absent

    @staticmethod
    def single(node, xs: list[_Value | None]) -> _Value:
        """The one computed input of a node whose other inputs are constants."""
        computed = [x for x in xs if x is not None]
        if len(computed) != 1 or xs[0] is None:
            raise OnnxConversionError(
                f"node {node.op_type} ({node.name}) takes a computed tensor where the converter needs a constant"
            )
        return xs[0]

    def op_Identity(self, node, attrs, xs, consts) -> _Value:
        return self.single(node, xs)

    op_Dropout = op_Identity

    def op_Relu(self, node, attrs, xs, consts) -> _Value:
        cls = {"Relu": nn.ReLU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh}[node.op_type]
        return self.layer(cls(), self.single(node, xs))

    op_Sigmoid = op_Tanh = op_Relu

    def op_Flatten(self, node, attrs, xs, consts) -> _Value:
        x = self.single(node, xs)
        shape = self.onnx_shape(x)
        axis = attrs.get("axis", 1) % (len(shape) + 1) if attrs.get("axis", 1) < 0 else attrs.get("axis", 1)
        if self.shift == 0 and axis == 1:
            return self.layer(nn.Flatten(), x)  # as the chain converter always emitted
        return self.reshape(x, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))

    def op_Reshape(self, node, attrs, xs, consts) -> _Value:
        x = self.single(node, xs)
        shape, target = self.onnx_shape(x), [int(v) for v in consts[1]]
        dims = [shape[i] if v == 0 and not attrs.get("allowzero", 0) else v for i, v in enumerate(target)]
        if -1 in dims:
            known = int(np.prod([d for d in dims if d != -1]))
            dims[dims.index(-1)] = int(np.prod(shape)) // max(known, 1)
        return self.reshape(x, tuple(dims))

    def op_Squeeze(self, node, attrs, xs, consts) -> _Value:
        x = self.single(node, xs)
        axes = attrs.get("axes", consts[1] if len(consts) > 1 else None)
        shape = np.empty(self.onnx_shape(x))
        squeezed = np.squeeze(shape) if axes is None else np.squeeze(shape, tuple(int(a) for a in axes))
        return self.reshape(x, squeezed.shape)

    def op_Unsqueeze(self, node, attrs, xs, consts) -> _Value:
        x = self.single(node, xs)
        axes = attrs.get("axes", consts[1] if len(consts) > 1 else None)
        return self.reshape(x, np.expand_dims(np.empty(self.onnx_shape(x)), tuple(int(a) for a in axes)).shape)

    def op_Transpose(self, node, attrs, xs, consts) -> _Value:
        x = self.single(node, xs)
        rank = len(self.onnx_shape(x))
        perm = list(attrs.get("perm", range(rank - 1, -1, -1)))
        if self.shift == 0 and perm[0] != 0:
            raise OnnxConversionError(f"Transpose with perm={perm} moves the batch axis")
        dims = tuple(range(self.shift)) + tuple(p + self.shift for p in perm)
        if dims == tuple(range(len(dims))):
            return x
        return self.function(torch.permute, (x.node, dims), (x.example, dims))

    def op_Gemm(self, node, attrs, xs, consts) -> _Value:
        gemm = node.op_type == "Gemm"
        if not gemm and xs[0] is None and xs[1] is not None and self.shift:  # W @ x of an unbatched vector x
            x, weight = xs[1], np.asarray(consts[0])  # already (out, in)
        else:
            x = self.single(node, xs)
            weight = np.asarray(consts[1])
            weight = weight if gemm and attrs.get("transB", 0) else weight.T  # (out, in)
        if len(x.features) != 1 or weight.ndim != 2:
            raise OnnxConversionError(
                f"{node.op_type} of a {len(x.features) + 1}-d tensor (with batch) by a {weight.ndim}-d constant"
            )
        if attrs.get("transA", 0):
            raise OnnxConversionError("Gemm with transA=1")
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=gemm, dtype=self.dtype)
        with torch.no_grad():
            layer.weight.copy_(_tensor(weight * attrs.get("alpha", 1.0)))
            if gemm:
                bias = consts[2] * attrs.get("beta", 1.0) if len(consts) > 2 else np.zeros(weight.shape[0])
                layer.bias.copy_(_tensor(np.broadcast_to(bias, (weight.shape[0],))))
        return self.layer(layer, x)

    op_MatMul = op_Gemm

    def op_Add(self, node, attrs, xs, consts) -> _Value:
        op = node.op_type
        if all(x is not None for x in xs):  # two computed tensors: a residual connection
            a, b = xs
            if a.features != b.features:
                raise OnnxConversionError(f"{op} of tensors of shapes {a.features} and {b.features} broadcasts")
            if op == "Sub":
                b = self.layer(
                    ElementwiseAffine(
                        -torch.ones(b.features, dtype=self.dtype), torch.zeros(b.features, dtype=self.dtype)
                    ),
                    b,
                )
            elif op != "Add":
                raise OnnxConversionError(f"{op} of two computed tensors (not piecewise linear)")
            return self.function(operator.add, (a.node, b.node), (a.example, b.example))
        first = xs[0] is not None
        x = xs[0] if first else xs[1]
        c = _features(x.features, consts[1] if first else consts[0], self.dtype)
        scale, shift = {
            "Add": (1.0, c),
            "Sub": (1.0, -c) if first else (-1.0, c),
            "Mul": (c, 0.0),
            "Div": (1.0 / c, 0.0) if first else (None, None),
        }[op]
        if scale is None:
            raise OnnxConversionError("Div of a constant by the computed tensor")
        shape = x.features
        return self.layer(
            ElementwiseAffine(
                torch.as_tensor(scale).expand(shape).clone(), torch.as_tensor(shift).expand(shape).clone()
            ),
            x,
        )

    op_Sub = op_Mul = op_Div = op_Add

    def pad(self, x: _Value, pads: list[int], value: float = 0.0) -> _Value:
        """``x`` padded by ONNX ``pads`` (begins of every axis, then ends) with ``value``."""
        rank = len(pads) // 2
        if self.shift == 0 and (pads[0] or pads[rank]):
            raise OnnxConversionError("Pad of the batch axis")
        torch_pads = tuple(int(p) for axis in reversed(range(rank)) for p in (pads[axis], pads[axis + rank]))
        kwargs = {"value": float(value)} if value else {}
        return self.function(nn.functional.pad, (x.node, torch_pads), (x.example, torch_pads), **kwargs)

    def op_Pad(self, node, attrs, xs, consts) -> _Value:
        x = self.single(node, xs)
        mode = attrs.get("mode", b"constant")
        if (mode.decode() if isinstance(mode, bytes) else mode) != "constant":
            raise OnnxConversionError(f"Pad with mode={mode!r} (only constant padding)")
        if len(consts) > 3 and node.input[3]:
            raise OnnxConversionError("Pad with axes")
        pads = list(attrs["pads"]) if "pads" in attrs else [int(p) for p in consts[1]]
        value = attrs.get("value", float(consts[2]) if len(consts) > 2 and consts[2] is not None else 0.0)
        return self.pad(x, pads, value)

    def op_Concat(self, node, attrs, xs, consts) -> _Value:
        if any(x is None for x in xs):
            raise OnnxConversionError(f"Concat ({node.name}) of a constant and a computed tensor")
        dim = self.axis(attrs["axis"], xs[0], "Concat")
        return self.function(torch.cat, ([x.node for x in xs],), ([x.example for x in xs],), dim=dim)

    def op_MaxPool(self, node, attrs, xs, consts) -> _Value:
        op, x = node.op_type, self.single(node, xs)
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or attrs.get("ceil_mode", 0):
            raise OnnxConversionError(f"{op} with auto_pad or ceil_mode")
        k = tuple(attrs["kernel_shape"])
        stride = tuple(attrs.get("strides", [1] * len(k)))
        pad = _symmetric(attrs.get("pads", [0] * 2 * len(k)))
        if pad is None:
            raise OnnxConversionError(f"{op} with asymmetric padding {attrs['pads']}")
        if len(k) not in (1, 2):
            raise OnnxConversionError(f"{len(k)}-d {op}")
        if op == "MaxPool":
            cls = nn.MaxPool1d if len(k) == 1 else nn.MaxPool2d
            return self.layer(cls(k, stride, pad, dilation=tuple(attrs.get("dilations", [1] * len(k)))), x)
        cls = nn.AvgPool1d if len(k) == 1 else nn.AvgPool2d
        return self.layer(cls(k, stride, pad, count_include_pad=bool(attrs.get("count_include_pad", 0))), x)

    op_AveragePool = op_MaxPool

    def op_Conv(self, node, attrs, xs, consts) -> _Value:
        x = self.single(node, xs)
        weight = _tensor(consts[1])
        k = tuple(weight.shape[2:])
        if len(k) not in (1, 2) or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise OnnxConversionError(f"{len(k)}-d Conv or Conv with auto_pad")
        pads = list(attrs.get("pads", [0] * 2 * len(k)))
        padding = _symmetric(pads)
        if padding is None:  # asymmetric: pad first (ONNX pads list the spatial axes only)
            x, padding = self.pad(x, [0, 0, *pads[: len(k)], 0, 0, *pads[len(k) :]]), (0,) * len(k)
        cls = nn.Conv1d if len(k) == 1 else nn.Conv2d
        groups, bias = attrs.get("group", 1), len(consts) > 2 and consts[2] is not None
        layer = cls(
            weight.shape[1] * groups,
            weight.shape[0],
            k,
            stride=tuple(attrs.get("strides", [1] * len(k))),
            padding=padding,
            dilation=tuple(attrs.get("dilations", [1] * len(k))),
            groups=groups,
            bias=bias,
            dtype=self.dtype,
        )
        with torch.no_grad():
            layer.weight.copy_(weight)
            if bias:
                layer.bias.copy_(_tensor(consts[2]))
        return self.layer(layer, x)

    def op_BatchNormalization(self, node, attrs, xs, consts) -> _Value:
        x = self.single(node, xs)
        scale, bias, mean, var = (_tensor(c) for c in consts[1:5])
        layer = (nn.BatchNorm1d if len(x.features) <= 2 else nn.BatchNorm2d)(
            len(scale), eps=attrs.get("epsilon", 1e-5), dtype=self.dtype
        )
        with torch.no_grad():
            layer.weight.copy_(scale), layer.bias.copy_(bias)
            layer.running_mean.copy_(mean), layer.running_var.copy_(var)
        return self.layer(layer, x)


def graph_input(model) -> GraphInput:
    """The one input of an ONNX model (a ``ModelProto``), or :class:`OnnxConversionError`."""
    import onnx

    graph = model.graph
    initialized = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialized]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise OnnxConversionError("the converter needs a graph with one input and one output")
    tensor = inputs[0].type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    batched = not (len(dims) == 1 and dims[0])  # a rank-1 input of fixed size has no batch axis
    shape = tuple(dims[1:] if batched else dims)
    if not shape or any(d is None or d <= 0 for d in shape):
        raise OnnxConversionError(f"the converter needs a fixed input shape after the batch dimension, got {dims}")
    dtype = torch.float64 if tensor.elem_type == onnx.TensorProto.DOUBLE else torch.float32
    return GraphInput(inputs[0].name, shape, batched, dtype)


def convert_model(model) -> tuple[list[nn.Module] | fx.GraphModule, GraphInput]:
    """The torch form of an ONNX model (a ``ModelProto``) with one input and one output, and that input.

    Layers in the input's dtype (float64 for a float64 graph: the nn4sys networks cancel too much for float32).
    The list of layers when the graph is a chain of layers (for an ``nn.Sequential``), else a
    ``torch.fx.GraphModule``; raises :class:`OnnxConversionError` for a graph outside the converter's subset.
    """
    from onnx import numpy_helper

    source = graph_input(model)
    consts = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    builder = _Builder(model.graph, consts, source, opset)
    out = builder.convert()
    builder.graph.eliminate_dead_code()
    nodes = [n for n in builder.graph.nodes if n.op not in ("placeholder", "output")]
    previous = next(iter(builder.graph.nodes))
    chain = True
    for n in nodes:
        chain &= n.op == "call_module" and n.args == (previous,) and not n.kwargs
        previous = n
    if chain and out.node is previous:
        return [builder.root.get_submodule(n.target) for n in nodes], source
    builder.graph.lint()
    return fx.GraphModule(builder.root, builder.graph), source
