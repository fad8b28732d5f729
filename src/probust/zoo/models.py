"""Pretrained zoo models: one registry of every model, each with a JSON record and checksummed weights.

A model is registered once (:func:`register_model`) with how to build its architecture, where its JSON record
lies (data set, measured test score, sha256 of the weights) and how to load its data. The image classifiers are
registered here, the regression and text models by their own modules (``zoo/diabetes.py``, ``zoo/wordlang.py``),
which ``probust.zoo`` imports: the registry is complete whenever the package is. Each model's weights file is
a float32 state dict written by its training script; its checksum is verified before anything is unpickled
(and then only by ``torch.load(weights_only=True)``), so a truncated, corrupt or swapped file fails loudly
instead of giving a model with wrong weights.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from probust._deprecation import deprecated_alias
from probust.errors import ConfigurationError, ModelLoadError
from probust.zoo.architectures import ARCHITECTURES
from probust.zoo.datasets import load_dataset

__all__ = [
    "ZooModel", "list_models", "load_model", "load_model_data", "load_state_dict_into", "model_info",
    "register_model", "verified_bytes",
]

_ZOO_DIR = Path(__file__).resolve().parent
_REINSTALL = "reinstall probust or re-run scripts/train_zoo.py"


@dataclasses.dataclass(frozen=True)
class ZooModel:
    """What the zoo knows of one model.

    Parameters
    ----------
    name
        The name users pass: ``load_model(name)``, ``probust evaluate --model name``.
    build
        Makes a fresh instance of the architecture, into which the weights are loaded.
    record
        Path of the JSON record, relative to the zoo directory; the record's ``weights_file`` is too.
    data
        ``data(split)``: inputs and targets (labels, or values for a regression model) of the model's data set;
        every model has the splits ``"train"`` and ``"test"``.
    script
        The script that trains the model and writes its weights and record (the remedy for a corrupt file).
    """

    name: str
    build: Callable[[], nn.Module]
    record: str
    data: Callable[[str], tuple[torch.Tensor, torch.Tensor]]
    script: str = "scripts/train_zoo.py"


_MODELS: dict[str, ZooModel] = {}


def register_model(model: ZooModel) -> ZooModel:
    """Add ``model`` to the zoo under ``model.name``, which must be new."""
    if model.name in _MODELS:
        raise ConfigurationError(f"zoo model {model.name!r} is already registered")
    _MODELS[model.name] = model
    return model


def list_models() -> list[str]:
    """Names accepted by :func:`load_model`, sorted."""
    return sorted(_MODELS)


def _entry(name: str) -> ZooModel:
    try:
        return _MODELS[name]
    except KeyError:
        raise ConfigurationError(f"unknown model {name!r}; valid names: {', '.join(list_models())}") from None


def model_info(name: str) -> dict[str, Any]:
    """Return the JSON record of a zoo model (a fresh dict each call).

    Every record holds ``name``, ``dataset``, ``input_shape``, ``n_train``, ``n_test``, ``sha256``,
    ``weights_file`` and ``training``; a classifier's also ``test_correct`` and ``test_accuracy``, a regression
    model's ``test_rmse``.

    Examples
    --------
    >>> info = model_info("mnist-cnn")
    >>> info["dataset"], info["n_test"], info["test_correct"] > 960
    ('mnist', 1000, True)
    """
    path = _ZOO_DIR / _entry(name).record
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
        The model in eval mode with float32 parameters on the CPU. It takes inputs of shape
        ``(batch, *info["input_shape"])`` (``info = model_info(name)``): the image models raw pixels in [0, 1]
        and return 10 logits.

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
    return _load_weights(name, _ZOO_DIR / model_info(name)["weights_file"])


def load_model_data(name: str, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of the data set a zoo model was trained (``"train"``) and measured (``"test"``) on.

    Examples
    --------
    >>> x, y = load_model_data("digits-mlp")
    >>> tuple(x.shape), tuple(y.shape)
    ((359, 1, 8, 8), (359,))
    """
    return _entry(name).data(split)


def _old_spellings(name: str, loader: str, record: str) -> tuple[Callable[[], nn.Module], Callable[[], dict[str, Any]]]:
    """The functions named ``loader`` and ``record`` that loaded model ``name`` and its record before the registry:
    now :func:`load_model` and :func:`model_info` of ``name``, with a DeprecationWarning."""
    return (deprecated_alias(loader, f'probust.zoo.load_model("{name}")', functools.partial(load_model, name)),
            deprecated_alias(record, f'probust.zoo.model_info("{name}")', functools.partial(model_info, name)))


def _load_weights(name: str, path: Path) -> nn.Module:
    """The zoo model ``name`` with the weights of ``path``, verified against its record's sha256 first.

    Separate from :func:`load_model` so tests can point it at a tampered copy of the weights.
    """
    entry = _entry(name)
    payload = verified_bytes(path, model_info(name)["sha256"], remedy=f"reinstall probust or re-run {entry.script}")
    return _load_state(entry.build(), payload, str(path), name)


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
    return _load_state(ARCHITECTURES[arch](), path, str(path), arch)


def _load_state(model: nn.Module, source: str | os.PathLike[str] | io.BytesIO, label: str, arch: str) -> nn.Module:
    """Load a state dict from ``source`` into ``model`` (of architecture ``arch``); every failure is a
    ModelLoadError."""
    try:
        state = torch.load(source, weights_only=True, map_location="cpu")
    except Exception as err:  # unpickling refused, not a torch file, truncated zip, I/O error...
        # torch's own text for a refused unpickling advises weights_only=False: wrong for a damaged file and
        # unsafe for an untrusted one, so only the error's kind is quoted
        raise ModelLoadError(
            f"cannot read {label} as a state dict ({type(err).__name__}): the file is damaged, is not a PyTorch "
            "file, or holds pickled objects, which are refused for safety; save weights with "
            "torch.save(model.state_dict(), path)"
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
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:  # missing/unexpected keys or shape mismatches, all listed by torch
        raise ModelLoadError(f"{label} does not fit architecture {arch!r}: {err}") from err
    return model.float().eval()


def _image_data(dataset: str) -> Callable[[str], tuple[torch.Tensor, torch.Tensor]]:
    """``ZooModel.data`` of a model of the image data set ``dataset`` (see :func:`probust.zoo.load_dataset`)."""

    def data(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        images = load_dataset(dataset, split)
        return images.x, images.y

    return data


register_model(ZooModel("mnist-mlp", ARCHITECTURES["mnist-mlp"], "mnist-mlp.json", _image_data("mnist")))
register_model(ZooModel("mnist-cnn", ARCHITECTURES["mnist-cnn"], "mnist-cnn.json", _image_data("mnist")))
register_model(ZooModel("digits-mlp", ARCHITECTURES["digits-mlp"], "digits-mlp.json", _image_data("digits")))
