"""The component model: declared parameters enforced at construction, one registry and spec grammar per kind,
and the conformance kits run over every registered unit -- and over a toy unit of each kind, written in one
class and one registration, to prove that adding a unit takes nothing more."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
import torch

import probust as pb
from probust import components
from probust.components import Interval, Options, param, register
from probust.estimators import Estimator, GradientSMC, MonteCarlo, Outcome
from probust.intervals import binomial_ci
from probust.perturbations import Perturbation
from probust.properties import Property
from probust.testing import check_estimator, check_method, check_perturbation, check_property, parametrize
from probust.training import Method
from probust.training.methods import PGDAT, EVaR


@pytest.mark.parametrize(("build", "message"), [
    (lambda: GradientSMC(n_particles=2.5), "gradient-smc: n_particles must be an integer >= 2 (or None), got 2.5"),
    (lambda: EVaR(samples=0), "evar: samples must be an integer >= 1, got 0"),
    (lambda: PGDAT(steps=2.5), "pgd-at: steps must be an integer >= 0, got 2.5"),
    (lambda: MonteCarlo(sided="bogus"), "mc: sided must be one of two-sided, upper, lower, got 'bogus'"),
])
def test_invalid_constructions_fail_at_construction_with_one_line(build, message):
    with pytest.raises(pb.ConfigurationError) as err:
        build()
    assert str(err.value) == message


@pytest.mark.parametrize(("kind", "spec", "expected"), [
    ("estimator", "amls:n_particles=2000", pb.estimators.AdaptiveMultilevelSplitting(n_particles=2000)),
    ("estimator", " mc : interval=wilson ", MonteCarlo(interval="wilson")),
    ("method", "trades:beta=1,steps=5", pb.training.methods.TRADES(beta=1.0, steps=5)),
    ("property", "top-k:k=2,label=3", pb.TopK(2, 3)),
    ("perturbation", "gaussian:sigma=0.25,clip=0:1", pb.perturbations.Gaussian(sigma=0.25, clip=(0, 1))),
])
def test_one_spec_grammar_for_every_kind(kind, spec, expected):
    built = components.get(kind, spec)
    assert built == expected and components.get(kind, built.to_spec()) == built


@pytest.mark.parametrize(("kind", "spec", "match"), [
    ("estimator", "nope", "unknown estimator 'nope'"),
    ("estimator", "amls:rho=2", "rho must be a number in \\(0, 1\\)"),
    ("estimator", "amls:rho", "bad parameter 'rho'"),
    ("estimator", "amls:n_steps=x", "is not an integer >= 1"),
    ("estimator", "sequential", "incomplete: give max_failure"),
    ("method", "trades:beta=1,beta=2", "given twice"),
    ("property", "output-region", "cannot be built from a spec"),
])
def test_bad_specs_say_what_is_wrong(kind, spec, match):
    with pytest.raises(pb.ConfigurationError, match=match):
        components.get(kind, spec)


def test_the_cli_takes_estimator_specs(tmp_path, capsys):
    from probust.cli import main

    args = ["evaluate", "--model", "digits-mlp", "--dataset", "digits", "--indices", "0", "--budget", "200",
            "--perturbation", "uniform-linf:eps=0.05,clip=0:1", "--quiet", "--json", str(tmp_path / "r.json")]
    assert main([*args, "--estimator", "amls:n_particles=100,n_steps=2"]) == 0
    assert '"n_particles": 100' in (tmp_path / "r.json").read_text()
    assert main([*args, "--estimator", "amls:n_particles=1"]) == 2
    assert "n_particles must be an integer >= 2" in capsys.readouterr().err


def test_capability_tags_select_units():
    assert set(pb.estimators.ESTIMATORS.tagged("model-based")) == {"amls", "last-particle", "is", "gradient-smc"}
    assert set(pb.estimators.ESTIMATORS.tagged("decision")) == {"provero", "sequential"}
    assert "sequential" not in pb.estimators.ESTIMATORS.ready()


def test_old_spellings_still_work_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="params"):
        assert MonteCarlo().get_params() == MonteCarlo().params()
    with pytest.warns(DeprecationWarning, match="name"):
        assert pb.perturbations.Rotation.spec_name == "rotation"


@pytest.mark.parametrize(("module", "old", "new"), [
    ("probust.intervals", "METHODS", "INTERVAL_METHODS"), ("probust.reliability.pfd", "METHODS", "PFD_METHODS"),
    ("probust.explanations", "METHODS", "SALIENCY_METHODS"), ("probust.bench.protocol", "Cell", "BenchCell"),
])
def test_names_that_meant_several_things_are_renamed_and_the_old_ones_still_read(module, old, new):
    mod = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=new):
        assert getattr(mod, old) is getattr(mod, new)
    with pytest.raises(AttributeError):
        mod.NO_SUCH_NAME  # noqa: B018


# -- the kits over every registered unit (estimators: tests/estimators/test_conformance.py) ---------------------
@parametrize("perturbation")
def test_every_registered_perturbation_keeps_the_contract(unit):
    check_perturbation(unit)


@parametrize("property")
def test_every_registered_property_keeps_the_contract(unit):
    check_property(unit)


@parametrize("method")
def test_every_registered_training_method_keeps_the_contract(unit):
    check_method(unit)


# -- a toy of each kind: one class and one registration each ----------------------------------------------
@dataclasses.dataclass(frozen=True, kw_only=True)
class ToyEstimator(Estimator):
    """Monte Carlo on the first ``share`` of the budget."""

    share: float = param(0.5, Interval(float, 0, 1, "right"))
    name = "toy-mc"

    def _run(self, oracle, confidence, entropy):
        n = max(1, int(self.share * oracle.budget))
        k = sum(int((s > 0).sum()) for s in oracle.stream_scores(oracle.latent_stream(entropy), n))
        return Outcome(k / n, binomial_ci(k, n, confidence, "clopper-pearson"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToyNoise(Perturbation):
    """Uniform noise on [-width, width]^d with a uniform latent."""

    width: float = param(check=Interval(float, 0, None, "neither"))
    name = "toy-noise"
    example = "toy-noise:width=0.1"
    latent_law = "uniform"

    def displacement(self, z, x_shape):
        return self.width * (2 * z - 1)


@dataclasses.dataclass(frozen=True)
class ToyMargin(Property):
    """Class 0's logit falls below ``level``."""

    level: float = param(0.0, Interval(float))
    name = "toy-margin"

    def score(self, outputs):
        return self.level - outputs[:, 0]


