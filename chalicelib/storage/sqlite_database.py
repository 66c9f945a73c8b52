"""One SQLite file as the embedded adapters use it: a connection per thread (and a new one in a
forked worker), WAL mode, autocommit reads, and write transactions that take the write lock
at once (BEGIN IMMEDIATE) so two writers never deadlock on an upgrade.

Processes open the same files at once (the server's workers, an admin verb beside a running
server). Switching a new file to WAL mode needs the file to itself, and SQLite answers
"database is locked" at once, without waiting out the busy timeout, when another connection
holds it at that instant: so the switch is retried until the busy timeout passes."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

BUSY_TIMEOUT = 30.0  # seconds a statement waits for another connection's lock


class SqliteDatabase:
    def __init__(self, path: str, schema: str) -> None:
        self.path = os.path.abspath(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._local = threading.local()
        self.connection().executescript(schema)

    def connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            # `timeout` is the busy timeout, set before the first statement runs.
            db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT)
            _use_wal(db)
            # Durable across a killed process; only a power cut may lose the last commits.
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _use_wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so), retrying while another connection holds it:
    the pragma either fails "locked" or answers the old mode when it could not switch."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    pause = 0.001
    while True:
        try:
            if db.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
                return
            problem = "the journal mode stayed as it was"
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
            problem = str(error)
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError(f"cannot switch to WAL mode: {problem}")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock (retrying may work)."""
    message = str(error).lower()
    return "locked" in message or "busy" in message
