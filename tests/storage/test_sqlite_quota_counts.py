"""The SQLite adapter's quota counts (storage/embedded/sqlite_quota.py), kept by triggers: after
any mix of pushes and deletes in several namespaces they equal the use summed from scratch,
and a file made before quotas gets them, once, when it is opened."""

from __future__ import annotations

import random
from pathlib import Path

from chalicelib.storage.embedded.sqlite import SqliteMetadataStore
from chalicelib.storage.embedded.sqlite_lifecycle import SqliteLifecycleStore
from tests.storage.contract.test_metadata_store import _blob, _write

NAMESPACES = ("acme", "acme2", "b")
REPOSITORIES = ("acme", "acme/app", "acme/web", "acme2/app", "b/x/y")


def _summed(store: SqliteMetadataStore, namespace: str) -> int:
    """The use by its definition, summed over the whole file."""
    rows = store.database.connection().execute(
        "SELECT DISTINCT r.repo, r.target, b.size FROM manifest_refs r"
        " JOIN blobs b ON b.digest = r.target WHERE r.kind = 'blob'"
    )
    sizes = {target: size for repo, target, size in rows if repo.split("/")[0] == namespace}
    return sum(sizes.values())


def test_the_counts_follow_pushes_and_deletes_exactly(tmp_path: Path) -> None:
    store = SqliteMetadataStore(str(tmp_path / "metadata.sqlite"))
    lifecycle = SqliteLifecycleStore(store)
    chooser = random.Random(14)
    shared = [bytes([n]) * (100 + n) for n in range(6)]  # base layers several images use
    stored: list[tuple[str, str]] = []
    for step in range(300):
        if stored and chooser.random() < 0.35:
            repository, digest = stored.pop(chooser.randrange(len(stored)))
            assert store.delete_manifest(repository, digest)
        else:
            repository = chooser.choice(REPOSITORIES)
            blobs = [_blob(store, repository, chooser.choice(shared)) for _ in range(2)]
            blobs.append(_blob(store, repository))  # its own layer
            write = _write(blobs=tuple(dict.fromkeys(blobs)))
            store.put_manifest(repository, write)
            stored.append((repository, write.record.digest))
        if step % 25 == 0:
            for namespace in NAMESPACES:
                assert lifecycle.namespace_use(namespace) == _summed(store, namespace)
    for namespace in NAMESPACES:
        assert lifecycle.namespace_use(namespace) == _summed(store, namespace)


def test_a_file_made_before_quotas_is_counted_when_opened(tmp_path: Path) -> None:
    path = str(tmp_path / "metadata.sqlite")
    store = SqliteMetadataStore(path)
    for repository in REPOSITORIES:
        blobs = (_blob(store, repository, b"base" * 50), _blob(store, repository))
        store.put_manifest(repository, _write(blobs=blobs))
    expected = {namespace: _summed(store, namespace) for namespace in NAMESPACES}
    assert expected["acme"] > 0
    with store.database.write() as db:  # as a file before quotas: no counts, no triggers
        for statement in (
            "DROP TRIGGER count_namespace_blob",
            "DROP TRIGGER uncount_namespace_blob",
            "DROP TABLE namespace_blobs",
            "DROP TABLE namespace_use",
            "DELETE FROM gc_progress WHERE name = 'quota counts'",
        ):
            db.execute(statement)

    reopened = SqliteMetadataStore(path)
    lifecycle = SqliteLifecycleStore(reopened)
    assert {n: lifecycle.namespace_use(n) for n in NAMESPACES} == expected
    write = _write(blobs=(_blob(reopened, "acme/app"),))  # and the triggers count from then on
    reopened.put_manifest("acme/app", write)
    assert lifecycle.namespace_use("acme") == _summed(reopened, "acme") > expected["acme"]
