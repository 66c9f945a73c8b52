"""MetadataStore on SQLite: the facts of the DynamoDB layout, one row per fact.

WAL mode and one transaction per port call: a process killed at any instant restarts with
every committed write and none of a half-done one.

The lifecycle GC (lifecycle/gc.py) adds two columns to files made before it: `blobs.state`
('deleting' while a GC removes the bytes, NULL otherwise) and `repo_blobs.touched` (when the
link was last received, mounted, HEADed while idle, or released by a deleted manifest; NULL in
links made before, which the GC's first run stamps). Links hold no key: a repository's link
reads the blob's one record, so every link of a digest leads to the same bytes.

Retention (lifecycle/retention.py) adds `tags.pulled_at` and `manifests.pulled_at`: the last
pull by tag, and by digest, written at most once per PULL_RECORD_EVERY (record_pull); a tag
moved to another manifest starts again with none.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace

from ..ports import (
    MAX_TAGS_PER_MANIFEST,
    BlobRecord,
    ManifestInfo,
    ManifestRecord,
    ManifestWrite,
    MissingReference,
    Referrer,
    Reservation,
    StillReferenced,
    TagImmutable,
    TagsChanged,
    TooManyTags,
    UploadSession,
)
from .sqlite_database import SqliteDatabase
from .sqlite_quota import check_quota
from .sqlite_quota import prepare as prepare_quota_counts

SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    digest TEXT PRIMARY KEY, size INTEGER NOT NULL, key TEXT NOT NULL, created REAL NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS repo_blobs (
    repo TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (repo, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repo_blobs_by_digest ON repo_blobs (digest);
CREATE TABLE IF NOT EXISTS manifests (
    repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, body BLOB NOT NULL,
    subject TEXT, artifact_type TEXT, annotations TEXT, created REAL NOT NULL,
    PRIMARY KEY (repo, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repo, subject)
    WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS manifest_refs (
    repo TEXT NOT NULL, manifest TEXT NOT NULL, target TEXT NOT NULL, kind TEXT NOT NULL,
    PRIMARY KEY (repo, manifest, target)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_refs_by_target ON manifest_refs (repo, target);
CREATE TABLE IF NOT EXISTS tags (
    repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (repo, tag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repo, digest);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, repo TEXT NOT NULL, size INTEGER NOT NULL,
    version INTEGER NOT NULL, state TEXT NOT NULL, started REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS direct_reservations (
    namespace TEXT PRIMARY KEY, held TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gc_progress (
    name TEXT PRIMARY KEY, progress TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_blobs (
    repo TEXT NOT NULL, digest TEXT NOT NULL, upload_id TEXT NOT NULL, since REAL NOT NULL,
    PRIMARY KEY (repo, digest)) WITHOUT ROWID;
"""


# Columns added after files existed: (table, column, declaration).
ADDED_COLUMNS = (
    ("blobs", "state", "TEXT"),
    ("repo_blobs", "touched", "REAL"),
    ("tags", "pulled_at", "REAL"),
    ("manifests", "pulled_at", "REAL"),
)
DELETING = "deleting"


