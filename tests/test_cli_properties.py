"""``--failure SPEC``: each property from the CLI gives the API's numbers, and bad input (unknown property,
out-of-range parameter, a model without gradients for a saliency map, calibration inputs) exits 2 with nothing
written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import probust as pb
from probust import _rng
from probust.cli import main
from probust.conformal import zoo_conformal

MODEL, DATASET = "digits-mlp", "digits"  # the fastest zoo pair, inputs (1, 8, 8)
EPS = "uniform-linf:eps=0.1,clip=0:1"


def evaluate(tmp_path, failure, *extra):
    path = tmp_path / "out.json"
    code = main(["evaluate", "--model", MODEL, "--dataset", DATASET, "--indices", "0:2", "--perturbation", EPS,
                 "--budget", "300", "--seed", "3", "--quiet", "--json", str(path), "--failure", failure, *extra])
    return code, path


def direct(model, failure, index=0):
    x = pb.zoo.load_dataset(DATASET).x[index]
    return pb.estimate(model, x, EPS, failure=failure, budget=300, seed=_rng.derive_seed(3, index))


@pytest.mark.parametrize(("spec", "build"), [
    ("explanation-topk:k=8,min_overlap=0.75",
     lambda m, q: (pb.Saliency(m), pb.ExplanationTopK(8, 0.75))),
    ("explanation-corr:min_corr=0.9,corr=spearman,saliency=integrated-gradients,steps=4",
     lambda m, q: (pb.Saliency(m, "integrated-gradients", 4), pb.ExplanationCorrelation(0.9, "spearman"))),
    ("conformal-cover:alpha=0.1", lambda m, q: (m, pb.ConformalCover(q))),
    ("conformal-size:alpha=0.1", lambda m, q: (m, pb.ConformalSize(q))),
    ("top-k:k=2", lambda m, q: (m, pb.TopK(2))),
])
def test_evaluate_with_a_failure_property_matches_the_api(tmp_path, capsys, spec, build):
    code, path = evaluate(tmp_path, spec)
    assert code == 0, capsys.readouterr().err
    report = json.loads(path.read_text())
    assert report["config"]["failure"]["name"] == spec.partition(":")[0]
    qhat = zoo_conformal(MODEL, 0.1)[0].qhat
    model, failure = build(pb.zoo.load_model(MODEL), qhat)
    assert report["results"][0]["result"]["failure_probability"] == direct(model, failure).failure_probability
    if spec.startswith("conformal"):
        assert report["config"]["failure"]["qhat"] == qhat and report["config"]["failure"]["coverage"] > 0.8


def test_conformal_cover_with_the_true_label(tmp_path, capsys):
    code, path = evaluate(tmp_path, "conformal-cover:alpha=0.1", "--label", "dataset")
    assert code == 0, capsys.readouterr().err
    y = int(pb.zoo.load_dataset(DATASET).y[0])
    assert json.loads(path.read_text())["results"][0]["result"]["label"] == y


def test_regression_tolerance_on_the_diabetes_model(tmp_path, capsys):
    inputs, path = tmp_path / "x.npy", tmp_path / "out.json"
    x = pb.zoo.load_diabetes("test").x[:2]
    np.save(inputs, x.numpy())
    assert main(["evaluate", "--model", "diabetes-mlp", "--inputs", str(inputs), "--perturbation", "gaussian:sigma=0.1",
                 "--failure", "regression-tolerance:tolerance=5", "--budget", "300", "--seed", "3", "--quiet",
                 "--json", str(path)]) == 0, capsys.readouterr().err
    result = json.loads(path.read_text())["results"][0]["result"]
    assert result["failure"].startswith("regression-tolerance") and 0 < result["failure_probability"] < 1
    api = pb.estimate(pb.zoo.load_model("diabetes-mlp"), x[0], "gaussian:sigma=0.1",
                      failure=pb.RegressionTolerance(5.0), budget=300, seed=_rng.derive_seed(3, 0))
    assert result["failure_probability"] == api.failure_probability


class NoGrad(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.inner(x)


@pytest.mark.parametrize(("failure", "extra", "message"), [
    ("saliency-map", (), "unknown failure property"),
    ("explanation-topk:k=0", (), "k must be an integer >= 1"),
    ("explanation-topk:k=8,min_overlap=1.5", (), "min_overlap"),
    ("explanation-topk:k=8,overlap=0.5", (), "bad parameter"),
    ("explanation-topk:k=eight", (), "is not an integer"),
    ("explanation-topk:k=64", (), "65 features"),
    ("explanation-corr:min_corr=0.5,corr=kendall", (), "one of pearson, spearman"),
    ("explanation-topk:k=8", ("--label", "dataset"), "does not apply"),
    ("top-k:k=10", (), "k < n_classes"),
    ("regression-tolerance", (), "needs tolerance"),
    ("regression-tolerance:tolerance=-1", (), "tolerance must be a number > 0"),
    ("conformal-cover:alpha=0.1,qhat=0.5", (), "exactly one of"),
    ("conformal-cover:alpha=1.5", (), "is not a number in (0, 1)"),
    ("conformal-size:alpha=0.1", ("--indices", "200"), "calibration set"),
])
def test_bad_failure_specs_exit_2_with_nothing_written(tmp_path, capsys, failure, extra, message):
    code, path = evaluate(tmp_path, failure, *extra)  # a second --indices overrides the first
    err = capsys.readouterr().err
    assert code == 2 and message in err and not path.exists(), err


def test_a_model_without_gradients_is_refused_before_the_run(tmp_path, capsys):
    scripted = tmp_path / "nograd.pt"
    torch.jit.script(NoGrad(pb.zoo.load_model(MODEL))).save(str(scripted))
    path = tmp_path / "out.json"
    code = main(["evaluate", "--model", str(scripted), "--dataset", DATASET, "--indices", "0:2", "--perturbation", EPS,
                 "--failure", "explanation-topk:k=8", "--budget", "300", "--quiet", "--json", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "no gradient" in err and "differentiable PyTorch model" in err and not path.exists()


def test_a_campaign_records_its_failure_property(tmp_path, capsys):
    db = tmp_path / "c.db"
    for failure in ("explanation-topk:k=8,min_overlap=0.75", "conformal-cover:alpha=0.1"):
        assert main(["campaign", "run", "--model", MODEL, "--dataset", DATASET, "--indices", "0:2", "--perturbation",
                     EPS, "--failure", failure, "--budget", "200", "--db", str(db), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert len({line.split()[1] for line in out.splitlines() if line.startswith("campaign ")}) == 2  # two ids
    report = tmp_path / "r.json"
    assert main(["campaign", "report", "--db", str(db), "--campaign", out.split()[1].rstrip(":"),
                 "--json", str(report)]) == 0
    assert all(r["result"]["failure"].startswith("explanation-topk") for r in json.loads(report.read_text())["results"])
