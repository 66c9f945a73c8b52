"""FailureCounter on SQLite (the embedded backend), in the identities file: one row per failure,
so every gunicorn worker on the data directory counts the same failures. Exact sliding windows.

Each row carries its own expiry, and every insert first deletes the expired rows (an index
range, so cheap), so the table holds at most one window of failures whatever the traffic.
Successful sources are rows of their own table, one per (account, source), the most recent
KNOWN_SOURCES per account kept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from ...auth.throttle_ports import KNOWN_SOURCES, CounterUnavailable
from .sqlite_database import SqliteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT NOT NULL, at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_by_key ON login_failures (key, at);
CREATE INDEX IF NOT EXISTS login_failures_by_expiry ON login_failures (expires_at);
CREATE TABLE IF NOT EXISTS login_sources (
    key TEXT NOT NULL, source TEXT NOT NULL, at REAL NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (key, source)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS login_sources_by_expiry ON login_sources (expires_at);
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

    def add_success(self, key: str, source: str, now: float, keep: float) -> None:
        with _unavailable_on_error(), self._database.write() as db:
            db.execute("DELETE FROM login_sources WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT INTO login_sources (key, source, at, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key, source) DO UPDATE SET at = excluded.at,"
                " expires_at = excluded.expires_at",
                (key, source, now, now + keep),
            )
            db.execute(
                "DELETE FROM login_sources WHERE key = ? AND source NOT IN (SELECT source"
                " FROM login_sources WHERE key = ? ORDER BY at DESC LIMIT ?)",
                (key, key, KNOWN_SOURCES),
            )

    def succeeded_from(self, key: str, source: str, now: float) -> bool:
        with _unavailable_on_error():
            rows = self._database.connection().execute(
                "SELECT 1 FROM login_sources WHERE key = ? AND source = ? AND expires_at > ?",
                (key, source, now),
            )
            return rows.fetchone() is not None
