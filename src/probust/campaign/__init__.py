"""Data-set campaigns: per-input results committed to a SQLite store as they finish, resumable."""

from .store import ResultsStore, config_id

__all__ = ["ResultsStore", "config_id"]
