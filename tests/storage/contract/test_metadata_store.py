"""The MetadataStore contract (chalicelib/storage/ports.py), held on every adapter: SQLite
enforces it with transactions and foreign rows, DynamoDB with condition expressions and
reference counts, and the registry service relies on the promises, not on either mechanism.
The invariants were first tested on DynamoDB only (tests/aws/test_dynamodb.py), through the
service; here they are stated on the port itself."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from chalicelib.storage.ports import (
    BlobRecord,
    ManifestInfo,
    ManifestRecord,
    ManifestWrite,
    MetadataStore,
    MissingReference,
    Referrer,
    Reservation,
    StillReferenced,
    UploadSession,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob(meta: MetadataStore, repository: str, data: bytes | None = None) -> str:
    data = os.urandom(32) if data is None else data
    meta.add_blob(repository, BlobRecord(_digest(data), len(data), f"blobs/{_digest(data)}"))
    return _digest(data)


def _write(
    blobs: tuple[str, ...] = (),
    children: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    media_type: str = OCI_MANIFEST,
    **record: object,
) -> ManifestWrite:
    # The record repeats what the body says, as the registry's records do (DynamoDB reads a
    # manifest's annotations back from its body).
    document = {"mediaType": media_type, "nonce": os.urandom(8).hex()}
    if record.get("annotations"):
        document["annotations"] = record["annotations"]
    body = json.dumps(document).encode()
    manifest = ManifestRecord(_digest(body), media_type, body, **record)  # type: ignore[arg-type]
    return ManifestWrite(manifest, blobs, children, tags)


def _image(meta: MetadataStore, repository: str, *tags: str) -> ManifestWrite:
    write = _write(blobs=(_blob(meta, repository), _blob(meta, repository)), tags=tags)
    meta.put_manifest(repository, write)
    return write


def _run_together(count: int, work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as error:  # noqa: BLE001 - returned to the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


# -- blobs and repository links ------------------------------------------------------------


def _linked(meta: MetadataStore, repository: str, digest: str) -> BlobRecord | None:
    """The link's record without the time it went idle (read, not written, by the caller)."""
    found = meta.blob(repository, digest)
    return replace(found, idle_since=None) if found else None


def test_a_blob_is_linked_to_its_repository_and_known_everywhere(meta: MetadataStore) -> None:
    record = BlobRecord(_digest(b"layer"), 5, "blobs/somewhere")
    assert meta.add_blob("a/one", record) == record
    assert _linked(meta, "a/one", record.digest) == record
    assert meta.blob("a/two", record.digest) is None
    assert meta.any_blob(record.digest) == record
    assert meta.link_blob("a/two", record) == record  # a mount
    assert _linked(meta, "a/two", record.digest) == record
    assert meta.unlink_blob("a/one", record.digest)
    assert not meta.unlink_blob("a/one", record.digest)
    assert meta.blob("a/one", record.digest) is None
    assert _linked(meta, "a/two", record.digest) == record
    assert meta.any_blob(_digest(b"never")) is None


def test_a_second_upload_of_a_blob_keeps_the_first_record(meta: MetadataStore) -> None:
    first = BlobRecord(_digest(b"twice"), 5, "blobs/first")
    meta.add_blob("a/one", first)
    assert meta.add_blob("a/two", replace(first, key="blobs/second")) == first
    assert meta.add_blob("a/one", replace(first, key="blobs/third")) == first
    assert _linked(meta, "a/two", first.digest) == first
    assert meta.any_blob(first.digest) == first


def test_a_link_is_idle_while_no_manifest_uses_it(meta: MetadataStore) -> None:
    before = time.time() - 1
    image = _image(meta, "a/idle")
    used = meta.blob("a/idle", image.blobs[0])
    assert used is not None and used.idle_since is None
    assert meta.delete_manifest("a/idle", image.record.digest)
    idle = meta.blob("a/idle", image.blobs[0])
    assert idle is not None and idle.idle_since is not None and idle.idle_since >= before
    assert meta.touch_link("a/idle", image.blobs[0])
    assert not meta.touch_link("a/idle", _digest(b"never linked"))


