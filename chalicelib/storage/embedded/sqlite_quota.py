"""A namespace's use as quotas count it (chalicelib/lifecycle/quotas.py), on SQLite: the
distinct blobs the manifests of its repositories reference.

Two tables hold it, kept by triggers on `manifest_refs`, the one table every manifest write
and delete goes through:

  namespace_blobs  (namespace, digest): refs (the namespace's manifests using the blob), size
  namespace_use    (namespace): stored, the sizes of its namespace_blobs summed

A trigger runs inside the statement that fired it, so the counts change in the same
transaction as the manifest, with nothing for the adapter's code paths to remember, and
whatever writes the file (an older version of Soute during an upgrade too: triggers live in
the file) keeps them. A push reads two rows per blob and one per namespace, however big the
namespace (summing by query took 22 ms a PUT at 1,000 manifests and grows with them:
bench/quota.py). The quota check runs inside the manifest's write transaction (BEGIN IMMEDIATE
holds the write lock), so no other push comes between the check and the write.

A file made before quotas gets the tables, the triggers and the counts of what it holds in one
write transaction, once (a `gc_progress` row marks it done).
"""

from __future__ import annotations

import sqlite3

from ..ports import ManifestWrite, QuotaExceeded
from .sqlite_database import SqliteDatabase

MARK = "quota counts"
_NS = "substr({row}.repo, 1, instr({row}.repo || '/', '/') - 1)"  # the name's first component

TABLES = (
    "CREATE TABLE IF NOT EXISTS namespace_blobs (namespace TEXT NOT NULL, digest TEXT NOT NULL,"
    " refs INTEGER NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (namespace, digest))"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS namespace_use (namespace TEXT PRIMARY KEY,"
    " stored INTEGER NOT NULL) WITHOUT ROWID",
)
TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS count_namespace_blob AFTER INSERT ON manifest_refs
    WHEN NEW.kind = 'blob' BEGIN
        INSERT INTO namespace_use (namespace, stored)
            SELECT {_NS.format(row="NEW")}, b.size FROM blobs b WHERE b.digest = NEW.target
            AND NOT EXISTS (SELECT 1 FROM namespace_blobs n
                WHERE n.namespace = {_NS.format(row="NEW")} AND n.digest = NEW.target)
            ON CONFLICT (namespace) DO UPDATE SET stored = stored + excluded.stored;
        INSERT INTO namespace_blobs (namespace, digest, refs, size)
            SELECT {_NS.format(row="NEW")}, NEW.target, 1, b.size FROM blobs b
            WHERE b.digest = NEW.target
            ON CONFLICT (namespace, digest) DO UPDATE SET refs = refs + 1;
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS uncount_namespace_blob AFTER DELETE ON manifest_refs
    WHEN OLD.kind = 'blob' BEGIN
        UPDATE namespace_blobs SET refs = refs - 1
            WHERE namespace = {_NS.format(row="OLD")} AND digest = OLD.target;
        UPDATE namespace_use SET stored = stored - (SELECT n.size FROM namespace_blobs n
                WHERE n.namespace = {_NS.format(row="OLD")} AND n.digest = OLD.target)
            WHERE namespace = {_NS.format(row="OLD")} AND EXISTS (SELECT 1 FROM namespace_blobs n
                WHERE n.namespace = {_NS.format(row="OLD")} AND n.digest = OLD.target
                AND n.refs <= 0);
        DELETE FROM namespace_blobs
            WHERE namespace = {_NS.format(row="OLD")} AND digest = OLD.target AND refs <= 0;
    END""",
)
# What the triggers would have counted, for the manifests a file held before them.
BACKFILL = (
    "DELETE FROM namespace_blobs",
    "DELETE FROM namespace_use",
    f"INSERT INTO namespace_blobs (namespace, digest, refs, size)"
    f" SELECT {_NS.format(row='r')}, r.target, COUNT(*), b.size"
    " FROM manifest_refs r JOIN blobs b ON b.digest = r.target WHERE r.kind = 'blob'"
    f" GROUP BY {_NS.format(row='r')}, r.target",
    "INSERT INTO namespace_use (namespace, stored)"
    " SELECT namespace, SUM(size) FROM namespace_blobs GROUP BY namespace",
)


def prepare(database: SqliteDatabase) -> None:
    """Give the file its counts and triggers, once; a no-op read every open after that."""
    if _done(database.connection()):
        return
    with database.write() as db:
        if _done(db):
            return  # another process did it meanwhile
        for statement in (*TABLES, *TRIGGERS, *BACKFILL):
            db.execute(statement)
        db.execute("INSERT INTO gc_progress (name, progress) VALUES (?, 'done')", (MARK,))


def _done(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM gc_progress WHERE name = ?", (MARK,)).fetchone() is not None


def namespace_use(db: sqlite3.Connection, namespace: str) -> int:
    """Bytes of the distinct blobs the namespace's manifests reference."""
    row = db.execute(
        "SELECT stored FROM namespace_use WHERE namespace = ?", (namespace,)
    ).fetchone()
    return int(row[0]) if row else 0


def check_quota(db: sqlite3.Connection, write: ManifestWrite) -> None:
    """Raise QuotaExceeded if the write's blobs new to the namespace would pass its quota."""
    quota = write.quota
    if quota is None or not write.blobs:
        return
    adding = 0
    for digest in write.blobs:
        row = db.execute(
            "SELECT b.size FROM blobs b WHERE b.digest = ? AND NOT EXISTS (SELECT 1 FROM"
            " namespace_blobs n WHERE n.namespace = ? AND n.digest = b.digest)",
            (digest, quota.namespace),
        ).fetchone()
        adding += row[0] if row else 0
    if adding == 0:
        return
    used = namespace_use(db, quota.namespace)
    if used + adding > quota.limit:
        raise QuotaExceeded(quota.namespace, quota.limit, used, adding)