@dataclasses.dataclass(frozen=True)
class ToyLoss(Method):
    """Cross-entropy, or hinge with ``loss="hinge"``."""

    loss_kind: str = param("ce", Options("ce", "hinge"))
    name = "toy-loss"

    def loss(self, model, x, y, step):
        logits = model(x)
        if self.loss_kind == "ce":
            return torch.nn.functional.cross_entropy(logits, y)
        return torch.nn.functional.multi_margin_loss(logits, y)


@pytest.fixture
def toys():
    """Register the toys for one test and take them out again (the registries are process-wide)."""
    units = (ToyEstimator, ToyNoise, ToyMargin, ToyLoss)
    for cls in units:
        register(cls)
    yield units
    for cls in units:
        del components.registry(cls.kind)._classes[cls.name]


def test_a_unit_of_each_kind_is_one_class_and_one_registration(toys):
    check_estimator("toy-mc:share=0.25")
    check_perturbation(ToyNoise)
    check_property("toy-margin:level=1")
    check_method(ToyLoss(loss_kind="hinge"))
    res = pb.estimate(torch.nn.Linear(3, 2).double().eval(), torch.zeros(3, dtype=torch.float64), "toy-noise:width=0.5",
                      estimator="toy-mc", failure=components.get("property", "toy-margin"), budget=100, seed=0)
    assert res.estimator == "toy-mc" and res.perturbation == "toy-noise:width=0.5" and res.n_queries == 50


def test_the_kits_catch_a_broken_unit(toys):
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Lax(ToyEstimator):  # a constraint the class does not enforce: share=2 slips through
        share: float = param(0.5, Interval(float, 0, 1, "right"))
        name = "lax"

        def __post_init__(self) -> None:  # skips the base class's checks
            pass

    with pytest.raises(AssertionError, match="violates"):
        check_estimator(Lax)
