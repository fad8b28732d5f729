"""The PR-Bench protocol: every estimator runs every case R times, with fixed seeds and a stated budget.

Repetition r of case c runs with the seed ``derive_seed(h(c), r)``, where h(c) is the first 56 bits of the
sha256 of the case id: the same for every estimator (common random numbers where estimators share streams)
and independent of which other cases or estimators are in the run, so a cell's result never depends on the
rest of the run. Every estimator gets the same query budget and confidence and its default
hyper-parameters (the parameters are part of the cell key, so changed defaults never mix with old rows).

Cell outcomes: ``ok`` (a Result), ``unsupported`` (the estimator raised a ConfigurationError, e.g. PROVEN on
unbounded Gaussian noise, or the bounds met a layer they do not handle, e.g. the landscapes' comb) or
``error`` (any other exception, with its message). All three are stored, so a resumed run does not retry them;
Ctrl-C is never caught.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from .. import _rng
from .._deprecation import renamed_constants
from .._sqlite import config_id
from ..bounds.crown import UnsupportedLayerError
from ..errors import ConfigurationError
from ..estimators import ESTIMATORS, PLAN_DEFAULTS, Estimator, get_estimator
from ..hardware import hardware, hardware_id
from ..intervals import check_confidence
from ..querying import check_budget
from .cases import BENCH_VERSION, Case
from .store import BenchStore


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How many repetitions, with what query budget and interval confidence."""

    repeats: int = 5
    budget: int = 100_000
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise ConfigurationError(f"--repeats must be a whole number >= 1, got {self.repeats!r}")
        check_budget(self.budget, 1)
        check_confidence(self.confidence)


#: The full protocol (under an hour on 2 CPU cores) and the quick one (CI, a few minutes).
FULL = Protocol(repeats=4, budget=100_000, confidence=0.95)
QUICK = Protocol(repeats=2, budget=20_000, confidence=0.95)


@dataclasses.dataclass(frozen=True)
class BenchCell:
    """One (case, estimator, repetition) under a protocol."""

    case: Case
    estimator_name: str
    estimator: Estimator
    repetition: int
    protocol: Protocol

    @property
    def seed(self) -> int:
        return case_seed(self.case.id, self.repetition)

    @property
    def key(self) -> tuple:
        return (self.case.id, self.case.version, self.estimator_name, config_id(cell_params(self.estimator)),
                self.protocol.budget, self.protocol.confidence, self.repetition)


#: ``Cell``, the old name of ``BenchCell`` (renamed: ``probust.reliability.Cell`` is a profile cell).
__getattr__ = renamed_constants(__name__, {"Cell": ("BenchCell", BenchCell)})


def cell_params(estimator: Estimator) -> dict[str, Any]:
    """What keys an estimator's cells: its hyper-parameters and, for a model-based estimator, the version of the
    parts / replicas defaults (``estimators._decompose.PLAN_DEFAULTS``), which change what a default run computes
    without being hyper-parameters: cells stored under older defaults are not reused."""
    params = estimator.params()
    return {**params, "plan_defaults": PLAN_DEFAULTS} if estimator.guarantee == "model-based" else params


def case_seed(case_id: str, repetition: int) -> int:
    """The seed of repetition ``repetition`` of a case: ``derive_seed(sha256(id)[:56 bits], repetition)``."""
    return _rng.derive_seed(int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:7], "big"), repetition)


def resolve_estimators(specs: Sequence[str] | None) -> list[str]:
    """The estimators of ``specs`` (names, or ``name:key=value,...``) as canonical specs, or the defaults.

    A spec's canonical form is its estimator's ``to_spec()``: ``amls:rho=0.1`` is ``amls``, the same cells.
    """
    if not specs:  # every registered one that runs with its default parameters (whatever the registry holds now)
        return ESTIMATORS.ready()
    return list(dict.fromkeys(get_estimator(spec).to_spec() for spec in specs))


def plan(cases: Sequence[Case], estimators: Sequence[str], protocol: Protocol) -> list[BenchCell]:
    """All cells of a run, case-major (a case's model is built once and reused by every estimator)."""
    instances = {name: get_estimator(name) for name in estimators}
    return [BenchCell(case, name, instances[name], r, protocol)
            for case in cases for r in range(protocol.repeats) for name in estimators]


def run_config(cases: Sequence[Case], estimators: Sequence[str], protocol: Protocol) -> dict[str, Any]:
    """What a run is (its id is the hash of all but the hardware)."""
    return {
        "bench_version": BENCH_VERSION,
        "cases": [[c.id, c.version] for c in cases],
        "estimators": {n: cell_params(get_estimator(n)) for n in estimators},
        "protocol": dataclasses.asdict(protocol),
        "hardware": hardware(),
    }


def run_cell(cell: BenchCell) -> tuple[str, str | None, str | None]:
    """Run one cell: ``(status, Result JSON or None, message or None)``."""
    inst = cell.case.build()
    try:
        res = cell.estimator.estimate(inst.model, inst.x, inst.perturbation, budget=cell.protocol.budget,
                                      confidence=cell.protocol.confidence, seed=cell.seed, label=inst.label)
    except (ConfigurationError, UnsupportedLayerError) as err:
        return "unsupported", None, " ".join(str(err).split())
    except Exception as err:  # noqa: BLE001 -- a crashing estimator is a result of the benchmark, recorded
        return "error", None, f"{type(err).__name__}: {' '.join(str(err).split())}"[:2000]
    return "ok", res.to_json(), None


def run_bench(
    store: BenchStore, cases: Sequence[Case], estimators: Sequence[str], protocol: Protocol,
    on_cell: Callable[[BenchCell, str, bool], None] | None = None,
) -> tuple[str, int]:
    """Run every missing cell, committing each as it finishes; returns the run id and cells computed.

    ``on_cell(cell, status, computed)`` is called after every cell (``computed=False``: already stored).
    """
    config = run_config(cases, estimators, protocol)
    hw = config["hardware"]
    hid = hardware_id(hw)
    store.add_hardware(hid, hw)
    run = store.create_run(config)
    done = store.finished_keys()
    computed = 0
    for cell in plan(cases, estimators, protocol):
        if cell.key in done:
            if on_cell is not None:
                on_cell(cell, "stored", False)
            continue
        status, result, message = run_cell(cell)
        store.add_cell(cell.key, cell.seed, status, result, message, hid)
        computed += 1
        if on_cell is not None:
            on_cell(cell, status, True)
    return run, computed
