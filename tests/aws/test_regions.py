"""The multi-region stores (chalicelib/storage/aws/regions/) against two regions of one moto
server: where each write goes, where each read is answered, which bucket an upload and a pull
use, and the recorder of copies. moto replicates nothing; the tests that need replicated data
use the test replicator (tests/support/replicator.py), and say so.

us-east-1 is the primary; eu-west-1 the other region."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from chalicelib.oci.digest import Digest
from chalicelib.registry.service import Registry
from chalicelib.server import blob_copies
from chalicelib.server.backends import build_registry, open_storage
from chalicelib.storage.aws.backend import AwsStorage
from chalicelib.storage.aws.dynamodb import DynamoMetadataStore
from chalicelib.storage.aws.regions.blob_store import RegionalBlobStore
from chalicelib.storage.aws.regions.copies import BlobCopies
from chalicelib.storage.aws.regions.reads import RegionalReader
from chalicelib.storage.ports import BlobRecord, DigestMismatch
from tests.support.regions import OTHER, PRIMARY, TwoRegions, two_regions
from tests.support.replicator import _created_event  # the event S3 would send

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def world(moto_endpoint: str) -> TwoRegions:
    return two_regions(moto_endpoint)


def _storage(world: TwoRegions, region: str) -> AwsStorage:
    storage = open_storage(world.options(region))
    assert isinstance(storage, AwsStorage)
    return storage


def _meta(world: TwoRegions, region: str) -> DynamoMetadataStore:
    meta = _storage(world, region).metadata()
    assert isinstance(meta, DynamoMetadataStore)
    return meta


def _blobs(world: TwoRegions, region: str) -> RegionalBlobStore:
    store = _storage(world, region).blobs()
    assert isinstance(store, RegionalBlobStore)
    return store


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_image(registry: Registry, repo: str, tag: str = "v1") -> tuple[str, list[str]]:
    """A config and a layer through `registry`, then the manifest: its digest and the blobs'."""
    blobs = []
    for data in (json.dumps({"n": uuid.uuid4().hex}).encode(), os.urandom(300)):
        digest = _digest(data)
        registry.uploads.upload_whole(repo, digest, io.BytesIO(data), len(data))
        blobs.append({"mediaType": "application/octet-stream", "digest": digest, "size": 300})
        blobs[-1]["size"] = len(data)
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": blobs[0], "layers": blobs[1:]}
    ).encode()
    registry.manifests.put(repo, tag, body, OCI_MANIFEST)
    return _digest(body), [blob["digest"] for blob in blobs]


def _bucket_of(url: str) -> str:
    return urlsplit(url).path.split("/")[1]  # path-style URLs on an emulator


# -- reads ---------------------------------------------------------------------------------


def test_a_read_missing_locally_falls_back_to_the_primary_and_says_so(
    world: TwoRegions, caplog: pytest.LogCaptureFixture
) -> None:
    meta = _meta(world, OTHER)
    registry_a = build_registry(world.options(PRIMARY))
    digest, _ = _push_image(registry_a, "r/fallback")
    reads = meta.reads
    assert reads is not None
    with caplog.at_level(logging.INFO, logger="soute.regions"):
        assert meta.manifest_info("r/fallback", digest) is not None
    assert (reads.reads, reads.fallbacks) == (1, 1)
    [line] = [r.getMessage() for r in caplog.records if r.name == "soute.regions"]
    assert line == (
        f"R#r/fallback MAN#{digest} read from the primary region us-east-1: not yet in eu-west-1"
    )
    world.replicator().sync()  # the test replicator stands in for the global table
    assert meta.manifest_info("r/fallback", digest) is not None
    assert (reads.reads, reads.fallbacks) == (2, 1)


def test_a_real_miss_costs_two_reads_in_another_region_and_one_in_the_primary(
    world: TwoRegions,
) -> None:
    for region, fallbacks in ((OTHER, 1), (PRIMARY, 0)):
        meta = _meta(world, region)
        assert meta.manifest_info("r/none", "sha256:" + "0" * 64) is None
        assert meta.reads is not None and meta.reads.fallbacks == fallbacks


def test_an_empty_page_falls_back_and_a_full_local_one_does_not(world: TwoRegions) -> None:
    registry_a = build_registry(world.options(PRIMARY))
    _push_image(registry_a, "r/pages", "t1")
    meta = _meta(world, OTHER)
    assert meta.tags("r/pages", None, 10) == ["t1"]
    world.replicator().sync()
    _push_image(registry_a, "r/pages", "t2")  # not replicated: the local page is shorter
    assert meta.tags("r/pages", None, 10) == ["t1"]
    assert meta.reads is not None and (meta.reads.reads, meta.reads.fallbacks) == (2, 1)


