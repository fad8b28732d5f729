"""Rare-event splitting estimators (``amls``, ``last-particle``): gold accuracy, interval coverage, seeds,
models that never fail and the budget.

The full accuracy grid (3 families, d up to 3072, p down to 1e-15, repeated runs) is in
``benchmarks/rare_event_accuracy.py``; this file runs a representative subset that fits in about a minute.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from scipy import stats

import probust as pb
from probust.bench import linear_case
from probust.estimators import AdaptiveMultilevelSplitting, LastParticle
from probust.estimators import _splitting as sp
from probust.perturbations import Gaussian, UniformLinf

ESTIMATORS = [AdaptiveMultilevelSplitting(), LastParticle()]

#: Gold subset, one run each at the default settings and budget 2e5: every family, the two large dimensions of
#: the grid and mostly the deep end of the p range (benchmarks/rare_event_accuracy.py runs the full grid).
GOLD_SUBSET = [
    ("gaussian", 784, 1e-15),
    ("uniform-l2", 784, 1e-12),
    ("uniform-linf", 100, 1e-9),
    ("uniform-linf", 20, 1e-15),
    ("gaussian", 100, 1e-6),
    ("uniform-l2", 100, 1e-3),
    ("gaussian", 3072, 1e-12),
]


def log10_error(result: pb.Result, truth: float) -> float:
    return abs(math.log10(result.failure_probability / truth)) if result.failure_probability > 0 else math.inf


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: e.name)
def test_gold_subset_meets_the_accuracy_target(est):
    """Target of issue 3: median |log10(estimate / truth)| <= 0.15 and worst <= 0.5 with <= 2e5 queries.

    The seeds are fixed, so the outcome is deterministic. How likely other seeds would fail it, from the spreads
    measured by the benchmark (sd of the log10 error <= 0.13 at p = 1e-15, ~0.10 at 1e-12, ~0.085 at 1e-9,
    ~0.06 at 1e-6): the worst run exceeds 0.5 with probability ~2.4e-4, and the median of the seven runs
    exceeds 0.15 (four runs above it) with probability ~3e-3.
    """
    errors = []
    for i, (family, dim, p) in enumerate(GOLD_SUBSET):
        case = linear_case(family, dim, p, seed=i)
        res = est.estimate(case.model, case.x, case.perturbation, budget=200_000, seed=100 + i)
        assert res.n_queries <= 200_000 and res.diagnostics["status"] == "reached level 0", res.warnings
        errors.append(log10_error(res, case.failure_probability))
    assert sorted(errors)[len(errors) // 2] <= 0.15 and max(errors) <= 0.5, errors


SPLITTERS = [AdaptiveMultilevelSplitting(n_particles=300), LastParticle(n_particles=100)]


@pytest.mark.parametrize("est, runs", [
    pytest.param(SPLITTERS[0], 200, id="amls"),
    # Last-particle runs cost 8x amls's here: R = 100 by default, 200 in the full run.
    pytest.param(SPLITTERS[1], 100, id="last-particle"),
    pytest.param(SPLITTERS[1], 200, id="last-particle-200", marks=pytest.mark.slow_full),
])
def test_interval_coverage_over_repeated_runs(est, runs):
    """R runs on one gold case (gaussian, d = 10, p = 1e-6: 6 levels of amls, ~48 iterations of
    last-particle) with 90% intervals, the default moves per level and fewer particles than the default (the
    asymptotic intervals are then tested harder).

    If the interval has nominal coverage the misses are Binom(R, 0.1); the test fails above the 1 - 1e-4
    quantile of that law (37 misses of 200, 23 of 100), so a nominal interval fails it with probability <= 1e-4.
    Measured over 400 runs: 40 misses (amls) and 42 (last-particle), i.e. 90.0% and 89.5% coverage.
    One run per estimate (``replicas=1``): this tests the algorithm's own interval, not the mean of replicas.
    """
    case = linear_case("gaussian", 10, 1e-6, seed=7)
    misses = sum(
        not est.estimate(case.model, case.x, case.perturbation, budget=10**6, seed=s, confidence=0.9, replicas=1)
        .ci.contains(case.failure_probability)
        for s in range(runs)
    )
    assert misses <= stats.binom.ppf(1 - 1e-4, runs, 0.1), misses


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: e.name)
def test_same_seed_same_result_at_any_batch_size(est, same_numbers):
    case = linear_case("uniform-linf", 12, 1e-6, seed=3)
    runs = [est.estimate(case.model, case.x, case.perturbation, budget=20_000, seed=5, batch_size=b)
            for b in (None, 7, 333)]
    same_numbers(runs)  # decisions exact, floats to 1e-9 (levels are model scores)
    other = est.estimate(case.model, case.x, case.perturbation, budget=20_000, seed=6)
    assert other.failure_probability != runs[0].failure_probability


class _NeverFails(torch.nn.Module):
    """Constant logits: class 0 always wins by 1, whatever the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([1.0, 0.0, 0.0]).expand(len(x), 3)


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: e.name)
def test_model_that_never_fails_gives_zero_and_a_small_bound_with_a_warning(est):
    res = est.estimate(_NeverFails().eval(), torch.zeros(5), Gaussian(sigma=0.3), budget=5_000, seed=0,
                       decompose=False)  # the stall of one run (by parts, each part stalls with half the budget)
    assert res.failure_probability == 0 and res.ci.low == 0
    assert res.ci.high < 0.1 and res.diagnostics["status"] == "stalled"
    assert any("stall" in w or "tied" in w for w in res.warnings)
    json.loads(res.to_json())


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: e.name)
@pytest.mark.parametrize("budget", [2, 150, 1_000, 5_000])
def test_budget_is_never_exceeded_and_an_unfinished_run_is_honest(est, budget):
    case = linear_case("gaussian", 8, 1e-15, seed=2)
    res = est.estimate(case.model, case.x, case.perturbation, budget=budget, seed=1)
    assert 0 < res.n_queries <= budget
    assert res.diagnostics["status"] == "budget exhausted"
    assert any("budget exhausted" in w for w in res.warnings)
    assert res.ci.low == 0 and res.ci.high >= case.failure_probability
    json.loads(res.to_json())


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: e.name)
def test_uniform_latent_perturbation_and_large_failure_probability(est):
    """p = 0.3 is reached at once; a uniform-latent perturbation goes through the normal-CDF map."""
    case = linear_case("uniform-linf", 6, 0.3, seed=4)
    assert isinstance(case.perturbation, UniformLinf)
    res = est.estimate(case.model, case.x, case.perturbation, budget=20_000, seed=2)
    assert res.ci.contains(case.failure_probability) and not res.warnings


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: e.name)
def test_one_dimensional_uniform_tail_beyond_float32_resolution(est):
    """p = 1e-12 in one uniform coordinate needs u within 1e-12 of 1: float32 latents (grid 6e-8) gave 5e-8."""
    case = linear_case("uniform-linf", 1, 1e-12, seed=0)
    res = est.estimate(case.model, case.x, case.perturbation, budget=200_000, seed=0)
    assert log10_error(res, case.failure_probability) < 0.5


