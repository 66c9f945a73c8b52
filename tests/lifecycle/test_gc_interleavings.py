"""Each interleaving of a GC step with an upload completion, a mount, a HEAD and a manifest
store that chalicelib/lifecycle/gc.py argues about, driven step by step on both backends: the
GC's transitions are called one at a time, and where the argument puts a GC step between two
reads and writes of one request, the request's first call is wrapped to run that step after
it. Each test names the case of the argument it checks."""

from __future__ import annotations

import time

import pytest

from chalicelib.oci.errors import OCIError
from chalicelib.registry import blobs as blobs_module
from chalicelib.storage.ports import BlobRecord
from tests.support.manifests import OCI_MANIFEST, manifest_body, sha256

from .conftest import World, layer


def _unlinked_blob(world: World, data: bytes) -> BlobRecord:
    """A blob the registry holds that no repository links any more (its one link deleted
    through the API), as the GC's third step finds it."""
    record = world.push_blob("team/old", data)
    world.registry.blobs.delete("team/old", record.digest)
    return record


def _pause() -> float:
    """A moment strictly after every write so far, and strictly before the next."""
    time.sleep(0.02)
    moment = time.time()
    time.sleep(0.02)
    return moment


def _remove(world: World, record: BlobRecord) -> None:
    """The GC's removal of a record it marked: the bytes, then the record."""
    world.registry.blobs.store.remove(record)
    world.lifecycle.end_blob_removal(record.digest, record.key)


# -- upload-complete against removal -------------------------------------------------------


def test_upload_complete_before_begin_keeps_the_blob(world: World) -> None:
    data = layer()
    old = _unlinked_blob(world, data)
    world.push_blob("team/new", data)
    assert world.lifecycle.begin_blob_removal(old.digest) is None
    assert world.read_blob("team/new", old.digest) == data


def test_begin_before_upload_complete_the_upload_takes_the_record_over(world: World) -> None:
    data = layer()
    old = _unlinked_blob(world, data)
    marked = world.lifecycle.begin_blob_removal(old.digest)
    assert marked is not None and marked.key == old.key
    before = _pause()
    new = world.push_blob("team/new", data)
    assert new.key != old.key  # its own bytes
    world.registry.blobs.store.remove(marked)
    assert not world.lifecycle.end_blob_removal(marked.digest, marked.key)  # taken over
    assert world.read_blob("team/new", old.digest) == data
    assert not world.bytes_exist(old)
    assert world.collect(at=before).blobs == 0  # linked, and not idle: nothing to collect


def test_end_before_upload_complete_the_upload_makes_a_new_record(world: World) -> None:
    data = layer()
    old = _unlinked_blob(world, data)
    marked = world.lifecycle.begin_blob_removal(old.digest)
    assert marked is not None
    _remove(world, marked)
    assert world.registry.blobs.meta.any_blob(old.digest) is None
    world.push_blob("team/new", data)
    assert world.read_blob("team/new", old.digest) == data


def test_a_second_upload_of_a_held_blob_keeps_the_first_bytes(world: World) -> None:
    data = layer()
    first = world.push_blob("team/a", data)
    second = world.push_blob("team/b", data)
    assert second.key == first.key  # one copy of the bytes, whichever repository
    assert world.read_blob("team/b", first.digest) == data


# -- mount against removal -----------------------------------------------------------------


def test_mount_before_begin_keeps_the_blob(world: World) -> None:
    data = layer()
    old = _unlinked_blob(world, data)
    assert world.registry.blobs.mount("team/new", old.digest, None) is not None
    assert world.lifecycle.begin_blob_removal(old.digest) is None
    assert world.read_blob("team/new", old.digest) == data


def test_begin_before_mount_the_mount_is_refused(world: World) -> None:
    data = layer()
    old = _unlinked_blob(world, data)
    assert world.lifecycle.begin_blob_removal(old.digest) is not None
    assert world.registry.blobs.mount("team/new", old.digest, None) is None  # 202: upload it
    assert world.registry.blobs.mount("team/new", old.digest, "team/old") is None


def test_removal_between_the_mounts_read_and_its_link_refuses_the_mount(world: World) -> None:
    data = layer()
    old = _unlinked_blob(world, data)
    meta = world.registry.blobs.meta
    read = meta.any_blob

    def read_then_collect(digest: str) -> BlobRecord | None:
        found = read(digest)
        marked = world.lifecycle.begin_blob_removal(digest)
        assert marked is not None
        _remove(world, marked)
        return found

    meta.any_blob = read_then_collect  # type: ignore[method-assign]
    try:
        assert world.registry.blobs.mount("team/new", old.digest, None) is None
    finally:
        meta.any_blob = read  # type: ignore[method-assign]
    with pytest.raises(OCIError) as unknown:
        world.registry.blobs.stat("team/new", old.digest)
    assert unknown.value.code == "BLOB_UNKNOWN"


# -- HEAD against the link's drop ----------------------------------------------------------


@pytest.fixture
def touch_every_idle_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """A HEAD touches a link idle for 10 minutes; these tests cannot wait that long."""
    monkeypatch.setattr(blobs_module, "TOUCH_AFTER", -1)


@pytest.mark.usefixtures("touch_every_idle_link")
def test_head_touching_an_idle_link_first_keeps_it(world: World) -> None:
    data = layer()
    world.push_blob("team/app", data)
    cutoff = _pause()
    world.registry.blobs.stat("team/app", sha256(data))  # the HEAD
    assert world.collect(at=cutoff).links == 0
    assert world.read_blob("team/app", sha256(data)) == data


