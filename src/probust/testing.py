"""Conformance kits: does a component honour the contract of its kind? One function per kind.

A user who writes an estimator, perturbation, failure property or training method runs one function on it
and learns which rule it breaks (an ``AssertionError`` naming it), as scikit-learn's ``check_estimator`` does::

    from probust.testing import check_estimator
    check_estimator(MyEstimator)            # a class (tested through its demo()), an instance or a spec

Every kit first checks the component contract (:func:`check_component`): frozen, parameters declared once and
enforced at construction (each declared constraint's invalid values must fail with a one-line
ConfigurationError naming the parameter), ``to_spec()`` read back by the registry. Then the contract of the
kind, on a small problem: a linear model with a known failure probability for estimators, an image for
perturbations, random outputs with ties for properties, a tiny classifier for training methods.

The project's own tests run every kit over every registry entry (``parametrize("estimator")`` gives the
pytest parametrisation); a new registered unit is covered without naming it anywhere.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .components import Component, get, registry
from .errors import ConfigurationError
from .result import Result, jsonable

__all__ = [
    "SAME_NUMBERS_ABS", "SAME_NUMBERS_REL", "assert_same_numbers", "check_component", "check_estimator",
    "check_method", "check_perturbation", "check_property", "parametrize",
]

#: "Same numbers" of model arithmetic (docs/design.md, Randomness). The latents of a seed are bit-identical at
#: any batch size, but the model's float64 arithmetic is not: BLAS kernels pick their summation order by batch
#: shape, CPU and thread count, so a score moves by at most 2 gamma_n sum|terms| (gamma_n ~ n 2^-53), ~1e-14
#: for the small float64 models of these tests. Estimators pass scores through smooth maps (sums, exp/log,
#: gamma quantiles) and bisections to 1e-12 relative (gradient SMC's tempering, <= a few dozen steps), so
#: their floats agree to well under 1e-10 relative; values near 0 (splitting levels are scores) to ~1e-14
#: absolute. The tolerances below are >= 10x those bounds and >= 1e6x below any statistical effect: a seeding
#: bug changes estimates by their Monte Carlo spread (>= 1e-3 relative) and changes counts. Decisions (ints,
#: strings, bools: counts, kills, iterations, statuses, warnings) must be equal exactly; a decision can flip
#: only for a score within rounding of its threshold (an accept/reject or resampling draw), which the models
#: here never came near in any kernel path tried (make test-portability).
SAME_NUMBERS_REL, SAME_NUMBERS_ABS = 1e-9, 1e-12
#: Queries per estimator run of ``check_estimator`` (enough for every algorithm to run its course).
BUDGET = 3000


def _differences(a: Any, b: Any, path: str) -> list[str]:
    if isinstance(a, float) and isinstance(b, float):
        same = math.isclose(a, b, rel_tol=SAME_NUMBERS_REL, abs_tol=SAME_NUMBERS_ABS) or (a != a and b != b)
        return [] if same else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, Sequence) and isinstance(b, Sequence) and not isinstance(a, str):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def assert_same_numbers(results: Sequence[Any]) -> None:
    """Every result equals the first: decisions exactly, floats within ``SAME_NUMBERS_REL`` / ``_ABS``.

    Results are compared through ``to_dict()``, without the wall-clock ``seconds``.
    """
    dicts = [{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in results]
    problems = [d for i, other in enumerate(dicts[1:], 1) for d in _differences(dicts[0], other, f"results[{i}]")]
    assert not problems, "\n".join(problems[:20])


def _instance(kind: str, unit: Component | type | str) -> Component:
    """The instance a kit tests: the unit itself, its class's ``demo()``, or the unit a spec builds."""
    if isinstance(unit, str):
        return get(kind, unit)
    if isinstance(unit, type):
        unit = unit.demo()
    assert isinstance(unit, Component) and unit.kind == kind, f"expected a {kind}, got {unit!r}"
    return unit