def test_the_reader_is_generic_over_clients() -> None:
    reader = RegionalReader("local", "primary", OTHER, PRIMARY)
    assert reader.item(lambda db: None if db == "local" else db, "x") == "primary"
    assert reader.listing(lambda db: [db], "x") == ["local"]
    same = RegionalReader("p", "p", PRIMARY, PRIMARY)
    assert same.item(lambda db: None, "x") is None and same.fallbacks == 0


# -- writes --------------------------------------------------------------------------------


def test_every_write_from_another_region_lands_in_the_primary_table(world: TwoRegions) -> None:
    registry_b = build_registry(world.options(OTHER))
    digest, blobs = _push_image(registry_b, "r/written-in-b")
    for pk, sk in [
        ("R#r/written-in-b", f"MAN#{digest}"),
        ("R#r/written-in-b", "TAG#v1"),
        ("CATALOG", "R#r/written-in-b"),
        *[(f"B#{blob}", "BLOB") for blob in blobs],
    ]:
        assert world.item(PRIMARY, pk, sk) is not None, (pk, sk)
        assert world.item(OTHER, pk, sk) is None, (pk, sk)
    session = registry_b.uploads.start("r/written-in-b")
    assert world.item(PRIMARY, "R#r/written-in-b", f"UPLOAD#{session.upload_id}") is not None
    assert world.item(OTHER, "R#r/written-in-b", f"UPLOAD#{session.upload_id}") is None


def test_identities_audit_and_counts_use_the_primary_table(world: TwoRegions) -> None:
    from chalicelib.auth.model import User

    storage = _storage(world, OTHER)
    storage.identities().add_user(User("ida", "hash"))
    storage.identities().set_public("pub/app", True)
    assert storage.identities().user("ida") is not None
    scanned = world.dynamodb(OTHER).scan(TableName=world.table)["Items"]
    assert scanned == []  # nothing was written to the other region's replica


# -- blobs ---------------------------------------------------------------------------------


def _append(store: RegionalBlobStore, upload_id: str, state: dict, offset: int, data: bytes,
            last: bool = False) -> dict:  # fmt: skip
    written, state = store.append(upload_id, state, offset, io.BytesIO(data), len(data), last)
    assert written == len(data)
    return state


def test_a_chunked_upload_started_in_one_region_is_finished_in_the_other(
    world: TwoRegions,
) -> None:
    a, b = _blobs(world, PRIMARY), _blobs(world, OTHER)
    first, second = os.urandom(9 << 20), os.urandom(2 << 20)  # a part and a tail, then the rest
    upload_id = uuid.uuid4().hex
    state = _append(b, upload_id, {}, 0, first)
    assert state["region"] == OTHER and "mpu" in state
    state = _append(a, upload_id, state, len(first), second, last=True)
    data = first + second
    key = a.finish(upload_id, state, len(data), Digest("sha256", hashlib.sha256(data).hexdigest()))
    a.discard(upload_id, state)
    assert world.has_object(OTHER, key) and not world.has_object(PRIMARY, key)
    assert a.copies.copies(key).regions == {OTHER}


def test_a_direct_upload_uses_the_bucket_it_started_in(world: TwoRegions) -> None:
    a, b = _blobs(world, PRIMARY), _blobs(world, OTHER)
    upload_id, data = uuid.uuid4().hex, os.urandom(1000)
    state = b.start_parts(upload_id)
    url = a.part_url(upload_id, state, 1, 2**31, "http://registry.test", size=len(data))
    assert _bucket_of(url.url) == world.bucket(OTHER)
    etag = requests.put(url.url, data=data, timeout=30).headers["ETag"]
    assert [p.number for p in a.received_parts(upload_id, state)] == [1]
    state = a.complete_parts(upload_id, state, [(1, etag)])
    key = a.verify_parts(upload_id, state, Digest("sha256", hashlib.sha256(data).hexdigest()))
    assert world.has_object(OTHER, key)
    assert a.copies.copies(key).regions == {OTHER}


def test_a_wrong_digest_marks_the_object_removed_for_replicas_in_flight(
    world: TwoRegions,
) -> None:
    b = _blobs(world, OTHER)
    upload_id = uuid.uuid4().hex
    state = _append(b, upload_id, {}, 0, b"some bytes", last=True)
    with pytest.raises(DigestMismatch):
        b.finish(upload_id, state, 10, Digest("sha256", "0" * 64))
    assert b.copies.copies(state["key"]).removed


