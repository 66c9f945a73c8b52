"""What the `blob_copies` Lambda function does: record each copy of a blob object that S3
reports, or delete it if its blob was deleted meanwhile.

S3 event notifications (ObjectCreated, which includes the replicas S3 replication makes)
invoke the function in the region of the bucket; each record names the bucket, its region
(`awsRegion`) and the object's key. Recording is the commutative upsert of copies.py, so the
order of this event and the upload's own record does not matter, and a repeated event (S3
delivers at least once) changes nothing. When the item says the object was removed, the
object is a replica that arrived after the delete: it is deleted from that bucket.

Only blob objects (`blobs/`) are recorded: upload tails and large manifest bodies are not
pulled from other regions' buckets. The function is built in chalicelib/server/blob_copies.py
from the environment; the deployment wires the notifications and the permissions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from ..s3 import S3BlobStore
from .copies import BlobCopies

log = logging.getLogger("soute.regions")
BLOB_PREFIX = "blobs/"


@dataclass
class Recorded:
    """What one invocation did, by S3 key (returned by the function, for its logs)."""

    recorded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, list[str]]:
        return {"recorded": self.recorded, "deleted": self.deleted, "ignored": self.ignored}


class CopyRecorder:
    def __init__(self, copies: BlobCopies, stores: Mapping[str, S3BlobStore]) -> None:
        """`stores`: each region's bucket, by region, to delete a replica that came late."""
        self.copies = copies
        self.stores = dict(stores)

    def record(self, event: Mapping[str, Any]) -> Recorded:
        done = Recorded()
        for record in event.get("Records", ()):
            self._one(record, done)
        return done

    def _one(self, record: Mapping[str, Any], done: Recorded) -> None:
        name = str(record.get("eventName", ""))
        region = str(record.get("awsRegion", ""))
        s3 = record.get("s3", {})
        bucket = str(s3.get("bucket", {}).get("name", ""))
        key = unquote_plus(str(s3.get("object", {}).get("key", "")))
        store = self.stores.get(region)
        if not name.startswith("ObjectCreated:") or not key.startswith(BLOB_PREFIX):
            done.ignored.append(key)
            return
        if store is None or store.bucket != bucket:
            log.warning(
                "S3 event for %s in bucket %s of region %s: not a bucket of this registry"
                " (SOUTE_S3_BUCKETS), ignored",
                key,
                bucket,
                region,
            )
            done.ignored.append(key)
            return
        if self.copies.add(key, region).removed:
            store.delete_object(key)
            log.info("%s arrived in %s after its blob was deleted: deleted there", key, region)
            done.deleted.append(key)
        else:
            done.recorded.append(key)
