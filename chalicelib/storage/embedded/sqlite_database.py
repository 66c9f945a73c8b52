"""One SQLite file as the embedded adapters use it: a connection per thread (and a new one in a
forked worker), WAL mode, autocommit reads, and write transactions that take the write lock
at once (BEGIN IMMEDIATE) so two writers never deadlock on an upgrade.

Processes open the same files at once (the server's workers, an admin verb beside a running
server). Switching a new file to WAL mode needs the file to itself, and SQLite answers
"database is locked" at once, without waiting out the busy timeout, when another connection
holds it at that instant: so the switch is retried until the busy timeout passes.

Faults of the file (locked past the busy timeout, I/O errors, a full disk) leave every statement
as the ports' StorageUnavailable or StorageFull (chalicelib/storage/faults.py): the connections
are of a class whose cursors translate them, so no adapter needs its own try/except.

The file is created 0600 before SQLite opens it, and SQLite gives its -wal and -shm files the
database file's mode (see private_files.py)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from ..faults import translated
from .private_files import create_private_file, make_private_dirs

BUSY_TIMEOUT = 30.0  # seconds a statement waits for another connection's lock


class SqliteDatabase:
    def __init__(self, path: str, schema: str, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.busy_timeout = busy_timeout
        self.path = os.path.abspath(path)
        make_private_dirs(os.path.dirname(self.path))
        create_private_file(self.path)
        self._local = threading.local()
        self.connection().executescript(schema)

    def connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            # `timeout` is the busy timeout, set before the first statement runs.
            db = sqlite3.connect(
                self.path, isolation_level=None, timeout=self.busy_timeout, factory=_Connection
            )
            _use_wal(db, self.busy_timeout)
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
            db.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (disk full, locked) may leave the transaction open, which would
            # refuse this thread's next BEGIN; SQLite rolls back by itself after some faults.
            if db.in_transaction:
                with suppress(sqlite3.Error):  # keep the first error, not the rollback's
                    db.execute("ROLLBACK")
            raise


def _use_wal(db: sqlite3.Connection, busy_timeout: float) -> None:
    """Put the file in WAL mode (it stays so), retrying while another connection holds it:
    the pragma either fails "locked" or answers the old mode when it could not switch."""
    deadline = time.monotonic() + busy_timeout
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
            raise translated(sqlite3.OperationalError(f"database is locked: {problem}"))
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock (retrying may work)."""
    message = str(error).lower()
    return "locked" in message or "busy" in message


class _Cursor(sqlite3.Cursor):
    """A cursor whose faults are the ports' (StorageUnavailable, StorageFull)."""

    def execute(self, *args: Any) -> _Cursor:
        with _translating():
            return super().execute(*args)

    def executemany(self, *args: Any) -> _Cursor:
        with _translating():
            return super().executemany(*args)

    def executescript(self, *args: Any) -> _Cursor:
        with _translating():
            return super().executescript(*args)

    def fetchone(self) -> Any:
        with _translating():
            return super().fetchone()

    def fetchmany(self, *args: Any) -> list[Any]:
        with _translating():
            return super().fetchmany(*args)

    def fetchall(self) -> list[Any]:
        with _translating():
            return super().fetchall()

    def __next__(self) -> Any:
        with _translating():
            return super().__next__()


class _Connection(sqlite3.Connection):
    """A connection whose every statement runs on a _Cursor."""

    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)

    def execute(self, *args: Any) -> _Cursor:
        return self.cursor().execute(*args)

    def executemany(self, *args: Any) -> _Cursor:
        return self.cursor().executemany(*args)

    def executescript(self, *args: Any) -> _Cursor:
        return self.cursor().executescript(*args)


@contextmanager
def _translating() -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as error:
        fault = translated(error)
        if fault is error:
            raise
        raise fault from error
