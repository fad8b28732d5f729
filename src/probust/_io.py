"""Files the CLI reads and writes: user models, input arrays, index selections and JSON reports.

Every problem a user can cause (missing or corrupt file, wrong format, missing key...) becomes a
:class:`~probust.errors.ProbustError` whose message says what to fix, so the CLI can report it in one
line. Nothing here unpickles arbitrary code: TorchScript archives are read by ``torch.jit.load`` (code
in its own restricted language), state dicts by ``torch.load(weights_only=True)`` (inside the zoo) and
arrays with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import zoo
from .errors import ConfigurationError, DataError, ModelError, ModelLoadError
from .querying import Model

__all__ = [
    "OnnxModel", "check_output_path", "load_inputs", "load_model", "load_onnx", "model_input_shape", "parse_indices",
    "write_json_atomic", "write_text_atomic",
]

#: Extensions of files read by torch (TorchScript archive or state dict; the content decides which).
TORCH_SUFFIXES = (".pt", ".pth", ".ts", ".jit")
INPUT_SUFFIXES = (".npy", ".npz")
_INDICES_HELP = "use A:B, :B, A:, a single index I or a comma list like 1,5,9"
#: ONNX element types of the inputs we can feed, as numpy dtypes.
_ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


# -- models --------------------------------------------------------------------------------------------
def load_model(spec: str, arch: str | None = None) -> Model:
    """A model from a zoo name or a file (TorchScript, state dict with ``arch``, or ONNX).

    Parameters
    ----------
    spec
        Zoo model name (see :func:`probust.zoo.list_models`) or path to a model file.
    arch
        Zoo architecture of a state-dict file; only valid with a state-dict file.

    Returns
    -------
    Model
        An ``nn.Module`` in eval mode, or a callable wrapping an ONNX session.

    Raises
    ------
    ModelLoadError
        Unknown name, missing, corrupt or unsupported file, or a state dict without ``arch``.
    ConfigurationError
        ``arch`` given with something that is not a state dict.
    """
    if spec in zoo.list_models():
        _reject_arch(arch, f"zoo model {spec!r}")
        return zoo.load_model(spec)
    path = _existing_model_file(spec)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        _reject_arch(arch, f"ONNX file {path}")
        return load_onnx(path)
    if suffix not in TORCH_SUFFIXES:
        raise ModelLoadError(
            f"unsupported model file extension {suffix or '(none)'!r} of {path}; use a TorchScript or "
            f"state-dict file ({', '.join(TORCH_SUFFIXES)}) or an ONNX file (.onnx)"
        )
    names = _zip_names(path)
    if names is not None and _is_torchscript(names):
        _reject_arch(arch, f"TorchScript file {path}")
        return _load_torchscript(path)
    if arch is None:
        raise ModelLoadError(_no_arch_message(path, names))
    return zoo.load_state_dict_into(arch, path)


def load_onnx(path: Path) -> Model:
    """An ONNX file as torch layers when ``_onnx`` converts it (checked against onnxruntime), else run by
    onnxruntime (``OnnxModel.conversion_error`` then says why; white-box estimators need layers)."""
    runtime = OnnxModel(path)
    try:
        import onnx  # noqa: F401
    except ImportError:
        runtime.conversion_error = "converting ONNX to torch layers needs the onnx package: pip install 'probust[onnx]'"
        return runtime
    from ._onnx import onnx_to_torch

    module, reason = onnx_to_torch(path, runtime)
    if module is None:
        runtime.conversion_error = reason
        return runtime
    return module


def model_input_shape(model: Model, spec: str, n_inputs: int) -> tuple[int, ...]:
    """One input's shape for a model that takes ``n_inputs`` values (ONNX graph, zoo record, else flat)."""
    shape = getattr(model, "input_shape", None)
    if shape is None and spec in zoo.list_models():
        shape = tuple(zoo.model_info(spec)["input_shape"])
    if shape is None:
        return (n_inputs,)
    if int(np.prod(shape)) != n_inputs:
        raise DataError(f"the VNNLIB property has {n_inputs} inputs but the model takes inputs of shape "
                        f"{tuple(shape)} ({int(np.prod(shape))} values)")
    return tuple(shape)


