"""The PR-Bench case registry: (model, input, perturbation, property) with a gold failure probability.

Cases are declarative data: one JSON file per suite in ``bench/data/`` (``linear.json``, ``relu.json``,
``zoo.json``, ``semantic.json``, ``landscape.json``, written by ``scripts/make_bench_references.py``), each
record holding the case id, its version, what is needed to build it and its gold value with how it was
obtained and how precise it is. This module turns the records into :class:`Case` objects (models are built
lazily, on first use) and keeps them in :data:`CASES`. A new case is one record in a suite file, or one call
of :func:`register_case` with any builder.

Gold values carry an interval ``[low, high]`` that contains the true failure probability: for computed
cases (closed form, quadrature, the landscapes' exact p) ``value -/+ abs_error`` with a deterministic error
bound or estimate, for Monte Carlo references their own exact Clopper-Pearson interval at ``confidence``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

import torch

from ..errors import ConfigurationError
from ..perturbations import Perturbation, parse_perturbation
from ..querying import Model

#: Version of the benchmark as a whole: changes when cases are added, removed or re-versioned.
BENCH_VERSION = "pr-bench-3"  # 3: the landscape suite (hard landscapes, exact p); 2: the semantic suite
DATA_DIR = Path(__file__).resolve().parent / "data"
SUITES = ("linear", "relu", "zoo", "semantic", "landscape")


@dataclasses.dataclass(frozen=True)
class Gold:
    """The reference failure probability of a case and how far it can be from the truth.

    Attributes
    ----------
    value
        Best value of the failure probability.
    low, high
        An interval that contains the true value: a deterministic error bound or estimate (``kind="computed"``)
        or a confidence interval of level ``confidence`` (``kind="statistical"``).
    method
        How the value was obtained (closed form, quadrature, Monte Carlo with n samples...).
    """

    value: float
    low: float
    high: float
    method: str
    kind: Literal["computed", "statistical"] = "computed"
    confidence: float | None = None

    @property
    def rel_halfwidth(self) -> float:
        """Half the width of ``[low, high]`` relative to ``value``: the gold's own precision."""
        return (self.high - self.low) / (2 * self.value)


