"""What an interval rests on (``Result.guarantee``), the unconditional bound of model-based results, plateaus,
and the rules that keep a rare-event estimator from a confident wrong answer (issue 23)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from scipy import stats

import probust as pb
from probust.estimators import (
    AdaptiveMultilevelSplitting,
    GradientSMC,
    ImportanceSampling,
    LastParticle,
    MonteCarlo,
    Proven,
)
from probust.estimators._base import Outcome, guarded
from probust.intervals import ConfidenceInterval
from probust.result import Result

MODEL_BASED = (AdaptiveMultilevelSplitting(), LastParticle(), GradientSMC(), ImportanceSampling())


class Plateau(torch.nn.Module):
    """Logits (0, relu(x_0 - t0) - h): the score is exactly -h wherever x_0 <= t0 (a plateau of mass Phi(t0)
    under N(0, 1) noise, as dead ReLUs make), and a failure is x_0 > t0 + h: p = Phi_bar(t0 + h)."""

    def __init__(self, t0: float, h: float):
        super().__init__()
        self.t0, self.h = t0, h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.relu(x[:, :1] - self.t0) - self.h
        return torch.cat([torch.zeros_like(s), s], 1)


def test_every_result_says_what_its_interval_rests_on():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2)).double().eval()
    x, pert = torch.zeros(3, dtype=torch.float64), pb.perturbations.UniformLinf(eps=0.1)
    assert MonteCarlo().estimate(model, x, pert, budget=100, seed=0).guarantee == "exact"
    sound = Proven().estimate(model, x, pert, budget=100, seed=0)
    assert sound.guarantee == "sound" and sound.unconditional_upper is None
    res = AdaptiveMultilevelSplitting().estimate(model, x, pert, budget=2000, seed=0)
    assert res.guarantee == "model-based" and 0 < res.unconditional_upper <= 1
    back = Result.from_dict(json.loads(res.to_json()))
    assert back.guarantee == "model-based" and back.unconditional_upper == res.unconditional_upper
    old = json.loads(res.to_json())
    del old["guarantee"], old["unconditional_upper"]
    old["schema_version"] = 2
    assert Result.from_dict(old).guarantee == "model-based"  # a version-2 record gets its estimator's guarantee


@pytest.mark.parametrize("est", (AdaptiveMultilevelSplitting(), LastParticle()), ids=lambda e: e.name)
def test_a_plateau_is_crossed_not_taken_for_the_end(est):
    """92% of the mass on one score value: the levels used to tie there and the run ended with p = 0."""
    t0 = float(stats.norm.ppf(0.92))
    h = float(stats.norm.isf(1e-5)) - t0
    truth = float(stats.norm.sf(t0 + h))
    for seed in range(3):
        res = est.estimate(Plateau(t0, h).eval(), torch.zeros(2, dtype=torch.float64),
                           pb.perturbations.Gaussian(sigma=1.0), budget=40_000, seed=seed)
        assert res.status == "complete", res.warnings
        assert abs(math.log10(res.failure_probability / truth)) < 0.5, (seed, res.failure_probability, truth)


def test_a_stalled_model_based_interval_never_ends_below_its_own_iid_bound():
    """A run that stalls keeps at least the upper bound of its i.i.d. draws (the clones of a stalled cloud
    are not independent draws)."""
    stalled = Outcome(0.0, ConfidenceInterval(0.0, 1e-9, 0.95, "levels"), status="stalled", iid=(0, 1000))
    out = guarded(stalled, "model-based", 0.95, has_counterexamples=False)
    assert out.ci.high == pytest.approx(1 - 0.025 ** (1 / 1000)) and out.status == "stalled"
    done = Outcome(1e-9, ConfidenceInterval(5e-10, 2e-9, 0.95, "levels"), iid=(0, 1000))
    assert guarded(done, "model-based", 0.95, has_counterexamples=False) == done  # a finished run keeps its interval
    assert guarded(stalled, "exact", 0.95, has_counterexamples=True) == stalled  # only model-based results


def test_no_estimate_of_zero_while_counterexamples_are_in_hand():
    zero = Outcome(0.0, ConfidenceInterval(0.0, 1e-6, 0.95, "levels"), status="stalled", iid=(0, 100))
    out = guarded(zero, "model-based", 0.95, has_counterexamples=True)
    assert out.status == "unreliable" and out.failure_probability == pytest.approx(1 - 0.5 ** (1 / 100))
    assert out.ci.low == 0 and out.ci.high == pytest.approx(1 - 0.025 ** (1 / 100))
    assert any("failing inputs were found" in w for w in out.warnings)
    some = Outcome(0.0, ConfidenceInterval(0.0, 1e-6, 0.95, "levels"), iid=(3, 100))
    assert guarded(some, "model-based", 0.95, has_counterexamples=True).failure_probability == 0.03


class Symmetric(torch.nn.Module):
    """Logits (0, |x_0| - c): failure on both sides of the origin, so the score gradients of the elite cancel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x[:, :1].abs() - 3.0
        return torch.cat([torch.zeros_like(s), s], 1)


def test_importance_sampling_on_a_symmetric_landscape_does_not_divide_by_zero():
    """The design point of a symmetric failure set does not converge; the cross-entropy direction used to be
    0 / 0 and NaN latents reached the model, which was then blamed for returning NaN."""
    res = ImportanceSampling().estimate(Symmetric().eval(), torch.zeros(1, dtype=torch.float64),
                                        pb.perturbations.Gaussian(sigma=1.0), budget=20_000, seed=0)
    assert math.isfinite(res.failure_probability) and res.guarantee == "model-based"


def test_a_non_finite_latent_is_an_estimator_bug_not_a_model_error():
    from probust.querying import Oracle

    oracle = Oracle(torch.nn.Linear(2, 2).eval(), torch.zeros(2), pb.perturbations.Gaussian(sigma=1.0),
                    pb.LabelChange(), budget=10)
    with pytest.raises(RuntimeError, match="estimator bug: non-finite latent"):
        oracle.scores(torch.tensor([[float("nan"), 0.0]]))
