"""Pretrained zoo models: a JSON record and a checksummed weights file per model.

Each model ``<name>`` is declared by ``zoo/<name>.json`` (architecture, data split, measured test
accuracy, sha256 of the weights) next to ``zoo/weights/<name>.pt`` (a float32 state dict), both written
by ``scripts/train_zoo.py``. The checksum is verified before anything is unpickled, so a truncated,
corrupt or swapped file fails loudly instead of giving a model with wrong weights.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from probust.errors import ConfigurationError, ModelLoadError
from probust.zoo.architectures import ARCHITECTURES

__all__ = ["list_models", "load_model", "load_state_dict_into", "model_info"]

_ZOO_DIR = Path(__file__).resolve().parent
_REINSTALL = "reinstall probust or re-run scripts/train_zoo.py"


def list_models() -> list[str]:
    """Names accepted by :func:`load_model`, sorted (one per JSON record in the zoo directory)."""
    return sorted(p.stem for p in _ZOO_DIR.glob("*.json"))


def model_info(name: str) -> dict[str, Any]:
    """Return the JSON record of a zoo model (a fresh dict each call).

    Examples
    --------
    >>> info = model_info("mnist-cnn")
    >>> info["dataset"], info["n_test"], info["test_correct"] > 960
    ('mnist', 1000, True)
    """
    if name not in list_models():
        raise ConfigurationError(f"unknown model {name!r}; valid names: {', '.join(list_models())}")
    path = _ZOO_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelLoadError(f"zoo record {path} is unreadable: {err}; {_REINSTALL}") from err


def load_model(name: str) -> nn.Module:
    """Load a pretrained zoo model, verifying its weights' sha256 first.

    Parameters
    ----------
    name : str
        One of :func:`list_models`.

    Returns
    -------
    torch.nn.Module
        The model in eval mode with float32 parameters on the CPU. It takes images in [0, 1] of
        shape ``(batch, *info["input_shape"])`` and returns logits of shape ``(batch, 10)``.

    Raises
    ------
    ConfigurationError
        Unknown ``name``.
    ModelLoadError
        The weights file is missing, corrupt or modified.

    Examples
    --------
    >>> model = load_model("digits-mlp")
    >>> model.training
    False
    """
    meta = model_info(name)
    return _load_from(_ZOO_DIR / meta["weights_file"], meta)


def _load_from(path: Path, meta: Mapping[str, Any]) -> nn.Module:
    """Verify ``path`` against ``meta["sha256"]``, then load it into ``meta["architecture"]``.

    Separate from :func:`load_model` so tests can point it at a tampered copy of the weights.
    """
    return _build(meta["architecture"], verified_bytes(path, meta["sha256"]), str(path))


def verified_bytes(path: str | os.PathLike[str], sha256: str, remedy: str = _REINSTALL) -> io.BytesIO:
    """The bytes of a shipped weights file, after checking them against their recorded sha256.

    The caller loads these bytes, not the file again, which could change in between. ``remedy`` ends the
    error message (how to get a good file back).
    """
    try:
        payload = Path(path).read_bytes()
    except OSError as err:
        raise ModelLoadError(f"weights file {path} cannot be read ({err}); {remedy}") from err
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sha256:
        raise ModelLoadError(
            f"weights file {path} is corrupt or modified: sha256 {digest}, expected {sha256}; {remedy}"
        )
    return io.BytesIO(payload)


def load_state_dict_into(arch: str, path: str | os.PathLike[str]) -> nn.Module:
    """Build a zoo architecture and load a user's state-dict file into it, safely.

    The file is read with ``torch.load(weights_only=True)``, which refuses to run pickled code, so
    only tensors and plain containers are accepted. Save weights with
    ``torch.save(model.state_dict(), path)``.

    Parameters
    ----------
    arch : str
        A key of :data:`ARCHITECTURES`, e.g. ``"mnist-cnn"``.
    path : str or os.PathLike
        A file written by ``torch.save(state_dict, path)``.

    Returns
    -------
    torch.nn.Module
        The model in eval mode with float32 parameters on the CPU.

    Raises
    ------
    ConfigurationError
        Unknown ``arch``.
    ModelLoadError
        The file is missing or unreadable, is not a state dict, or its keys or shapes do not fit ``arch``.
    """
    if arch not in ARCHITECTURES:
        raise ConfigurationError(f"unknown architecture {arch!r}; valid names: {', '.join(ARCHITECTURES)}")
    if not Path(path).is_file():
        raise ModelLoadError(f"weights file {path} does not exist or is not a file")
    return _build(arch, path, str(path))


def _build(arch: str, source: str | os.PathLike[str] | io.BytesIO, label: str) -> nn.Module:
    """Load a state dict from ``source`` into a new ``arch`` model; every failure is a ModelLoadError."""
    try:
        state = torch.load(source, weights_only=True, map_location="cpu")
    except Exception as err:  # unpickling refused, not a torch file, truncated zip, I/O error...
        raise ModelLoadError(
            f"cannot read {label} as a state dict ({type(err).__name__}: {err}); a pickled nn.Module or "
            f"arbitrary object is refused for safety: save weights with torch.save(model.state_dict(), path)"
        ) from err
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        if isinstance(state, Mapping):
            found = f"a dict with keys {sorted(map(str, state))[:5]}"
        else:
            found = type(state).__name__
        raise ModelLoadError(
            f"{label} holds {found}, not a state dict of tensors; "
            f"save weights with torch.save(model.state_dict(), path)"
        )
    model = ARCHITECTURES[arch]()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:  # missing/unexpected keys or shape mismatches, all listed by torch
        raise ModelLoadError(f"{label} does not fit architecture {arch!r}: {err}") from err
    return model.float().eval()