def test_a_mount_of_a_blob_not_held_links_nothing(meta: MetadataStore) -> None:
    missing = BlobRecord(_digest(b"nowhere"), 7, "blobs/nowhere")
    assert meta.link_blob("a/one", missing) is None
    assert meta.blob("a/one", missing.digest) is None


def test_a_blob_in_use_cannot_be_unlinked(meta: MetadataStore) -> None:
    image = _image(meta, "a/used")
    with pytest.raises(StillReferenced) as refused:
        meta.unlink_blob("a/used", image.blobs[0])
    # Which manifest is not promised: DynamoDB counts references and names none.
    assert refused.value.referrer in {None, image.record.digest}
    assert meta.delete_manifest("a/used", image.record.digest)
    assert meta.unlink_blob("a/used", image.blobs[0])


# -- manifests, references and tags --------------------------------------------------------


def test_a_manifest_is_stored_with_what_it_says(meta: MetadataStore) -> None:
    write = _write(
        blobs=(_blob(meta, "m/rec"),),
        tags=("v1",),
        artifact_type="application/x-thing",
        annotations={"org.example": "yes"},
    )
    meta.put_manifest("m/rec", write)
    record = write.record
    assert meta.manifest("m/rec", record.digest) == record
    assert meta.tagged_manifest("m/rec", "v1") == record
    info = ManifestInfo(record.digest, OCI_MANIFEST, len(record.body))
    assert meta.manifest_info("m/rec", record.digest) == info
    assert meta.tagged_manifest_info("m/rec", "v1") == info
    assert meta.manifest("m/other", record.digest) is None
    assert meta.tagged_manifest("m/rec", "v2") is None
    assert meta.tagged_manifest_info("m/rec", "v2") is None
    assert meta.manifest_info("m/rec", _digest(b"none")) is None


def test_a_missing_blob_refuses_the_whole_write(meta: MetadataStore) -> None:
    absent = _digest(b"absent")
    write = _write(blobs=(_blob(meta, "m/miss"), absent), tags=("v1",))
    with pytest.raises(MissingReference) as refused:
        meta.put_manifest("m/miss", write)
    assert (refused.value.digest, refused.value.kind) == (absent, "blob")
    assert meta.manifest("m/miss", write.record.digest) is None
    assert meta.tags("m/miss", None, 10) == []
    assert not meta.repository_exists("m/miss")


def test_a_missing_child_refuses_the_index(meta: MetadataStore) -> None:
    child = _image(meta, "m/index")
    absent = _digest(b"no such manifest")
    index = _write(children=(child.record.digest, absent), media_type=OCI_INDEX, tags=("all",))
    with pytest.raises(MissingReference) as refused:
        meta.put_manifest("m/index", index)
    assert (refused.value.digest, refused.value.kind) == (absent, "manifest")
    assert meta.manifest("m/index", index.record.digest) is None
    assert meta.delete_manifest("m/index", child.record.digest)  # no count was left on it


def test_a_blob_of_another_repository_is_missing(meta: MetadataStore) -> None:
    elsewhere = _blob(meta, "m/elsewhere")
    with pytest.raises(MissingReference):
        meta.put_manifest("m/here", _write(blobs=(elsewhere,)))


def test_missing_reference_among_many_leaves_no_count_behind(meta: MetadataStore) -> None:
    """More references than one DynamoDB transaction holds (100): counted in several."""
    present = tuple(_blob(meta, "m/wide-missing") for _ in range(101))
    write = _write(blobs=(*present, _digest(b"absent")))
    with pytest.raises(MissingReference):
        meta.put_manifest("m/wide-missing", write)
    for digest in present:
        assert meta.unlink_blob("m/wide-missing", digest)


