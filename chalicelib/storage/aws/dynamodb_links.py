"""Blob records and repository links on the DynamoDB table, kept so the lifecycle GC can decide
alone, item by item, with no global mark phase (lifecycle/gc.py holds the argument):

  B#<digest> BLOB       size, key (the one object every link of the digest leads to), linked
                        (how many repositories link it), state "deleting" while a GC removes
                        the bytes (absent otherwise)
  R#<repo> BLOB#<digest> size, key, refs (manifests of the repository using it), touched (when
                        last received, mounted, HEADed while idle, or released by a manifest
                        delete), counted (true once `linked` counts it)

A new link and the count on the blob's record are one transaction, conditioned on the record
being live and keeping the same key; a link is dropped with the count in one transaction too.
So `linked` is exact for counted links, a record whose count is 0 has no link a client can use,
and no link ever names bytes a GC is deleting. Links made before the lifecycle existed have no
`counted`: the GC's `prepare` counts each once (DynamoLifecycleStore).

A second upload of a digest the table holds keeps the first one's object (the caller deletes
the new one); an upload of a digest being collected takes the record over with its own object
(S3 keys are per upload, so the GC's delete cannot touch the new bytes).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Protocol

from ..ports import BlobRecord, StillReferenced

DELETING = "deleting"
NAMES = {"#size": "size", "#key": "key", "#state": "state"}
UNUSED = "(attribute_not_exists(refs) OR refs <= :zero)"


class Table(Protocol):
    """What this module uses of the metadata store (dynamodb.DynamoMetadataStore): its client,
    its table and its item helpers."""

    db: Any
    table: str

    def _get(self, pk: str, sk: str, db: Any = None) -> dict[str, Any] | None: ...
    def _key(self, pk: str, sk: str) -> dict[str, Any]: ...
    def _item(self, pk: str, sk: str, **attributes: Any) -> dict[str, Any]: ...
    def _values(self, **values: Any) -> dict[str, Any]: ...
    def _transact(self, operations: list[dict[str, Any]]) -> int | None: ...


class LinkConflict(Exception):
    """Another writer changed the link or the record meanwhile: read again."""


class BlobLinks:
    def __init__(self, store: Table) -> None:
        self.store = store

    # -- what the service calls ------------------------------------------------------------
    def add(self, repository: str, blob: BlobRecord) -> BlobRecord:
        """Record an uploaded blob and link it (DynamoMetadataStore.add_blob)."""
        linked = self._existing_link(repository, blob.digest)
        if linked is not None:
            return linked
        record = self.store._get(f"B#{blob.digest}", "BLOB")
        if record is not None and record.get("state") != DELETING:
            return self._new_link(repository, blob.digest, record)
        item = self.store._item(
            f"B#{blob.digest}",
            "BLOB",
            size=blob.size,
            key=blob.key,
            linked=1,
            created=Decimal(int(time.time())),
        )
        taken = {"Put": {"Item": item, "ExpressionAttributeNames": {"#state": "state"}}}
        taken["Put"]["ConditionExpression"] = "attribute_not_exists(pk) OR #state = :deleting"
        taken["Put"]["ExpressionAttributeValues"] = self.store._values(deleting=DELETING)
        if not self._written([taken, self._link_put(repository, blob)]):
            raise LinkConflict()
        return BlobRecord(blob.digest, blob.size, blob.key)

    def link(self, repository: str, digest: str) -> BlobRecord | None:
        """Link a blob the table holds (a mount); None if it is gone or being collected."""
        linked = self._existing_link(repository, digest)
        if linked is not None:
            return linked
        record = self.store._get(f"B#{digest}", "BLOB")
        if record is None or record.get("state") == DELETING:
            return None
        return self._new_link(repository, digest, record)

    def touch(self, repository: str, digest: str) -> bool:
        try:
            self.store.db.update_item(
                TableName=self.store.table,
                Key=self.store._key(f"R#{repository}", f"BLOB#{digest}"),
                UpdateExpression="SET touched = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=self.store._values(now=timestamp()),
            )
        except self.store.db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def drop(self, repository: str, digest: str, idle_before: float | None = None) -> bool:
        """Delete an unused link and uncount it; with `idle_before`, only if idle since before
        then (the GC). False if the link is gone, or (GC) no longer idle that long. Raise
        StillReferenced if a manifest uses it, LinkConflict if it changed while read."""
        pk, sk = f"R#{repository}", f"BLOB#{digest}"
        link = self.store._get(pk, sk)
        if link is None:
            return False
        if int(link.get("refs", 0)) > 0:
            if idle_before is not None:
                return False
            raise StillReferenced()
        condition = f"{UNUSED} AND " + (
            "counted = :t" if link.get("counted") else "attribute_not_exists(counted)"
        )
        values: dict[str, Any] = {"zero": 0, **({"t": True} if link.get("counted") else {})}
        if idle_before is not None:
            condition += " AND touched < :cutoff"
            values["cutoff"] = Decimal(str(idle_before))
        delete = {
            "Delete": {
                "Key": self.store._key(pk, sk),
                "ConditionExpression": condition,
                "ExpressionAttributeValues": self.store._values(**values),
            }
        }
        operations = [delete]
        if link.get("counted"):
            operations.append(_count(self.store, digest, -1))
        if self._written(operations):
            return True
        if idle_before is not None:
            return False  # touched, used or counted meanwhile: not idle, or read it next run
        raise LinkConflict()

    # -- items -----------------------------------------------------------------------------
    def _existing_link(self, repository: str, digest: str) -> BlobRecord | None:
        """The repository's link, touched (used now), or None if it has none."""
        link = self.store._get(f"R#{repository}", f"BLOB#{digest}")
        if link is None or "size" not in link:
            return None
        if not self.touch(repository, digest):
            raise LinkConflict()  # dropped between the read and the touch
        return BlobRecord(digest, int(link["size"]), link.get("key", ""))

    def _new_link(self, repository: str, digest: str, record: dict[str, Any]) -> BlobRecord:
        """Link the live record's object: one transaction with its count, conditioned on the
        record staying live with the same key."""
        blob = BlobRecord(digest, int(record["size"]), record.get("key", ""))
        count = _count(self.store, digest, +1)
        count["Update"]["ConditionExpression"] = (
            "attribute_exists(pk) AND attribute_not_exists(#state) AND #key = :key"
        )
        count["Update"]["ExpressionAttributeNames"] = {"#state": "state", "#key": "key"}
        count["Update"]["ExpressionAttributeValues"].update(self.store._values(key=blob.key))
        if not self._written([self._link_put(repository, blob), count]):
            raise LinkConflict()
        return blob

    def _written(self, operations: list[dict[str, Any]]) -> bool:
        """Run the transaction; False if a condition failed, or if another transaction on the
        same items ran at that instant (TransactionConflict: a base layer linked into many
        repositories at once): the caller reads again and retries, as for a condition."""
        try:
            return self.store._transact(operations) is None
        except self.store.db.exceptions.TransactionCanceledException as error:
            if conflicted(error):
                return False
            raise

    def _link_put(self, repository: str, blob: BlobRecord) -> dict[str, Any]:
        item = self.store._item(
            f"R#{repository}",
            f"BLOB#{blob.digest}",
            size=blob.size,
            key=blob.key,
            touched=timestamp(),
            counted=True,
        )
        return {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def _count(store: Table, digest: str, delta: int) -> dict[str, Any]:
    """Change the blob record's `linked` by `delta` (the record must exist)."""
    return {
        "Update": {
            "Key": store._key(f"B#{digest}", "BLOB"),
            "UpdateExpression": "ADD linked :delta",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": store._values(delta=delta),
        }
    }


def conflicted(error: Exception) -> bool:
    """Whether a transaction was cancelled because another one held one of its items."""
    reasons = getattr(error, "response", {}).get("CancellationReasons", [])
    return any(reason.get("Code") == "TransactionConflict" for reason in reasons)


def timestamp() -> Decimal:
    return Decimal(str(round(time.time(), 3)))
