"""Importance sampling and gradient SMC: gold accuracy, unbiasedness, coverage, kernels, edge cases.

Runs in about a minute on one thread: the gold tests use a representative subset of the grid (named
below); ``benchmarks/rare_event_accuracy.py`` runs the full grid (3 families x 3-4 dimensions x p in
1e-3..1e-15) with repeated runs, coverage and cost.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import probust as pb
from probust.bench import linear_case
from probust.estimators import GradientSMC, ImportanceSampling
from probust.estimators import _gradient_kernels as gk
from probust.properties import LabelChange
from probust.querying import Oracle

#: Subset of the benchmark grid: every family, the largest dimensions (784, 3072) and p down to 1e-15.
SMC_GOLD = [
    ("gaussian", 3072, 1e-15), ("gaussian", 100, 1e-3), ("uniform-l2", 784, 1e-12),
    ("uniform-linf", 100, 1e-9), ("uniform-linf", 20, 1e-15),
]
#: IS on cases where a mean shift fits the failure set (see the module docstring of importance.py).
IS_GOLD = [("gaussian", 3072, 1e-15), ("uniform-l2", 784, 1e-9), ("uniform-linf", 100, 1e-6)]


def log10_error(res, case) -> float:
    return abs(math.log10(res.failure_probability / case.failure_probability)) if res.failure_probability else 99.0


#: The d = 3072 Gaussian case takes about half of the test's time: the default suite runs the other four (every
#: family is still there, p down to 1e-15), ``-m slow_full`` all five.
HEAVY_SMC_GOLD = {("gaussian", 3072, 1e-15)}


@pytest.mark.parametrize("cases", [pytest.param(set(SMC_GOLD) - HEAVY_SMC_GOLD, id="4-cases"),
                                   pytest.param(set(SMC_GOLD), id="5-cases", marks=pytest.mark.slow_full)])
def test_gradient_smc_meets_the_rare_event_accuracy_target_on_gold_cases(cases):
    """The issue's target: median |log10 error| <= 0.15 and worst <= 0.5 with <= 2e5 queries (defaults)."""
    errors = []
    for i, (family, dim, p) in enumerate(SMC_GOLD):
        if (family, dim, p) not in cases:
            continue
        case = linear_case(family, dim, p, seed=i)
        res = GradientSMC().estimate(case.model, case.x, case.perturbation, budget=200_000, seed=i)
        assert res.n_queries <= 200_000 and not res.warnings, res.warnings
        errors.append(log10_error(res, case))
    assert np.median(errors) <= 0.15 and max(errors) <= 0.5, errors


def test_importance_sampling_is_accurate_where_a_mean_shift_fits():
    for i, (family, dim, p) in enumerate(IS_GOLD):
        case = linear_case(family, dim, p, seed=i)
        res = ImportanceSampling().estimate(case.model, case.x, case.perturbation, budget=20_000, seed=i)
        assert log10_error(res, case) <= 0.15, (family, dim, p, res.failure_probability, case.failure_probability)
        assert res.diagnostics["ess"] > 100 and res.diagnostics["relative_se"] < 0.1


@pytest.mark.parametrize("shift_scale", [0.5, 1.6])
def test_importance_sampling_is_unbiased_with_a_poor_shift(shift_scale):
    """Mean of R = 300 estimates with a shift scaled away from the design point, at p ~ 1e-3.

    The mean of R i.i.d. unbiased estimates is within z * sd / sqrt(R) of p; z = 3.89 (two-sided normal
    quantile for a false-failure rate of 1e-4), with the sd estimated from the same runs.
    """
    case = linear_case("gaussian", 16, 1e-3, seed=3)
    est = ImportanceSampling(shift_scale=shift_scale)
    ratios = np.array([
        est.estimate(case.model, case.x, case.perturbation, budget=2000, seed=s).failure_probability
        for s in range(300)
    ]) / case.failure_probability
    se = ratios.std(ddof=1) / math.sqrt(len(ratios))
    assert abs(ratios.mean() - 1) <= stats.norm.isf(0.5e-4) * se, (ratios.mean(), se)


def _misses(est, case, runs: int, budget: int) -> int:
    return sum(
        not est.estimate(case.model, case.x, case.perturbation, budget=budget, confidence=0.95, seed=s)
        .ci.contains(case.failure_probability)
        for s in range(runs)
    )


def test_gradient_smc_interval_coverage():
    """R = 100 runs of a 95% interval (4 replicas of 50 particles, p = 1e-6); measured coverage ~0.945.

    Misses ~ Binom(100, 0.05) at nominal coverage; the test fails above its 1 - 1e-4 quantile
    (false-failure rate <= 1e-4).
    """
    case = linear_case("gaussian", 16, 1e-6, seed=1)
    assert _misses(GradientSMC(), case, 100, 40_000) <= stats.binom.ppf(1 - 1e-4, 100, 0.05)


def test_importance_sampling_interval_coverage_with_light_tailed_weights():
    """R = 300 runs of the normal 95% interval (Gaussian family, p = 1e-6); false-failure rate <= 1e-4."""
    case = linear_case("gaussian", 16, 1e-6, seed=1)
    assert _misses(ImportanceSampling(), case, 300, 3000) <= stats.binom.ppf(1 - 1e-4, 300, 0.05)


@pytest.mark.slow_full  # a measurement of a known limitation (non-strict xfail), not a check: only in the full run
@pytest.mark.xfail(reason="measured coverage 0.873 over 300 runs (nominal 0.95): heavy-tailed IS weights on the "
                          "L-inf corner make the normal interval too short; the ESS warning flags these runs",
                   strict=False)