def test_more_references_than_one_transaction_holds(meta: MetadataStore) -> None:
    layers = tuple(_blob(meta, "m/wide") for _ in range(101))  # and the manifest: 102
    write = _write(blobs=layers, tags=("v1",))
    meta.put_manifest("m/wide", write)
    with pytest.raises(StillReferenced):
        meta.unlink_blob("m/wide", layers[100])
    assert meta.delete_manifest("m/wide", write.record.digest)
    assert meta.unlink_blob("m/wide", layers[100])  # every count went back to zero


def test_an_index_counts_its_children(meta: MetadataStore) -> None:
    children = [_image(meta, "m/children") for _ in range(3)]
    digests = tuple(child.record.digest for child in children)
    index = _write(children=digests, media_type=OCI_INDEX, tags=("all",))
    meta.put_manifest("m/children", index)
    with pytest.raises(StillReferenced) as refused:
        meta.delete_manifest("m/children", digests[0])
    assert refused.value.referrer in {None, index.record.digest}
    assert meta.manifest("m/children", digests[0]) == children[0].record
    assert meta.delete_tag("m/children", "all")  # a tag is no reference: still counted
    with pytest.raises(StillReferenced):
        meta.delete_manifest("m/children", digests[0])
    assert meta.delete_manifest("m/children", index.record.digest)
    for digest in digests:
        assert meta.delete_manifest("m/children", digest)


def test_putting_a_manifest_again_counts_its_references_once(meta: MetadataStore) -> None:
    image = _image(meta, "m/again", "v1")
    meta.put_manifest("m/again", image)
    meta.put_manifest("m/again", ManifestWrite(image.record, image.blobs, tags=("v2",)))
    assert meta.tags("m/again", None, 10) == ["v1", "v2"]
    assert meta.delete_manifest("m/again", image.record.digest)
    assert meta.unlink_blob("m/again", image.blobs[0])


def test_a_tag_moves_to_the_manifest_last_put_under_it(meta: MetadataStore) -> None:
    first = _image(meta, "m/move", "latest", "stable")
    second = _image(meta, "m/move", "latest")
    assert meta.tagged_manifest("m/move", "latest") == second.record
    assert meta.tagged_manifest("m/move", "stable") == first.record
    assert meta.tags("m/move", None, 10) == ["latest", "stable"]


def test_deleting_a_manifest_removes_the_tags_that_point_at_it(meta: MetadataStore) -> None:
    first, second = _image(meta, "m/tags", "a", "b"), _image(meta, "m/tags")
    meta.put_manifest("m/tags", ManifestWrite(second.record, second.blobs, tags=("b",)))
    assert meta.delete_manifest("m/tags", first.record.digest)
    assert meta.tags("m/tags", None, 10) == ["b"]
    assert meta.tagged_manifest("m/tags", "a") is None
    assert meta.tagged_manifest("m/tags", "b") == second.record
    assert not meta.delete_manifest("m/tags", first.record.digest)
    assert meta.delete_manifest("m/tags", second.record.digest)
    assert meta.tags("m/tags", None, 10) == []
    assert not meta.repository_exists("m/tags")
    assert meta.repositories(None, 10) == []


def test_deleting_a_tag_keeps_its_manifest(meta: MetadataStore) -> None:
    image = _image(meta, "m/untag", "v1")
    assert meta.delete_tag("m/untag", "v1")
    assert not meta.delete_tag("m/untag", "v1")
    assert meta.tagged_manifest("m/untag", "v1") is None
    assert meta.manifest("m/untag", image.record.digest) == image.record
    assert meta.repository_exists("m/untag")


def test_tags_are_listed_in_order_by_pages(meta: MetadataStore) -> None:
    names = [f"t{i:02d}" for i in range(12)]
    first = _image(meta, "m/pages", *names[:7])
    meta.put_manifest("m/pages", ManifestWrite(first.record, first.blobs, tags=tuple(names[7:])))
    assert meta.tags("m/pages", None, 5) == names[:5]
    assert meta.tags("m/pages", "t04", 5) == names[5:10]
    assert meta.tags("m/pages", "t09", 5) == names[10:]
    assert meta.tags("m/pages", "t11", 5) == []
    assert meta.tags("m/other", None, 5) == []