@dataclasses.dataclass(frozen=True)
class Instance:
    """A built case: what an estimator is called with."""

    model: Model
    x: torch.Tensor
    perturbation: Perturbation
    label: int | None = None  # reference label; None = the model's prediction at x


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark case; ``build()`` makes (and caches) the model and input."""

    id: str
    version: str
    suite: str
    description: str
    gold: Gold
    builder: Callable[[], Instance] = dataclasses.field(repr=False, compare=False)
    quick: bool = False
    tags: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    def build(self) -> Instance:
        return _built(self.id, self.version, self.builder)


@functools.lru_cache(maxsize=64)
def _built(case_id: str, version: str, builder: Callable[[], Instance]) -> Instance:
    return builder()


#: The registry: case id -> case, in registration order.
CASES: dict[str, Case] = {}


def register_case(case: Case) -> Case:
    """Add a case to :data:`CASES` (ids are unique; re-registering an id is an error)."""
    if case.id in CASES:
        raise ConfigurationError(f"bench case {case.id!r} is already registered")
    if not 0 < case.gold.value < 1 or not case.gold.low <= case.gold.value <= case.gold.high:
        raise ConfigurationError(f"bench case {case.id!r}: gold value must lie in (0, 1) inside [low, high]")
    CASES[case.id] = case
    return case


def select_cases(patterns: Iterable[str] | None = None, quick: bool = False) -> list[Case]:
    """Cases whose id or suite matches any of ``patterns`` (shell wildcards), or all; ``quick``: the quick subset.

    Raises ConfigurationError if a pattern matches nothing (a typo should not silently shrink a run).
    """
    cases = [c for c in CASES.values() if c.quick] if quick else list(CASES.values())
    if not patterns:
        return cases
    chosen: dict[str, Case] = {}
    for pattern in patterns:
        hits = [c for c in cases if fnmatchcase(c.id, pattern) or c.suite == pattern]
        if not hits:
            raise ConfigurationError(
                f"no bench case matches {pattern!r}; use a suite ({', '.join(SUITES)}), a case id or a wildcard "
                "like 'linear/gaussian/*' (see 'probust bench list')"
            )
        chosen.update((c.id, c) for c in hits)
    return [c for c in cases if c.id in chosen]


# -- the suites: record -> Case ------------------------------------------------------------------------
def _computed_gold(g: dict[str, Any]) -> Gold:
    return Gold(g["value"], g["value"] - g["abs_error"], g["value"] + g["abs_error"], g["method"])


def _linear(record: dict[str, Any], suite: dict[str, Any]) -> Case:
    from .closed_form import linear_case_with_bias

    p = record["params"]

    def build() -> Instance:
        case = linear_case_with_bias(p["family"], p["dim"], p["bias"], p["seed"], p["scale"])
        return Instance(case.model, case.x, case.perturbation)

    desc = f"linear classifier, d={p['dim']}, {p['family']} noise of size {p['scale']}"
    return Case(record["id"], record["version"], "linear", desc, _computed_gold(record["gold"]), build,
                record.get("quick", False), dict(p))


def _relu(record: dict[str, Any], suite: dict[str, Any]) -> Case:
    from .relu_net import ReluNet

    p = record["params"]
    net_record = suite["networks"][p["network"]]

    def build() -> Instance:
        net = ReluNet.from_dict(net_record)
        return Instance(net.module(), torch.tensor(p["x"], dtype=torch.float64), parse_perturbation(p["perturbation"]))

    desc = f"ReLU net {p['network']} ({'-'.join(map(str, net_record['widths']))}), {p['perturbation']}"
    return Case(record["id"], record["version"], "relu", desc, _computed_gold(record["gold"]), build,
                record.get("quick", False), dict(p))


def _zoo(record: dict[str, Any], suite: dict[str, Any]) -> Case:
    from .. import zoo

    g = record["gold"]
    gold = Gold(g["value"], g["low"], g["high"], f"{g['method']}, {g['n_failures']} of {g['n_samples']:,} samples",
                "statistical", g["confidence"])

    def build() -> Instance:
        if zoo.model_info(record["model"])["sha256"] != record["model_sha256"]:
            raise ConfigurationError(f"zoo model {record['model']} changed since case {record['id']} was measured")
        x, _ = zoo.load_dataset(record["dataset"], split=record["split"])[record["index"]]
        return Instance(zoo.load_model(record["model"]), x, parse_perturbation(record["perturbation"]))

    desc = f"{record['model']} on {record['dataset']} {record['split']} #{record['index']}, {record['perturbation']}"
    tags = {k: record[k] for k in ("model", "dataset", "split", "index", "perturbation")}
    return Case(record["id"], record["version"], "zoo", desc, gold, build, record.get("quick", False), tags)


def _semantic(record: dict[str, Any], suite: dict[str, Any]) -> Case:
    from . import semantic

    p = record["params"]

    def build() -> Instance:
        return Instance(*semantic.build(p))

    read = "mean" if p.get("pixel") is None else f"pixel {tuple(p['pixel'])}"
    desc = f"{p['image']} {p['size']}x{p['size']}, linear read of the {read}, {p['perturbation']}"
    return Case(record["id"], record["version"], "semantic", desc, _computed_gold(record["gold"]), build,
                record.get("quick", False), dict(p))


def _landscape(record: dict[str, Any], suite: dict[str, Any]) -> Case:
    """A landscape of :mod:`probust.bench.landscapes`, built (and its exact p re-checked) on first use.

    The gold is recorded (``scripts/make_bench_references.py landscape``) so that importing probust builds
    nothing; ``build()`` refuses a landscape whose exact p has left the recorded gold interval.
    """
    p = record["params"]
    gold = _computed_gold(record["gold"])

    def build() -> Instance:
        from .landscapes import get_landscape

        land = get_landscape(p["landscape"])
        if not gold.low <= land.failure_probability <= gold.high:
            raise ConfigurationError(
                f"landscape {p['landscape']} now has p = {land.failure_probability!r}, outside the recorded gold "
                f"[{gold.low!r}, {gold.high!r}]: re-record it (scripts/make_bench_references.py landscape) and "
                f"bump the version of case {record['id']}")
        return Instance(land.model, land.x, land.perturbation)

    desc = f"{record['description']}, d={p['dim']}, {p['perturbation']}"
    tags = {k: p[k] for k in ("landscape", "kind", "dim", "target", "perturbation", "n_modes")}
    return Case(record["id"], record["version"], "landscape", desc, gold, build, record.get("quick", False), tags)


_LOADERS = {"linear": _linear, "relu": _relu, "zoo": _zoo, "semantic": _semantic, "landscape": _landscape}


def load_suite(name: str) -> dict[str, Any]:
    """The JSON record of a suite (a fresh dict)."""
    return json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _register_suites() -> None:
    for name in SUITES:
        path = DATA_DIR / f"{name}.json"
        if not path.is_file():  # a suite not generated yet (scripts/make_bench_references.py)
            continue
        suite = load_suite(name)
        for record in suite["cases"]:
            register_case(_LOADERS[name](record, suite))



_register_suites()
