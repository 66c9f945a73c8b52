"""Whole GC runs on both backends: what goes and what stays, the dry run's list against the real
run's, abandoned uploads, indexes and referrers, and a run in batches resumed from its saved
progress."""

from __future__ import annotations

import io
import itertools
import json
import os
import time
from pathlib import Path

from chalicelib.lifecycle.gc import GarbageCollector, Removal
from chalicelib.server.backends import BackendOptions, open_storage
from tests.support.manifests import OCI_INDEX, OCI_MANIFEST, sha256

from .conftest import World, layer


def _removals(world: World, **options: object) -> tuple[list[Removal], object]:
    heard: list[Removal] = []
    totals = world.collect(report=heard.append, **options)
    return heard, totals


def test_a_deleted_images_unique_layer_goes_and_the_shared_one_stays(world: World) -> None:
    shared, unique = layer(), layer(5000)
    kept, _ = world.push_image("team/app", "v1", [shared])
    gone, blobs = world.push_image("team/app", "v2", [shared, unique])
    world.registry.manifests.delete("team/app", gone)
    heard, totals = _removals(world)
    removed = {r.subject for r in heard if r.kind == "blob"}
    assert removed == {blobs[0], sha256(unique)}  # v2's config and its unique layer
    assert totals.bytes == sum(r.size for r in heard if r.kind == "blob")
    assert world.read_blob("team/app", sha256(shared)) == shared
    assert world.registry.manifests.get("team/app", "v1").digest == kept


def test_the_dry_run_lists_exactly_what_the_run_deletes(world: World) -> None:
    shared = layer()
    world.push_image("team/a", "v1", [shared])
    doomed, _ = world.push_image("team/a", "v2", [shared, layer()])
    world.push_image("team/b", "v1", [shared, layer()])
    world.push_blob("team/b", layer())  # pushed, never used
    world.registry.blobs.mount("team/c", sha256(shared), "team/a")  # mounted, never used
    world.registry.manifests.delete("team/a", doomed)
    world.registry.uploads.start("team/a")
    at = time.time() + 1
    dry, dry_totals = _removals(world, at=at, dry_run=True)
    real, totals = _removals(world, at=at)
    assert sorted(dry, key=repr) == sorted(real, key=repr)
    assert (dry_totals.blobs, dry_totals.links, dry_totals.uploads) == (3, 4, 1)
    assert (totals.blobs, totals.bytes) == (dry_totals.blobs, dry_totals.bytes)
    assert _removals(world, at=at)[0] == []  # nothing left to do


def test_abandoned_uploads_go_with_their_bytes(world: World) -> None:
    started = world.registry.uploads.start("team/app")
    world.registry.uploads.append("team/app", started.upload_id, io.BytesIO(b"x" * 100), 100)
    data = layer(1 << 20)
    direct, _ = world.registry.direct.initiate("team/app", sha256(data), len(data), "http://x")
    assert world.collect(at=time.time() - 60).uploads == 0  # too recent
    heard, totals = _removals(world, at=time.time() + 60)
    assert totals.uploads == 2
    assert {r.subject for r in heard} == {
        f"team/app {started.upload_id}",
        f"team/app {direct.upload_id}",
    }
    assert world.registry.uploads.meta.upload("team/app", started.upload_id) is None
    assert world.registry.uploads.meta.upload("team/app", direct.upload_id) is None
    assert not _upload_bytes_left(world)


def _upload_bytes_left(world: World) -> bool:
    if world.options.backend == "embedded":
        return bool(os.listdir(os.path.join(world.options.data_dir, "uploads")))
    s3 = world.registry.blobs.store.s3  # type: ignore[attr-defined]
    bucket = world.options.s3_bucket
    pending = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    tails = s3.list_objects_v2(Bucket=bucket, Prefix="uploads/").get("KeyCount", 0)
    return bool(pending) or bool(tails)


def test_an_index_its_untagged_children_and_a_referrer_stay(world: World) -> None:
    amd, amd_blobs = world.push_image("team/multi", "amd", [layer()])
    arm, arm_blobs = world.push_image("team/multi", "arm", [layer()])
    for tag in ("amd", "arm"):
        world.registry.manifests.delete("team/multi", tag)  # the children untagged
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [_child(world, "team/multi", d) for d in (amd, arm)],
        }
    ).encode()
    top, _ = world.registry.manifests.put("team/multi", "latest", index, OCI_INDEX)
    signature = _referrer(world, "team/multi", top.digest, len(index))
    totals = world.collect(at=time.time() + 3600)
    assert totals.blobs == totals.links == 0
    for digest in (amd, arm, top.digest, signature):
        assert world.registry.manifests.get("team/multi", digest).digest == digest
    for blob in amd_blobs + arm_blobs:
        assert world.read_blob("team/multi", blob)


def _child(world: World, repository: str, digest: str) -> dict[str, object]:
    info = world.registry.manifests.head(repository, digest)
    return {"mediaType": info.media_type, "digest": digest, "size": info.size}


def _referrer(world: World, repository: str, subject: str, size: int) -> str:
    config = b"{}"
    payload = layer(64)
    for blob in (config, payload):
        world.push_blob(repository, blob)
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.signature",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": sha256(config),
                "size": 2,
            },
            "layers": [
                {"mediaType": "application/octet-stream", "digest": sha256(payload), "size": 64}
            ],
            "subject": {"mediaType": OCI_INDEX, "digest": subject, "size": size},
        }
    ).encode()
    record, _ = world.registry.manifests.put(repository, sha256(body), body, OCI_MANIFEST)
    return record.digest


def test_a_run_in_batches_resumes_from_its_saved_progress(world: World) -> None:
    for n in range(7):
        world.push_blob(f"team/batch{n}", layer(100 + n))
    ticks = itertools.count(time.time() + 60)  # a clock that moves one second a reading
    collector = world.collector(clock=lambda: next(ticks))
    collector.page = 2
    finished, batches, removed = False, 0, 0
    while not finished:
        totals, finished = collector.run_batch(0, deadline=next(ticks) + 3)  # ~2 pages
        removed += totals.blobs
        batches += 1
        assert finished or world.lifecycle.gc_progress() is not None
        assert batches < 50
    assert removed == 7 and batches > 2
    assert world.lifecycle.gc_progress() is None


def test_upload_bytes_without_a_session_go_only_once_old(tmp_path: Path) -> None:
    """On disk a direct upload's directory appears just before its session is written: a run
    in between must leave it; one that lost its session long ago goes."""
    options = BackendOptions(data_dir=str(tmp_path / "data"))
    storage = open_storage(options)
    store = storage.blobs()
    store.start_parts("starting")  # its session is about to be written
    store.start_parts("abandoned")
    old = time.time() - 7200
    for path in (tmp_path / "data" / "uploads" / "abandoned").rglob("*"):
        os.utime(path, (old, old))
    os.utime(tmp_path / "data" / "uploads" / "abandoned", (old, old))
    collector = GarbageCollector(storage.lifecycle(), storage.metadata(), store)
    collector.run(3600)
    assert sorted(os.listdir(tmp_path / "data" / "uploads")) == ["starting"]