def check_component(unit: Component) -> None:
    """The contract every component keeps, whatever its kind."""
    cls = type(unit)
    name = f"{cls.kind} {cls.name}"
    assert dataclasses.is_dataclass(unit) and cls.__dataclass_params__.frozen, f"{name}: not a frozen dataclass"
    assert set(unit.params()) == {f.name for f in dataclasses.fields(unit)}, f"{name}: params() misses fields"
    registered = cls.name in registry(cls.kind) and registry(cls.kind)[cls.name] is cls
    if registered and "no-spec" not in cls.tags:
        assert get(cls.kind, unit.to_spec()) == unit, f"{name}: {unit.to_spec()!r} does not build it back"
    for field in dataclasses.fields(unit):
        check = field.metadata.get("check")
        for bad in check.invalid() if check else ():
            try:
                dataclasses.replace(unit, **{field.name: bad})
            except ConfigurationError as err:
                message = str(err)
                assert field.name in message and "\n" not in message, f"{name}: unclear message {message!r}"
            else:
                raise AssertionError(f"{name}: {field.name}={bad!r} violates {check.describe()} but was accepted")


# -- estimators ---------------------------------------------------------------------------------------------
def check_estimator(estimator: Component | type | str) -> None:
    """The estimator contract: one frozen JSON-serialisable result, same seed same numbers at any batch size,
    every query counted, the model and torch's global state left as they were, a float32 model accepted."""
    from .bench import linear_case  # the gold cases sit above the estimators; imported when a kit runs
    from .perturbations import UniformLinf

    est = _instance("estimator", estimator)
    check_component(est)
    case = linear_case("uniform-linf", 16, 0.02, seed=1)  # bounded noise: white-box bounds take part too

    def run(model: torch.nn.Module = case.model, **kw: Any) -> Result:
        return est.estimate(model, case.x, case.perturbation, **{"budget": BUDGET, "seed": 11, **kw})

    res = run()
    assert isinstance(res, est.result_type) and res.estimator == est.name and res.params == est.params()
    assert 0 <= res.ci.low <= res.ci.high <= 1 and 0 <= res.failure_probability <= 1, res
    assert 0 <= res.n_queries <= BUDGET and res.seconds > 0, res
    assert res.perturbation == case.perturbation.to_spec()
    assert Result.from_dict(json.loads(res.to_json())) == res, "the JSON round trip changes the result"
    try:
        res.n_queries = 0  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        pass
    else:
        raise AssertionError("the result is not frozen")
    assert_same_numbers([res, *(run(batch_size=b) for b in (97, 5000))])
    seen: list[int] = []
    counted = run(progress=seen.append).n_queries
    assert sum(seen) == counted, f"progress() saw {sum(seen)} of {counted} queries"
    model32 = copy.deepcopy(case.model).float()
    assert abs(run(model32).failure_probability - res.failure_probability) <= 2 / BUDGET
    try:
        run(model32, budget=10, dtype=torch.float64)
    except ConfigurationError as err:
        assert "convert the model" in str(err), err
    else:
        raise AssertionError("a float32 model run in float64 must be refused with advice")
    mixed = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 3))
    mixed.train()
    mixed[1].eval()  # a deliberately mixed state must come back exactly as it was
    rng_state = torch.get_rng_state()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.estimate(mixed, torch.zeros(4), UniformLinf(eps=0.1), budget=200, seed=0)
    assert any("train mode" in str(w.message) for w in caught), "a model in train mode must be warned about"
    assert mixed.training and mixed[0].training and not mixed[1].training, "the model's modes were changed"
    assert torch.equal(rng_state, torch.get_rng_state()), "torch's global random state was used"


# -- perturbations ------------------------------------------------------------------------------------------
def _reference_input(unit: Component) -> torch.Tensor:
    """An input the family accepts: symbol codes for text families, else an 8x8 image in [0, 1]."""
    if "text" in unit.tags:
        from .perturbations.text_edits import encode

        return encode("probust")
    return torch.linspace(0.2, 0.8, 64, dtype=torch.float64).reshape(1, 8, 8)