def test_single_kills_give_guyaders_estimate_and_garwoods_interval():
    """kill = 1 is the original last-particle algorithm: p_hat = (1 - 1/N)^C with C ~ Poisson(N log(1/p)),
    except that a copy which never moved dies with its parent (a tie: factor 1 - 2/N, as in generalised AMS)."""
    case = linear_case("gaussian", 5, 1e-3, seed=8)
    n = 40
    res = LastParticle(n_particles=n, kill=1).estimate(case.model, case.x, case.perturbation, budget=10**5, seed=3,
                                                       replicas=1)  # one run: its own kill counts
    killed, kills = res.diagnostics["killed"], res.diagnostics["n_kills"]
    assert res.diagnostics["kill"] == 1 and res.diagnostics["trace_stride"] == 1 and max(killed) <= 3
    last = kills - sum(killed)  # kills of the final partial batch (0 when k = 1)
    assert res.failure_probability == pytest.approx(math.prod(1 - k / n for k in killed) * (1 - last / n))
    garwood = (stats.chi2.ppf(0.975, 2 * kills + 2) / (2 * n), stats.chi2.ppf(0.025, 2 * kills) / (2 * n))
    assert -math.log(res.ci.low) == pytest.approx(garwood[0], rel=1e-2)
    assert -math.log(res.ci.high) == pytest.approx(garwood[1], rel=1e-2)


def test_gamma_quantile_is_garwood_for_single_kills():
    """With one kill per iteration the kill count is Poisson: the interval must be Garwood's."""
    n, kills = 50, 321
    lower = sp.gamma_quantile(0.025, kills / n, kills / n**2)
    upper = sp.gamma_quantile(0.975, (kills + 1) / n, (kills + 1) / n**2)
    assert lower == pytest.approx(stats.chi2.ppf(0.025, 2 * kills) / (2 * n), rel=1e-10)
    assert upper == pytest.approx(stats.chi2.ppf(0.975, 2 * kills + 2) / (2 * n), rel=1e-10)


@pytest.mark.parametrize("bad", [dict(rho=1.0), dict(n_steps=0), dict(target_acceptance=1.5), dict(n_particles=1)])
def test_bad_hyper_parameters_are_rejected(bad):
    with pytest.raises(pb.ConfigurationError):
        AdaptiveMultilevelSplitting(**bad)


def test_bad_kill_is_rejected():
    with pytest.raises(pb.ConfigurationError):
        LastParticle(kill=0)
