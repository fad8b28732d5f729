"""``bench training``: every method x seed trained under one budget and scored by the PRBench protocol.

A *cell* is (configuration, method, method hyper-parameters, seed); its row goes into the ``training_cells``
table of the bench database in its own transaction when it finishes, so a killed run loses at most the cells
in flight and a rerun trains only the missing ones. Runs and hardware records live in the estimator bench's
tables (:class:`~probust.bench.store.BenchStore`), so one file can hold both benches. ``shard = (i, n)`` lets n
processes share a run: process i computes the cells that a longest-first greedy split of the plan by a-priori
cost (:func:`shards`) gives it, so that one process does not get every AT-PR cell.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from collections.abc import Callable
from typing import Any

from .._sqlite import config_id
from .._version import __version__
from ..bench.store import BenchStore
from ..errors import ConfigurationError, ProbustError
from ..hardware import hardware, hardware_id
from ..zoo import load_dataset
from .methods import METHODS, get_method
from .protocol import ProtocolResult, evaluate_protocol
from .trainer import build_model, train

__all__ = ["FULL", "QUICK", "TrainingBench", "TrainingStore", "plan", "run_training_bench"]

BENCH_VERSION = "training-bench-1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS training_cells (
    config TEXT NOT NULL,       -- config_id of the data, architecture, budget and protocol (TrainingBench.identity)
    method TEXT NOT NULL,
    params TEXT NOT NULL,       -- config_id of the method's hyper-parameters
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,       -- ok | error
    record TEXT,                -- TrainingRecord as JSON when ok
    protocol TEXT,              -- ProtocolResult as JSON when ok
    message TEXT,
    hardware TEXT NOT NULL,
    finished REAL NOT NULL,
    PRIMARY KEY (config, method, params, seed)
);
"""


@dataclasses.dataclass(frozen=True)
class TrainingBench:
    """One configuration of the training bench: data, architecture, budget (same for every method), protocol."""

    dataset: str
    arch: str
    eps: float
    epochs: int
    n_train: int | None
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    methods: tuple[str, ...] = tuple(METHODS)
    n_pr: int = 500
    n_ar: int = 500
    mc_samples: int = 100
    restarts: int = 4
    strong_steps: int = 50

    def identity(self) -> dict[str, Any]:
        """What a cell's result depends on besides method and seed."""
        out = dataclasses.asdict(self)
        del out["seeds"], out["methods"]
        return {"bench_version": BENCH_VERSION, **out}


#: The quick configuration (CI, a few minutes at most): digits, the digits MLP, 1 epoch, a tiny evaluation.
QUICK = TrainingBench(dataset="digits", arch="digits-mlp", eps=0.1, epochs=1, n_train=None, batch_size=64,
                      lr=1e-2, seeds=(0,), n_pr=40, n_ar=60, restarts=2, strong_steps=20)
#: The full configuration of docs/training.md: the zoo MNIST split (4,000 train / 1,000 test), the zoo CNN.
FULL = TrainingBench(dataset="mnist", arch="mnist-cnn", eps=0.1, epochs=5, n_train=None)


