"""ONNX files as probust models: converted to torch layers, or run by onnxruntime.

:func:`load_onnx` converts a graph to torch layers when it can (bound propagation and gradients need layers): a
chain of layers becomes :class:`ConvertedOnnx` (an ``nn.Sequential``), any other graph (residual Add, Concat,
Transpose, Pad...) a ``torch.fx.GraphModule`` (:mod:`probust._onnx_ops` lists the operators). Every conversion is
checked against onnxruntime on random inputs. A graph outside the subset stays an onnxruntime model,
:class:`OnnxModel`, with the reason in its ``conversion_error``, and a warning says so once.

``.onnx.gz`` files are read directly (decompressed in memory). An input of rank 1 has no batch axis (nn4sys,
VNN-COMP's ``test`` networks): probust adds and removes it, in the converted module and in :class:`OnnxModel`.
"""

from __future__ import annotations

import gzip
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import fx, nn

from .errors import ModelError, ModelLoadError, first_line
from .querying import Model

__all__ = ["ConvertedOnnx", "OnnxModel", "load_onnx", "onnx_to_torch", "read_onnx_bytes"]

#: ONNX element types of the inputs we can feed, as numpy dtypes.
_ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}

#: Largest max |converted - onnxruntime| / max |onnxruntime| a conversion may show on its random probe inputs:
#: float32 sums in another order differ by a few units of 2^-24 ~ 6e-8 per layer; 1e-5 leaves room for deep
#: networks and still catches a wrong layer (an error of the size of the outputs).
RELATIVE_TOLERANCE = 1e-5

#: The estimators that need the model's layers (bound propagation).
_WHITE_BOX = "proven, bab, cramer-chernoff"


def read_onnx_bytes(path: Path) -> bytes:
    """The bytes of an ``.onnx`` file, or of an ``.onnx.gz`` file decompressed in memory."""
    data = path.read_bytes()
    if path.suffix.lower() != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError; a truncated file an EOFError
        raise ModelLoadError(
            f"cannot decompress {path} (not gzip, or truncated?): {first_line(err)}; "
            "pass the .onnx file or a complete .onnx.gz"
        ) from err


def load_onnx(path: Path) -> Model:
    """An ONNX file (``.onnx`` or ``.onnx.gz``) as torch layers when :func:`onnx_to_torch` converts it (checked
    against onnxruntime), else run by onnxruntime, with a warning naming what blocks the conversion."""
    data = read_onnx_bytes(path)
    runtime = OnnxModel(path, data)
    try:
        import onnx  # noqa: F401
    except ImportError:
        reason = "converting ONNX to torch layers needs the onnx package: pip install 'probust[onnx]'"
        module = None
    else:
        module, reason = onnx_to_torch(data, runtime, str(path))
    if module is not None:
        return module
    runtime.conversion_error = reason
    warnings.warn(
        f"{path} runs through onnxruntime, not as torch layers ({reason}): the white-box estimators "
        f"({_WHITE_BOX}) cannot bound it",
        stacklevel=4,
    )
    return runtime


