"""FailureCounter on SQLite (the embedded backend), in the identities file: one row per failure,
so every gunicorn worker on the data directory counts the same failures. Exact sliding windows.

Each row carries its own expiry, and every insert first deletes the expired rows (an index
range, so cheap), so the table holds at most one window of failures whatever the traffic.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from .sqlite_database import SqliteDatabase
from .throttle_ports import CounterUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT NOT NULL, at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_by_key ON login_failures (key, at);
CREATE INDEX IF NOT EXISTS login_failures_by_expiry ON login_failures (expires_at);
"""


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    # "database is locked" after the busy timeout, a full disk: the throttle fails closed.
    try:
        yield
    except sqlite3.Error as error:
        raise CounterUnavailable(f"SQLite: {error}") from error


class SqliteFailureCounter:
    def __init__(self, path: str) -> None:
        self._database = SqliteDatabase(path, SCHEMA)
        self.path = self._database.path

    def add_failure(self, key: str, now: float, window: float) -> None:
        with _unavailable_on_error(), self._database.write() as db:
            db.execute("DELETE FROM login_failures WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT INTO login_failures (key, at, expires_at) VALUES (?, ?, ?)",
                (key, now, now + window),
            )

    def failures(self, key: str, now: float, window: float) -> int:
        with _unavailable_on_error():
            rows = self._database.connection().execute(
                "SELECT COUNT(*) FROM login_failures WHERE key = ? AND at > ?", (key, now - window)
            )
            return int(rows.fetchone()[0])

    def release(self, key: str, at: float, window: float) -> None:
        with _unavailable_on_error(), self._database.write() as db:
            db.execute(
                "DELETE FROM login_failures WHERE rowid IN"
                " (SELECT rowid FROM login_failures WHERE key = ? AND at = ? LIMIT 1)",
                (key, at),
            )

    def clear(self, key: str) -> None:
        with _unavailable_on_error():
            self._database.connection().execute("DELETE FROM login_failures WHERE key = ?", (key,))