class TrainingStore(BenchStore):
    """The bench database with the ``training_cells`` table.

    The training bench extends PR-Bench (its runs and hardware tables; its command is ``probust bench training``),
    so ``training`` imports ``bench`` and never the reverse: ``bench`` does not know the training bench exists,
    the CLI wires its command in (:func:`probust.training.commands.register_bench`; tests/test_architecture.py).
    """

    _schema = _SCHEMA

    def add_training_cell(self, key: tuple, status: str, record: str | None, protocol: str | None,
                          message: str | None, hardware: str) -> None:
        with self._transaction() as db:
            # OR IGNORE: two processes that computed the same cell (overlapping shards) keep the first row
            db.execute("INSERT OR IGNORE INTO training_cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (*key, status, record, protocol, message, hardware, time.time()))

    def training_keys(self) -> set[tuple]:
        return {tuple(r) for r in self._db.execute("SELECT config, method, params, seed FROM training_cells")}

    def training_cells(self, keys: set[tuple]) -> list[dict[str, Any]]:
        cur = self._db.execute("SELECT * FROM training_cells ORDER BY finished")
        names = [c[0] for c in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur]
        return [r for r in rows if (r["config"], r["method"], r["params"], r["seed"]) in keys]


def run_config(bench: TrainingBench) -> dict[str, Any]:
    """The run record: identity, methods with their hyper-parameters, seeds, hardware."""
    return {**bench.identity(), "kind": "training", "seeds": list(bench.seeds),
            "methods": {m: get_method(m).params() for m in bench.methods}, "hardware": hardware()}


def plan(bench: TrainingBench) -> list[tuple[str, str, str, int]]:
    """Cell keys in run order: for each seed, every method, the costliest first."""
    for name in bench.methods:
        get_method(name)  # unknown names fail before any work
    cid = config_id(bench.identity())
    by_cost = sorted(bench.methods, key=lambda m: -get_method(m).cost)
    return [(cid, m, config_id(get_method(m).params()), s) for s in bench.seeds for m in by_cost]


#: A-priori cost of evaluating one cell, in training passes per batch-epoch (for balancing shards only).
_EVAL_COST = 20.0


def shards(cells: list[tuple[str, str, str, int]], count: int) -> list[int]:
    """The shard of each cell: longest processing time first onto the least loaded shard (deterministic)."""
    load = [0.0] * count
    out = [0] * len(cells)
    for position in sorted(range(len(cells)), key=lambda i: -get_method(cells[i][1]).cost):
        target = min(range(count), key=lambda k: (load[k], k))
        out[position] = target
        load[target] += get_method(cells[position][1]).cost + _EVAL_COST
    return out


def _datasets(bench: TrainingBench) -> tuple[Any, Any]:
    train_data = load_dataset(bench.dataset, "train")
    if bench.n_train is not None:
        train_data = train_data[:bench.n_train]
    return train_data, load_dataset(bench.dataset, "test")


def run_training_bench(
    store: TrainingStore,
    bench: TrainingBench,
    shard: tuple[int, int] = (0, 1),
    on_cell: Callable[[tuple, str, bool], None] | None = None,
) -> tuple[str, int]:
    """Train and evaluate every missing cell of this shard; returns the run id and the cells computed."""
    index, count = shard
    if not (count >= 1 and 0 <= index < count):
        raise ConfigurationError(f"shard must be i/n with 0 <= i < n, got {index}/{count}")
    config = run_config(bench)
    rid = store.create_run(config)
    hid = hardware_id(config["hardware"])
    store.add_hardware(hid, config["hardware"])
    train_data, test_data = _datasets(bench)
    computed = 0
    cells = plan(bench)
    for key, owner in zip(cells, shards(cells, count), strict=True):
        if owner != index:
            continue
        if key in store.training_keys():  # read afresh: another process may have finished it meanwhile
            if on_cell:
                on_cell(key, "stored", False)
            continue
        _, method, _, seed = key
        try:
            model = build_model(bench.arch, seed)
            model, record = train(model, train_data, method, eps=bench.eps, epochs=bench.epochs, seed=seed,
                                  batch_size=bench.batch_size, lr=bench.lr, arch=bench.arch)
            result = evaluate_protocol(model, train_data, test_data, bench.eps, n_pr=bench.n_pr, n_ar=bench.n_ar,
                                       mc_samples=bench.mc_samples, restarts=bench.restarts,
                                       strong_steps=bench.strong_steps, seed=seed)
            row = ("ok", json.dumps(record.to_dict()), json.dumps(result.to_dict()), None)
        except ProbustError as err:  # a method that diverges is a result (status error), not a crash
            row = ("error", None, None, f"{type(err).__name__}: {err}")
        except Exception as err:  # noqa: BLE001 -- kept in the cell with its traceback, the run goes on
            row = ("error", None, None, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}")
        store.add_training_cell(key, *row, hid)
        computed += 1
        if on_cell:
            on_cell(key, row[0], True)
    return rid, computed


def load(store: TrainingStore, run: str | None = None) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """The run id, its configuration and its stored cells, with record and protocol parsed."""
    runs = [r for r in store.runs() if r[2].get("kind") == "training" and r[0].startswith(run or "")]
    if not runs or (run is not None and len(runs) > 1):
        raise ConfigurationError(f"{store.path} holds no single training bench run matching {run or 'any id'!r}; "
                                 "start one with 'probust bench training --db ...'")
    rid, _, config = runs[-1]
    identity = {k: v for k, v in config.items() if k not in ("kind", "seeds", "methods", "hardware")}
    cid = config_id(identity)
    keys = {(cid, m, config_id(p), s) for m, p in config["methods"].items() for s in config["seeds"]}
    cells = store.training_cells(keys)
    for c in cells:
        c["record"] = json.loads(c["record"]) if c["record"] else None
        c["protocol"] = ProtocolResult.from_dict(json.loads(c["protocol"])) if c["protocol"] else None
    config = {**config, "cell_hardware": sorted({c["hardware"] for c in cells}), "probust": __version__}
    return rid, config, cells
