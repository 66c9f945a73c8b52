"""The LifecycleStore contract (chalicelib/storage/lifecycle_ports.py) on every adapter: SQLite,
DynamoDB, and DynamoDB as a region other than the primary sees it. Each transition is checked
against the fact that must refuse it; the listings are checked page by page."""

from __future__ import annotations

import hashlib
import json
import os
import time

from chalicelib.storage.aws.dynamodb import DynamoMetadataStore
from chalicelib.storage.lifecycle_ports import LifecycleStore
from chalicelib.storage.ports import (
    BlobRecord,
    ManifestRecord,
    ManifestWrite,
    MetadataStore,
    UploadSession,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob(meta: MetadataStore, repository: str) -> BlobRecord:
    data = os.urandom(32)
    record = BlobRecord(_digest(data), len(data), f"blobs/{os.urandom(8).hex()}")
    return meta.add_blob(repository, record)


def _manifest(meta: MetadataStore, repository: str, *blobs: str) -> str:
    body = json.dumps({"mediaType": OCI_MANIFEST, "nonce": os.urandom(8).hex()}).encode()
    record = ManifestRecord(_digest(body), OCI_MANIFEST, body)
    meta.put_manifest(repository, ManifestWrite(record, blobs=blobs))
    return record.digest


def _later() -> float:
    """A moment strictly after every write so far and before the next."""
    time.sleep(0.01)
    moment = time.time()
    time.sleep(0.01)
    return moment


def _all(page, limit: int = 2) -> list:  # type: ignore[no-untyped-def]
    """Every item of a listing, read `limit` at a time: the cursor carries it on."""
    found, cursor = [], None
    while True:
        items, cursor = page(cursor, limit)
        found += items
        if cursor is None:
            return found


def test_idle_links_are_those_no_manifest_uses(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    used, idle = _blob(meta, "gc/a"), _blob(meta, "gc/a")
    _manifest(meta, "gc/a", used.digest)
    lifecycle.prepare()
    cutoff = _later()
    links = _all(lambda c, n: lifecycle.idle_links(cutoff, c, n))
    mine = [(link.repository, link.digest) for link in links if link.repository == "gc/a"]
    assert mine == [("gc/a", idle.digest)]
    assert not [link for link in links if link.digest == used.digest]
    assert lifecycle.idle_links(cutoff - 60, None, 1000)[0] == []  # idle only since just now


def test_an_idle_link_is_dropped_only_if_still_idle_and_unused(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    blob = _blob(meta, "gc/b")
    lifecycle.prepare()
    cutoff = _later()
    assert meta.touch_link("gc/b", blob.digest)
    assert not lifecycle.drop_idle_link("gc/b", blob.digest, cutoff)  # touched after cutoff
    cutoff = _later()
    _manifest(meta, "gc/b", blob.digest)
    assert not lifecycle.drop_idle_link("gc/b", blob.digest, cutoff)  # used
    assert meta.blob("gc/b", blob.digest) is not None
    other = _blob(meta, "gc/b")
    assert lifecycle.drop_idle_link("gc/b", other.digest, _later())
    assert meta.blob("gc/b", other.digest) is None
    assert not lifecycle.drop_idle_link("gc/b", other.digest, _later())  # gone already


def test_a_blob_is_unlinked_when_its_last_link_goes(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    blob = _blob(meta, "gc/c")
    meta.link_blob("gc/d", blob)
    lifecycle.prepare()
    assert lifecycle.links_of(blob.digest) == 2
    assert lifecycle.begin_blob_removal(blob.digest) is None  # linked
    meta.unlink_blob("gc/c", blob.digest)
    assert lifecycle.links_of(blob.digest) == 1
    assert blob.digest not in _unlinked(lifecycle)
    assert lifecycle.drop_idle_link("gc/d", blob.digest, _later())
    assert lifecycle.links_of(blob.digest) == 0
    assert _unlinked(lifecycle)[blob.digest] is False


def _unlinked(lifecycle: LifecycleStore) -> dict[str, bool]:
    states = _all(lambda c, n: lifecycle.unlinked_blobs(c, n), limit=3)
    return {state.record.digest: state.deleting for state in states}


def test_removal_marks_then_ends_and_refuses_new_links(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    blob = _blob(meta, "gc/e")
    meta.unlink_blob("gc/e", blob.digest)
    lifecycle.prepare()
    marked = lifecycle.begin_blob_removal(blob.digest)
    assert marked is not None and (marked.digest, marked.key) == (blob.digest, blob.key)
    assert _unlinked(lifecycle)[blob.digest] is True
    assert lifecycle.begin_blob_removal(blob.digest) == marked  # a stopped run resumes it
    assert meta.any_blob(blob.digest) is None
    assert meta.link_blob("gc/f", blob) is None
    assert not lifecycle.end_blob_removal(blob.digest, "blobs/another-key")
    assert lifecycle.end_blob_removal(blob.digest, blob.key)
    assert blob.digest not in _unlinked(lifecycle)
    assert not lifecycle.end_blob_removal(blob.digest, blob.key)


def test_an_upload_takes_over_a_record_being_removed(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    blob = _blob(meta, "gc/g")
    meta.unlink_blob("gc/g", blob.digest)
    lifecycle.prepare()
    assert lifecycle.begin_blob_removal(blob.digest) is not None
    fresh = BlobRecord(blob.digest, blob.size, "blobs/the-new-upload")
    assert meta.add_blob("gc/h", fresh) == fresh
    assert not lifecycle.end_blob_removal(blob.digest, blob.key)
    assert meta.any_blob(blob.digest) == fresh
    assert lifecycle.links_of(blob.digest) == 1


def test_stale_uploads_are_listed_by_start(meta: MetadataStore, lifecycle: LifecycleStore) -> None:
    now = time.time()
    old = UploadSession("gc/u", os.urandom(8).hex(), started_at=now - 7200)
    new = UploadSession("gc/u", os.urandom(8).hex(), started_at=now)
    meta.create_upload(old)
    meta.create_upload(new)
    listed = _all(lambda c, n: lifecycle.stale_uploads(now - 3600, c, n))
    ids = {session.upload_id for session in listed}
    assert old.upload_id in ids and new.upload_id not in ids
    assert [s for s in listed if s.upload_id == old.upload_id][0].repository == "gc/u"


def test_the_run_progress_is_saved_and_cleared(lifecycle: LifecycleStore) -> None:
    assert lifecycle.gc_progress() is None
    lifecycle.save_gc_progress('{"phase": "links"}')
    assert lifecycle.gc_progress() == '{"phase": "links"}'
    lifecycle.save_gc_progress(None)
    assert lifecycle.gc_progress() is None


def test_links_made_before_the_lifecycle_are_counted_once(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    """Records as the registry wrote them before: DynamoDB links with no count on the blob's
    record, SQLite links with no time of use. `prepare` brings them in, once."""
    data = os.urandom(32)
    digest = _digest(data)
    _write_old_blob(meta, digest, len(data), ["gc/old1", "gc/old2"])
    lifecycle.prepare()
    lifecycle.prepare()  # idempotent
    assert lifecycle.links_of(digest) == 2
    assert lifecycle.begin_blob_removal(digest) is None
    for repository in ("gc/old1", "gc/old2"):
        assert meta.unlink_blob(repository, digest)
    assert lifecycle.links_of(digest) == 0
    assert lifecycle.begin_blob_removal(digest) is not None


def _write_old_blob(meta: MetadataStore, digest: str, size: int, repositories: list[str]) -> None:
    if isinstance(meta, DynamoMetadataStore):
        meta.db.put_item(
            TableName=meta.table,
            Item=meta._item(f"B#{digest}", "BLOB", size=size, key="blobs/old", created=1),
        )
        for repository in repositories:
            meta.db.put_item(
                TableName=meta.table,
                Item=meta._item(f"R#{repository}", f"BLOB#{digest}", size=size, key="blobs/old"),
            )
        return
    db = meta.database.connection()  # type: ignore[attr-defined]
    db.execute(
        "INSERT INTO blobs (digest, size, key, created) VALUES (?, ?, 'blobs/old', 1)",
        (digest, size),
    )
    for repository in repositories:
        db.execute("INSERT INTO repo_blobs (repo, digest) VALUES (?, ?)", (repository, digest))