def _existing_model_file(spec: str) -> Path:
    path = Path(spec)
    if path.is_file():
        return path
    if path.exists():
        raise ModelLoadError(f"model path {spec} is not a file")
    # A bare word is most likely a mistyped zoo name; anything path-like a missing file.
    if not path.suffix and os.sep not in spec and "/" not in spec:
        raise ModelLoadError(
            f"unknown model {spec!r}: not a zoo model ({', '.join(zoo.list_models())}) nor an existing file"
        )
    raise ModelLoadError(f"model file not found: {spec}")


def _reject_arch(arch: str | None, what: str) -> None:
    if arch is not None:
        raise ConfigurationError(f"--arch is only for state-dict files, but the model is {what}; drop --arch")


def _zip_names(path: Path) -> list[str] | None:
    """Member names of a zip archive, or ``None`` if the file is no complete zip (garbage, truncated)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None


def _is_torchscript(names: list[str]) -> bool:
    """Whether a zip is TorchScript: it holds ``constants.pkl`` or a ``code/`` folder (state dicts do not)."""
    return any(n.split("/")[-1] == "constants.pkl" or "code" in n.split("/")[:-1] for n in names)


def _no_arch_message(path: Path, names: list[str] | None) -> str:
    archs = ", ".join(zoo.ARCHITECTURES)
    if names is not None:
        return f"{path} holds weights only (a state dict?); pass --arch with its architecture: one of {archs}"
    return (
        f"{path} is not a readable TorchScript or torch.save archive (corrupt or truncated?); if it is a "
        f"legacy-format state dict, pass --arch with its architecture: one of {archs}"
    )


def _load_torchscript(path: Path) -> torch.nn.Module:
    try:
        with warnings.catch_warnings():
            # torch >= 2.9 deprecates TorchScript; reading user archives is still its supported use.
            warnings.simplefilter("ignore", DeprecationWarning)
            model = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as err:
        raise ModelLoadError(
            f"cannot read TorchScript file {path} (corrupt or truncated?): {_first_line(err)}"
        ) from err
    return model.eval()


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
                f"cannot read ONNX file {path} (corrupt or not ONNX?): {_first_line(err)}"
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
                f"ONNX model {self.path} failed on a batch of shape {array.shape}: {_first_line(err)}"
            ) from err

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r})"


# -- inputs --------------------------------------------------------------------------------------------
def load_inputs(path: str | Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Read inputs (and optional labels) from ``.npy`` (array ``N x ...``) or ``.npz`` (keys ``x``, ``y``).

    Returns
    -------
    x, y
        float32 inputs of shape ``(N, ...)``, and int64 labels of shape ``(N,)`` or ``None``.

    Raises
    ------
    DataError
        Missing, corrupt or unsupported file, missing key ``x``, non-numeric or non-finite inputs,
        malformed labels.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"inputs file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise DataError(
            f"unsupported inputs file extension {suffix or '(none)'!r} of {path}; use .npy or .npz"
        )
    x, y = _read_arrays(path, suffix)
    return _check_inputs(x, path), (None if y is None else _check_labels(y, len(x), path))


def _read_arrays(path: Path, suffix: str) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy may warn about a damaged header before raising
            # allow_pickle=False: object arrays would unpickle arbitrary code. np.load reads the format
            # from the file's magic bytes, not from its name.
            loaded = np.load(path, allow_pickle=False)
            if isinstance(loaded, np.ndarray):
                return loaded, None
            with loaded:
                files = list(loaded.files)
                arrays = {key: loaded[key] for key in ("x", "y") if key in files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(
            f"cannot read {path} as {suffix} (corrupt, truncated or pickled?): {_first_line(err)}"
        ) from err
    if "x" not in arrays:
        raise DataError(
            f"{path} has no array 'x' (found: {', '.join(files) or 'none'}); "
            "save the inputs with np.savez(path, x=inputs) or np.savez(path, x=inputs, y=labels)"
        )
    return arrays["x"], arrays.get("y")


def _check_inputs(x: np.ndarray, path: Path) -> torch.Tensor:
    if x.dtype.kind not in "iuf":
        raise DataError(f"inputs in {path} must be numbers, got dtype {x.dtype}")
    if x.ndim < 2 or len(x) == 0:
        raise DataError(
            f"inputs in {path} must be an array of N >= 1 inputs of shape (N, ...), got shape {x.shape}"
        )
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise DataError(
            f"inputs in {path} contain NaN or Inf ({len(bad)} inputs, first {bad[:5].tolist()}); clean them"
        )
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _check_labels(y: np.ndarray, n: int, path: Path) -> torch.Tensor:
    if y.dtype.kind not in "iu" or y.shape != (n,):
        raise DataError(
            f"labels 'y' in {path} must be {n} integers (shape ({n},)), got {y.dtype} of shape {y.shape}"
        )
    return torch.from_numpy(y.astype(np.int64))


# -- index selections ----------------------------------------------------------------------------------
def parse_indices(text: str | None, n: int) -> list[int]:
    """Resolve an index selection over ``n`` inputs.

    Parameters
    ----------
    text
        ``None`` (all), a slice ``A:B`` / ``:B`` / ``A:`` / ``A:B:S`` (Python semantics, negative counts
        from the end), a single index ``I`` or a comma list ``1,5,9``.
    n
        Number of available inputs.

    Returns
    -------
    list of int
        Non-negative indices in selection order.

    Raises
    ------
    ConfigurationError
        Malformed text, an index or slice bound outside the data, or an empty selection.

    Examples
    --------
    >>> parse_indices("1:4", 10), parse_indices("-1", 10), parse_indices("0,5", 10)
    ([1, 2, 3], [9], [0, 5])
    """
    if text is None:
        return list(range(n))
    indices = _slice_indices(text, n) if ":" in text else _listed_indices(text, n)
    if not indices:
        raise ConfigurationError(f"--indices {text!r} selects no input out of {n}")
    return indices


def _slice_indices(text: str, n: int) -> list[int]:
    pieces = text.split(":")
    if len(pieces) > 3:
        raise ConfigurationError(f"bad --indices {text!r}; {_INDICES_HELP}")
    parts = [_index(p, text) if p.strip() else None for p in pieces]
    for bound in parts[:2]:
        # Python would silently clip; a bound beyond the data is more likely a mistake.
        if bound is not None and not -n <= bound <= n:
            raise ConfigurationError(f"--indices {text!r} is out of range: {_there_are(n)}")
    if parts[2:] == [0]:
        raise ConfigurationError(f"bad --indices {text!r}: the step must not be 0")
    return list(range(n))[slice(*parts)]


def _listed_indices(text: str, n: int) -> list[int]:
    indices = [_index(p, text) for p in text.split(",")]
    for i in indices:
        if not -n <= i < n:
            raise ConfigurationError(f"index {i} in --indices is out of range: {_there_are(n)}")
    return [i % n for i in indices]


def _index(part: str, text: str) -> int:
    try:
        return int(part)
    except ValueError:
        raise ConfigurationError(
            f"bad --indices {text!r}: {part!r} is not an integer; {_INDICES_HELP}"
        ) from None


def _there_are(n: int) -> str:
    return f"there are {n} inputs (indices 0 to {n - 1}, or -{n} to -1 from the end)"


# -- output --------------------------------------------------------------------------------------------
def check_output_path(path: str | Path) -> Path:
    """Fail early (before hours of computation) if ``path`` cannot receive a file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigurationError(f"output path {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise ConfigurationError(f"output directory {path.parent} does not exist; create it first")
    return path


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as JSON atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) so that ``path`` holds either the old content or the complete new one."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old content or the complete new one.

    The bytes go to a temporary file in the same directory (same file system, so the rename is atomic),
    are flushed and fsynced, then renamed over ``path``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; a report should be as readable as any file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _first_line(err: BaseException) -> str:
    """The first line of an exception message (torch's and onnxruntime's run over many lines)."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