class SqliteMetadataStore:
    def __init__(self, path: str) -> None:
        self._database = SqliteDatabase(path, SCHEMA)
        self.path = self._database.path
        self._db = self._database.connection
        self._write = self._database.write
        self._add_columns()
        prepare_quota_counts(self._database)

    def _add_columns(self) -> None:
        if not self._missing_columns(self._db()):
            return  # the usual case: no write lock taken
        with self._write() as db:
            for table, column, declaration in self._missing_columns(db):
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    @staticmethod
    def _missing_columns(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
        missing = []
        for table, column, declaration in ADDED_COLUMNS:
            present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                missing.append((table, column, declaration))
        return missing

    @property
    def database(self) -> SqliteDatabase:
        """The file, for the lifecycle adapter (sqlite_lifecycle.py) that shares it."""
        return self._database

    def _one(self, sql: str, *args: object) -> tuple | None:
        return self._db().execute(sql, args).fetchone()

    # -- blobs -----------------------------------------------------------------------------
    def blob(self, repository: str, digest: str) -> BlobRecord | None:
        row = self._one(
            "SELECT b.size, b.key, l.touched, EXISTS (SELECT 1 FROM manifest_refs r"
            " WHERE r.repo = l.repo AND r.target = l.digest) FROM repo_blobs l"
            " JOIN blobs b ON b.digest = l.digest WHERE l.repo = ? AND l.digest = ?",
            repository,
            digest,
        )
        if not row:
            return None
        return BlobRecord(digest, row[0], row[1], idle_since=None if row[3] else row[2] or 0.0)

    def any_blob(self, digest: str) -> BlobRecord | None:
        row = self._one("SELECT size, key FROM blobs WHERE digest = ? AND state IS NULL", digest)
        return BlobRecord(digest, row[0], row[1]) if row else None

    def add_blob(self, repository: str, blob: BlobRecord) -> BlobRecord:
        with self._write() as db:
            row = db.execute(
                "SELECT size, key, state FROM blobs WHERE digest = ?", (blob.digest,)
            ).fetchone()
            if row is None or row[2] == DELETING:  # new, or taken over from a GC
                db.execute(
                    "INSERT OR REPLACE INTO blobs (digest, size, key, created, state)"
                    " VALUES (?, ?, ?, ?, NULL)",
                    (blob.digest, blob.size, blob.key, time.time()),
                )
                kept = blob
            else:
                kept = BlobRecord(blob.digest, row[0], row[1])
            _link(db, repository, blob.digest)
        return kept

    def link_blob(self, repository: str, blob: BlobRecord) -> BlobRecord | None:
        with self._write() as db:
            row = db.execute(
                "SELECT size, key FROM blobs WHERE digest = ? AND state IS NULL", (blob.digest,)
            ).fetchone()
            if row is None:
                return None
            _link(db, repository, blob.digest)
        return BlobRecord(blob.digest, row[0], row[1])

    def touch_link(self, repository: str, digest: str) -> bool:
        with self._write() as db:
            return (
                db.execute(
                    "UPDATE repo_blobs SET touched = ? WHERE repo = ? AND digest = ?",
                    (time.time(), repository, digest),
                ).rowcount
                == 1
            )

    def unlink_blob(self, repository: str, digest: str) -> bool:
        with self._write() as db:
            _refuse_if_referenced(db, repository, digest)
            return (
                db.execute(
                    "DELETE FROM repo_blobs WHERE repo = ? AND digest = ?", (repository, digest)
                ).rowcount
                > 0
            )

    # -- manifests and tags ----------------------------------------------------------------
    def manifest(self, repository: str, digest: str) -> ManifestRecord | None:
        row = self._one(
            "SELECT media_type, body, subject, artifact_type, annotations, pulled_at"
            " FROM manifests WHERE repo = ? AND digest = ?",
            repository,
            digest,
        )
        if not row:
            return None
        annotations = json.loads(row[4] or "{}")
        return ManifestRecord(digest, row[0], row[1], row[2], row[3], annotations, row[5])

    def tagged_manifest(self, repository: str, tag: str) -> ManifestRecord | None:
        row = self._one(
            "SELECT digest, pulled_at FROM tags WHERE repo = ? AND tag = ?", repository, tag
        )
        record = self.manifest(repository, row[0]) if row else None
        return replace(record, pulled_at=row[1]) if record and row else None

    def manifest_info(self, repository: str, digest: str) -> ManifestInfo | None:
        row = self._one(
            "SELECT media_type, length(body), pulled_at FROM manifests"
            " WHERE repo = ? AND digest = ?",
            repository,
            digest,
        )
        return ManifestInfo(digest, row[0], row[1], row[2]) if row else None

    def tagged_manifest_info(self, repository: str, tag: str) -> ManifestInfo | None:
        row = self._one(
            "SELECT digest, pulled_at FROM tags WHERE repo = ? AND tag = ?", repository, tag
        )
        info = self.manifest_info(repository, row[0]) if row else None
        return replace(info, pulled_at=row[1]) if info and row else None

    def record_pull(
        self, repository: str, digest: str, tag: str | None, at: float, stale_before: float
    ) -> bool:
        if tag is None:
            sql = "UPDATE manifests SET pulled_at = ? WHERE repo = ? AND digest = ?"
            args: tuple = (at, repository, digest)
        else:
            sql = "UPDATE tags SET pulled_at = ? WHERE repo = ? AND tag = ? AND digest = ?"
            args = (at, repository, tag, digest)
        with self._write() as db:
            changed = db.execute(
                f"{sql} AND (pulled_at IS NULL OR pulled_at < ?)", (*args, stale_before)
            ).rowcount
        return changed == 1

    def manifest_digests(self, repository: str, last: str | None, limit: int) -> list[str]:
        rows = self._db().execute(
            "SELECT digest FROM manifests WHERE repo = ? AND digest > ? ORDER BY digest LIMIT ?",
            (repository, last or "", limit),
        )
        return [row[0] for row in rows]

    def put_manifest(self, repository: str, write: ManifestWrite) -> None:
        record = write.record
        with self._write() as db:
            _require(db, repository, write)
            _refuse_moving_immutable_tags(db, repository, write)
            _refuse_too_many_tags(db, repository, write)
            check_quota(db, write)
            db.execute(
                "INSERT OR IGNORE INTO manifests (repo, digest, media_type, body, subject,"
                " artifact_type, annotations, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    repository,
                    record.digest,
                    record.media_type,
                    record.body,
                    record.subject,
                    record.artifact_type,
                    json.dumps(record.annotations) if record.annotations else None,
                    time.time(),
                ),
            )
            refs = [(d, "blob") for d in write.blobs] + [(d, "manifest") for d in write.children]
            db.executemany(
                "INSERT OR IGNORE INTO manifest_refs (repo, manifest, target, kind)"
                " VALUES (?, ?, ?, ?)",
                [(repository, record.digest, target, kind) for target, kind in refs],
            )
            # A tag that moves starts with no pull; one set again where it is keeps its own.
            db.executemany(
                "INSERT INTO tags (repo, tag, digest) VALUES (?, ?, ?)"
                " ON CONFLICT (repo, tag) DO UPDATE SET digest = excluded.digest, pulled_at ="
                " CASE WHEN tags.digest = excluded.digest THEN tags.pulled_at END",
                [(repository, tag, record.digest) for tag in write.tags],
            )

    def delete_manifest(
        self,
        repository: str,
        digest: str,
        protected: Callable[[str], bool] | None = None,
        tags: frozenset[str] | None = None,
    ) -> bool:
        with self._write() as db:
            _refuse_if_referenced(db, repository, digest)
            if tags is not None:  # read in the write transaction: no push can come between
                rows = db.execute(
                    "SELECT tag FROM tags WHERE repo = ? AND digest = ?", (repository, digest)
                )
                if {row[0] for row in rows} != tags:
                    raise TagsChanged(digest)
            # The blobs it used are idle from now: the GC's grace counts from here.
            db.execute(
                "UPDATE repo_blobs SET touched = ? WHERE repo = ? AND digest IN (SELECT target"
                " FROM manifest_refs WHERE repo = ? AND manifest = ? AND kind = 'blob')",
                (time.time(), repository, repository, digest),
            )
            if protected is not None:
                rows = db.execute(
                    "SELECT tag FROM tags WHERE repo = ? AND digest = ? ORDER BY tag",
                    (repository, digest),
                )
                for (tag,) in rows.fetchall():
                    if protected(tag):
                        raise TagImmutable(tag, digest)
            deleted = db.execute(
                "DELETE FROM manifests WHERE repo = ? AND digest = ?", (repository, digest)
            ).rowcount
            db.execute(
                "DELETE FROM manifest_refs WHERE repo = ? AND manifest = ?", (repository, digest)
            )
            db.execute("DELETE FROM tags WHERE repo = ? AND digest = ?", (repository, digest))
            return deleted > 0

    def delete_tag(self, repository: str, tag: str, immutable: bool = False) -> bool:
        with self._write() as db:
            if immutable:
                row = db.execute(
                    "SELECT digest FROM tags WHERE repo = ? AND tag = ?", (repository, tag)
                ).fetchone()
                if row:
                    raise TagImmutable(tag, row[0])
            return (
                db.execute(
                    "DELETE FROM tags WHERE repo = ? AND tag = ?", (repository, tag)
                ).rowcount
                > 0
            )

    def tags(self, repository: str, last: str | None, limit: int) -> list[str]:
        rows = self._db().execute(
            "SELECT tag FROM tags WHERE repo = ? AND tag > ? ORDER BY tag LIMIT ?",
            (repository, last or "", limit),
        )
        return [row[0] for row in rows]

    def repository_exists(self, repository: str) -> bool:
        return bool(self._one("SELECT 1 FROM manifests WHERE repo = ? LIMIT 1", repository))

    def repositories(self, last: str | None, limit: int) -> list[str]:
        rows = self._db().execute(
            "SELECT DISTINCT repo FROM manifests WHERE repo > ? ORDER BY repo LIMIT ?",
            (last or "", limit),
        )
        return [row[0] for row in rows]

    def referrers(self, repository: str, subject: str) -> list[Referrer]:
        rows = self._db().execute(
            "SELECT digest, media_type, length(body), artifact_type, annotations FROM manifests"
            " WHERE repo = ? AND subject = ? ORDER BY digest",
            (repository, subject),
        )
        return [Referrer(r[0], r[1], r[2], r[3], json.loads(r[4] or "{}")) for r in rows]

    # -- upload sessions -------------------------------------------------------------------
    def create_upload(self, session: UploadSession) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO uploads (upload_id, repo, size, version, state, started)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session.upload_id,
                    session.repository,
                    session.size,
                    session.version,
                    json.dumps(session.state),
                    session.started_at,
                ),
            )

    def upload(self, repository: str, upload_id: str) -> UploadSession | None:
        row = self._one(
            "SELECT size, version, state, started FROM uploads WHERE upload_id = ? AND repo = ?",
            upload_id,
            repository,
        )
        if not row:
            return None
        return UploadSession(repository, upload_id, row[0], row[1], json.loads(row[2]), row[3])

    def update_upload(self, session: UploadSession) -> bool:
        with self._write() as db:
            return (
                db.execute(
                    "UPDATE uploads SET size = ?, version = ?, state = ?"
                    " WHERE upload_id = ? AND repo = ? AND version = ?",
                    (
                        session.size,
                        session.version,
                        json.dumps(session.state),
                        session.upload_id,
                        session.repository,
                        session.version - 1,
                    ),
                ).rowcount
                == 1
            )

    def delete_upload(self, repository: str, upload_id: str) -> None:
        with self._write() as db:
            db.execute(
                "DELETE FROM uploads WHERE upload_id = ? AND repo = ?", (upload_id, repository)
            )

    # -- blobs being verified --------------------------------------------------------------
    def mark_pending(self, repository: str, digest: str, upload_id: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO pending_blobs (repo, digest, upload_id, since)"
                " VALUES (?, ?, ?, ?)",
                (repository, digest, upload_id, time.time()),
            )

    def clear_pending(self, repository: str, digest: str) -> None:
        with self._write() as db:
            db.execute(
                "DELETE FROM pending_blobs WHERE repo = ? AND digest = ?", (repository, digest)
            )

    def is_pending(self, repository: str, digest: str) -> bool:
        row = self._one(
            "SELECT 1 FROM pending_blobs WHERE repo = ? AND digest = ?", repository, digest
        )
        return row is not None

    def uploads_started_before(self, cutoff: float) -> list[UploadSession]:
        rows = self._db().execute(
            "SELECT repo, upload_id, size, version, state, started FROM uploads WHERE started < ?",
            (cutoff,),
        )
        return [UploadSession(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def upload_exists(self, upload_id: str) -> bool:
        return self._one("SELECT 1 FROM uploads WHERE upload_id = ?", upload_id) is not None

    # -- direct uploads a namespace holds open (the DynamoDB adapter's record) ---------------
    def direct_reservations(self, namespace: str) -> tuple[list[Reservation], int]:
        row = self._one(
            "SELECT held, version FROM direct_reservations WHERE namespace = ?", namespace
        )
        if row is None:
            return [], 0
        return [Reservation(*entry) for entry in json.loads(row[0])], row[1]

    def save_direct_reservations(
        self, namespace: str, reservations: list[Reservation], version: int
    ) -> bool:
        held = json.dumps([[r.upload_id, r.repository, r.size, r.expires_at] for r in reservations])
        with self._write() as db:
            row = db.execute(
                "SELECT version FROM direct_reservations WHERE namespace = ?", (namespace,)
            ).fetchone()
            if (row[0] if row else 0) != version:
                return False
            db.execute(
                "INSERT OR REPLACE INTO direct_reservations (namespace, held, version)"
                " VALUES (?, ?, ?)",
                (namespace, held, version + 1),
            )
        return True


def _require(db: sqlite3.Connection, repository: str, write: ManifestWrite) -> None:
    for digest in write.blobs:
        if not db.execute(
            "SELECT 1 FROM repo_blobs WHERE repo = ? AND digest = ?", (repository, digest)
        ).fetchone():
            raise MissingReference(digest, "blob")
    for digest in write.children:
        if not db.execute(
            "SELECT 1 FROM manifests WHERE repo = ? AND digest = ?", (repository, digest)
        ).fetchone():
            raise MissingReference(digest, "manifest")


def _link(db: sqlite3.Connection, repository: str, digest: str) -> None:
    """Link the blob to the repository (or touch the link it has): used from now."""
    db.execute(
        "INSERT INTO repo_blobs (repo, digest, touched) VALUES (?, ?, ?)"
        " ON CONFLICT (repo, digest) DO UPDATE SET touched = excluded.touched",
        (repository, digest, time.time()),
    )


def _refuse_moving_immutable_tags(
    db: sqlite3.Connection, repository: str, write: ManifestWrite
) -> None:
    """Read in the write transaction (BEGIN IMMEDIATE holds the write lock): no other push can
    set the tag between this check and the write."""
    for tag in write.immutable_tags:
        row = db.execute(
            "SELECT digest FROM tags WHERE repo = ? AND tag = ?", (repository, tag)
        ).fetchone()
        if row and row[0] != write.record.digest:
            raise TagImmutable(tag, row[0])


def _refuse_too_many_tags(db: sqlite3.Connection, repository: str, write: ManifestWrite) -> None:
    """The bound the DynamoDB adapter needs (ports.MAX_TAGS_PER_MANIFEST), here too, so that
    a registry behaves the same on every backend."""
    rows = db.execute(
        "SELECT tag FROM tags WHERE repo = ? AND digest = ?", (repository, write.record.digest)
    )
    current = {row[0] for row in rows}
    new = set(write.tags) - current
    if new and len(current) + len(new) > MAX_TAGS_PER_MANIFEST:
        raise TooManyTags(write.record.digest)


def _refuse_if_referenced(db: sqlite3.Connection, repository: str, digest: str) -> None:
    row = db.execute(
        "SELECT manifest FROM manifest_refs WHERE repo = ? AND target = ? LIMIT 1",
        (repository, digest),
    ).fetchone()
    if row:
        raise StillReferenced(row[0])
