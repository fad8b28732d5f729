"""The contract of every model-based estimator on hard landscapes with an exact failure probability (issue 23).

Model-based estimators (``guarantee == "model-based"``: splitting, SMC, importance sampling) rest their interval
on chains that mix and reach every failure mode. The landscapes of :mod:`probust.bench.landscapes` are built to
break that (two equal modes, a gradient trap, a comb of thin teeth, a rough 1-D set, flat plateaus), at
probabilities cheap enough for one run each at the quick PR-Bench budget. Each estimator must still keep the
result contract, and **the safety rule**: an interval entirely below the exact p is allowed only from a run that
says so (status ``budget-exhausted`` or ``unreliable``); one that reports ``complete`` or ``stalled`` with such an
interval is *dangerous*. A new model-based estimator is covered by being registered in ``ESTIMATORS``.

One run per (estimator, case), with the seed of PR-Bench's repetition 0 of the case, budget 20,000 and
confidence 0.999: a calibrated two-sided 99.9% interval lies entirely below p with probability 5e-4, so a correct
estimator breaks the rule by chance in one of the 36 runs with probability under 2% (at 0.95 it would be ~60%),
and a dangerous run is evidence of over-confidence, not bad luck. About 30 s on 2 cores (pytest -n 2).
"""

from __future__ import annotations

import functools
import json

import pytest

import probust as pb
from probust.bench.landscapes import get_landscape
from probust.bench.protocol import case_seed
from probust.estimators import ESTIMATORS
from probust.result import STATUSES

MODEL_BASED = ESTIMATORS.tagged("model-based")
#: Cheap landscapes (each run under ~2 s at this budget): every kind but the 3072-d thin slab.
CASES = ["equal-modes/d20/p1e-4", "equal-modes/d20/p1e-10", "gradient-trap/d20/p1e-4", "gradient-trap/d20/p1e-8",
         "plateau/d20/p1e-3", "plateau-linf/d20/p1e-3", "comb/d1/p1e-5", "comb/d1/p1e-7", "rough/d1/p1e-5"]
BUDGET = 20_000
CONFIDENCE = 0.999
#: Statuses that claim a usable interval: such a run with the exact p above its interval is dangerous.
CLAIMING = ("complete", "stalled")


@functools.cache
def run(name: str, case: str) -> pb.Result:
    land = get_landscape(case)
    return ESTIMATORS[name]().estimate(land.model, land.x, land.perturbation, budget=BUDGET,
                                       confidence=CONFIDENCE, seed=case_seed(f"landscape/{case}", 0))


def test_the_registry_has_model_based_estimators():
    assert {"amls", "last-particle", "is", "gradient-smc"} <= set(MODEL_BASED)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", MODEL_BASED)
def test_result_contract_on_a_hard_landscape(name, case):
    res = run(name, case)
    assert isinstance(res, ESTIMATORS[name].result_type) and res.estimator == name
    assert pb.Result.from_dict(json.loads(res.to_json())) == res
    assert res.guarantee == "model-based" and 0 < res.unconditional_upper <= 1
    assert 0 <= res.ci.low <= res.failure_probability <= res.ci.high <= 1, (res.failure_probability, res.ci)
    assert res.status in STATUSES and 0 < res.n_queries <= BUDGET
    assert res.perturbation == get_landscape(case).perturbation.to_spec()


def test_no_run_claims_an_interval_below_the_exact_p():
    """The safety rule: ``ci.high < p`` only with a status that disowns the interval (not complete / stalled)."""
    dangerous = []
    for name in MODEL_BASED:
        for case in CASES:
            res, p = run(name, case), get_landscape(case).failure_probability
            if res.ci.high < p and res.status in CLAIMING:
                dangerous.append(f"{name} on {case}: p = {p:.3g}, estimate {res.failure_probability:.3g}, "
                                 f"ci [{res.ci.low:.3g}, {res.ci.high:.3g}], status {res.status}, "
                                 f"{len(res.warnings)} warning(s)")
    assert not dangerous, f"{len(dangerous)} dangerous run(s):\n" + "\n".join(dangerous)