def check_perturbation(perturbation: Component | type | str) -> None:
    """The perturbation contract: latents of the declared shape and base law, the same for the same seed,
    perturbed inputs of x's shape inside ``clip``, differentiable in the latent where the map is continuous."""
    pert = _instance("perturbation", perturbation)
    check_component(pert)
    x = _reference_input(pert)
    pert.check_input(x)
    z = pert.sample_latent(16, tuple(x.shape), np.random.default_rng(0))
    assert z.shape == (16, *pert.latent_shape(tuple(x.shape))) and z.dtype == torch.float32
    assert torch.equal(z, pert.sample_latent(16, tuple(x.shape), np.random.default_rng(0))), "same seed, other z"
    assert pert.log_prob(z).shape == (16,) and bool(torch.isfinite(pert.log_prob(z)).all())
    u = pert.latent_from_normal(torch.randn(16, *z.shape[1:], generator=torch.Generator().manual_seed(0)))
    assert bool(torch.isfinite(pert.log_prob(u)).all()), "latent_from_normal leaves the base law's support"
    xp = pert.apply(x, z)
    assert xp.shape == (16, *x.shape) and xp.dtype == x.dtype and bool(torch.isfinite(xp).all())
    if pert.clip is not None:
        assert float(xp.min()) >= pert.clip[0] and float(xp.max()) <= pert.clip[1], "apply leaves clip"
    if "text" not in pert.tags and getattr(pert, "interpolation", "bilinear") != "nearest":
        g = z.double().requires_grad_(True)
        pert.apply(x, g).sum().backward()
        assert g.grad is not None and bool(torch.isfinite(g.grad).all()), "apply is not differentiable in z"


# -- failure properties -------------------------------------------------------------------------------------
def check_property(prop: Component | type | str) -> None:
    """The property contract: one finite score per output row, the same for the same outputs, and parts (if
    any) that are disjoint and add up to the whole exactly, ties included (integer logits)."""
    prop = _instance("property", prop)
    check_component(prop)
    gen = torch.Generator().manual_seed(0)
    width = 32 if "explanation" in prop.tags else 5  # saliency maps need more features than top-k keeps
    outputs = torch.randint(-2, 3, (256, width), generator=gen).double()  # integer values: ties happen
    resolved = prop.resolve(outputs[:1])
    score = resolved.score(outputs)
    assert score.shape == (256,) and bool(torch.isfinite(score).all()), "one finite score per output row"
    assert torch.equal(score, resolved.score(outputs.clone())), "the same outputs must give the same scores"
    parts = resolved.parts(outputs[:1])
    if parts:
        hits = torch.stack([part.score(outputs) > 0 for part in parts]).sum(0)
        assert bool((hits <= 1).all()), "parts must be disjoint"
        assert torch.equal(hits == 1, score > 0), "parts must add up to the whole"


# -- training methods ---------------------------------------------------------------------------------------
def check_method(method: Component | type | str) -> None:
    """The training-method contract: a finite differentiable scalar loss, the same for the same generator, a
    positive cost and JSON-ready parameters."""
    from .perturbations import UniformLinf
    from .training import Step

    method = _instance("method", method)
    check_component(method)
    assert method.cost > 0 and json.dumps(jsonable(method.params())), "cost must be > 0, params JSON-ready"
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    torch.nn.init.normal_(model[1].weight, generator=torch.Generator().manual_seed(0))
    x = torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    y = torch.arange(8) % 3

    def loss() -> torch.Tensor:
        step = Step(UniformLinf(eps=0.1, clip=(0.0, 1.0)), 0.1, torch.Generator().manual_seed(2), 0.5)
        return method.loss(model, x, y, step)

    first = loss()
    assert first.ndim == 0 and bool(torch.isfinite(first)), f"the loss must be a finite scalar, got {first}"
    first.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads), "the loss must be differentiable"
    assert torch.equal(first.detach(), loss().detach()), "the same generator must give the same loss"


#: The kit of each kind.
KITS = {"estimator": check_estimator, "perturbation": check_perturbation, "property": check_property,
        "method": check_method}


def parametrize(kind: str, tag: str | None = None) -> Any:
    """``pytest.mark.parametrize("unit", ...)`` over the classes of a registry (those with ``tag``), by name."""
    import pytest  # only where tests run

    names = registry(kind).tagged(tag) if tag else list(registry(kind))
    return pytest.mark.parametrize("unit", [registry(kind)[n] for n in names], ids=names)
