"""PolicyStore on SQLite: one row per (kind, scope), in the registry's metadata file, so a
data directory carries its settings with its manifests (one backup, one copy)."""

from __future__ import annotations

from .sqlite_database import SqliteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS policies (
    kind TEXT NOT NULL, scope TEXT NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (kind, scope)) WITHOUT ROWID;
"""


class SqlitePolicyStore:
    def __init__(self, path: str) -> None:
        self._database = SqliteDatabase(path, SCHEMA)
        self.path = self._database.path

    def get(self, scope: str, kind: str) -> str | None:
        row = (
            self._database.connection()
            .execute("SELECT document FROM policies WHERE kind = ? AND scope = ?", (kind, scope))
            .fetchone()
        )
        return row[0] if row else None

    def settings(self, scope: str) -> dict[str, str]:
        rows = self._database.connection().execute(
            "SELECT kind, document FROM policies WHERE scope = ?", (scope,)
        )
        return {row[0]: row[1] for row in rows}

    def put(self, scope: str, kind: str, document: str) -> None:
        with self._database.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO policies (kind, scope, document) VALUES (?, ?, ?)",
                (kind, scope, document),
            )

    def remove(self, scope: str, kind: str) -> bool:
        with self._database.write() as db:
            deleted = db.execute(
                "DELETE FROM policies WHERE kind = ? AND scope = ?", (kind, scope)
            ).rowcount
        return deleted > 0

    def entries(self, kind: str) -> list[tuple[str, str]]:
        rows = self._database.connection().execute(
            "SELECT scope, document FROM policies WHERE kind = ? ORDER BY scope", (kind,)
        )
        return [(row[0], row[1]) for row in rows]