class OnnxModel:
    """An ONNX model behind the probust model interface: a torch batch in, a torch tensor of outputs out.

    Runs on the CPU with onnxruntime, feeds the session's first input and returns its first output. A model
    exported with a fixed batch size is fed in chunks of that size (the last one padded); one whose input has
    rank 1 (no batch axis) is fed one input at a time.

    Parameters
    ----------
    path
        The ``.onnx`` or ``.onnx.gz`` file (named in messages).
    data
        Its (decompressed) bytes; read from ``path`` when omitted.
    """

    def __init__(self, path: Path, data: bytes | None = None):
        try:
            import onnxruntime
        except ImportError as err:
            raise ModelLoadError(
                f"reading {path} needs onnxruntime; install it with: pip install 'probust[onnx]'"
            ) from err
        data = read_onnx_bytes(path) if data is None else data
        try:
            self.session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's errors derive from Exception only
            raise ModelLoadError(f"cannot read ONNX file {path} (corrupt or not ONNX?): {first_line(err)}") from err
        first = self.session.get_inputs()[0]
        if first.type not in _ONNX_DTYPES:
            raise ModelLoadError(f"ONNX model {path} takes {first.type} inputs; only float inputs are supported")
        self.input_name, self.dtype = first.name, _ONNX_DTYPES[first.type]
        shape = list(first.shape or [])
        #: Whether the input's axis 0 is the batch (rank >= 2); a rank-1 input of fixed size is one input.
        self.batched = not (len(shape) == 1 and isinstance(shape[0], int) and shape[0] > 0)
        dims = shape[1:] if self.batched else shape
        batch_dim = shape[0] if self.batched and shape else None
        self.fixed_batch = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None
        self.input_shape = tuple(dims) if dims and all(isinstance(d, int) and d > 0 for d in dims) else None
        self.path = path
        #: Why the graph could not be converted to torch layers (set by ``load_onnx``).
        self.conversion_error = ""

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        array = batch.detach().cpu().numpy().astype(self.dtype, copy=False)
        if not self.batched:
            return torch.from_numpy(np.stack([self._run(row) for row in array]))
        size = self.fixed_batch or max(1, len(array))
        outputs = [self._run_padded(array[i : i + size], size) for i in range(0, len(array), size)]
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
            expects = f" (one input of shape {self.input_shape})" if self.input_shape else ""
            raise ModelError(
                f"ONNX model {self.path}{expects} failed on an array of shape {array.shape}: {first_line(err)}"
            ) from err

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r})"


# -- converter -----------------------------------------------------------------------------------------
class ConvertedOnnx(nn.Sequential):
    """An ONNX chain converted to torch layers; ``input_shape`` is one input's shape (no batch dimension)."""

    def __init__(self, layers: list[nn.Module], input_shape: tuple[int, ...], source: str):
        super().__init__(*layers)
        self.input_shape, self.source = input_shape, source


def onnx_to_torch(
    data: bytes, reference: Callable[[torch.Tensor], torch.Tensor], source: str = "<bytes>"
) -> tuple[nn.Module | None, str]:
    """``(module, "")`` for a convertible graph that agrees with ``reference`` (onnxruntime), else ``(None, why)``.

    The module is a :class:`ConvertedOnnx` for a chain of layers, else a ``torch.fx.GraphModule``; either takes a
    batch of inputs and has ``input_shape`` (one input's shape) and ``source`` attributes.
    """
    import onnx

    from ._onnx_ops import OnnxConversionError, convert_model  # with onnx, only when an ONNX file is loaded

    try:
        model = onnx.load_from_string(data)
    except Exception as err:  # protobuf errors derive from Exception only
        return None, f"onnx cannot read {source}: {first_line(err)}"
    try:
        converted, source_input = convert_model(model)
    except (OnnxConversionError, KeyError, IndexError, ValueError, RuntimeError, TypeError) as err:
        if isinstance(err, OnnxConversionError):
            return None, str(err)
        return None, f"the converter failed ({type(err).__name__}: {first_line(err)})"
    shape, dtype = source_input.shape, source_input.dtype
    if isinstance(converted, fx.GraphModule):
        module, converted.input_shape, converted.source = converted, shape, source
        # GraphModule.__deepcopy__ rebuilds the module and restores only the attributes listed here.
        converted.meta["_user_preserved_attributes"] = {"input_shape": shape, "source": source}
    else:
        module = ConvertedOnnx(converted, shape, source)
    module.eval()
    probe = (torch.rand(8, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(dtype)
    with torch.no_grad():
        mine, theirs = module(probe), torch.as_tensor(reference(probe)).to(dtype)
    if mine.shape != theirs.shape:
        return None, f"the converted layers return shape {tuple(mine.shape)}, onnxruntime {tuple(theirs.shape)}"
    error = float((mine - theirs).abs().max() / theirs.abs().max().clamp_min(torch.finfo(dtype).tiny))
    if not error <= RELATIVE_TOLERANCE:
        return None, f"the converted layers disagree with onnxruntime (relative error {error:.1e})"
    return module, ""
