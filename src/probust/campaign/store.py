"""The results database: one SQLite file holding campaigns and their per-input results.

Every finished input is committed in its own transaction the moment it is done, so a campaign killed at
any instant (SIGKILL included) loses at most the input in flight; SQLite's journal makes each commit
atomic. A campaign is identified by the hash of its full configuration (model fingerprint, data,
perturbation, estimator and its parameters, budget, confidence, seed, code version): results of two
configurations can never mix, because each row belongs to exactly one campaign id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from .._sqlite import SqliteStore, config_id
from ..errors import ConfigurationError
from ..result import Result

__all__ = ["ResultsStore", "config_id"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,            -- sha256 of the canonical configuration
    created REAL NOT NULL,
    config TEXT NOT NULL,           -- canonical JSON
    indices TEXT NOT NULL           -- JSON list of the input indices the campaign covers
);
CREATE TABLE IF NOT EXISTS results (
    campaign TEXT NOT NULL REFERENCES campaigns(id),
    input_index INTEGER NOT NULL,
    true_label INTEGER,
    result TEXT NOT NULL,           -- Result.to_json()
    finished REAL NOT NULL,
    PRIMARY KEY (campaign, input_index)
);
CREATE TABLE IF NOT EXISTS execution (
    campaign TEXT PRIMARY KEY REFERENCES campaigns(id),
    settings TEXT NOT NULL          -- JSON {"workers": N | null, "scheduler": ADDRESS | null} of the last run
);
"""


class ResultsStore(SqliteStore):
    """A SQLite results database of campaigns (created on first use; the file may hold bench tables too)."""

    _schema = _SCHEMA

    # -- campaigns -----------------------------------------------------------------------------------
    def create(self, config: Mapping[str, Any], indices: list[int]) -> str:
        """Register a campaign (idempotent for an identical configuration); returns its id."""
        cid = config_id(config)
        with self._transaction() as db:
            row = db.execute("SELECT indices FROM campaigns WHERE id = ?", (cid,)).fetchone()
            if row is None:
                db.execute("INSERT INTO campaigns VALUES (?, ?, ?, ?)",
                           (cid, time.time(), json.dumps(config, sort_keys=True), json.dumps(indices)))
            elif json.loads(row[0]) != indices:
                raise ConfigurationError(f"campaign {cid} already exists in {self.path} with other inputs")
        return cid

    def campaigns(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM campaigns ORDER BY created")]

    def resolve(self, campaign: str | None) -> str:
        """The campaign id to act on: the given one, or the only one in the database."""
        ids = self.campaigns()
        if campaign is not None:
            matches = [c for c in ids if c.startswith(campaign)]
            if len(matches) != 1:
                raise ConfigurationError(f"no single campaign matching {campaign!r} in {self.path}; it has {ids}")
            return matches[0]
        if len(ids) != 1:
            raise ConfigurationError(
                f"{self.path} holds {len(ids)} campaigns ({', '.join(ids) or 'none'}); choose one with --campaign ID"
            )
        return ids[0]

    def config(self, campaign: str) -> dict[str, Any]:
        return json.loads(self._db.execute("SELECT config FROM campaigns WHERE id = ?", (campaign,)).fetchone()[0])

    def indices(self, campaign: str) -> list[int]:
        return json.loads(self._db.execute("SELECT indices FROM campaigns WHERE id = ?", (campaign,)).fetchone()[0])

    def set_execution(self, campaign: str, settings: Mapping[str, Any]) -> None:
        """Record how the campaign runs (not part of its identity: results do not depend on it), for ``resume``."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO execution VALUES (?, ?)", (campaign, json.dumps(settings)))

    def execution(self, campaign: str) -> dict[str, Any]:
        """How the campaign last ran (``{}`` for a database written before this was recorded)."""
        row = self._db.execute("SELECT settings FROM execution WHERE campaign = ?", (campaign,)).fetchone()
        return {} if row is None else json.loads(row[0])

    # -- results -------------------------------------------------------------------------------------
    def add(self, campaign: str, index: int, true_label: int | None, result: Result) -> None:
        """Store one finished input, in its own transaction (a duplicate index is an error, not a merge)."""
        with self._transaction() as db:
            db.execute("INSERT INTO results VALUES (?, ?, ?, ?, ?)",
                       (campaign, index, true_label, result.to_json(), time.time()))

    def finished(self, campaign: str) -> set[int]:
        return {r[0] for r in self._db.execute("SELECT input_index FROM results WHERE campaign = ?", (campaign,))}

    def results(self, campaign: str) -> list[tuple[int, int | None, Result]]:
        """(index, true label, result) of every finished input, in index order."""
        rows = self._db.execute(
            "SELECT input_index, true_label, result FROM results WHERE campaign = ? ORDER BY input_index", (campaign,)
        )
        return [(i, y, Result.from_dict(json.loads(r))) for i, y, r in rows]

    def status(self, campaign: str) -> dict[str, Any]:
        total = len(self.indices(campaign))
        finished = self._db.execute("SELECT COUNT(*) FROM results WHERE campaign = ?", (campaign,)).fetchone()[0]
        return {"campaign": campaign, "total": total, "finished": finished, "database": str(self.path)}
