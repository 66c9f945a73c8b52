"""A stand-in for AWS's replication engines, for the tests only: nothing in chalicelib/ imports
it and it never ships in the Lambda package.

moto does not replicate global tables or buckets (../shared/research/moto-multi-region.md:
replication is configuration only there), so the multi-region tests replicate themselves,
the way AWS does it:

- DynamoDB global tables: each item of the primary region's table is copied to the table of
  the same name in every other region, item by item (a transaction's items separately), puts
  of new or changed items and deletes of items gone. Soute writes only to the primary, so
  copying from the primary is all the replication its tables see.
- S3 replication: each object version under `blobs/` (the prefix the replication rules name)
  is copied once from the bucket it was written to into every other region's bucket, a
  version deleted since included (S3 replicates a version it has queued; a delete marker is
  not replicated); replicas are not replicated again. For each replica made, the product's
  recorder (chalicelib/server/blob_copies.handle, the `blob_copies` function) is invoked with
  the S3 ObjectCreated event the destination bucket's notification sends, in that region's
  environment, as AWS would.

Two modes: `sync()` replicates everything now, objects first then items (the recorder's writes
to the primary are then replicated too), for tests that compare before and after; `start(lag)`
runs a thread that replicates each change once it has been waiting `lag` seconds (the
measurement of pulls during replication, bench/regions.py), and `stop()` ends it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.server import blob_copies
from chalicelib.storage.aws.clients import aws_clients

BLOB_PREFIX = "blobs/"


@dataclass(frozen=True)
class ReplicaRegion:
    name: str
    bucket: str
    environment: Mapping[str, str]  # the blob_copies function's environment in this region


class Replicator:
    def __init__(
        self,
        endpoint_url: str,
        table: str,
        primary: str,
        regions: Sequence[ReplicaRegion],
        interval: float = 0.05,
    ) -> None:
        self.table, self.primary, self.interval = table, primary, interval
        self.regions = {region.name: region for region in regions}
        self.clients = {name: aws_clients(name, endpoint_url) for name in self.regions}
        self._waiting: dict[Any, float] = {}  # a change not applied yet -> when first seen
        self._copied: set[tuple[str, str, str]] = set()  # (region, key, version) replicated
        self._replicas: set[tuple[str, str, str]] = set()  # versions made by replication
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.items_copied = self.items_deleted = self.objects_copied = 0
        self.errors: list[BaseException] = []

    # -- modes -----------------------------------------------------------------------------
    def sync(self) -> None:
        """Replicate everything written so far, now."""
        with self._lock:
            self._objects(lag=0)
            self._items(lag=0)

    def start(self, lag: float) -> None:
        """Replicate in the background, each change `lag` seconds after it was first seen."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(lag,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self, lag: float) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self._lock:
                    self._objects(lag)
                    self._items(lag)
            except BaseException as error:  # noqa: BLE001 - kept for the test to report
                self.errors.append(error)

    def _due(self, change: Any, lag: float, now: float) -> bool:
        first = self._waiting.setdefault(change, now)
        return now - first >= lag

    # -- global table ----------------------------------------------------------------------
    def _scan(self, region: str) -> dict[tuple[str, str], dict[str, Any]]:
        db = self.clients[region].dynamodb
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for page in db.get_paginator("scan").paginate(TableName=self.table, ConsistentRead=True):
            for item in page["Items"]:
                items[(item["pk"]["S"], item["sk"]["S"])] = item
        return items

    def _items(self, lag: float) -> None:
        now = time.monotonic()
        source = self._scan(self.primary)
        pending: set[Any] = set()
        for region in self.regions:
            if region == self.primary:
                continue
            db = self.clients[region].dynamodb
            replica = self._scan(region)
            for key, item in source.items():
                if replica.get(key) == item:
                    continue
                change = (region, key, _signature(item))
                pending.add(change)
                if self._due(change, lag, now):
                    db.put_item(TableName=self.table, Item=item)
                    self.items_copied += 1
            for key in replica.keys() - source.keys():
                change = (region, key, None)
                pending.add(change)
                if self._due(change, lag, now):
                    db.delete_item(TableName=self.table, Key=_key(key))
                    self.items_deleted += 1
        self._forget_waiting(pending, kind=tuple)

    def _forget_waiting(self, pending: set[Any], kind: type) -> None:
        for change in [c for c in self._waiting if isinstance(c, kind) and c not in pending]:
            del self._waiting[change]

    # -- buckets ---------------------------------------------------------------------------
    def _objects(self, lag: float) -> None:
        now = time.monotonic()
        pending: set[Any] = set()
        for source in self.regions.values():
            s3 = self.clients[source.name].s3
            pages = s3.get_paginator("list_object_versions").paginate(
                Bucket=source.bucket, Prefix=BLOB_PREFIX
            )
            for page in pages:
                for version in page.get("Versions", []):
                    copy = (source.name, version["Key"], version["VersionId"])
                    if copy in self._copied or copy in self._replicas:
                        continue
                    change = frozenset([copy])
                    pending.add(change)
                    if self._due(change, lag, now):
                        self._replicate(source, version["Key"], version["VersionId"])
                        self._copied.add(copy)
        self._forget_waiting(pending, kind=frozenset)

    def _replicate(self, source: ReplicaRegion, key: str, version: str) -> None:
        for target in self.regions.values():
            if target.name == source.name:
                continue
            made = self.clients[target.name].s3.copy_object(
                Bucket=target.bucket,
                Key=key,
                CopySource={"Bucket": source.bucket, "Key": key, "VersionId": version},
            )
            self._replicas.add((target.name, key, made.get("VersionId", "null")))
            self.objects_copied += 1
            blob_copies.handle(_created_event(target, key), environ=target.environment)


def _signature(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, default=lambda value: bytes(value).hex())


def _key(key: tuple[str, str]) -> dict[str, Any]:
    return {"pk": {"S": key[0]}, "sk": {"S": key[1]}}


def _created_event(region: ReplicaRegion, key: str) -> dict[str, Any]:
    """The S3 event notification of a replica created in `region`'s bucket (event version 2.1,
    the fields the recorder reads and a few more)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region.name,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": region.bucket, "arn": f"arn:aws:s3:::{region.bucket}"},
                    "object": {"key": key},
                },
            }
        ]
    }
