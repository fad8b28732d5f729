"""What every results database shares: one SQLite file, opened with clear errors, its rows keyed by config ids.

Campaigns (:class:`probust.campaign.ResultsStore`), PR-Bench (:class:`probust.bench.store.BenchStore`) and
the training bench each add their own tables to a :class:`SqliteStore`, so one file can hold all three. The base
is here, below the three packages, so that none of them imports another for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .errors import ConfigurationError, DataError

__all__ = ["SqliteStore", "config_id"]

_Store = TypeVar("_Store", bound="SqliteStore")


def config_id(config: Mapping[str, Any]) -> str:
    """Stable id of a configuration: sha256 of its canonical JSON (sorted keys, no whitespace)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


class SqliteStore:
    """A SQLite results database, created on first use with the tables its classes declare.

    Parameters
    ----------
    path
        The database file; its folder must exist.

    Notes
    -----
    A subclass declares its tables in ``_schema`` (``CREATE TABLE IF NOT EXISTS`` statements); opening a store
    creates those of the class and of every base, so a subclass of a store has its tables too.
    """

    _schema: ClassVar[str] = ""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise DataError(f"results database {self.path} is not a file")
        if not self.path.parent.is_dir():
            raise ConfigurationError(f"folder {self.path.parent} of the results database does not exist")
        try:
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")  # readers (status) never block the writer
            self._db.executescript("".join(vars(cls).get("_schema", "") for cls in reversed(type(self).__mro__)))
        except sqlite3.DatabaseError as err:
            raise DataError(f"{self.path} is not a probust results database ({err})") from err

    def close(self) -> None:
        self._db.close()

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:  # commits on success, rolls back on error
            yield self._db
