"""Which regions' buckets hold a copy of an S3 object: one item per object on the table.

  OBJ#<s3 key>  COPIES   regions: a string set of the regions whose bucket holds the object;
                         removed: when the object was deleted (Unix time), if it was

A pull redirects to a bucket that this item names, so choosing needs no S3 call. The item is
written by two parties in no fixed order: the upload that made the object (it finishes in one
region's bucket) and the `blob_copies` function that S3's event notifications invoke for each
object created, replicas included (recorder.py). Both write `ADD regions :r` to the primary's
table: the upsert is commutative and idempotent, so neither order nor a repeated event
matters, and nothing is read before it is written.

A delete sets `removed` and returns the regions known at that moment; a copy recorded after it
(a replica still in flight when the blob was deleted) sees `removed` in the item the ADD
returns and is deleted by the recorder. Keys are `blobs/<upload id>` and an upload id is never
used twice, so a removed item never comes back to life.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .reads import RegionalReader

SK = "COPIES"


@dataclass(frozen=True)
class Copies:
    regions: frozenset[str]
    removed: bool = False


def _key(key: str) -> dict[str, Any]:
    return {"pk": {"S": f"OBJ#{key}"}, "sk": {"S": SK}}


def _copies(item: dict[str, Any] | None) -> Copies:
    if not item:
        return Copies(frozenset())
    return Copies(frozenset(item.get("regions", {}).get("SS", ())), "removed" in item)


class BlobCopies:
    def __init__(self, primary: Any, table: str, reader: RegionalReader) -> None:
        """`primary` is the primary region's DynamoDB client, for every write; `reader` reads
        the local replica with the primary as its fallback."""
        self.db, self.table, self.reader = primary, table, reader

    def add(self, key: str, region: str) -> Copies:
        """Record that `region`'s bucket holds `key`; the item as it is after the write."""
        reply = self.db.update_item(
            TableName=self.table,
            Key=_key(key),
            UpdateExpression="ADD regions :r",
            ExpressionAttributeValues={":r": {"SS": [region]}},
            ReturnValues="ALL_NEW",
        )
        return _copies(reply.get("Attributes"))

    def regions(self, key: str) -> frozenset[str]:
        """The regions known to hold `key`: the local replica's item, or the primary's when
        the local one has not arrived yet. Empty for objects stored before several regions."""
        item = self.reader.item(lambda db: self._get(db, key), f"copies of {key}")
        return _copies(item).regions

    def copies(self, key: str) -> Copies:
        """The primary's item (what a delete or a check decides on)."""
        return _copies(self._get(self.db, key))

    def mark_removed(self, key: str) -> Copies:
        """Record that `key` is deleted; the regions that held it when it was."""
        reply = self.db.update_item(
            TableName=self.table,
            Key=_key(key),
            UpdateExpression="SET removed = :now",
            ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
            ReturnValues="ALL_NEW",
        )
        return _copies(reply.get("Attributes"))

    def _get(self, db: Any, key: str) -> dict[str, Any] | None:
        reply = db.get_item(TableName=self.table, Key=_key(key), ConsistentRead=True)
        item: dict[str, Any] | None = reply.get("Item")
        return item
