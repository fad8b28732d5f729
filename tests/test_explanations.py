"""Explanation stability: the top-k score's sign is the overlap rule, saliency maps match closed forms on linear
models, one batched pass equals per-input passes, and models without gradients get a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

import probust as pb
from probust.explanations import ExplanationCorrelation, ExplanationTopK, NoGradientError, Saliency

EPS = "uniform-linf:eps=0.1,clip=0:1"


def linear(d=12, c=3, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Linear(d, c).double().eval()


@pytest.mark.parametrize(("k", "min_overlap"), [(1, 1.0), (5, 0.6), (5, 0.2), (20, 0.6), (20, 0.55)])
def test_topk_score_is_positive_exactly_when_the_overlap_falls_below_min_overlap(k, min_overlap):
    gen = torch.Generator().manual_seed(k)
    clean = torch.rand(1, 50, generator=gen, dtype=torch.float64)
    prop = ExplanationTopK(k, min_overlap).resolve(clean)
    # perturbed maps near the clean one (overlaps of every size), continuous so there are no ties
    maps = clean + torch.rand(4000, 1, generator=gen, dtype=torch.float64) * torch.rand(4000, 50, generator=gen)
    overlap = prop.overlap(maps)
    assert torch.equal(prop.score(maps) > 0, overlap < min_overlap - 1e-12)
    assert 0 < (overlap < min_overlap).double().mean() < 1  # both outcomes occur
    assert prop.score(clean)[0] < 0


def test_topk_ties_at_the_boundary_count_as_failures():
    prop = ExplanationTopK(2, 1.0).resolve(torch.tensor([[3.0, 2.0, 1.0, 0.0]]))
    assert prop.score(torch.tensor([[3.0, 2.0, 2.0, 0.0]]))[0] > 0  # feature 1 tied with the 3rd: counted out
    assert prop.score(torch.tensor([[3.0, 2.0, 1.9, 0.0]]))[0] < 0


def test_gradient_x_input_and_integrated_gradients_of_a_linear_model_are_w_times_x():
    model, x = linear(), torch.rand(5, 12, dtype=torch.float64)
    expected = (model.weight[model(x).argmax(1)] * x).abs().detach()
    torch.testing.assert_close(Saliency(model)(x), expected)
    # linear model, zero baseline: the path integral is exact at any number of steps
    torch.testing.assert_close(Saliency(model, "integrated-gradients", steps=3)(x), expected)


def test_one_batched_pass_equals_one_pass_per_input():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).double().eval()
    x = torch.rand(6, 12, dtype=torch.float64)
    for sal in (Saliency(model), Saliency(model, "integrated-gradients", steps=8)):
        torch.testing.assert_close(sal(x), torch.cat([sal(row[None]) for row in x]))


def test_correlations_match_numpy_and_scipy_with_ties():
    gen = torch.Generator().manual_seed(1)
    clean = torch.rand(1, 30, generator=gen, dtype=torch.float64).round(decimals=1)  # many ties
    maps = (clean + 0.3 * torch.rand(7, 30, generator=gen, dtype=torch.float64)).round(decimals=1)
    pearson = ExplanationCorrelation(0.5).resolve(clean)
    spearman = ExplanationCorrelation(0.5, "spearman").resolve(clean)
    for i, row in enumerate(maps.numpy()):
        assert float(pearson.score(maps)[i]) == pytest.approx(0.5 - np.corrcoef(row, clean[0])[0, 1], abs=1e-12)
        rho = scipy.stats.spearmanr(row, clean[0].numpy()).statistic
        assert float(spearman.score(maps)[i]) == pytest.approx(0.5 - rho, abs=1e-12)
    assert float(pearson.score(torch.ones(1, 30, dtype=torch.float64))[0]) == 0.5  # constant map: correlation 0


def test_estimate_on_a_zoo_model_runs_and_is_reproducible():
    model, (x, _) = pb.zoo.load_model("digits-mlp").eval(), pb.zoo.load_dataset("digits")[0]
    runs = [pb.estimate(Saliency(model), x, EPS, failure=ExplanationTopK(8, 0.75), budget=400, seed=3,
                        batch_size=b) for b in (None, 64)]
    assert runs[0].failure_probability == runs[1].failure_probability
    assert runs[0].failure == "explanation-topk:k=8,min_overlap=0.75"


class NoGrad(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        with torch.no_grad():
            return self.inner(x)


@pytest.mark.parametrize("wrap", [lambda m: NoGrad(m).eval(), lambda m: (lambda x: m(x).detach().numpy())],
                         ids=["no-grad", "numpy"])
def test_a_model_without_gradients_gets_the_problem_and_the_fix(wrap):
    model = linear().float()
    with pytest.raises(NoGradientError, match="differentiable PyTorch model"):
        pb.estimate(Saliency(wrap(model)), torch.rand(12), EPS, failure=ExplanationTopK(3), budget=10)


def test_frozen_parameters_are_fine_the_gradient_is_taken_in_the_input():
    model = linear().float().requires_grad_(False)
    res = pb.estimate(Saliency(model), torch.rand(12), EPS, failure=ExplanationTopK(3), budget=50, seed=0)
    assert 0 <= res.failure_probability <= 1


def test_gradient_estimators_refuse_and_bad_parameters_are_named():
    with pytest.raises(pb.ProbustError, match="no gradient in the latent"):
        pb.estimate(Saliency(linear().float()), torch.rand(12), EPS, failure=ExplanationTopK(3), estimator="is",
                    budget=500, seed=0)
    for bad in (lambda: ExplanationTopK(0), lambda: ExplanationTopK(5, 1.5), lambda: ExplanationCorrelation(2),
                lambda: Saliency(linear(), "smoothgrad"), lambda: Saliency(linear(), steps=0)):
        with pytest.raises(pb.ConfigurationError):
            bad()
    with pytest.raises(pb.ModelError, match="wrap the classifier"):
        pb.estimate(linear().float(), torch.rand(12), EPS, failure=ExplanationTopK(3), budget=10)
