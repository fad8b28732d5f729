"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from Debian's ``dataset-fashion-mnist`` package, read offline.

The package (``apt-get install dataset-fashion-mnist``; ``make install`` tries it) puts the four original IDX
files under ``/usr/share/datasets/fashion-mnist`` (override with ``PROBUST_FASHION_MNIST_DIR``): 60,000 training
and 10,000 test images of 28x28 grey levels 0-255, ten clothing classes, 6,000 / 1,000 per class. The IDX format
(big-endian magic 0x0803 / 0x0801, then the dimensions, then uint8 values) is parsed with numpy: nothing else
reads it without a download.

Split (documented, fixed): the zoo keeps the authors' split. ``"train"`` is the 60,000 official training
images and ``"test"`` the 10,000 official test images, each permuted by ``numpy.random.default_rng(0)`` (train
first, then test) so that a prefix mixes the classes; ``"all"`` is the 70,000 in file order, train then test.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["N_TRAIN", "read_fashion_mnist"]

N_TRAIN = 60_000
_DIR = "/usr/share/datasets/fashion-mnist"
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
_SIZES = {"train": N_TRAIN, "test": 10_000}


def folder() -> Path:
    return Path(os.environ.get("PROBUST_FASHION_MNIST_DIR", _DIR))


def _idx(path: Path, magic: int, shape: tuple[int, ...]) -> np.ndarray:
    hint = ("the 'fashion-mnist' data set comes from Debian's dataset-fashion-mnist package: "
            "sudo apt-get install dataset-fashion-mnist (or set PROBUST_FASHION_MNIST_DIR to the IDX files)")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read {path} ({err}); {hint}") from err
    header = 4 * (1 + len(shape))
    dims = tuple(int(v) for v in np.frombuffer(raw[:header], dtype=">u4")) if len(raw) >= header else ()
    if len(raw) != header + int(np.prod(shape)) or dims != (magic, *shape):
        raise DataError(f"{path} is not an IDX file of shape {shape} (header {dims}); {hint}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_fashion_mnist() -> tuple[np.ndarray, np.ndarray]:
    """All 70,000 images (float32 in [0, 1], shape (N, 1, 28, 28)) and labels, train then test, file order."""
    xs, ys = [], []
    for part, (images, labels) in _FILES.items():
        n = _SIZES[part]
        xs.append(_idx(folder() / images, 0x0803, (n, 28, 28)))
        ys.append(_idx(folder() / labels, 0x0801, (n,)))
    x = np.concatenate(xs).reshape(-1, 1, 28, 28).astype(np.float32) / np.float32(255)
    y = np.concatenate(ys).astype(np.int64)
    if y.max() > 9:
        raise DataError("fashion-mnist labels must be 0-9; the IDX files are corrupt")
    return x, y