def test_repositories_are_those_with_a_manifest_listed_by_pages(meta: MetadataStore) -> None:
    for name in ("r/c", "r/a", "r/b", "r/a/deeper"):
        _image(meta, name)
    _blob(meta, "r/blobs-only")
    assert meta.repository_exists("r/a") and not meta.repository_exists("r/blobs-only")
    assert meta.repositories(None, 2) == ["r/a", "r/a/deeper"]
    assert meta.repositories("r/a/deeper", 2) == ["r/b", "r/c"]
    assert meta.repositories("r/c", 2) == []


def test_manifest_digests_are_listed_by_pages(meta: MetadataStore) -> None:
    digests = sorted(_image(meta, "m/digests").record.digest for _ in range(5))
    assert meta.manifest_digests("m/digests", None, 3) == digests[:3]
    assert meta.manifest_digests("m/digests", digests[2], 3) == digests[3:]
    assert meta.manifest_digests("m/none", None, 3) == []


def test_referrers_are_the_manifests_naming_a_subject(meta: MetadataStore) -> None:
    subject = _image(meta, "m/refs").record.digest
    blob = _blob(meta, "m/refs")
    signature = _write(
        blobs=(blob,), subject=subject, artifact_type="application/x-sig", annotations={"k": "v"}
    )
    meta.put_manifest("m/refs", signature)
    meta.put_manifest("m/refs", _write(blobs=(blob,)))  # names no subject
    assert meta.referrers("m/refs", subject) == [
        Referrer(
            signature.record.digest,
            OCI_MANIFEST,
            len(signature.record.body),
            "application/x-sig",
            {"k": "v"},
        )
    ]
    assert meta.referrers("m/elsewhere", subject) == []
    meta.delete_manifest("m/refs", signature.record.digest)
    assert meta.referrers("m/refs", subject) == []


def test_eight_clients_moving_one_tag_each_end_consistent(meta: MetadataStore) -> None:
    """Eight clients push the same blobs and each its own manifest under one tag, three times
    over: the tag ends on one of them, once, and every manifest counts each blob once."""
    shared = tuple(bytes([n]) * 64 for n in range(3))
    digests = tuple(_digest(data) for data in shared)
    writes = [_write(blobs=(*digests, _blob(meta, "m/race")), tags=("latest",)) for _ in range(8)]

    def client(n: int) -> None:
        for _ in range(3):
            for data in shared:
                _blob(meta, "m/race", data)
            meta.put_manifest("m/race", writes[n])

    assert _run_together(8, client) == []
    tagged = meta.tagged_manifest("m/race", "latest")
    assert tagged in [write.record for write in writes]
    assert meta.tags("m/race", None, 10) == ["latest"]
    # The untagged manifests go first: none takes the tag with it. The shared blobs are
    # counted once per manifest, 8 in all.
    for write in sorted(writes, key=lambda w: w.record == tagged):
        with pytest.raises(StillReferenced):
            meta.unlink_blob("m/race", digests[0])
        assert meta.delete_manifest("m/race", write.record.digest)
        if write.record != tagged:
            assert meta.tagged_manifest("m/race", "latest") == tagged
    assert meta.tags("m/race", None, 10) == []
    assert all(meta.unlink_blob("m/race", digest) for digest in digests)


# -- upload sessions -----------------------------------------------------------------------


