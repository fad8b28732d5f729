"""Rare-event estimators on a zoo model and a real image agree with a stored large-sample Monte Carlo reference.

The reference is PR-Bench's zoo case ``zoo/mnist-mlp/6/linf-0.14``: 10^7 Monte Carlo samples, p ~ 1.7e-4 with
its exact 99.9% interval (``src/probust/bench/data/zoo.json``). Each estimator runs once with a 99.9% interval;
the two intervals must overlap, which they do whenever both contain the truth, so a check fails with
probability <= 0.001 + 0.001 (nominal levels; the splitting intervals are asymptotic) and the four checks with
probability <= 0.8%. The seeds are fixed, so the outcome is deterministic. ``benchmarks/rare_event_zoo.py``
runs every zoo case (the CNN ones included) with repeated runs.
"""

from __future__ import annotations

import pytest

from probust.bench.cases import CASES
from probust.estimators import get_estimator

CASE = "zoo/mnist-mlp/6/linf-0.14"


@pytest.mark.parametrize("name", ["amls", "last-particle", "is", "gradient-smc"])
def test_estimate_agrees_with_the_monte_carlo_reference(name):
    case = CASES[CASE]
    inst, gold = case.build(), case.gold
    res = get_estimator(name).estimate(inst.model, inst.x, inst.perturbation, budget=100_000, confidence=0.999,
                                       seed=0, label=inst.label)
    assert res.ci.low <= gold.high and gold.low <= res.ci.high, (res.failure_probability, res.ci, gold)
    assert res.n_queries <= 100_000
