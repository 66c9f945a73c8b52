"""The audit log on SQLite, in the embedded backend's identities file: append-only rows."""

from __future__ import annotations

from ...auth.audit import AuditEvent
from .sqlite_database import SqliteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, seq);
"""


class SqliteAuditLog:
    def __init__(self, path: str) -> None:
        self._database = SqliteDatabase(path, SCHEMA)
        self.path = self._database.path
        self._db = self._database.connection

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
