"""Fashion-MNIST from Debian's dataset-fashion-mnist package (skipped, with the reason, where it is missing)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from probust.errors import DataError
from probust.zoo import list_datasets, load_dataset
from probust.zoo.fashion_mnist import folder

needs_package = pytest.mark.skipif(
    not (folder() / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist; "
           "make install tries it)")


def test_fashion_mnist_is_listed():
    assert "fashion-mnist" in list_datasets()


@needs_package
def test_the_official_split_shuffled():
    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    assert (len(train), len(test)) == (60_000, 10_000) and train.input_shape == (1, 28, 28)
    assert np.bincount(test.y.numpy()).tolist() == [1000] * 10
    assert 0 <= float(train.x.min()) and float(train.x.max()) <= 1
    assert len(set(test.y[:50].tolist())) > 5  # a prefix mixes the classes


def test_a_corrupt_file_names_the_package(tmp_path, monkeypatch):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        with gzip.open(tmp_path / name, "wb") as f:
            f.write(b"not idx")
    monkeypatch.setenv("PROBUST_FASHION_MNIST_DIR", str(tmp_path))
    from probust.zoo.fashion_mnist import read_fashion_mnist

    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        read_fashion_mnist()
