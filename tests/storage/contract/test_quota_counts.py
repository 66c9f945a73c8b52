"""The storage's part of namespace quotas (storage/ports.py Quota, QuotaExceeded; lifecycle/
quotas.py says what counts), on SQLite, DynamoDB and DynamoDB seen from another region: the
use is the distinct blobs the namespace's manifests reference; a write that would pass the
quota is refused whole, inside the write, so concurrent pushes cannot pass it together; a
delete frees what no other manifest of the namespace uses."""

from __future__ import annotations

import dataclasses
import os

import pytest

from chalicelib.storage.lifecycle_ports import LifecycleStore
from chalicelib.storage.ports import ManifestWrite, MetadataStore, Quota, QuotaExceeded

from .test_metadata_store import _blob, _run_together, _write

QUOTA = Quota("q", 1000)


def _sized(meta: MetadataStore, repository: str, size: int) -> str:
    return _blob(meta, repository, os.urandom(size))


def _push(
    meta: MetadataStore, repository: str, blobs: tuple[str, ...], quota: Quota | None = QUOTA
) -> ManifestWrite:
    write = dataclasses.replace(_write(blobs=blobs, tags=("v1",)), quota=quota)
    meta.put_manifest(repository, write)
    return write


def test_the_use_is_each_referenced_blob_once_across_the_namespace(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    base = _sized(meta, "q/app", 100)
    _push(meta, "q/app", (base, _sized(meta, "q/app", 10)))
    meta.link_blob("q/web", meta.blob("q/app", base))  # a mount, as docker does
    _push(meta, "q/web", (base, _sized(meta, "q/web", 20)))
    _push(meta, "q", (_sized(meta, "q", 1),))  # the namespace's own repository
    _sized(meta, "q/app", 500)  # uploaded, in no manifest: not counted
    _push(meta, "qq/app", (_sized(meta, "qq/app", 7),), Quota("qq", 1000))  # another namespace
    assert lifecycle.namespace_use("q") == 131
    assert lifecycle.namespace_use("qq") == 7
    assert lifecycle.namespace_use("none") == 0


def test_a_write_past_the_quota_is_refused_whole_with_the_figures(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    kept = _push(meta, "q/app", (_sized(meta, "q/app", 600),))
    big = _sized(meta, "q/app", 300)
    too_much = _sized(meta, "q/app", 200)
    write = dataclasses.replace(_write(blobs=(big, too_much), tags=("v1", "v2")), quota=QUOTA)
    with pytest.raises(QuotaExceeded) as refused:
        meta.put_manifest("q/app", write)
    assert (refused.value.namespace, refused.value.limit) == ("q", 1000)
    assert (refused.value.used, refused.value.adding) == (600, 500)
    assert meta.manifest("q/app", write.record.digest) is None
    assert meta.tagged_manifest("q/app", "v1") == kept.record  # no tag moved
    assert meta.tags("q/app", None, 10) == ["v1"]
    assert lifecycle.namespace_use("q") == 600
    _push(meta, "q/app", (big,))  # what fits still goes in
    assert lifecycle.namespace_use("q") == 900


def test_blobs_the_namespace_holds_cost_nothing_even_at_the_quota(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    base = _sized(meta, "q/app", 1000)
    _push(meta, "q/app", (base,))
    _push(meta, "q/app", (base,))  # a rebuild on the same layers
    meta.link_blob("q/other", meta.blob("q/app", base))
    _push(meta, "q/other", (base,))  # the same layers in another repository
    assert lifecycle.namespace_use("q") == 1000
    with pytest.raises(QuotaExceeded):
        _push(meta, "q/app", (base, _sized(meta, "q/app", 1)))


def test_a_delete_frees_the_blobs_no_other_manifest_of_the_namespace_uses(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    base = _sized(meta, "q/app", 400)
    first = _push(meta, "q/app", (base, _sized(meta, "q/app", 300)))
    meta.link_blob("q/web", meta.blob("q/app", base))
    second = _push(meta, "q/web", (base, _sized(meta, "q/web", 200)))
    assert lifecycle.namespace_use("q") == 900
    assert meta.delete_manifest("q/app", first.record.digest)
    assert lifecycle.namespace_use("q") == 600  # the base stays: q/web uses it
    assert meta.delete_manifest("q/web", second.record.digest)
    assert lifecycle.namespace_use("q") == 0
    _push(meta, "q/app", (_sized(meta, "q/app", 1000),))  # the room is back


def test_a_manifest_counted_under_a_quota_is_freed_after_the_quota_is_lifted(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    counted = _push(meta, "q/app", (_sized(meta, "q/app", 300),))
    uncounted = _push(meta, "q/app", (_sized(meta, "q/app", 50),), quota=None)
    assert meta.delete_manifest("q/app", uncounted.record.digest)
    assert meta.delete_manifest("q/app", counted.record.digest)
    assert lifecycle.namespace_use("q") == 0


def test_images_stored_without_a_quota_are_counted_when_one_is_set(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    base = _sized(meta, "q/app", 100)
    _push(meta, "q/app", (base, _sized(meta, "q/app", 10)), quota=None)
    meta.link_blob("q/web", meta.blob("q/app", base))
    _push(meta, "q/web", (base,), quota=None)
    _push(meta, "qx/app", (_sized(meta, "qx/app", 5),), quota=None)  # not in namespace q
    lifecycle.count_namespace("q")
    assert lifecycle.namespace_use("q") == 110
    assert lifecycle.count_namespace("q") == 0  # each manifest is counted once
    assert lifecycle.namespace_use("q") == 110
    with pytest.raises(QuotaExceeded) as refused:
        _push(meta, "q/app", (_sized(meta, "q/app", 891),))
    assert refused.value.used == 110


def test_a_manifest_with_more_blobs_than_one_transaction_is_counted_and_freed(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    blobs = tuple(_sized(meta, "q/big", 10) for _ in range(60))
    with pytest.raises(QuotaExceeded):
        _push(meta, "q/big", blobs, Quota("q", 599))
    assert lifecycle.namespace_use("q") == 0  # nothing of the refused write stays counted
    write = _push(meta, "q/big", blobs, Quota("q", 600))
    assert lifecycle.namespace_use("q") == 600
    assert meta.delete_manifest("q/big", write.record.digest)
    assert lifecycle.namespace_use("q") == 0


def test_concurrent_pushes_of_new_blobs_cannot_pass_the_quota_together(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    """Eight pushes, each bringing its own 300-byte blob, against a quota of 1000: three fit,
    and exactly three are stored, whatever the order."""
    blobs = [_sized(meta, "q/race", 300) for _ in range(8)]
    stored: list[int] = []

    def push(n: int) -> None:
        meta.put_manifest("q/race", dataclasses.replace(_write(blobs=(blobs[n],)), quota=QUOTA))
        stored.append(n)

    errors = _run_together(8, push)
    assert len(stored) == 3
    assert len(errors) == 5 and all(isinstance(e, QuotaExceeded) for e in errors)
    assert lifecycle.namespace_use("q") == 900


def test_an_image_with_more_blobs_than_a_transaction_is_counted_when_a_quota_is_set(
    meta: MetadataStore, lifecycle: LifecycleStore
) -> None:
    blobs = tuple(_sized(meta, "q/huge", 10) for _ in range(120))
    write = _push(meta, "q/huge", blobs, quota=None)
    lifecycle.count_namespace("q")
    assert lifecycle.namespace_use("q") == 1200
    assert lifecycle.count_namespace("q") == 0
    assert meta.delete_manifest("q/huge", write.record.digest)
    assert lifecycle.namespace_use("q") == 0
