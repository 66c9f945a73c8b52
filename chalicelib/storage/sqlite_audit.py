"""The audit log on SQLite, in the embedded backend's identities file: append-only rows."""

from __future__ import annotations

import os
import sqlite3
import threading

from ..auth.audit import AuditEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, seq);
"""


class SqliteAuditLog:
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._local = threading.local()
        self._db().executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def record(self, event: AuditEvent) -> None:
        self._db().execute(
            "INSERT INTO audit (at, actor, action, target, source) VALUES (?, ?, ?, ?, ?)",
            (event.at, event.actor, event.action, event.target, event.source),
        )

    def events(self, limit: int = 100, actor: str | None = None) -> list[AuditEvent]:
        where, args = ("WHERE actor = ?", (actor,)) if actor else ("", ())
        rows = self._db().execute(
            f"SELECT actor, action, target, source, at FROM audit {where}"
            " ORDER BY seq DESC LIMIT ?",
            (*args, limit),
        )
        return [
            AuditEvent(actor, action, target, source, at)
            for actor, action, target, source, at in rows
        ]
