"""PR-Bench tables in a SQLite results database (the same file a campaign uses works: other tables).

A *cell* is one (case, case version, estimator, estimator parameters, budget, confidence, repetition); its
row is committed in its own transaction as soon as it is finished, so an interrupted run loses at most the
cell in flight, and a rerun computes only the missing cells. Cells do not belong to a run: two runs that
share a cell (same key) share its row, which is what makes ``--quick`` a prefix of a full run at the same
budget. A *run* records what was asked (cases, estimators, protocol) and the hardware, for the leaderboard.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .._sqlite import SqliteStore, config_id
from ..errors import ConfigurationError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_runs (
    id TEXT PRIMARY KEY,            -- sha256 of the canonical run configuration
    created REAL NOT NULL,
    config TEXT NOT NULL            -- JSON: bench version, cases, estimators with params, protocol, hardware
);
CREATE TABLE IF NOT EXISTS bench_cells (
    case_id TEXT NOT NULL,
    case_version TEXT NOT NULL,
    estimator TEXT NOT NULL,
    params TEXT NOT NULL,           -- config_id of the estimator's hyper-parameters
    budget INTEGER NOT NULL,
    confidence REAL NOT NULL,
    repetition INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,           -- ok | unsupported | error
    result TEXT,                    -- Result.to_json() when ok
    message TEXT,                   -- why not ok
    hardware TEXT NOT NULL,         -- hardware_id of the machine that computed it
    finished REAL NOT NULL,
    PRIMARY KEY (case_id, case_version, estimator, params, budget, confidence, repetition)
);
CREATE TABLE IF NOT EXISTS bench_hardware (id TEXT PRIMARY KEY, record TEXT NOT NULL);
"""

#: Columns of a cell key, in primary-key order.
KEY = ("case_id", "case_version", "estimator", "params", "budget", "confidence", "repetition")


class BenchStore(SqliteStore):
    """PR-Bench runs and cells in a SQLite results database (created on first use).

    Opening, WAL journal, error messages and transactions are every store's (:mod:`probust._sqlite`); one file
    can hold campaigns, bench runs and training cells, each package's own tables.
    """

    _schema = _SCHEMA

    # -- runs ----------------------------------------------------------------------------------------
    def create_run(self, config: dict[str, Any]) -> str:
        """Register a run (idempotent: the same configuration gives the same id); returns its id."""
        identity = {k: v for k, v in config.items() if k != "hardware"}  # rerunning elsewhere is the same run
        rid = config_id(identity)
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO bench_runs VALUES (?, ?, ?)",
                       (rid, time.time(), json.dumps(config, sort_keys=True)))
        return rid

    def runs(self) -> list[tuple[str, float, dict[str, Any]]]:
        rows = self._db.execute("SELECT id, created, config FROM bench_runs ORDER BY created")
        return [(r[0], r[1], json.loads(r[2])) for r in rows]

    def run_config(self, run: str | None) -> tuple[str, dict[str, Any]]:
        """The run with id prefix ``run``, or the most recent one."""
        runs = self.runs()
        if not runs:
            raise ConfigurationError(f"{self.path} holds no bench run; start one with 'probust bench run --db ...'")
        if run is None:
            return runs[-1][0], runs[-1][2]
        hits = [r for r in runs if r[0].startswith(run)]
        if len(hits) != 1:
            raise ConfigurationError(f"no single bench run matching {run!r} in {self.path}; it has "
                                     f"{', '.join(r[0] for r in runs)}")
        return hits[0][0], hits[0][2]

    # -- hardware ------------------------------------------------------------------------------------
    def add_hardware(self, hid: str, record: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO bench_hardware VALUES (?, ?)", (hid, json.dumps(record, sort_keys=True)))

    def hardware(self, hid: str) -> dict[str, Any]:
        row = self._db.execute("SELECT record FROM bench_hardware WHERE id = ?", (hid,)).fetchone()
        return json.loads(row[0]) if row else {}

    # -- cells ---------------------------------------------------------------------------------------
    def add_cell(self, key: tuple, seed: int, status: str, result_json: str | None, message: str | None,
                 hardware: str) -> None:
        """Store one finished cell in its own transaction (a duplicate key is an error, not a merge)."""
        with self._transaction() as db:
            db.execute("INSERT INTO bench_cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (*key, seed, status, result_json, message, hardware, time.time()))

    def finished_keys(self) -> set[tuple]:
        return {tuple(r) for r in self._db.execute(f"SELECT {', '.join(KEY)} FROM bench_cells")}

    def cells(self, keys: set[tuple] | None = None) -> list[dict[str, Any]]:
        """Every stored cell as a dict (only those whose key is in ``keys`` when given)."""
        cur = self._db.execute("SELECT * FROM bench_cells ORDER BY finished")
        names = [c[0] for c in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur]
        if keys is not None:
            rows = [r for r in rows if tuple(r[k] for k in KEY) in keys]
        return rows
