"""Models from a zoo name or a user's file: TorchScript, a state dict of a zoo architecture, or ONNX.

:func:`load_model` is the one public loader (the CLI's ``--model``); :func:`probust.zoo.load_model` loads zoo
models by name only. Nothing here unpickles arbitrary code: TorchScript archives are read by ``torch.jit.load``
(code in its own restricted language), state dicts by ``torch.load(weights_only=True)`` and ONNX files by onnx
and onnxruntime. Every problem a user can cause becomes a :class:`~probust.errors.ModelLoadError` or
:class:`~probust.errors.ConfigurationError` whose message says what to fix.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import zoo
from ._onnx import load_onnx
from .errors import ConfigurationError, DataError, ModelLoadError, first_line
from .querying import Model

__all__ = ["ONNX_SUFFIXES", "TORCH_SUFFIXES", "load_model", "load_model_file", "model_input_shape"]

#: Extensions of files read by torch (TorchScript archive or state dict; the content decides which).
TORCH_SUFFIXES = (".pt", ".pth", ".ts", ".jit")
#: Extensions of ONNX files (``.onnx.gz``: gzip-compressed, as VNN-COMP ships large networks).
ONNX_SUFFIXES = (".onnx", ".onnx.gz")


def load_model(source: str | os.PathLike[str], arch: str | None = None) -> Model:
    """A model from a zoo name or a file (TorchScript, state dict with ``arch``, or ONNX).

    Parameters
    ----------
    source
        Zoo model name (see :func:`probust.zoo.list_models`) or path to a model file.
    arch
        Zoo architecture of a state-dict file (see :data:`probust.zoo.ARCHITECTURES`); only valid with one.

    Returns
    -------
    Model
        An ``nn.Module`` in eval mode, or a callable running an ONNX graph that could not be converted to layers.

    Raises
    ------
    ModelLoadError
        Unknown name, missing, corrupt or unsupported file, or a state dict without ``arch``.
    ConfigurationError
        ``arch`` given with something that is not a state dict.

    Examples
    --------
    >>> import probust as pb
    >>> pb.load_model("digits-mlp").training
    False
    """
    name = os.fspath(source)
    if name in zoo.list_models():
        _reject_arch(arch, f"zoo model {name!r}")
        return zoo.load_model(name)
    # A bare word that names no file is most likely a mistyped zoo name; anything path-like a missing file.
    if not os.path.exists(name) and not Path(name).suffix and os.sep not in name and "/" not in name:
        raise ModelLoadError(
            f"unknown model {name!r}: not a zoo model ({', '.join(zoo.list_models())}) nor an existing file"
        )
    return load_model_file(name, arch)


def load_model_file(path: str | os.PathLike[str], arch: str | None = None) -> Model:
    """A model from a file: TorchScript, a state dict of the zoo architecture ``arch``, or ONNX (``.onnx.gz`` too).

    Same as :func:`load_model` without zoo names; the file's extension and content decide how it is read.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model path {path} is not a file" if path.exists() else f"model file not found: {path}")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    if suffix in ONNX_SUFFIXES:
        _reject_arch(arch, f"ONNX file {path}")
        return load_onnx(path)
    if suffix not in TORCH_SUFFIXES:
        raise ModelLoadError(
            f"unsupported model file extension {suffix or '(none)'!r} of {path}; use a TorchScript or "
            f"state-dict file ({', '.join(TORCH_SUFFIXES)}) or an ONNX file ({', '.join(ONNX_SUFFIXES)})"
        )
    names = _zip_names(path)
    if names is not None and _is_torchscript(names):
        _reject_arch(arch, f"TorchScript file {path}")
        return _load_torchscript(path)
    if arch is None:
        raise ModelLoadError(_no_arch_message(path, names))
    return zoo.load_state_dict_into(arch, path)


def declared_input_shape(model: Model, source: str) -> tuple[int, ...] | None:
    """One input's shape as the model declares it (an ONNX graph's input, a zoo record), or None."""
    shape = getattr(model, "input_shape", None)
    if shape is None and source in zoo.list_models():
        shape = zoo.model_info(source)["input_shape"]
    return None if shape is None else tuple(shape)


def model_input_shape(model: Model, source: str, n_inputs: int) -> tuple[int, ...]:
    """One input's shape for a model that takes ``n_inputs`` values (ONNX graph, zoo record, else flat)."""
    shape = declared_input_shape(model, source)
    if shape is None:
        return (n_inputs,)
    if int(np.prod(shape)) != n_inputs:
        raise DataError(f"the VNNLIB property has {n_inputs} inputs but the model takes inputs of shape "
                        f"{tuple(shape)} ({int(np.prod(shape))} values)")
    return tuple(shape)


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
            f"cannot read TorchScript file {path} (corrupt or truncated?): {first_line(err)}"
        ) from err
    return model.eval()
