"""The estimator contract on semantic families (not additive, latents of a few coordinates, mixed laws).

Every registered estimator and the certifier runs on PR-Bench's semantic cases, whose failure probability is
known exactly: the result schema, same seed same numbers at any batch size, and the gold inside the interval.
White-box bounds (PROVEN, Cramer-Chernoff) need additive noise and must refuse with a ConfigurationError; bab,
white-box on boxes, samples a semantic latent box by box (no bound follows grid_sample) and keeps the contract.
"""

from __future__ import annotations

import json

import pytest

import probust as pb
from probust.bench.cases import CASES
from probust.estimators import ESTIMATORS

WHITE_BOX = ESTIMATORS.tagged("white-box")
SAMPLES_SEMANTIC = ("bab",)  # white-box estimators that run on semantic latents by sampling
INSTANCES = [cls.demo() for name, cls in ESTIMATORS.items() if name not in WHITE_BOX or name in SAMPLES_SEMANTIC]
CONTRACT = ["semantic/rotation/uniform/p1e-01", "semantic/compose/rotation-brightness/p1e-02"]
GOLD = [*CONTRACT, "semantic/translation/uniform/p1e-02", "semantic/gaussian-blur/uniform/p1e-01",
        "semantic/brightness/normal/p1e-04"]


def run(est, case_id, **kw):
    inst = CASES[case_id].build()
    return est.estimate(inst.model, inst.x, inst.perturbation, **{"budget": 3000, "seed": 11, **kw})


@pytest.mark.parametrize("case_id", CONTRACT)
@pytest.mark.parametrize("est", INSTANCES, ids=lambda e: e.name)
def test_result_schema_and_same_numbers_at_any_batch_size(est, case_id, same_numbers):
    results = [run(est, case_id, batch_size=b) for b in (None, 97)]
    res = results[0]
    assert isinstance(res, est.result_type) and 0 <= res.ci.low <= res.ci.high <= 1 and 0 < res.n_queries <= 3000
    assert res.perturbation == CASES[case_id].build().perturbation.to_spec()
    assert pb.Result.from_dict(json.loads(res.to_json())) == res
    same_numbers(results)


@pytest.mark.parametrize("case_id", GOLD)
@pytest.mark.parametrize("est", [e for e in INSTANCES if e.name != "sequential"], ids=lambda e: e.name)
def test_the_exact_failure_probability_is_inside_the_interval(est, case_id):
    """99% intervals at 3,000 queries; fixed seeds (each check would fail by chance with probability <= 1%)."""
    res = run(est, case_id, confidence=0.99)
    assert res.ci.low <= CASES[case_id].gold.value <= res.ci.high, (res.failure_probability, res.ci)


@pytest.mark.parametrize("name", [n for n in WHITE_BOX if n not in SAMPLES_SEMANTIC])
def test_white_box_bounds_refuse_semantic_families(name):
    with pytest.raises(pb.ConfigurationError, match="rotation:deg=30"):
        run(ESTIMATORS[name](), "semantic/rotation/uniform/p1e-01")


def test_certify_decides_both_ways_on_an_exact_case():
    """p = 0.1 exactly: not robust at theta = 0.05, robust at theta = 0.3 (confidence 1 - 1e-3)."""
    inst = CASES["semantic/rotation/uniform/p1e-01"].build()
    low = pb.certify(inst.model, inst.x, inst.perturbation, max_failure=0.05, confidence=1 - 1e-3, seed=0)
    high = pb.certify(inst.model, inst.x, inst.perturbation, max_failure=0.3, confidence=1 - 1e-3, seed=0)
    assert (low.decision, high.decision) == ("not robust", "robust")
