"""The zoo's regression model: its data split, its record (sha256, test RMSE) and regression tolerance on it,
with an exact Gaussian tail on a linear model as the gold answer."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch

import probust as pb
from probust.zoo import diabetes


def test_split_is_disjoint_and_standardised():
    train, test, full = (diabetes.load_diabetes(s) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(full)) == (354, 88, 442)
    assert train.x.shape[1] == 10 and train.x.dtype == torch.float32
    torch.testing.assert_close(full.x.std(0, unbiased=False), torch.ones(10), atol=1e-4, rtol=0)
    rows = {tuple(r.tolist()) for r in train.x}
    assert not any(tuple(r.tolist()) in rows for r in test.x)
    with pytest.raises(pb.ConfigurationError, match="unknown split"):
        diabetes.load_diabetes("val")


def test_model_matches_its_record():
    info = pb.zoo.model_info("diabetes-mlp")
    model, test = pb.zoo.load_model("diabetes-mlp"), diabetes.load_diabetes("test")
    with torch.no_grad():
        rmse = float(((model(test.x).squeeze(1) - test.y) ** 2).mean().sqrt())
    assert rmse == pytest.approx(info["test_rmse"], abs=0.01)
    assert rmse < 0.75 * float(test.y.std())  # far better than predicting the mean


def test_old_spellings_warn_and_give_the_registry_s_model():
    with pytest.warns(DeprecationWarning, match=r'use probust.zoo.load_model\("diabetes-mlp"\)'):
        old = pb.zoo.load_diabetes_mlp()
    with pytest.warns(DeprecationWarning, match="model_info"):
        assert diabetes.diabetes_record() == pb.zoo.model_info("diabetes-mlp")
    x = diabetes.load_diabetes("test").x
    assert torch.equal(old(x), pb.zoo.load_model("diabetes-mlp")(x))


def test_regression_tolerance_runs_on_the_zoo_model():
    model, test = pb.zoo.load_model("diabetes-mlp"), diabetes.load_diabetes("test")
    res = pb.estimate(model, test.x[0], "gaussian:sigma=0.1", failure=pb.RegressionTolerance(5.0), budget=2000,
                      seed=0)
    assert res.failure.startswith("regression-tolerance:tolerance=5.0") and 0 < res.failure_probability < 1


def test_linear_regression_tolerance_meets_the_exact_gaussian_tail():
    # f(x') - f(x) = w . delta ~ N(0, sigma^2 |w|^2): P(|change| > t) = 2 Phi(-t / (sigma |w|))
    torch.manual_seed(0)
    model = torch.nn.Linear(10, 1).double().eval()
    sigma, t = 0.1, 0.12
    exact = 2 * scipy.stats.norm.sf(t / (sigma * float(model.weight.detach().norm())))
    res = pb.estimate(model, torch.zeros(10, dtype=torch.float64), f"gaussian:sigma={sigma}",
                      failure=pb.RegressionTolerance(t), budget=20_000, seed=1, confidence=0.999)
    assert res.ci.low <= exact <= res.ci.high
    assert abs(res.failure_probability - exact) < 4 * math.sqrt(exact * (1 - exact) / 20_000)
