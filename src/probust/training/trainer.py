"""``train``: one loop for every method, so that all are trained under the same budget and recorded alike.

Mini-batch Adam over a seeded permutation of the data for a fixed number of epochs; the method only supplies
the loss. Same seed, same data, same machine and thread count => the same weights, bit for bit (the only
randomness is one ``torch.Generator`` seeded with ``seed``; :func:`build_model` seeds the initialisation).
A non-finite loss stops training with a :class:`~probust.errors.ModelError`; the model is put back to the
weights of the last finished epoch, which the checkpoint file (if any) also holds.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .._files import write_bytes_atomic, write_json_atomic
from .._version import __version__
from ..errors import ConfigurationError, DataError, ModelError
from ..hardware import hardware
from ..perturbations import Perturbation, UniformLinf
from ..serialisation import Serialisable
from ..zoo import ARCHITECTURES, ArrayDataset
from ._base import Method, Step
from .methods import get_method

__all__ = ["TrainingRecord", "accuracy", "build_model", "data_hash", "estimate_seconds", "load_record", "save_model",
           "train"]


@dataclasses.dataclass(frozen=True)
class TrainingRecord(Serialisable):
    """What was trained, how, on what, and how long it took (JSON via :meth:`to_dict`)."""

    method: str
    params: dict[str, Any]
    eps: float
    perturbation: str
    epochs: int
    batch_size: int
    lr: float
    optimizer: str
    seed: int
    dataset: str
    split: str
    n_train: int
    data_hash: str
    epoch_loss: tuple[float, ...]
    epoch_accuracy: tuple[float, ...]
    seconds: float
    hardware: dict[str, Any]
    probust_version: str
    arch: str | None = None
    completed: bool = True


def data_hash(dataset: ArrayDataset) -> str:
    """sha256 (first 16 hex digits) of the images' and labels' bytes."""
    h = hashlib.sha256()
    h.update(dataset.x.contiguous().numpy().tobytes())
    h.update(dataset.y.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def build_model(arch: str, seed: int) -> torch.nn.Module:
    """A zoo architecture with its initial weights drawn from ``seed`` (the global RNG is left as it was)."""
    if arch not in ARCHITECTURES:
        raise ConfigurationError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return ARCHITECTURES[arch]()


def _check(model: torch.nn.Module, dataset: ArrayDataset, eps: float, epochs: int, batch_size: int,
           lr: float) -> None:
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ConfigurationError(f"eps must be a finite number > 0, got {eps!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigurationError(f"epochs must be an integer >= 1, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigurationError(f"lr must be a finite number > 0, got {lr!r}")
    if len(dataset) < 1:
        raise DataError(f"data set {dataset.name!r} ({dataset.split}) is empty")
    try:
        with torch.no_grad():
            out = model(dataset.x[:2])
    except RuntimeError as err:
        raise DataError(f"data set {dataset.name!r} has inputs of shape {dataset.input_shape}, which the model "
                        f"does not accept ({str(err).splitlines()[0]}); pick an architecture for that shape") from err
    if out.ndim != 2 or out.shape[1] < (dataset.num_classes or 0):
        raise DataError(f"the model returns outputs of shape {tuple(out.shape)}, but data set {dataset.name!r} has "
                        f"{dataset.num_classes} classes; it needs logits of shape (batch, {dataset.num_classes})")


def estimate_seconds(model: torch.nn.Module, dataset: ArrayDataset, method: str | Method, *, eps: float, epochs: int,
                     batch_size: int = 128, lr: float = 1e-3, repeats: int = 3) -> float:
    """A-priori training time: ``epochs * batches * method.cost * t_pass``, before any training step.

    ``Method.cost`` is the method's forward-backward passes per batch relative to ERM; ``t_pass`` is one ERM
    forward-backward pass on a batch of ``dataset``, timed on a copy of ``model`` (so batch-norm statistics and
    the global RNG stay as they were), the fastest of ``repeats`` after a warm-up pass. An estimate, not a
    bound: methods with data-dependent work run longer (AT-PR's walk-back: ~1.3-1.5x the figure on mnist-cnn,
    measured on 2 shared cores), so the progress bar's ETA, which follows the measured batches, is the better
    figure once training runs. The arguments are those of :func:`train`, checked as it checks them.
    """
    method = get_method(method)
    _check(model, dataset, eps, epochs, batch_size, lr)
    probe = copy.deepcopy(model).train()
    x, y = dataset.x[:batch_size], dataset.y[:batch_size]
    times = []
    with torch.random.fork_rng():
        for _ in range(repeats + 1):
            start = time.perf_counter()
            torch.nn.functional.cross_entropy(probe(x), y).backward()
            times.append(time.perf_counter() - start)
    return epochs * math.ceil(len(dataset) / batch_size) * method.cost * min(times[1:])


def accuracy(model: torch.nn.Module, dataset: ArrayDataset, batch_size: int = 1000) -> float:
    """The fraction of ``dataset`` that ``model`` classifies right (top-1, in eval mode, batched)."""
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(dataset.x[i:i + batch_size]).argmax(1) == dataset.y[i:i + batch_size]).sum())
                      for i in range(0, len(dataset), batch_size))
    return correct / len(dataset)


def train(
    model: torch.nn.Module,
    dataset: ArrayDataset,
    method: str | Method = "erm",
    *,
    eps: float,
    epochs: int,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 1e-3,
    perturbation: Perturbation | None = None,
    checkpoint: str | Path | None = None,
    arch: str | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> tuple[torch.nn.Module, TrainingRecord]:
    """Train ``model`` in place on ``dataset`` with a registered method; returns it and its record.

    Parameters
    ----------
    model
        The network (e.g. :func:`build_model`); trained in place.
    dataset
        Training images in [0, 1] and labels (a :class:`~probust.zoo.ArrayDataset`).
    method
        A name of :data:`~probust.training.METHODS` (default hyper-parameters) or a method instance.
    eps
        Training radius: the L-infinity budget of the adversarial methods and, unless ``perturbation`` is
        given, the law of the noise methods: ``UniformLinf(eps, clip=(0, 1))``.
    epochs, seed, batch_size, lr
        Budget and optimiser (Adam); the seed drives the data order and every random draw of the method.
    checkpoint
        If given, the model and a partial record are saved there (atomically) after every epoch.
    arch
        Architecture name, recorded (so that the saved state dict says how to load it).
    progress
        Called after every batch with ``(epoch, batch, loss)``.

    Returns
    -------
    (model, TrainingRecord)

    Raises
    ------
    ConfigurationError
        Unknown method, eps <= 0, epochs < 1...
    DataError
        Inputs the model does not accept, or too few outputs for the classes.
    ModelError
        A non-finite loss: the model is reset to the last finished epoch's weights (saved in ``checkpoint``).
    """
    method = get_method(method)
    _check(model, dataset, eps, epochs, batch_size, lr)
    law = perturbation if perturbation is not None else UniformLinf(eps=float(eps), clip=(0.0, 1.0))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n, batches = len(dataset), math.ceil(len(dataset) / batch_size)
    base = dict(method=method.name, params=method.params(), eps=float(eps), perturbation=law.to_spec(),
                epochs=epochs, batch_size=batch_size, lr=lr, optimizer="adam", seed=seed, dataset=dataset.name,
                split=dataset.split, n_train=n, data_hash=data_hash(dataset), hardware=hardware(),
                probust_version=__version__, arch=arch)
    losses: list[float] = []
    accuracies: list[float] = []
    good = {k: v.clone() for k, v in model.state_dict().items()}
    start = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator)
        total, correct = 0.0, 0
        for b in range(batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            x, y = dataset.x[idx], dataset.y[idx]
            step = Step(law, float(eps), generator, (epoch + b / batches) / epochs)
            loss = method.loss(model, x, y, step)
            if not torch.isfinite(loss):
                model.load_state_dict(good)
                where = f"; the last good checkpoint (epoch {epoch}) is {checkpoint}" if checkpoint and epoch else ""
                raise ModelError(f"{method.name}: non-finite loss ({loss.item()}) at epoch {epoch + 1}, batch "
                                 f"{b + 1}; training stopped and the model reset to its weights after epoch "
                                 f"{epoch}{where}; lower lr (now {lr:g}) or check the data")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            with torch.no_grad():
                correct += int((model(x).argmax(1) == y).sum())
            if progress is not None:
                progress(epoch, b, loss.item())
        losses.append(total / n)
        accuracies.append(correct / n)
        good = {k: v.clone() for k, v in model.state_dict().items()}
        if checkpoint is not None:
            partial = TrainingRecord(**base, epoch_loss=tuple(losses), epoch_accuracy=tuple(accuracies),
                                     seconds=time.perf_counter() - start, completed=epoch + 1 == epochs)
            save_model(checkpoint, model, partial)
    record = TrainingRecord(**base, epoch_loss=tuple(losses), epoch_accuracy=tuple(accuracies),
                            seconds=time.perf_counter() - start)
    model.eval()
    return model, record


def _record_path(path: Path) -> Path:
    return path.with_suffix(".json")


def save_model(path: str | Path, model: torch.nn.Module, record: TrainingRecord) -> None:
    """Save the state dict at ``path`` and the record as JSON next to it (``path`` with suffix .json), each
    atomically: a reader sees the old file or the complete new one. Load with ``--arch`` / weights_only."""
    path = Path(path)
    if path.suffix == ".json":
        raise ConfigurationError(f"model path {path} ends in .json, which is where its record goes; use .pt")
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    write_bytes_atomic(path, buffer.getvalue())
    write_json_atomic(_record_path(path), record.to_dict())


def load_record(path: str | Path) -> TrainingRecord:
    """The training record saved next to the model file ``path``."""
    rec = _record_path(Path(path))
    try:
        return TrainingRecord.from_dict(json.loads(rec.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as err:
        raise DataError(f"cannot read the training record {rec} ({err})") from err
