"""ONNX files as probust models: run by onnxruntime, or converted to torch ``nn.Sequential`` layers.

:func:`load_onnx` converts a graph to layers when it can (bound propagation and gradients need layers) and
otherwise returns the onnxruntime model, :class:`OnnxModel`, with the reason in its ``conversion_error``.

The converter covers the chain-shaped graphs of verification benchmarks (VNN-COMP): Gemm, MatMul, Add / Sub /
Mul / Div with a constant, Relu, Sigmoid, Tanh, MaxPool, AveragePool, Conv, BatchNormalization, Flatten, Reshape,
Identity, Dropout, Constant. Every conversion is checked against onnxruntime on random inputs; a graph outside
this subset (or one that disagrees) stays an onnxruntime model.

Written by hand: ``onnx2torch`` (PyPI) needs torchvision, which would pull another torch build, and emits
an ``fx.GraphModule`` of its own operator modules (``OnnxMatMul``, ``OnnxBinaryMathOperation``...) that the bound
propagation would have to learn anyway; this subset maps each node to a layer it already knows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .bounds import ElementwiseAffine
from .errors import ModelError, ModelLoadError, first_line
from .querying import Model

__all__ = ["ConvertedOnnx", "OnnxModel", "load_onnx", "onnx_to_torch"]

#: ONNX element types of the inputs we can feed, as numpy dtypes.
_ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


def load_onnx(path: Path) -> Model:
    """An ONNX file as torch layers when :func:`onnx_to_torch` converts it (checked against onnxruntime), else
    run by onnxruntime (``OnnxModel.conversion_error`` then says why; white-box estimators need layers)."""
    runtime = OnnxModel(path)
    try:
        import onnx  # noqa: F401
    except ImportError:
        runtime.conversion_error = "converting ONNX to torch layers needs the onnx package: pip install 'probust[onnx]'"
        return runtime
    module, reason = onnx_to_torch(path, runtime)
    if module is None:
        runtime.conversion_error = reason
        return runtime
    return module


class OnnxModel:
    """An ONNX model behind the probust model interface: a torch batch in, a torch tensor of outputs out.

    Runs on the CPU with onnxruntime, feeds the session's first input and returns its first output. A model
    exported with a fixed batch size is fed in chunks of that size (the last one padded).

    Parameters
    ----------
    path
        The ``.onnx`` file.
    """

    def __init__(self, path: Path):
        try:
            import onnxruntime
        except ImportError as err:
            raise ModelLoadError(
                f"reading {path} needs onnxruntime; install it with: pip install 'probust[onnx]'"
            ) from err
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's errors derive from Exception only
            raise ModelLoadError(
                f"cannot read ONNX file {path} (corrupt or not ONNX?): {first_line(err)}"
            ) from err
        first = self.session.get_inputs()[0]
        if first.type not in _ONNX_DTYPES:
            raise ModelLoadError(
                f"ONNX model {path} takes {first.type} inputs; only float inputs are supported"
            )
        self.input_name, self.dtype = first.name, _ONNX_DTYPES[first.type]
        batch_dim = first.shape[0] if first.shape else None
        self.fixed_batch = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None
        dims = list(first.shape[1:]) if first.shape else []
        self.input_shape = tuple(dims) if dims and all(isinstance(d, int) and d > 0 for d in dims) else None
        self.path = path
        #: Why the graph could not be converted to torch layers (set by ``load_onnx``).
        self.conversion_error = ""

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        array = batch.detach().cpu().numpy().astype(self.dtype, copy=False)
        size = self.fixed_batch or max(1, len(array))
        outputs = [self._run_padded(array[i:i + size], size) for i in range(0, len(array), size)]
        return torch.from_numpy(np.concatenate(outputs))

    def _run_padded(self, chunk: np.ndarray, size: int) -> np.ndarray:
        """Outputs of ``chunk``, padded to ``size`` rows (repeating its last row) for a fixed-batch model."""
        n = len(chunk)
        if n < size:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], size - n, axis=0)])
        return self._run(chunk)[:n]

    def _run(self, array: np.ndarray) -> np.ndarray:
        try:
            return self.session.run(None, {self.input_name: array})[0]
        except Exception as err:  # onnxruntime's errors derive from Exception only
            # A RuntimeError subclass, so the estimator reports a rejected clean input as an input error.
            raise ModelError(
                f"ONNX model {self.path} failed on a batch of shape {array.shape}: {first_line(err)}"
            ) from err

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r})"


# -- converter -----------------------------------------------------------------------------------------
class OnnxConversionError(Exception):
    """Why a graph is outside the converter's subset (internal: the caller falls back to onnxruntime)."""


