"""The results database: one SQLite file holding campaigns and their per-input results.

Every finished input is committed in its own transaction the moment it is done, so a campaign killed at
any instant (SIGKILL included) loses at most the input in flight; SQLite's journal makes each commit
atomic. A campaign is identified by the hash of its full configuration (model fingerprint, data,
perturbation, estimator and its parameters, budget, confidence, seed, code version): results of two
configurations can never mix, because each row belongs to exactly one campaign id.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, DataError
from ..result import Result

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
"""


def config_id(config: Mapping[str, Any]) -> str:
    """Stable id of a configuration: sha256 of its canonical JSON (sorted keys, no whitespace)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


class ResultsStore:
    """A SQLite results database (created on first use)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise DataError(f"results database {self.path} is not a file")
        if not self.path.parent.is_dir():
            raise ConfigurationError(f"folder {self.path.parent} of the results database does not exist")
        try:
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")  # readers (status) never block the writer
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise DataError(f"{self.path} is not a probust results database ({err})") from err

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:  # commits on success, rolls back on error
            yield self._db

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
