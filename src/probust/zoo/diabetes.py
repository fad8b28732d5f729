"""An offline regression data set and model: scikit-learn's diabetes data and a small MLP on it.

``load_diabetes(split)``: the 442 patients of Efron et al. (2004), bundled in the scikit-learn wheel
(``sklearn.datasets.load_diabetes``, nothing downloaded). Features: the 10 baseline variables, standardised
(scikit-learn's scaled columns times sqrt(442) = (raw - mean) / population sd), float32 of shape (N, 10).
Target: disease progression one year after baseline (float32, about 25 to 346, sd 77).
Split rule: ``numpy.random.default_rng(0).permutation(442)``; the first 88 (20%) are ``"test"``, the rest
``"train"``.

The zoo model ``diabetes-mlp`` (``probust.zoo.load_model("diabetes-mlp")``, ``--model diabetes-mlp``): a
10-32-32-1 ReLU MLP trained by ``scripts/train_diabetes.py``; its record ``zoo/regression/diabetes-mlp.json`` holds
the test RMSE and the weights' sha256, checked before ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch
from torch import nn

from probust.errors import ConfigurationError, DataError
from probust.zoo.models import ZooModel, _old_spellings, register_model

__all__ = ["RegressionData", "diabetes_mlp", "diabetes_record", "load_diabetes", "load_diabetes_mlp"]

_N, _N_TEST = 442, 88


@dataclasses.dataclass(frozen=True, eq=False)
class RegressionData:
    """Features ``x`` (N, d) and targets ``y`` (N,) of one split."""

    name: str
    split: str
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@functools.cache
def _arrays() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_diabetes as sk_load
    except ImportError as err:
        raise DataError("the diabetes data set ships with scikit-learn: pip install scikit-learn") from err
    bunch = sk_load()
    x = (bunch.data * math.sqrt(_N)).astype(np.float32)
    y = bunch.target.astype(np.float32)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_diabetes(split: str = "test") -> RegressionData:
    """One split (``"train"``, ``"test"`` or ``"all"``) of the diabetes data, as fresh tensors."""
    if split not in ("train", "test", "all"):
        raise ConfigurationError(f"unknown split {split!r}; valid splits: train, test, all")
    x, y = _arrays()
    perm = np.random.default_rng(0).permutation(_N)
    idx = {"test": perm[:_N_TEST], "train": perm[_N_TEST:], "all": np.arange(_N)}[split]
    return RegressionData("diabetes", split, torch.from_numpy(x[idx]), torch.from_numpy(y[idx]))


def diabetes_mlp() -> nn.Sequential:
    """10-32-32-1 ReLU MLP; the output is in the target's units."""
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))


def _data(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_diabetes(split)
    return data.x, data.y


register_model(ZooModel("diabetes-mlp", diabetes_mlp, "regression/diabetes-mlp.json", _data,
                        script="scripts/train_diabetes.py"))

load_diabetes_mlp, diabetes_record = _old_spellings("diabetes-mlp", "load_diabetes_mlp", "diabetes_record")