class ConvertedOnnx(nn.Sequential):
    """An ONNX model converted to torch layers; ``input_shape`` is one input's shape (no batch dimension)."""

    def __init__(self, layers: list[nn.Module], input_shape: tuple[int, ...], source: str):
        super().__init__(*layers)
        self.input_shape, self.source = input_shape, source


def _attributes(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _features(shape: tuple[int, ...], value: np.ndarray) -> torch.Tensor:
    """A constant operand broadcast to one input's feature shape (dropping a leading batch dimension of 1)."""
    t = torch.from_numpy(np.asarray(value, dtype=np.float32).copy())
    if t.ndim == len(shape) + 1 and t.shape[0] == 1:
        t = t[0]
    try:
        return torch.broadcast_to(t, shape).clone()
    except RuntimeError:
        raise OnnxConversionError(f"a constant of shape {tuple(t.shape)} does not broadcast to {shape}") from None


def _symmetric(pads: list[int], what: str) -> tuple[int, ...]:
    half = len(pads) // 2
    if list(pads[:half]) != list(pads[half:]):
        raise OnnxConversionError(f"{what} with asymmetric padding {pads}")
    return tuple(pads[:half])


def _convert(graph, consts: dict[str, np.ndarray], shape: tuple[int, ...], current: str) -> list[nn.Module]:
    """The layers of a chain graph that starts at the input named ``current``, of one-input shape ``shape``."""
    layers: list[nn.Module] = []

    def run(layer: nn.Module) -> None:
        nonlocal shape
        layers.append(layer)
        with torch.no_grad():
            shape = tuple(layer.eval()(torch.zeros(1, *shape)).shape[1:])

    for node in graph.node:
        op, attrs = node.op_type, _attributes(node)
        if op == "Constant":
            from onnx import numpy_helper

            consts[node.output[0]] = numpy_helper.to_array(attrs["value"])
            continue
        ins = list(node.input)
        if current not in ins:
            raise OnnxConversionError(f"node {op} ({node.name}) does not continue the chain (branching graphs "
                                      "are not supported)")
        others = [consts.get(i) for i in ins if i != current and i]
        if any(o is None for o in others):
            raise OnnxConversionError(f"node {op} ({node.name}) combines two computed tensors")
        if op in ("Relu", "Sigmoid", "Tanh"):
            run({"Relu": nn.ReLU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh}[op]())
        elif op in ("Identity", "Dropout"):
            pass
        elif op == "Flatten":
            if attrs.get("axis", 1) != 1:
                raise OnnxConversionError(f"Flatten with axis={attrs['axis']}")
            run(nn.Flatten())
        elif op == "Reshape":
            target = [int(v) for v in others[0]]
            dims = [shape[i] if v == 0 else v for i, v in enumerate(target[1:])]  # ONNX: 0 copies that dim
            if -1 in dims:
                known = int(np.prod([d for d in dims if d != -1]))
                dims[dims.index(-1)] = int(np.prod(shape)) // known
            if int(np.prod(dims)) != int(np.prod(shape)):
                raise OnnxConversionError(f"Reshape of {shape} to {target} moves the batch dimension")
            if tuple(dims) != shape:
                run(nn.Flatten())
                if len(dims) > 1:
                    run(nn.Unflatten(1, tuple(dims)))
        elif op in ("Gemm", "MatMul"):
            if len(shape) != 1:
                raise OnnxConversionError(f"{op} on a {len(shape) + 1}-d tensor")
            if op == "Gemm" and attrs.get("transA", 0):
                raise OnnxConversionError("Gemm with transA=1")
            weight = np.asarray(others[0], dtype=np.float32)
            weight = weight if op == "Gemm" and attrs.get("transB", 0) else weight.T  # (out, in)
            layer = nn.Linear(weight.shape[1], weight.shape[0], bias=op == "Gemm")
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(weight * attrs.get("alpha", 1.0)))
                if op == "Gemm":
                    bias = others[1] * attrs.get("beta", 1.0) if len(others) > 1 else np.zeros(weight.shape[0])
                    layer.bias.copy_(torch.from_numpy(np.broadcast_to(bias, (weight.shape[0],)).astype(np.float32)))
            run(layer)
        elif op in ("Add", "Sub", "Mul", "Div"):
            c = _features(shape, others[0])
            first = ins[0] == current
            scale, shift = {"Add": (1.0, c), "Sub": (1.0, -c) if first else (-1.0, c),
                            "Mul": (c, 0.0), "Div": (1.0 / c, 0.0) if first else (None, None)}[op]
            if scale is None:
                raise OnnxConversionError("Div of a constant by the computed tensor")
            run(ElementwiseAffine(torch.as_tensor(scale).expand(shape).clone(),
                                  torch.as_tensor(shift).expand(shape).clone()))
        elif op in ("MaxPool", "AveragePool"):
            if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or attrs.get("ceil_mode", 0):
                raise OnnxConversionError(f"{op} with auto_pad or ceil_mode")
            k = tuple(attrs["kernel_shape"])
            stride = tuple(attrs.get("strides", [1] * len(k)))
            pad = _symmetric(attrs.get("pads", [0] * 2 * len(k)), op)
            if len(k) not in (1, 2):
                raise OnnxConversionError(f"{len(k)}-d {op}")
            if op == "MaxPool":
                cls = nn.MaxPool1d if len(k) == 1 else nn.MaxPool2d
                run(cls(k, stride, pad, dilation=tuple(attrs.get("dilations", [1] * len(k)))))
            else:
                cls = nn.AvgPool1d if len(k) == 1 else nn.AvgPool2d
                run(cls(k, stride, pad, count_include_pad=bool(attrs.get("count_include_pad", 0))))
        elif op == "Conv":
            weight = torch.from_numpy(np.asarray(others[0], dtype=np.float32).copy())
            k = tuple(weight.shape[2:])
            if len(k) not in (1, 2) or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise OnnxConversionError(f"{len(k)}-d Conv or Conv with auto_pad")
            cls = nn.Conv1d if len(k) == 1 else nn.Conv2d
            groups = attrs.get("group", 1)
            layer = cls(weight.shape[1] * groups, weight.shape[0], k, stride=tuple(attrs.get("strides", [1] * len(k))),
                        padding=_symmetric(attrs.get("pads", [0] * 2 * len(k)), "Conv"),
                        dilation=tuple(attrs.get("dilations", [1] * len(k))), groups=groups, bias=len(others) > 1)
            with torch.no_grad():
                layer.weight.copy_(weight)
                if len(others) > 1:
                    layer.bias.copy_(torch.from_numpy(np.asarray(others[1], dtype=np.float32)))
            run(layer)
        elif op == "BatchNormalization":
            scale, bias, mean, var = (torch.from_numpy(np.asarray(o, dtype=np.float32).copy()) for o in others[:4])
            layer = (nn.BatchNorm1d if len(shape) <= 2 else nn.BatchNorm2d)(len(scale), eps=attrs.get("epsilon", 1e-5))
            with torch.no_grad():
                layer.weight.copy_(scale), layer.bias.copy_(bias)
                layer.running_mean.copy_(mean), layer.running_var.copy_(var)
            run(layer)
        else:
            raise OnnxConversionError(f"ONNX operator {op} is not supported by the converter")
        current = node.output[0]
    if current != graph.output[0].name:
        raise OnnxConversionError("the graph's output is not the end of its chain")
    return layers


def onnx_to_torch(path: Path, reference: Callable[[torch.Tensor], torch.Tensor]) -> tuple[nn.Module | None, str]:
    """``(module, "")`` for a convertible graph that agrees with ``reference`` (onnxruntime), else ``(None, why)``."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as err:  # protobuf errors derive from Exception only
        return None, f"onnx cannot read {path}: {err}"
    graph = model.graph
    consts = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1 or len(graph.output) != 1:
        return None, "the converter needs a graph with one input and one output"
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) < 2 or any(d is None or d <= 0 for d in dims[1:]):
        return None, f"the converter needs a fixed input shape after the batch dimension, got {dims}"
    shape = tuple(dims[1:])
    try:
        module = ConvertedOnnx(_convert(graph, consts, shape, inputs[0].name), shape, str(path)).eval()
    except (OnnxConversionError, KeyError, IndexError, ValueError) as err:
        return None, str(err)
    probe = torch.rand(8, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        mine, theirs = module(probe), torch.as_tensor(reference(probe))
    if mine.shape != theirs.shape or not torch.allclose(mine, theirs.to(mine.dtype), rtol=1e-4, atol=1e-5):
        return None, "the converted layers disagree with onnxruntime"
    return module, ""