@pytest.mark.parametrize(
    ("regions", "local", "expected"),
    [
        ({PRIMARY, OTHER}, OTHER, OTHER),
        ({OTHER}, OTHER, OTHER),
        ({PRIMARY}, OTHER, PRIMARY),
        ({OTHER}, PRIMARY, OTHER),
        (set(), OTHER, PRIMARY),  # a blob from before several regions
        ({"ap-south-1"}, OTHER, PRIMARY),  # a region this registry has no bucket for
    ],
)
def test_a_pull_goes_to_the_nearest_bucket_holding_a_copy(
    world: TwoRegions, regions: set[str], local: str, expected: str
) -> None:
    store = _blobs(world, local)
    record = BlobRecord("sha256:" + "1" * 64, 5, "blobs/x", frozenset(regions))
    assert store.region_for(record) == expected
    assert _bucket_of(str(store.body(record, 0, 5).redirect_url)) == world.bucket(expected)


def test_a_blob_record_lists_its_copies_locally_or_from_the_primary(world: TwoRegions) -> None:
    registry_a = build_registry(world.options(PRIMARY))
    _, [config, _layer] = _push_image(registry_a, "r/copies")
    meta_b = _meta(world, OTHER)
    before = meta_b.blob("r/copies", config)
    assert before is not None and before.regions == {PRIMARY}  # from the primary
    world.replicator().sync()  # copies the object to eu-west-1; the recorder records it
    after = meta_b.blob("r/copies", config)
    assert after is not None and after.regions == {PRIMARY, OTHER}
    assert meta_b.any_blob(config) == after
    assert world.has_object(OTHER, after.key)


def test_single_region_records_list_no_regions(moto_endpoint: str) -> None:
    from tests.support.moto import aws_backend

    registry = build_registry(aws_backend(moto_endpoint))
    _, [config, _] = _push_image(registry, "r/single")
    record = registry.blobs.stat("r/single", config)
    assert record.regions == frozenset()


# -- copies and the recorder ---------------------------------------------------------------


def test_copies_recorded_in_either_order_are_the_same(world: TwoRegions) -> None:
    copies = BlobCopies(world.dynamodb(PRIMARY), world.table, _meta(world, OTHER).reads)  # type: ignore[arg-type]
    for order in ((PRIMARY, OTHER), (OTHER, PRIMARY)):
        key = f"blobs/{uuid.uuid4().hex}"
        for region in (*order, order[0]):  # an event delivered twice changes nothing
            copies.add(key, region)
        assert copies.regions(key) == {PRIMARY, OTHER}


def test_remove_deletes_every_copy_and_a_late_replica_is_deleted_on_arrival(
    world: TwoRegions,
) -> None:
    registry_a = build_registry(world.options(PRIMARY))
    _, [_, layer] = _push_image(registry_a, "r/removed")
    record = registry_a.blobs.stat("r/removed", layer)
    assert world.has_object(PRIMARY, record.key)
    _blobs(world, OTHER).remove(record)
    assert not world.has_object(PRIMARY, record.key)
    # S3 replication had the version queued: the replica lands in eu-west-1 after the delete
    # (the test replicator copies the deleted version, as S3 does), and its event's recorder
    # deletes it there.
    world.replicator().sync()
    assert not world.has_object(OTHER, record.key)
    copies = _blobs(world, OTHER).copies.copies(record.key)
    assert copies.removed and copies.regions == {PRIMARY, OTHER}


def test_the_recorder_ignores_other_objects_and_other_buckets(world: TwoRegions) -> None:
    environment = world.options(OTHER).environment()
    region = world.replicator().regions[OTHER]
    tail = blob_copies.handle(_created_event(region, "uploads/x/tail-1"), environ=environment)
    assert tail == {"recorded": [], "deleted": [], "ignored": ["uploads/x/tail-1"]}
    stranger = _created_event(region, "blobs/y")
    stranger["Records"][0]["s3"]["bucket"]["name"] = "someone-elses"
    assert blob_copies.handle(stranger, environ=environment)["ignored"] == ["blobs/y"]
    key = f"blobs/{uuid.uuid4().hex}"
    assert blob_copies.handle(_created_event(region, key), environ=environment)["recorded"] == [key]


def test_the_chalice_app_exports_the_blob_copies_function(
    world: TwoRegions, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app

    for name, value in world.options(OTHER).environment().items():
        monkeypatch.setenv(name, value)
    key = f"blobs/{uuid.uuid4().hex}"
    event = _created_event(world.replicator().regions[OTHER], key)
    assert app.blob_copies(event, None)["recorded"] == [key]
    assert _blobs(world, OTHER).copies.copies(key).regions == {OTHER}
