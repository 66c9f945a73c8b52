"""The storage promises retention relies on, on every adapter (SQLite, DynamoDB, DynamoDB as a
region other than the primary sees it): the last-pull record (one conditional write, only when
the stored value is stale, read back from the store, never timed), the paged listing of a
repository's images, and a delete conditioned on the tags it was decided on."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from chalicelib.storage.lifecycle_ports import LifecycleStore
from chalicelib.storage.ports import (
    ManifestRecord,
    ManifestWrite,
    MetadataStore,
    TagsChanged,
)

from .test_lifecycle_store import _all, _blob

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
HOUR = 3600


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put(
    meta: MetadataStore,
    repository: str,
    tags: tuple[str, ...] = (),
    children: tuple[str, ...] = (),
    subject: str | None = None,
) -> str:
    media_type = OCI_INDEX if children else OCI_MANIFEST
    body = json.dumps({"mediaType": media_type, "nonce": os.urandom(8).hex()}).encode()
    record = ManifestRecord(_digest(body), media_type, body, subject=subject)
    blob = () if children else (_blob(meta, repository).digest,)
    meta.put_manifest(repository, ManifestWrite(record, blobs=blob, children=children, tags=tags))
    return record.digest


def _tag_pull(meta: MetadataStore, repository: str, tag: str) -> float | None:
    record = meta.tagged_manifest(repository, tag)
    info = meta.tagged_manifest_info(repository, tag)
    assert record is not None and info is not None
    assert record.pulled_at == info.pulled_at  # both reads of a pull see the same record
    return record.pulled_at


def test_a_tag_pull_is_written_once_until_it_is_an_hour_old(meta: MetadataStore) -> None:
    digest = _put(meta, "ret/pull", ("v1",))
    assert _tag_pull(meta, "ret/pull", "v1") is None
    t = 1_800_000_000.0
    assert meta.record_pull("ret/pull", digest, "v1", t, t - HOUR)
    assert _tag_pull(meta, "ret/pull", "v1") == t
    # within the hour: the condition refuses the write, the stored value stays
    assert not meta.record_pull("ret/pull", digest, "v1", t + 60, t + 60 - HOUR)
    assert _tag_pull(meta, "ret/pull", "v1") == t
    assert meta.record_pull("ret/pull", digest, "v1", t + HOUR + 1, t + 1)
    assert _tag_pull(meta, "ret/pull", "v1") == t + HOUR + 1


def test_a_digest_pull_is_recorded_on_the_manifest(meta: MetadataStore) -> None:
    digest = _put(meta, "ret/digest", ("v1",))
    t = 1_800_000_000.0
    assert meta.record_pull("ret/digest", digest, None, t, t - HOUR)
    assert not meta.record_pull("ret/digest", digest, None, t + 5, t + 5 - HOUR)
    record, info = meta.manifest("ret/digest", digest), meta.manifest_info("ret/digest", digest)
    assert record is not None and record.pulled_at == t
    assert info is not None and info.pulled_at == t
    assert _tag_pull(meta, "ret/digest", "v1") is None  # the tag has its own


def test_a_moved_tag_starts_with_no_pull_and_a_retag_in_place_keeps_it(
    meta: MetadataStore,
) -> None:
    first = _put(meta, "ret/move", ("v1",))
    t = 1_800_000_000.0
    assert meta.record_pull("ret/move", first, "v1", t, t - HOUR)
    record = meta.manifest("ret/move", first)
    assert record is not None
    meta.put_manifest("ret/move", ManifestWrite(record, tags=("v1",)))  # same place
    assert _tag_pull(meta, "ret/move", "v1") == t
    second = _put(meta, "ret/move", ("v1",))
    assert _tag_pull(meta, "ret/move", "v1") is None
    # a pull recorded for the manifest the tag left is refused
    assert not meta.record_pull("ret/move", first, "v1", t + 2 * HOUR, t + HOUR)
    assert meta.record_pull("ret/move", second, "v1", t + 2 * HOUR, t + HOUR)


def test_a_pull_of_nothing_records_nothing(meta: MetadataStore) -> None:
    t = 1_800_000_000.0
    assert not meta.record_pull("ret/none", "sha256:" + "0" * 64, "v1", t, t - HOUR)
    assert not meta.record_pull("ret/none", "sha256:" + "0" * 64, None, t, t - HOUR)
    assert meta.tagged_manifest("ret/none", "v1") is None


def test_images_lists_every_manifest_with_its_facts_page_by_page(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    repo = "ret/list"
    plain = _put(meta, repo, ("a", "b"))
    child = _put(meta, repo)
    index = _put(meta, repo, ("multi",), children=(child,))
    signature = _put(meta, repo, subject=plain)
    t = 1_800_000_000.0
    meta.record_pull(repo, plain, "b", t, t - HOUR)
    meta.record_pull(repo, plain, None, t - 50, t - HOUR)
    meta.record_pull(repo, plain, "a", t - 100, t - HOUR)
    images = {i.digest: i for i in _all(lambda c, n: lifecycle.images(repo, c, n), limit=2)}
    assert set(images) == {plain, child, index, signature}
    assert images[plain].tags == ("a", "b") and images[plain].pulled_at == t  # the latest
    assert images[child].listed_by_index and images[child].tags == ()
    assert not images[index].listed_by_index and images[index].tags == ("multi",)
    assert images[signature].subject == plain and images[plain].subject is None
    assert images[index].pulled_at is None
    pushed = [images[d].pushed_at for d in (plain, child, index, signature)]
    assert pushed == sorted(pushed) and len(set(pushed)) == 4  # ordered, told apart
    assert lifecycle.images("ret/nothing", None, 10) == ([], None)


def test_a_delete_conditioned_on_tags_refuses_when_they_changed(meta: MetadataStore) -> None:
    digest = _put(meta, "ret/tags", ("v1",))
    record = meta.manifest("ret/tags", digest)
    assert record is not None
    meta.put_manifest("ret/tags", ManifestWrite(record, tags=("v2",)))  # a push re-tags it
    with pytest.raises(TagsChanged):
        meta.delete_manifest("ret/tags", digest, tags=frozenset({"v1"}))
    assert meta.manifest("ret/tags", digest) is not None
    assert meta.delete_manifest("ret/tags", digest, tags=frozenset({"v1", "v2"}))
    assert meta.manifest("ret/tags", digest) is None
    untagged = _put(meta, "ret/tags")
    assert meta.delete_manifest("ret/tags", untagged, tags=frozenset())
