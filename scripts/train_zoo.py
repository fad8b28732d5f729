"""Train the zoo models and write their weights and JSON records.

Usage::

    OMP_NUM_THREADS=1 python scripts/train_zoo.py [NAME ...] [--out DIR]

Without names, trains every model in ``RECIPES``. Training is deterministic: one CPU thread, a fixed
seed for initialisation and batch order, and a seeded random-shift augmentation. Re-running on the same
torch/BLAS build reproduces the weights bit for bit (and so their sha256). Each model is trained on the
``"train"`` split and evaluated on ``"test"`` (see ``probust.zoo.datasets`` for the split rule).
Files are written atomically (temp file + ``os.replace``), so an interrupted run never leaves a
half-written file; one interrupted between a model's weights and its record is caught by the sha256
check of ``probust.zoo.load_model``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from probust.zoo.architectures import ARCHITECTURES
from probust.zoo.datasets import ArrayDataset, load_dataset

ZOO_DIR = Path(__file__).resolve().parents[1] / "src" / "probust" / "zoo"


@dataclass(frozen=True)
class Recipe:
    """How one zoo model is trained."""

    architecture: str
    dataset: str
    epochs: int
    lr: float
    batch_size: int
    seed: int
    max_shift: int  # random translation of up to this many pixels per axis; 0 disables augmentation


RECIPES: dict[str, Recipe] = {
    "mnist-mlp": Recipe("mnist-mlp", "mnist", epochs=30, lr=2e-3, batch_size=64, seed=0, max_shift=2),
    "mnist-cnn": Recipe("mnist-cnn", "mnist", epochs=30, lr=2e-3, batch_size=64, seed=0, max_shift=2),
    # No shifts for 8x8 digits: one pixel is 1/8 of the image, and shifting lowered accuracy.
    "digits-mlp": Recipe("digits-mlp", "digits", epochs=100, lr=2e-3, batch_size=32, seed=0, max_shift=0),
}


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by a random integer offset in ``[-max_shift, max_shift]`` per axis, zero-filled.

    With only 4,000 MNIST training images, small shifts are the cheapest way to the accuracy targets.
    """
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=gen)
    rows = dy[:, None, None] + torch.arange(h)[None, :, None]
    cols = dx[:, None, None] + torch.arange(w)[None, None, :]
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


def train(recipe: Recipe, data: ArrayDataset) -> nn.Module:
    """Train a freshly initialised model with Adam, cross-entropy and a cosine learning-rate schedule.

    The cosine schedule anneals the rate to 0, so the last epochs settle instead of jittering
    by a percent of test accuracy from one epoch to the next.
    """
    torch.manual_seed(recipe.seed)  # parameter initialisation draws from the global generator
    model = ARCHITECTURES[recipe.architecture]()
    gen = torch.Generator().manual_seed(recipe.seed)  # batch order and augmentation
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs)
    model.train()
    for _ in range(recipe.epochs):
        for idx in torch.randperm(len(data), generator=gen).split(recipe.batch_size):
            loss = F.cross_entropy(model(random_shift(data.x[idx], recipe.max_shift, gen)), data.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        schedule.step()
    return model.eval()


@torch.no_grad()
def count_correct(model: nn.Module, data: ArrayDataset) -> int:
    """Number of test images whose argmax logit equals the label."""
    return int((model(data.x).argmax(dim=1) == data.y).sum())


def write_atomic(path: Path, payload: bytes) -> None:
    """Write via a temp file in the same directory and ``os.replace`` (atomic on POSIX and Windows)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; installed package data must be world-readable
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def build(name: str, recipe: Recipe, out: Path) -> dict:
    """Train, evaluate and save one model; return its JSON record."""
    train_data, test_data = load_dataset(recipe.dataset, "train"), load_dataset(recipe.dataset, "test")
    start = time.perf_counter()
    model = train(recipe, train_data)
    seconds = time.perf_counter() - start
    correct = count_correct(model, test_data)

    # Serialise to memory first so the sha256 is computed over exactly the bytes written.
    buf = io.BytesIO()
    torch.save({k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}, buf)
    weights = buf.getvalue()
    weights_file = f"weights/{name}.pt"
    (out / "weights").mkdir(parents=True, exist_ok=True)
    write_atomic(out / weights_file, weights)

    training = {k: v for k, v in asdict(recipe).items() if k not in ("architecture", "dataset")}
    training.update(optimizer="Adam", lr_schedule="cosine", train_seconds=round(seconds, 1))
    record = {
        "name": name,
        "architecture": recipe.architecture,
        "dataset": recipe.dataset,
        "train_split": "train",
        "test_split": "test",
        "input_shape": list(test_data.input_shape),
        "num_classes": test_data.num_classes,
        "n_train": len(train_data),
        "n_test": len(test_data),
        "test_correct": correct,
        "test_accuracy": round(correct / len(test_data), 4),
        "sha256": hashlib.sha256(weights).hexdigest(),
        "weights_file": weights_file,
        "training": training,
        "torch_version": torch.__version__,
        "created": datetime.date.today().isoformat(),
    }
    write_atomic(out / f"{name}.json", (json.dumps(record, indent=2) + "\n").encode())
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"models to train: {', '.join(RECIPES)} (default: all)")
    parser.add_argument("--out", type=Path, default=ZOO_DIR, help="zoo directory (default: %(default)s)")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - RECIPES.keys())
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; valid: {', '.join(RECIPES)}")
    # One thread: multi-threaded reductions can change summation order, and so the weights' sha256.
    torch.set_num_threads(1)
    for name in args.names or RECIPES:
        rec = build(name, RECIPES[name], args.out)
        size = (args.out / rec["weights_file"]).stat().st_size
        print(f"{name}: test accuracy {rec['test_accuracy']:.2%} ({rec['test_correct']}/{rec['n_test']}), "
              f"{rec['training']['train_seconds']} s, {size:,} bytes")


if __name__ == "__main__":
    main()