def test_importance_sampling_interval_coverage_with_heavy_tailed_weights():
    case = linear_case("uniform-linf", 20, 1e-9, seed=1)
    assert _misses(ImportanceSampling(), case, 300, 3000) <= stats.binom.ppf(1 - 1e-4, 300, 0.05)


@pytest.mark.parametrize("kind, h", [("pcnl", 0.05), ("pcnl", 0.5), ("mala", 0.1)])
@pytest.mark.parametrize("beta", [0.5, 50.0])
def test_langevin_kernels_leave_the_tempered_target_invariant(kind, h, beta):
    """20,000 independent chains, 60 moves each, from the prior; the mean of the failure direction u1
    must match the quadrature under pi_beta within 4.5 standard errors (false-failure rate ~1e-5)."""
    case = linear_case("gaussian", 2, 1e-3, seed=1)
    oracle = Oracle(case.model, case.x, case.perturbation, LabelChange(), budget=10**7)
    s0, grad = gk.scores_and_grads(oracle, torch.zeros(1, 2, dtype=torch.float64))
    k, b = float(grad.norm()), -float(s0[0]) / float(grad.norm())  # s(g) = k (u1 - b), u1 = g . grad / k

    def moment(j):
        f = lambda u: u**j * math.exp(-u * u / 2 - beta * k * max(0.0, b - u))  # noqa: E731
        return integrate.quad(f, -12, 12, points=[b], limit=200)[0]

    n = 20_000
    g = gk.normals(0, 9, 0, (n, 2))
    s, ds = gk.scores_and_grads(oracle, g)
    for t in range(60):
        g, s, ds, _ = gk.langevin_step(oracle, kind, g, s, ds, beta, h, gk.normals(1, 9, t, (n, 2)),
                                       gk.uniforms(1, 10, t, n))
    u1 = (g @ grad[0] / k).numpy()
    assert abs(u1.mean() - moment(1) / moment(0)) <= 4.5 * u1.std() / math.sqrt(n)


@pytest.mark.parametrize("est", [ImportanceSampling(), GradientSMC()], ids=lambda e: e.name)
def test_same_seed_same_result_at_any_batch_size_on_a_rare_case(est, same_numbers):
    case = linear_case("gaussian", 16, 1e-6, seed=2)
    results = [est.estimate(case.model, case.x, case.perturbation, budget=30_000, seed=4, batch_size=b)
               for b in (None, 97, 1000)]
    same_numbers(results)  # decisions exact, floats to 1e-9


@pytest.mark.parametrize("est", [ImportanceSampling(), GradientSMC()], ids=lambda e: e.name)
def test_a_model_that_never_fails_gives_zero_with_a_warning(est):
    model = torch.nn.Linear(8, 3)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.tensor([1.0, 0.0, 0.0]))  # constant logits: class 0 always wins
    res = est.estimate(model.eval(), torch.zeros(8), pb.perturbations.Gaussian(sigma=1.0), budget=3000, seed=0)
    assert res.failure_probability == 0 and res.warnings and 0 == res.ci.low <= res.ci.high <= 1
    if est.name == "gradient-smc":  # the exact bound from the initial i.i.d. particles
        assert res.ci.high < 0.05


@pytest.mark.parametrize("est", [ImportanceSampling(), GradientSMC()], ids=lambda e: e.name)
@pytest.mark.parametrize("budget", [10, 997, 3001])
def test_budget_is_never_exceeded_and_a_short_budget_is_reported(est, budget):
    case = linear_case("uniform-l2", 50, 1e-9, seed=5)
    res = est.estimate(case.model, case.x, case.perturbation, budget=budget, seed=1)
    assert res.n_queries <= budget and 0 <= res.ci.low <= res.failure_probability <= res.ci.high <= 1
    if est.name == "gradient-smc":
        assert any("budget exhausted" in w for w in res.warnings)


def test_gradient_smc_reports_its_tempering_diagnostics():
    case = linear_case("uniform-linf", 20, 1e-6, seed=0)
    res = GradientSMC(kernel="mala").estimate(case.model, case.x, case.perturbation, budget=40_000, seed=0)
    d = res.diagnostics
    assert d["n_replicas"] == 4 and len(d["replica_estimates"]) == 4
    assert all(np.all(np.diff(b) > 0) for b in d["betas"])  # betas increase
    assert all(0 < a <= 1 for run in d["acceptance"] for a in run)
    assert all(e >= 0.875 * d["n_particles"] - 1e-6 for run in d["ess"] for e in run)
    assert log10_error(res, case) < 0.3


def test_gradient_smc_warns_where_its_moves_stall():
    """Known limitation: uniform-l2 in d = 10 at p = 1e-12 makes the failure set a cone of half-angle ~6
    degrees; the isotropic Langevin steps shrink below 1e-3 and SMC underestimates p by ~20% (benchmark:
    median |log10 error| 0.13, coverage 5/10). It must say so rather than return a quiet number."""
    case = linear_case("uniform-l2", 10, 1e-12, seed=1)
    res = GradientSMC().estimate(case.model, case.x, case.perturbation, budget=200_000, seed=0)
    assert any("step fell" in w for w in res.warnings), res.warnings


def test_bad_hyper_parameters_are_rejected():
    with pytest.raises(pb.ConfigurationError, match="kernel"):
        GradientSMC(kernel="hmc")
    with pytest.raises(pb.ConfigurationError):
        GradientSMC(ess_fraction=1.0)
    with pytest.raises(pb.ConfigurationError):
        ImportanceSampling(shift_scale=-1)
