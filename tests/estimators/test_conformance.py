"""The contract every estimator must keep, checked for each entry of the registry (and the certifier).

A new estimator is covered by these tests just by being registered in ``probust.estimators.ESTIMATORS``.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch

import probust as pb
from probust.bench import linear_case
from probust.estimators import ESTIMATORS, SequentialCertifier

INSTANCES = [cls() for cls in ESTIMATORS.values()] + [SequentialCertifier(max_failure=0.05)]


@pytest.fixture(scope="module")
def case():
    # uniform-linf: bounded noise, so white-box certificates (PROVEN) take part too
    return linear_case("uniform-linf", 16, 0.02, seed=1)


def run(est, case, **kw):
    kw = {"budget": 3000, "seed": 11, **kw}
    return est.estimate(case.model, case.x, case.perturbation, **kw)


@pytest.mark.parametrize("est", INSTANCES, ids=lambda e: e.name)
def test_result_schema_and_json_round_trip(est, case):
    res = run(est, case)
    assert isinstance(res, est.result_type)
    assert res.estimator == est.name and res.params == est.get_params()
    assert 0 <= res.ci.low <= res.ci.high <= 1 and 0 <= res.failure_probability <= 1
    assert 0 <= res.n_queries <= 3000 and res.seconds > 0  # white-box bounds make no queries
    assert res.perturbation == case.perturbation.to_spec()
    assert pb.Result.from_dict(json.loads(res.to_json())) == res
    with pytest.raises(AttributeError):
        res.n_queries = 0  # type: ignore[misc]


@pytest.mark.parametrize("est", INSTANCES, ids=lambda e: e.name)
def test_same_seed_same_result_at_any_batch_size(est, case):
    results = [run(est, case, batch_size=b) for b in (None, 97, 5000)]
    assert len({r.failure_probability for r in results}) == 1
    assert all(r.diagnostics == results[0].diagnostics and r.ci == results[0].ci for r in results)
    assert all(r.counterexamples == results[0].counterexamples and r.status == results[0].status for r in results)


@pytest.mark.parametrize("est", INSTANCES, ids=lambda e: e.name)
def test_float32_model_runs_on_a_float64_input(est, case):
    model32 = copy.deepcopy(case.model).float()
    res = est.estimate(model32, case.x, case.perturbation, budget=3000, seed=11)
    assert res.failure_probability == pytest.approx(run(est, case).failure_probability, abs=2 / 3000)
    with pytest.raises(pb.ConfigurationError, match="convert the model"):
        est.estimate(model32, case.x, case.perturbation, budget=10, dtype=torch.float64)


@pytest.mark.parametrize("est", INSTANCES, ids=lambda e: e.name)
def test_model_mode_and_global_state_are_left_alone(est, case):
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 3))
    model.train()
    model[1].eval()  # a deliberately mixed state must come back exactly as it was
    rng_state = torch.get_rng_state()
    with pytest.warns(UserWarning, match="train mode"):
        est.estimate(model, torch.zeros(4), pb.perturbations.UniformLinf(eps=0.1), budget=200, seed=0)
    assert model.training and model[0].training and not model[1].training
    assert torch.equal(rng_state, torch.get_rng_state())


@pytest.mark.parametrize("est", INSTANCES, ids=lambda e: e.name)
def test_progress_callback_counts_every_query(est, case):
    seen: list[int] = []
    res = run(est, case, progress=seen.append)
    assert sum(seen) == res.n_queries