@pytest.mark.usefixtures("touch_every_idle_link")
def test_without_the_head_the_same_collection_drops_the_link(world: World) -> None:
    data = layer()
    world.push_blob("team/app", data)
    cutoff = _pause()
    assert world.collect(at=cutoff).links == 1
    with pytest.raises(OCIError):
        world.registry.blobs.stat("team/app", sha256(data))


def test_drop_before_head_the_head_answers_unknown(world: World) -> None:
    data = layer()
    world.push_blob("team/app", data)
    totals = world.collect(at=_pause())
    assert (totals.links, totals.blobs) == (1, 1)
    with pytest.raises(OCIError) as unknown:
        world.registry.blobs.stat("team/app", sha256(data))
    assert unknown.value.code == "BLOB_UNKNOWN"
    world.push_blob("team/app", data)  # what the client does next
    assert world.read_blob("team/app", sha256(data)) == data


@pytest.mark.usefixtures("touch_every_idle_link")
def test_drop_between_the_heads_read_and_its_touch_answers_unknown(world: World) -> None:
    data = layer()
    world.push_blob("team/app", data)
    cutoff = _pause()
    meta = world.registry.blobs.meta
    read = meta.blob

    def read_then_drop(repository: str, digest: str) -> BlobRecord | None:
        found = read(repository, digest)
        assert world.lifecycle.drop_idle_link(repository, digest, cutoff)
        return found

    meta.blob = read_then_drop  # type: ignore[method-assign]
    try:
        with pytest.raises(OCIError) as unknown:
            world.registry.blobs.stat("team/app", sha256(data))
    finally:
        meta.blob = read  # type: ignore[method-assign]
    assert unknown.value.code == "BLOB_UNKNOWN"


# -- manifest-put against the link's drop --------------------------------------------------


def _blobs_then_manifest(world: World, repository: str) -> tuple[bytes, list[bytes]]:
    config, data = b'{"os":"linux"}' + layer(8), layer()
    world.push_blob(repository, config)
    world.push_blob(repository, data)
    return manifest_body(config, [data]), [config, data]


def test_put_before_drop_keeps_the_links(world: World) -> None:
    body, blobs = _blobs_then_manifest(world, "team/app")
    cutoff = _pause()
    world.registry.manifests.put("team/app", "v1", body, OCI_MANIFEST)
    assert world.collect(at=cutoff + 3600).links == 0  # in use: never idle
    assert all(world.read_blob("team/app", sha256(b)) == b for b in blobs)


def test_drop_before_put_refuses_the_manifest(world: World) -> None:
    body, _ = _blobs_then_manifest(world, "team/app")
    world.collect(at=_pause())
    with pytest.raises(OCIError) as refused:
        world.registry.manifests.put("team/app", "v1", body, OCI_MANIFEST)
    assert refused.value.code == "MANIFEST_BLOB_UNKNOWN"  # not acknowledged: push again
    assert world.registry.manifests.meta.tags("team/app", None, 10) == []


def test_put_between_listing_and_drop_keeps_the_links(world: World) -> None:
    body, blobs = _blobs_then_manifest(world, "team/app")
    cutoff = _pause()
    idle, _ = world.lifecycle.idle_links(cutoff, None, 1000)
    assert {link.digest for link in idle} >= {sha256(b) for b in blobs}
    world.registry.manifests.put("team/app", "v1", body, OCI_MANIFEST)
    for link in idle:
        assert not world.lifecycle.drop_idle_link(link.repository, link.digest, cutoff)
    assert all(world.read_blob("team/app", sha256(b)) == b for b in blobs)


def test_a_manifest_delete_starts_its_blobs_grace(world: World) -> None:
    digest, blobs = world.push_image("team/app", "v1", [layer()])
    before = _pause()
    world.registry.manifests.delete("team/app", digest)
    assert world.collect(at=before).links == 0  # idle only since the delete
    totals = world.collect(at=_pause())
    assert (totals.links, totals.blobs) == (2, 2)


# -- crashes and two runs ------------------------------------------------------------------


def test_a_run_stopped_after_begin_is_finished_by_the_next(world: World) -> None:
    data = layer()
    old = _unlinked_blob(world, data)
    assert world.lifecycle.begin_blob_removal(old.digest) is not None  # then killed
    assert world.registry.blobs.mount("team/new", old.digest, None) is None
    totals = world.collect()
    assert (totals.blobs, totals.bytes) == (1, len(data))
    assert not world.bytes_exist(old)
    assert world.registry.blobs.meta.any_blob(old.digest) is None


def test_a_run_stopped_after_the_bytes_went_is_finished_by_the_next(world: World) -> None:
    old = _unlinked_blob(world, layer())
    marked = world.lifecycle.begin_blob_removal(old.digest)
    assert marked is not None
    world.registry.blobs.store.remove(marked)  # then killed
    assert world.collect().blobs == 1
    assert world.registry.blobs.meta.any_blob(old.digest) is None


def test_two_runs_removing_one_blob_at_once(world: World) -> None:
    old = _unlinked_blob(world, layer())
    first = world.lifecycle.begin_blob_removal(old.digest)
    second = world.lifecycle.begin_blob_removal(old.digest)
    assert first == second is not None
    world.registry.blobs.store.remove(first)
    world.registry.blobs.store.remove(second)
    ended = [world.lifecycle.end_blob_removal(old.digest, old.key) for _ in range(2)]
    assert sorted(ended) == [False, True]
