"""A namespace's use as quotas count it (chalicelib/lifecycle/quotas.py), on SQLite: the
distinct blobs the manifests of its repositories reference, summed by query. No counter is
kept: the query runs inside the manifest's write transaction (BEGIN IMMEDIATE holds the write
lock), so the check and the write that would pass the quota cannot be separated by another
push, and the figure is exact from the first quota on, with nothing to bring up to date.

A namespace is the first component of a name: `acme` holds `acme` and every `acme/...`. The
repositories `acme/...` are one range of the manifest_refs key, ["acme/", "acme0"), since "0"
follows "/" in the names' alphabet, so the query reads only the namespace's rows.
"""

from __future__ import annotations

import sqlite3

from ..ports import ManifestWrite, QuotaExceeded

_NAMESPACE_BLOBS = (
    "SELECT DISTINCT target FROM manifest_refs WHERE kind = 'blob'"
    " AND (repo = :ns OR (repo >= :ns || '/' AND repo < :ns || '0'))"
)


def namespace_use(db: sqlite3.Connection, namespace: str) -> int:
    """Bytes of the distinct blobs the namespace's manifests reference."""
    row = db.execute(
        f"SELECT COALESCE(SUM(size), 0) FROM blobs WHERE digest IN ({_NAMESPACE_BLOBS})",
        {"ns": namespace},
    ).fetchone()
    return int(row[0])


def check_quota(db: sqlite3.Connection, write: ManifestWrite) -> None:
    """Raise QuotaExceeded if the write's blobs new to the namespace would pass its quota."""
    quota = write.quota
    if quota is None or not write.blobs:
        return
    digests = {f"d{index}": digest for index, digest in enumerate(write.blobs)}
    row = db.execute(
        f"SELECT COALESCE(SUM(size), 0) FROM blobs WHERE digest IN"
        f" ({', '.join(':' + name for name in digests)})"
        f" AND digest NOT IN ({_NAMESPACE_BLOBS})",
        {"ns": quota.namespace, **digests},
    ).fetchone()
    adding = int(row[0])
    if adding == 0:
        return
    used = namespace_use(db, quota.namespace)
    if used + adding > quota.limit:
        raise QuotaExceeded(quota.namespace, quota.limit, used, adding)