def test_an_upload_session_is_saved_by_version(meta: MetadataStore) -> None:
    now = time.time()  # DynamoDB's sessions expire some time after their start
    session = UploadSession("u/repo", "abc123", state={"chunks": []}, started_at=now)
    meta.create_upload(session)
    assert meta.upload("u/repo", "abc123") == session
    assert meta.upload("u/other", "abc123") is None
    assert meta.upload_exists("abc123")
    moved = UploadSession("u/repo", "abc123", 10, 1, {"chunks": ["a"]}, now)
    assert meta.update_upload(moved)
    assert meta.upload("u/repo", "abc123") == moved
    assert not meta.update_upload(moved)  # version 1 again: another writer's is stored
    stale = UploadSession("u/repo", "abc123", 99, 1, {"chunks": ["b"]}, now)
    assert not meta.update_upload(stale)
    assert meta.upload("u/repo", "abc123") == moved
    meta.delete_upload("u/repo", "abc123")
    assert meta.upload("u/repo", "abc123") is None
    meta.delete_upload("u/repo", "abc123")  # deleting twice is no error


def test_a_session_of_another_repository_is_not_updated(meta: MetadataStore) -> None:
    session = UploadSession("u/repo", "xyz", started_at=time.time())
    meta.create_upload(session)
    assert not meta.update_upload(UploadSession("u/other", "xyz", 5, 1, {}, session.started_at))
    assert meta.upload("u/repo", "xyz") == session


def test_concurrent_updates_of_one_version_have_one_winner(meta: MetadataStore) -> None:
    now = time.time()
    meta.create_upload(UploadSession("u/race", "race1", started_at=now))
    won: list[int] = []

    def writer(n: int) -> None:
        if meta.update_upload(UploadSession("u/race", "race1", n, 1, {"by": n}, now)):
            won.append(n)

    assert _run_together(8, writer) == []
    assert len(won) == 1
    assert meta.upload("u/race", "race1") == UploadSession(
        "u/race", "race1", won[0], 1, {"by": won[0]}, now
    )


def test_the_sweep_is_never_handed_a_live_session(meta: MetadataStore) -> None:
    """What the sweep of abandoned uploads relies on. A store may list none (DynamoDB: its
    TTL and the bucket's lifecycle rules sweep instead), but never a session started after
    the cutoff, and never says a session it holds does not exist."""
    now = time.time()
    old = UploadSession("u/old", "old1", started_at=now - 7200)
    new = UploadSession("u/new", "new1", started_at=now)
    meta.create_upload(old)
    meta.create_upload(new)
    assert meta.uploads_started_before(now - 3600) in ([old], [])
    assert meta.uploads_started_before(now - 10_000) == []
    assert meta.upload_exists("old1") and meta.upload_exists("new1")


def test_a_blob_is_pending_until_cleared(meta: MetadataStore) -> None:
    digest = _digest(b"verifying")
    assert not meta.is_pending("p/repo", digest)
    meta.mark_pending("p/repo", digest, "up1")
    assert meta.is_pending("p/repo", digest) and not meta.is_pending("p/other", digest)
    meta.clear_pending("p/repo", digest)
    assert not meta.is_pending("p/repo", digest)


# -- direct-upload reservations --------------------------------------------------------------


def test_reservations_are_replaced_only_at_the_version_read(meta: MetadataStore) -> None:
    assert meta.direct_reservations("ns") == ([], 0)
    held = [Reservation("up1", "ns/a", 10, 2000.0), Reservation("up2", "ns/b", 20, 3000.0)]
    assert meta.save_direct_reservations("ns", held, 0)
    assert meta.direct_reservations("ns") == (held, 1)
    assert not meta.save_direct_reservations("ns", [], 0)  # another writer won
    assert meta.save_direct_reservations("ns", held[1:], 1)
    assert meta.direct_reservations("ns") == (held[1:], 2)
    assert meta.direct_reservations("other") == ([], 0)


def test_concurrent_reservations_of_one_version_have_one_winner(meta: MetadataStore) -> None:
    won: list[int] = []

    def writer(n: int) -> None:
        mine = [Reservation(f"up{n}", "race/a", n, 1000.0)]
        if meta.save_direct_reservations("race", mine, 0):
            won.append(n)

    assert _run_together(8, writer) == []
    assert len(won) == 1
    assert meta.direct_reservations("race") == (
        [Reservation(f"up{won[0]}", "race/a", won[0], 1000.0)],
        1,
    )
