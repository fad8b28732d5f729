"""The case registry is declarative data: every record is well formed and every recorded claim is re-checked."""

from __future__ import annotations

import pytest

import probust as pb
from probust.bench.cases import BENCH_VERSION, CASES, SUITES, _landscape, load_suite, register_case
from probust.bench.landscapes import LANDSCAPES, get_landscape
from probust.errors import ConfigurationError
from probust.estimators import MonteCarlo
from probust.intervals import binomial_ci

pytestmark = pytest.mark.portability  # stored gold records: rerun by make test-portability

ZOO = load_suite("zoo")
LANDSCAPE = load_suite("landscape")


def test_every_suite_is_registered_with_unique_versioned_ids():
    assert BENCH_VERSION.startswith("pr-bench-")
    for suite in SUITES:
        records = load_suite(suite)["cases"]
        assert records and all(r["id"] in CASES and r["version"] for r in records)
        assert any(r.get("quick") for r in records) or suite in ("zoo", "landscape")
    assert len(CASES) == sum(len(load_suite(s)["cases"]) for s in SUITES)
    with pytest.raises(ConfigurationError):
        register_case(next(iter(CASES.values())))


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_every_case_builds_and_its_gold_is_a_probability_inside_its_interval(case):
    inst = case.build()
    assert inst.model(inst.x[None].to(next(inst.model.parameters()).dtype)).shape[0] == 1
    assert inst.perturbation.to_spec()
    g = case.gold
    assert 0 < g.low <= g.value <= g.high < 1 and g.method
    assert case.build() is inst  # built once, cached


@pytest.mark.parametrize("record", ZOO["cases"], ids=lambda r: r["id"])
def test_zoo_interval_is_the_exact_interval_of_its_counts(record):
    g = record["gold"]
    ci = binomial_ci(g["n_failures"], g["n_samples"], g["confidence"])
    assert (ci.low, ci.high) == pytest.approx((g["low"], g["high"]), rel=1e-12)
    assert g["value"] == g["n_failures"] / g["n_samples"]
    assert pb.zoo.model_info(record["model"])["sha256"] == record["model_sha256"]


@pytest.mark.slow
@pytest.mark.parametrize("record", [r for r in ZOO["cases"] if r["model"] == "mnist-mlp"], ids=lambda r: r["id"])
def test_zoo_reference_agrees_with_a_fresh_independent_monte_carlo(record):
    """A fresh MC with another seed: its exact 1 - 1e-4 interval must meet the stored 99.9% one.

    If both intervals hold (probability >= 1 - 1e-4 - 1e-3), they intersect, so a false failure has probability
    below 1.1e-3 per case. 200,000 samples take ~5 s for the MLP.
    """
    case = CASES[record["id"]]
    inst = case.build()
    res = MonteCarlo().estimate(inst.model, inst.x, inst.perturbation, budget=200_000, confidence=1 - 1e-4, seed=7)
    assert res.ci.low <= case.gold.high and case.gold.low <= res.ci.high, (res.ci, case.gold)


def test_landscape_suite_is_the_default_grid_outside_the_quick_subset():
    ids = [r["id"] for r in LANDSCAPE["cases"]]
    assert ids == [f"landscape/{name}" for name in LANDSCAPES]
    assert not any(CASES[i].quick for i in ids)  # `bench run --quick` keeps its cases
    case = CASES["landscape/equal-modes/d20/p1e-10"]
    assert case.suite == "landscape" and case.tags["kind"] == "equal-modes" and case.tags["dim"] == 20
    assert case.gold.rel_halfwidth == pytest.approx(1e-9)


@pytest.mark.parametrize("record", LANDSCAPE["cases"], ids=lambda r: r["id"])
def test_landscape_gold_is_the_exact_p_of_the_built_landscape(record):
    """The recorded gold is the landscape's exact p (to 1e-12 relative); its parts sum to it."""
    land = get_landscape(record["params"]["landscape"])
    g = CASES[record["id"]].gold
    assert g.value == pytest.approx(land.failure_probability, rel=1e-12) and g.low < g.value < g.high
    assert record["params"]["perturbation"] == land.perturbation.to_spec() and record["params"]["dim"] == land.dim
    parts = {int(k): v for k, v in record["params"]["parts"].items()}
    assert parts == pytest.approx(dict(land.parts), rel=1e-12)
    assert sum(parts.values()) == pytest.approx(g.value, rel=1e-9)


def test_a_landscape_whose_p_left_its_recorded_gold_is_refused():
    record = LANDSCAPE["cases"][0]
    record = {**record, "id": "landscape/moved", "version": "test",
              "gold": {**record["gold"], "value": 2 * record["gold"]["value"]}}
    with pytest.raises(ConfigurationError, match="outside the recorded gold"):
        _landscape(record, LANDSCAPE).build()
