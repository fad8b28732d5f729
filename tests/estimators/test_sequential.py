"""pb.certify: early stopping both ways, sample counts near the exact minimum, and error rates <= delta."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

import probust as pb
from probust.bench import linear_case
from probust.perturbations import Gaussian


def constant_model(xb: torch.Tensor) -> torch.Tensor:
    return torch.tensor([[1.0, 0.0]]).expand(len(xb), 2)


def test_far_below_theta_certifies_within_twice_the_exact_minimum():
    theta = delta = 1e-3
    res = pb.certify(constant_model, torch.zeros(3), Gaussian(sigma=1.0), max_failure=theta,
                     confidence=1 - delta, seed=0)
    n_min = pb.sample_size(theta, 1 - delta, "exact")  # 6905: no fixed-size test can do with fewer
    assert res.decision == "robust"
    assert res.ci.high <= theta
    assert n_min <= res.n_queries <= 2 * n_min
    assert isinstance(res, pb.CertifyResult) and res.max_failure == theta


def test_far_above_theta_stops_after_a_few_hundred_samples():
    case = linear_case("gaussian", 8, 0.05, seed=0)
    res = pb.certify(case.model, case.x, case.perturbation, max_failure=1e-3, confidence=1 - 1e-3, seed=0)
    assert res.decision == "not robust"
    assert res.ci.low > 1e-3
    assert res.n_queries <= 300


def test_budget_exhausted_near_theta_is_undecided():
    case = linear_case("gaussian", 8, 0.011, seed=0)
    res = pb.certify(case.model, case.x, case.perturbation, max_failure=0.01, budget=2000, seed=0)
    assert res.decision == "undecided" and res.n_queries == 2000
    assert res.ci.contains(0.01)


@pytest.mark.parametrize("truth, wrong", [(0.1, "robust"), (0.025, "not robust")])
def test_wrong_decisions_happen_at_most_delta_of_the_time(truth, wrong):
    """theta = 0.05, delta = 0.05, truth at 2 theta or theta / 2; 200 independent runs.
    Wrong decisions ~ Binom(200, <= 0.05); fail above the 1 - 1e-6 quantile (false-failure rate <= 1e-6)."""
    case = linear_case("gaussian", 4, truth, seed=1)
    runs = 200
    decisions = [
        pb.certify(case.model, case.x, case.perturbation, max_failure=0.05, confidence=0.95, budget=20_000,
                   seed=s).decision
        for s in range(runs)
    ]
    assert decisions.count(wrong) <= stats.binom.ppf(1 - 1e-6, runs, 0.05)
    assert decisions.count("undecided") == 0  # 2x away from theta, 20,000 samples always suffice


def test_certify_result_round_trips_through_json():
    res = pb.certify(constant_model, torch.zeros(3), Gaussian(sigma=1.0), max_failure=0.05, seed=0)
    back = pb.Result.from_dict(res.to_dict())
    assert isinstance(back, pb.CertifyResult) and back == res
    looks = res.diagnostics["looks"]
    assert looks[-1][0] == res.n_queries and all(a[0] < b[0] for a, b in zip(looks, looks[1:], strict=False))


@pytest.mark.parametrize("theta", [0, 1, -0.1, 2])
def test_bad_threshold_is_rejected(theta):
    with pytest.raises(pb.ConfigurationError, match="max_failure"):
        pb.certify(constant_model, torch.zeros(3), Gaussian(sigma=1.0), max_failure=theta)
