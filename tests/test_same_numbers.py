"""The "same numbers" comparison of tests/conftest.py catches what it exists to catch (a different seed's
draws) and lets through only rounding-level differences of floats."""

from __future__ import annotations

import dataclasses
import math

import pytest

from probust.bench import linear_case
from probust.estimators import LastParticle, MonteCarlo


@pytest.mark.parametrize("est", [MonteCarlo(), LastParticle()], ids=lambda e: e.name)
def test_another_seed_is_caught_and_one_ulp_is_not(est, same_numbers):
    case = linear_case("gaussian", 8, 0.05, seed=0)
    first, other = (est.estimate(case.model, case.x, case.perturbation, budget=4000, seed=s) for s in (1, 2))
    assert first.failure_probability > 0
    with pytest.raises(AssertionError):
        same_numbers([first, other])
    rounded = dataclasses.replace(first, failure_probability=math.nextafter(first.failure_probability, 1.0),
                                  seconds=first.seconds + 1)
    same_numbers([first, rounded])
    with pytest.raises(AssertionError, match="failure_probability"):
        same_numbers([first, dataclasses.replace(first, failure_probability=first.failure_probability * 1.001)])
