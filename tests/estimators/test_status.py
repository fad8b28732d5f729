"""How a run ended (``Result.status``), counterexamples, and reading results written before they existed."""

from __future__ import annotations

import json

import torch

import probust as pb
from probust.bench import linear_case
from probust.estimators import AdaptiveMultilevelSplitting, LastParticle
from probust.estimators import _splitting as sp
from probust.result import SCHEMA_VERSION


class Capped(torch.nn.Module):
    """Outputs (0, s) with s = (sum_i x_i - 4) / 40 - 0.2 <= -0.2 on [-1, 1]^4 (the maximum at a corner, no
    plateau): the failure y1 >= y0 never happens, and the levels converge geometrically to -0.2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x.sum(1, keepdim=True) - 4) / 40 - 0.2
        return torch.cat([torch.zeros_like(score), score], 1)


def test_levels_converging_below_zero_are_reported_as_stalled():
    for est in (AdaptiveMultilevelSplitting(), LastParticle()):
        res = est.estimate(Capped().eval(), torch.zeros(4), pb.perturbations.UniformLinf(eps=1.0), budget=20_000,
                           seed=0, failure=pb.OutputRegion.halfspace([-1.0, 1.0]))
        assert res.status == "stalled", (est.name, res.diagnostics["status"], res.diagnostics["level_limit"])
        assert res.diagnostics["status"] == "converged below 0" and res.failure_probability == 0.0
        assert -0.25 < res.diagnostics["level_limit"] < -0.19
        assert not res.counterexamples


def test_rising_levels_at_the_end_of_the_budget_are_budget_exhausted():
    case = linear_case("gaussian", 8, 1e-15, seed=0)
    for est in (AdaptiveMultilevelSplitting(), LastParticle()):
        res = est.estimate(case.model, case.x, case.perturbation, budget=3000, seed=0)
        assert res.status == "budget-exhausted", est.name
        assert res.ci.low == 0.0 and res.ci.high >= case.failure_probability


def test_depth_is_bought_with_particles_when_the_levels_still_rise():
    """p = 4.6e-18 with the default settings at a budget of 1e5: the plan (1e-15) alone stops short."""
    case = linear_case("gaussian", 6, 4.6e-18, seed=0)
    res = AdaptiveMultilevelSplitting().estimate(case.model, case.x, case.perturbation, budget=100_000, seed=1)
    assert res.status == "complete" and res.ci.low <= case.failure_probability <= res.ci.high
    assert res.diagnostics["particles"][-1] < res.diagnostics["n_particles"]  # the cloud was thinned


def test_level_trend_tells_geometric_convergence_from_steady_progress():
    converging = [-1.0 + 0.5 * (1 - 0.6**k) for k in range(12)]  # limit -0.5
    limit, steps = sp.level_trend(converging, 5)
    assert abs(limit + 0.5) < 1e-6 and steps == float("inf")
    steady = [-1.0 + 0.05 * k for k in range(12)]
    limit, steps = sp.level_trend(steady, 5)
    assert limit == float("inf") and abs(steps - 9.0) < 1e-6


def test_counterexamples_fail_and_version_1_records_still_read():
    model = torch.nn.Linear(2, 2, bias=False).eval()
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    res = pb.estimate(model, torch.tensor([0.1, 0.0]), pb.perturbations.UniformLinf(eps=1.0), budget=500, seed=0)
    assert 0 < len(res.counterexamples) <= 3
    for cx in res.counterexamples:
        with torch.no_grad():
            assert float(pb.LabelChange(res.label).score(model(cx.tensor(torch.float32)[None]))[0]) > 0
    old = json.loads(res.to_json())
    for key in ("status", "counterexamples"):
        del old[key]
    old["schema_version"] = 1
    old["diagnostics"]["status"] = "budget exhausted"
    back = pb.Result.from_dict(old)
    assert back.status == "budget-exhausted" and back.counterexamples == () and back.schema_version == SCHEMA_VERSION
