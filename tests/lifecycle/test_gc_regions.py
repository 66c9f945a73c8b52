"""The GC on two regions (one moto server, the test replicator standing in for global tables
and S3 replication, tests/support/replicator.py): its transitions go to the primary's table,
every region's copy of the bytes goes, and a replica that lands after the removal is deleted
when it arrives (docs/regions.md, rules 1, 2, 6 and 7)."""

from __future__ import annotations

import time

from chalicelib.lifecycle.gc import GarbageCollector
from chalicelib.server.backends import build_registry, open_storage
from tests.support.manifests import sha256
from tests.support.regions import OTHER, PRIMARY, TwoRegions, two_regions

from .conftest import World, layer


def _world(regions: TwoRegions, region: str) -> World:
    options = regions.options(region)
    return World(options, build_registry(options), open_storage(options).lifecycle())


def _collect(regions: TwoRegions) -> GarbageCollector:
    """The GC as the primary's scheduled function builds it."""
    storage = open_storage(regions.options(PRIMARY))
    return GarbageCollector(storage.lifecycle(), storage.metadata(), storage.blobs())


def test_a_blob_pushed_in_one_region_is_removed_from_every_bucket(moto_endpoint: str) -> None:
    regions = two_regions(moto_endpoint)
    there = _world(regions, OTHER)
    shared, unique = layer(), layer(4000)
    there.push_image("team/app", "v1", [shared])
    gone, _ = there.push_image("team/app", "v2", [shared, unique])
    regions.replicator().sync()
    key = there.registry.blobs.stat("team/app", sha256(unique)).key
    assert all(regions.has_object(region, key) for region in (PRIMARY, OTHER))
    there.registry.manifests.delete("team/app", gone)
    totals = _collect(regions).run(0)
    assert totals.blobs == 2  # v2's config and its unique layer
    assert not any(regions.has_object(region, key) for region in (PRIMARY, OTHER))
    assert regions.item(PRIMARY, f"B#{sha256(unique)}", "BLOB") is None
    shared_key = there.registry.blobs.stat("team/app", sha256(shared)).key
    assert all(regions.has_object(region, shared_key) for region in (PRIMARY, OTHER))


def test_a_replica_landing_after_the_removal_is_deleted_on_arrival(moto_endpoint: str) -> None:
    regions = two_regions(moto_endpoint)
    there = _world(regions, OTHER)
    data = layer()
    record = there.push_blob("team/late", data)  # in OTHER's bucket only: not replicated yet
    time.sleep(0.01)
    assert _collect(regions).run(0).blobs == 1  # pushed, never used, idle past a grace of 0
    assert not regions.has_object(OTHER, record.key)
    regions.replicator().sync()  # S3 replicates the version it had queued
    assert not regions.has_object(PRIMARY, record.key)


def test_the_transitions_are_made_on_the_primarys_table(moto_endpoint: str) -> None:
    regions = two_regions(moto_endpoint)
    there = _world(regions, OTHER)
    record = there.push_blob("team/where", layer())
    there.registry.blobs.delete("team/where", record.digest)
    assert regions.item(OTHER, f"B#{record.digest}", "BLOB") is None  # nothing written here
    marked = there.lifecycle.begin_blob_removal(record.digest)  # a GC started in OTHER
    assert marked is not None
    item = regions.item(PRIMARY, f"B#{record.digest}", "BLOB")
    assert item is not None and item["state"] == {"S": "deleting"}
