"""LifecycleStore on the embedded metadata file (the tables of sqlite.py).

Each transition is one write transaction (BEGIN IMMEDIATE), and every write of an upload,
mount, touch or manifest store is one too: SQLite runs them one at a time, so a condition
checked inside a transaction still holds when it commits. Pages are keyset-ordered: the cursor
is the last row's key, as JSON.
"""

from __future__ import annotations

import json
import time

from ..lifecycle_ports import BlobState, Cursor, IdleLink, ImageFacts, ManifestUses
from ..ports import BlobRecord, UploadSession
from .sqlite import DELETING, SqliteMetadataStore
from .sqlite_quota import namespace_use

_UNUSED = "NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.repo = l.repo AND r.target = l.digest)"
_PREPARED_SELECT = "SELECT 1 FROM gc_progress WHERE name = 'prepared'"
_UNLINKED = "NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = b.digest)"


class SqliteLifecycleStore:
    def __init__(self, metadata: SqliteMetadataStore) -> None:
        database = metadata.database
        self._db = database.connection
        self._write = database.write

    def prepare(self) -> None:
        """Stamp links made before the GC existed, once (a marker row says it is done): the
        UPDATE reads the whole table under the write lock, which pushes would wait for."""
        if self._db().execute(_PREPARED_SELECT).fetchone():
            return
        with self._write() as db:
            db.execute("UPDATE repo_blobs SET touched = ? WHERE touched IS NULL", (time.time(),))
            db.execute(
                "INSERT OR REPLACE INTO gc_progress (name, progress) VALUES ('prepared', 'yes')"
            )

    def idle_links(
        self, cutoff: float, cursor: Cursor, limit: int
    ) -> tuple[list[IdleLink], Cursor]:
        after = json.loads(cursor) if cursor else ["", ""]
        rows = (
            self._db()
            .execute(
                "SELECT l.repo, l.digest, b.size, l.touched FROM repo_blobs l"
                " JOIN blobs b ON b.digest = l.digest WHERE (l.repo, l.digest) > (?, ?)"
                f" AND l.touched < ? AND {_UNUSED} ORDER BY l.repo, l.digest LIMIT ?",
                (*after, cutoff, limit),
            )
            .fetchall()
        )
        links = [IdleLink(r[0], r[1], r[2], r[3]) for r in rows]
        return links, _next(rows, limit, lambda row: [row[0], row[1]])

    def drop_idle_link(self, repository: str, digest: str, cutoff: float) -> bool:
        with self._write() as db:
            return (
                db.execute(
                    "DELETE FROM repo_blobs AS l WHERE repo = ? AND digest = ? AND touched < ?"
                    f" AND {_UNUSED}",
                    (repository, digest, cutoff),
                ).rowcount
                == 1
            )

    def unlinked_blobs(self, cursor: Cursor, limit: int) -> tuple[list[BlobState], Cursor]:
        rows = (
            self._db()
            .execute(
                "SELECT b.digest, b.size, b.key, b.state FROM blobs b WHERE b.digest > ?"
                f" AND {_UNLINKED} ORDER BY b.digest LIMIT ?",
                (cursor or "", limit),
            )
            .fetchall()
        )
        found = [BlobState(BlobRecord(r[0], r[1], r[2]), r[3] == DELETING) for r in rows]
        return found, _next(rows, limit, lambda row: row[0], encode=False)

    def links_of(self, digest: str) -> int:
        row = (
            self._db()
            .execute("SELECT COUNT(*) FROM repo_blobs WHERE digest = ?", (digest,))
            .fetchone()
        )
        return int(row[0])

    def begin_blob_removal(self, digest: str) -> BlobRecord | None:
        with self._write() as db:
            db.execute(
                f"UPDATE blobs AS b SET state = ? WHERE digest = ? AND {_UNLINKED}",
                (DELETING, digest),
            )
            row = db.execute(
                "SELECT size, key FROM blobs WHERE digest = ? AND state = ?", (digest, DELETING)
            ).fetchone()
        return BlobRecord(digest, row[0], row[1]) if row else None

    def end_blob_removal(self, digest: str, key: str) -> bool:
        with self._write() as db:
            return (
                db.execute(
                    "DELETE FROM blobs WHERE digest = ? AND key = ? AND state = ?",
                    (digest, key, DELETING),
                ).rowcount
                == 1
            )

    def stale_uploads(
        self, cutoff: float, cursor: Cursor, limit: int
    ) -> tuple[list[UploadSession], Cursor]:
        rows = (
            self._db()
            .execute(
                "SELECT repo, upload_id, size, version, state, started FROM uploads"
                " WHERE upload_id > ? AND started < ? ORDER BY upload_id LIMIT ?",
                (cursor or "", cutoff, limit),
            )
            .fetchall()
        )
        sessions = [UploadSession(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]
        return sessions, _next(rows, limit, lambda row: row[1], encode=False)

    def gc_progress(self) -> str | None:
        row = self._db().execute("SELECT progress FROM gc_progress WHERE name = 'gc'").fetchone()
        return row[0] if row else None

    def save_gc_progress(self, progress: str | None) -> None:
        with self._write() as db:
            if progress is None:
                db.execute("DELETE FROM gc_progress WHERE name = 'gc'")
            else:
                db.execute(
                    "INSERT OR REPLACE INTO gc_progress (name, progress) VALUES ('gc', ?)",
                    (progress,),
                )

    def images(
        self, repository: str, cursor: Cursor, limit: int
    ) -> tuple[list[ImageFacts], Cursor]:
        tags = "FROM tags t WHERE t.repo = m.repo AND t.digest = m.digest"
        rows = (
            self._db()
            .execute(
                f"SELECT m.digest, m.created, m.pulled_at, (SELECT max(t.pulled_at) {tags}),"
                f" (SELECT group_concat(t.tag, ' ') {tags}), m.subject, EXISTS (SELECT 1"
                " FROM manifest_refs r WHERE r.repo = m.repo AND r.target = m.digest)"
                " FROM manifests m WHERE m.repo = ? AND m.digest > ? ORDER BY m.digest LIMIT ?",
                (repository, cursor or "", limit),
            )
            .fetchall()
        )
        found = [
            ImageFacts(
                r[0],
                tuple(sorted((r[4] or "").split())),
                r[1],
                max((t for t in (r[2], r[3]) if t is not None), default=None),
                bool(r[6]),
                r[5],
            )
            for r in rows
        ]
        return found, _next(rows, limit, lambda row: row[0], encode=False)

    def repository_blobs(
        self, repository: str, cursor: Cursor, limit: int
    ) -> tuple[list[tuple[str, int]], Cursor]:
        rows = (
            self._db()
            .execute(
                "SELECT l.digest, b.size FROM repo_blobs l JOIN blobs b ON b.digest = l.digest"
                " WHERE l.repo = ? AND l.digest > ? ORDER BY l.digest LIMIT ?",
                (repository, cursor or "", limit),
            )
            .fetchall()
        )
        return [(r[0], r[1]) for r in rows], _next(rows, limit, lambda row: row[0], encode=False)

    def manifest_uses(
        self, repository: str, cursor: Cursor, limit: int
    ) -> tuple[list[ManifestUses], Cursor]:
        rows = (
            self._db()
            .execute(
                "SELECT m.digest, length(m.body), (SELECT group_concat(r.target, ' ')"
                " FROM manifest_refs r WHERE r.repo = m.repo AND r.manifest = m.digest"
                " AND r.kind = 'blob') FROM manifests m WHERE m.repo = ? AND m.digest > ?"
                " ORDER BY m.digest LIMIT ?",
                (repository, cursor or "", limit),
            )
            .fetchall()
        )
        uses = [ManifestUses(r[0], r[1], tuple((r[2] or "").split())) for r in rows]
        return uses, _next(rows, limit, lambda row: row[0], encode=False)

    def namespace_use(self, namespace: str) -> int:
        return namespace_use(self._db(), namespace)

    def count_namespace(self, namespace: str) -> int:
        return 0  # triggers count every namespace (sqlite_quota.py): none is left out


def _next(rows: list, limit: int, key: object, encode: bool = True) -> Cursor:
    """The cursor after a page: None when the page was the last."""
    if len(rows) < limit:
        return None
    last = key(rows[-1])  # type: ignore[operator]
    return json.dumps(last) if encode else str(last)
