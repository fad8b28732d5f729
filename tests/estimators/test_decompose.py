"""Estimation by parts and replicas (``estimators._decompose``): exact disjoint parts, Bonferroni sums, the
heterogeneity test of replicas, and the bad inputs of issue 23."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

import probust as pb
from probust.bench.closed_form import irwin_hall_tail
from probust.cli import main
from probust.estimators import AdaptiveMultilevelSplitting, ImportanceSampling, LastParticle, MonteCarlo
from probust.estimators import _decompose as dec
from probust.intervals import ConfidenceInterval
from probust.output_regions import FirstRegion
from probust.properties import WinningClass


def test_winning_class_parts_are_disjoint_and_add_up_to_the_label_change_with_ties():
    torch.manual_seed(0)
    logits = torch.randint(-2, 3, (20_000, 5)).double()  # small integers: many ties of every kind
    for y in range(5):
        whole = pb.LabelChange(y).score(logits) > 0
        parts = pb.LabelChange(y).parts(logits[:1])
        assert len(parts) == 4 and all(isinstance(p, WinningClass) for p in parts)
        hits = torch.stack([p.score(logits) > 0 for p in parts]).long()
        assert torch.equal(hits.sum(0), whole.long())  # each failure in exactly one part, no other point
    assert pb.LabelChange(0).parts(torch.zeros(1, 2)) is None  # two classes: nothing to split


def test_first_region_parts_are_disjoint_and_add_up_to_the_region():
    region = (pb.OutputRegion.halfspace([1.0, -1.0, 0.0]) | pb.OutputRegion.halfspace([0.0, 1.0, -1.0])
              | pb.OutputRegion.polytope([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], [0.0, -0.5]))
    outputs = torch.randint(-2, 3, (20_000, 3)).double()
    parts = region.parts(outputs[:1])
    assert len(parts) == 3 and all(isinstance(p, FirstRegion) for p in parts)
    hits = torch.stack([p.score(outputs) > 0 for p in parts]).long()
    assert torch.equal(hits.sum(0), (region.score(outputs) > 0).long())
    assert pb.OutputRegion.halfspace([1.0, -1.0]).parts(outputs[:1, :2]) is None


class EqualModes(torch.nn.Module):
    """Logits (0, t - m, -t - m) with t = sum(x - 1/2): two failure modes of equal mass in opposite corners of
    the L-inf box; each is an Irwin-Hall tail."""

    def __init__(self, m: float):
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = (x - 0.5).sum(1, keepdim=True)
        return torch.cat([torch.zeros_like(t), t - self.m, -t - self.m], 1)


def _equal_modes(d: int = 20, eps: float = 0.1, m: float = 1.2):
    half = irwin_hall_tail((d + m / eps) / 2, d)
    return EqualModes(m).eval(), torch.full((d,), 0.5, dtype=torch.float64), pb.perturbations.UniformLinf(eps=eps), half


def test_importance_sampling_by_parts_finds_both_modes():
    """Without parts the design point follows one mode and IS reports p / 2 with a tight interval."""
    model, x, pert, half = _equal_modes()
    whole = ImportanceSampling().estimate(model, x, pert, budget=40_000, seed=0, decompose=False)
    assert whole.ci.high < 2 * half  # the failure this issue is about, kept as a regression check of the test case
    res = ImportanceSampling().estimate(model, x, pert, budget=40_000, seed=0)
    parts = res.diagnostics["decomposition"]["parts"]
    assert [p["failure"] for p in parts] == ["winning-class:label=0,target=1", "winning-class:label=0,target=2"]
    assert res.ci.low <= 2 * half <= res.ci.high and abs(math.log10(res.failure_probability / (2 * half))) < 0.15
    assert res.ci.low == pytest.approx(sum(p["ci"][0] for p in parts))
    assert res.n_queries == sum(p["n_queries"] for p in parts) <= 40_000
    assert res.failure == "label-change:label=0" and res.diagnostics["plan"] == {"parts": 2, "replicas": 1}
    assert pb.Result.from_dict(json.loads(res.to_json())) == res


@pytest.mark.parametrize("est", (AdaptiveMultilevelSplitting(), LastParticle()), ids=lambda e: e.name)
def test_splitting_by_parts_and_replicas_is_the_same_at_any_batch_size(est, same_numbers):
    model, x, pert, half = _equal_modes()
    runs = [est.estimate(model, x, pert, budget=12_000, seed=3, replicas=2, batch_size=b) for b in (None, 77)]
    same_numbers(runs)
    assert runs[0].diagnostics["plan"] == {"parts": 2, "replicas": 2}
    assert runs[0].ci.confidence == 0.95 and runs[0].diagnostics["decomposition"]["part_confidence"] == 0.975


def _result(p: float, low: float, high: float, status: str = "complete") -> pb.Result:
    return pb.Result(failure_probability=p, ci=ConfidenceInterval(low, high, 0.95, "amls-asymptotic-lognormal"),
                     n_queries=10, seconds=0.0, estimator="amls", params={}, seed=0, perturbation="gaussian:sigma=1",
                     failure="label-change:label=0", guarantee="model-based", unconditional_upper=0.01,
                     status=status, diagnostics={"iid_failures": 0, "iid_draws": 1000})


def test_replicas_that_disagree_beyond_their_intervals_are_unreliable():
    agree = dec._mean_of_replicas([_result(1e-8, 0.8e-8, 1.25e-8), _result(1.1e-8, 0.9e-8, 1.4e-8)], 0.95)
    assert agree.status == "complete" and agree.ci.low < 1.05e-8 < agree.ci.high
    assert agree.diagnostics["replicas"]["heterogeneity_p"] > 0.01
    apart = dec._mean_of_replicas([_result(1e-8, 0.8e-8, 1.25e-8), _result(5e-9, 4e-9, 6.25e-9)], 0.95)
    assert apart.status == "unreliable" and apart.diagnostics["replicas"]["cochran_q"] > 6.63
    assert apart.ci.low < 7.5e-9 < apart.ci.high  # widened by the over-dispersion
    one_found = dec._mean_of_replicas([_result(1e-8, 0.8e-8, 1.25e-8), _result(0.0, 0.0, 1e-3, "stalled")], 0.95)
    assert one_found.status == "unreliable" and one_found.ci.high >= 1 - 0.025 ** (1 / 2000) - 1e-12


def test_a_part_that_found_nothing_does_not_make_the_sum_stalled():
    total = dec._sum_of_parts([_result(1e-8, 0.8e-8, 1.25e-8), _result(0.0, 0.0, 1e-3, "stalled")], 0.9)
    assert total.status == "complete" and total.ci.high == pytest.approx(1e-3 + 1.25e-8)
    assert total.failure_probability == 1e-8 and total.n_queries == 20


def test_exact_estimators_are_not_decomposed_by_default():
    model, x, pert, _ = _equal_modes()
    res = MonteCarlo().estimate(model, x, pert, budget=5_000, seed=0)
    assert res.diagnostics["plan"] == {"parts": 1, "replicas": 1} and "decomposition" not in res.diagnostics


def test_a_budget_too_small_for_the_default_parts_runs_whole_and_says_so():
    model, x, pert, _ = _equal_modes()
    res = AdaptiveMultilevelSplitting().estimate(model, x, pert, budget=3_000, seed=0)
    assert res.diagnostics["plan"]["parts"] == 1 and any("not decomposed" in w for w in res.warnings)


def test_bad_decomposition_requests_are_clear_errors():
    model, x, pert, _ = _equal_modes()
    two = torch.nn.Sequential(torch.nn.Linear(3, 2)).double().eval()
    with pytest.raises(pb.ConfigurationError, match="is not one"):
        AdaptiveMultilevelSplitting().estimate(two, torch.zeros(3, dtype=torch.float64), pert, budget=1000, seed=0,
                                               decompose=True)
    with pytest.raises(pb.ConfigurationError, match="too small for 2 parts"):
        AdaptiveMultilevelSplitting().estimate(model, x, pert, budget=3, seed=0, decompose=True)
    with pytest.raises(pb.ConfigurationError, match="replicas must be an integer >= 1"):
        AdaptiveMultilevelSplitting().estimate(model, x, pert, budget=1000, seed=0, replicas=0)
    with pytest.raises(pb.ConfigurationError, match="too small for 600 replicas"):
        AdaptiveMultilevelSplitting().estimate(model, x, pert, budget=1000, seed=0, replicas=600)
    with pytest.raises(pb.ConfigurationError, match="decision"):
        pb.estimators.SequentialCertifier(max_failure=0.1).estimate(model, x, pert, budget=100, decompose=True)


TASK = ["evaluate", "--model", "digits-mlp", "--dataset", "digits", "--indices", "0",
        "--perturbation", "uniform-linf:eps=0.25,clip=0:1", "--estimator", "amls", "--quiet"]


@pytest.mark.parametrize("args, message", [
    (["--replicas", "0", "--budget", "1000"], "replicas must be an integer >= 1"),
    (["--decompose", "--budget", "10"], "too small for 9 parts"),
], ids=["replicas 0", "budget too small for the parts"])
def test_cli_bad_decomposition_is_exit_2(args, message, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main([*TASK, *args, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and not out.exists()


def test_cli_shows_the_basis_of_each_interval(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main([*TASK, "--budget", "45000", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "basis" in printed and "model-based" in printed
    assert "i.i.d. draws alone give p <=" in " ".join(printed.split()) and "at 0.95" in printed
    result = json.loads(out.read_text())["results"][0]["result"]
    assert result["guarantee"] == "model-based" and len(result["diagnostics"]["decomposition"]["parts"]) == 9
    assert dataclasses.asdict(pb.Result.from_dict(result).ci)["confidence"] == 0.95


def test_tolerance_sides_are_disjoint_and_add_up_to_the_regression_tolerance():
    from probust.properties import ToleranceSide

    outputs = torch.randint(-3, 4, (20_000, 3)).double()  # integers: changes of exactly the tolerance too
    whole = pb.RegressionTolerance(2.0, (0.0, 1.0, -1.0))
    parts = whole.parts(outputs[:1])
    assert len(parts) == 6 and all(isinstance(p, ToleranceSide) for p in parts)
    hits = torch.stack([p.score(outputs) > 0 for p in parts]).long()
    assert torch.equal(hits.sum(0), (whole.score(outputs) > 0).long())
