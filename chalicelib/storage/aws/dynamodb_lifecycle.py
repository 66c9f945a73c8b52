"""LifecycleStore on the registry's DynamoDB table (the items of dynamodb_links.py).

The GC's listings are Scans with a filter, in pages of at most `limit` items read: the GC is
the one reader allowed to page through the table (never a request path), and a page bounds
both its memory and its time, so a run can stop after any page and resume from the cursor
(the page's LastEvaluatedKey, as JSON). The transitions are conditional writes on one item, or
a transaction of a link and its blob's count (dynamodb_links.py).

With several regions the store's client is the primary region's: the GC reads and writes only
there (docs/regions.md, rule 1), and deletes every copy of the bytes through the BlobStore.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from ..lifecycle_ports import BlobState, Cursor, IdleLink, ImageFacts, ManifestUses
from ..ports import BlobRecord, Contention, UploadSession
from .dynamodb import MAX_TRANSACTION_ITEMS, DynamoMetadataStore
from .dynamodb_links import DELETING, UNUSED, timestamp
from .dynamodb_quota import CountConflict

PREPARED = ("GC", "PREPARED")  # the item saying every older link is counted
PROGRESS = ("GC", "PROGRESS")  # where the scheduled run stands (lifecycle/gc.py Progress)


class DynamoLifecycleStore:
    def __init__(self, metadata: DynamoMetadataStore) -> None:
        self.meta = metadata
        self.db = metadata.db
        self.table = metadata.table

    def prepare(self) -> None:
        """Count every link made before the lifecycle existed, once; then record that it is
        done (until then a blob record without a count is never taken for unlinked)."""
        if self._prepared():
            return
        cursor: Cursor = None
        while True:
            items, cursor = self._scan(
                "begins_with(sk, :blob) AND attribute_not_exists(counted)",
                {"blob": "BLOB#"},
                cursor,
                500,
            )
            for item in items:
                self._count_old_link(item)
            if cursor is None:
                break
        self.db.put_item(TableName=self.table, Item=self.meta._item(*PREPARED))

    def _prepared(self) -> bool:
        return self.meta._get(*PREPARED) is not None

    def _count_old_link(self, link: dict[str, Any]) -> None:
        digest = link["sk"].removeprefix("BLOB#")
        mark = {
            "Update": {
                "Key": self.meta._key(link["pk"], link["sk"]),
                "UpdateExpression": "SET counted = :t, touched = if_not_exists(touched, :now)",
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(counted)",
                "ExpressionAttributeValues": self.meta._values(t=True, now=timestamp()),
            }
        }
        count = {
            "Update": {
                "Key": self.meta._key(f"B#{digest}", "BLOB"),
                "UpdateExpression": "ADD linked :one",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": self.meta._values(one=1),
            }
        }
        # Refused if counted or dropped meanwhile (nothing to do), or if the blob has no
        # record (the link stays uncounted: it is dropped, when idle, without a count).
        self.meta._transact([mark, count])

    def idle_links(
        self, cutoff: float, cursor: Cursor, limit: int
    ) -> tuple[list[IdleLink], Cursor]:
        items, cursor = self._scan(
            f"begins_with(sk, :blob) AND {UNUSED} AND touched < :cutoff",
            {"blob": "BLOB#", "zero": 0, "cutoff": Decimal(str(cutoff))},
            cursor,
            limit,
        )
        links = [
            IdleLink(
                item["pk"].removeprefix("R#"),
                item["sk"].removeprefix("BLOB#"),
                int(item.get("size", 0)),
                float(item["touched"]),
            )
            for item in items
        ]
        return links, cursor

    def drop_idle_link(self, repository: str, digest: str, cutoff: float) -> bool:
        return self.meta.links.drop(repository, digest, idle_before=cutoff)

    def unlinked_blobs(self, cursor: Cursor, limit: int) -> tuple[list[BlobState], Cursor]:
        unlinked = "linked <= :zero"
        if self._prepared():
            unlinked += " OR attribute_not_exists(linked)"
        items, cursor = self._scan(
            f"begins_with(pk, :b) AND sk = :blob AND ({unlinked} OR #state = :deleting)",
            {"b": "B#", "blob": "BLOB", "zero": 0, "deleting": DELETING},
            cursor,
            limit,
            names={"#state": "state"},
        )
        found = [BlobState(_record(item), item.get("state") == DELETING) for item in items]
        return found, cursor

    def links_of(self, digest: str) -> int:
        item = self.meta._get(f"B#{digest}", "BLOB")
        return int(item.get("linked", 0)) if item else 0

    def begin_blob_removal(self, digest: str) -> BlobRecord | None:
        unlinked = "linked <= :zero"
        if self._prepared():
            unlinked += " OR attribute_not_exists(linked)"
        try:
            reply = self.db.update_item(
                TableName=self.table,
                Key=self.meta._key(f"B#{digest}", "BLOB"),
                UpdateExpression="SET #state = :deleting, deleting_since = :now",
                ConditionExpression=f"attribute_exists(pk) AND ({unlinked} OR #state = :deleting)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=self.meta._values(
                    deleting=DELETING, now=timestamp(), zero=0
                ),
                ReturnValues="ALL_NEW",
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return None  # linked again, or gone
        return _record(self.meta._plain(reply["Attributes"]))

    def end_blob_removal(self, digest: str, key: str) -> bool:
        try:
            self.db.delete_item(
                TableName=self.table,
                Key=self.meta._key(f"B#{digest}", "BLOB"),
                ConditionExpression="#state = :deleting AND #key = :key",
                ExpressionAttributeNames={"#state": "state", "#key": "key"},
                ExpressionAttributeValues=self.meta._values(deleting=DELETING, key=key),
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False  # taken over by an upload: its own bytes, its own record
        return True

    def stale_uploads(
        self, cutoff: float, cursor: Cursor, limit: int
    ) -> tuple[list[UploadSession], Cursor]:
        items, cursor = self._scan(
            "begins_with(sk, :upload) AND started < :cutoff",
            {"upload": "UPLOAD#", "cutoff": Decimal(str(cutoff))},
            cursor,
            limit,
        )
        sessions = [
            UploadSession(
                item["pk"].removeprefix("R#"),
                item["sk"].removeprefix("UPLOAD#"),
                int(item["size"]),
                int(item["version"]),
                json.loads(item["state"]),
                float(item["started"]),
            )
            for item in items
        ]
        return sessions, cursor

    def gc_progress(self) -> str | None:
        item = self.meta._get(*PROGRESS)
        return str(item["progress"]) if item else None

    def save_gc_progress(self, progress: str | None) -> None:
        if progress is None:
            self.db.delete_item(TableName=self.table, Key=self.meta._key(*PROGRESS))
            return
        self.db.put_item(TableName=self.table, Item=self.meta._item(*PROGRESS, progress=progress))

    def images(
        self, repository: str, cursor: Cursor, limit: int
    ) -> tuple[list[ImageFacts], Cursor]:
        """A Query of the MAN# items (without their bodies), then the last pulls of their tags
        (TAG# items, BatchGetItem): retention reads a page at a time, never a Scan."""
        names = {f"#{a}": a for a in ("pk", "sk", "tags", "created", "pulled_at", "refs")}
        names["#subject"] = "subject"
        projection = ", ".join(names)
        items, cursor = self._query(f"R#{repository}", "MAN#", cursor, limit, projection, names)
        tag_pulls = self._tag_pulls(repository, [t for i in items for t in i.get("tags", ())])
        found = []
        for item in items:
            tags = tuple(sorted(item.get("tags", ())))
            pulls = [float(item["pulled_at"])] if "pulled_at" in item else []
            pulls += [tag_pulls[tag] for tag in tags if tag in tag_pulls]
            found.append(
                ImageFacts(
                    item["sk"][4:],
                    tags,
                    float(item.get("created", 0)),
                    max(pulls, default=None),
                    int(item.get("refs", 0)) > 0,
                    item.get("subject"),
                )
            )
        return found, cursor

    def _tag_pulls(self, repository: str, tags: list[str]) -> dict[str, float]:
        """The recorded last pull of each of these tags that has one."""
        pulls: dict[str, float] = {}
        for start in range(0, len(tags), 100):  # BatchGetItem reads at most 100 keys
            keys = [
                self.meta._key(f"R#{repository}", f"TAG#{t}") for t in tags[start : start + 100]
            ]
            request = {
                self.table: {
                    "Keys": keys,
                    "ProjectionExpression": "sk, pulled_at",
                    "ConsistentRead": True,
                }
            }
            while request:
                reply = self.db.batch_get_item(RequestItems=request)
                for raw in reply["Responses"].get(self.table, []):
                    item = self.meta._plain(raw)
                    if "pulled_at" in item:
                        pulls[item["sk"][4:]] = float(item["pulled_at"])
                request = reply.get("UnprocessedKeys") or {}
        return pulls

    def repository_blobs(
        self, repository: str, cursor: Cursor, limit: int
    ) -> tuple[list[tuple[str, int]], Cursor]:
        items, cursor = self._query(f"R#{repository}", "BLOB#", cursor, limit)
        return [(item["sk"][5:], int(item.get("size", 0))) for item in items], cursor

    def manifest_uses(
        self, repository: str, cursor: Cursor, limit: int
    ) -> tuple[list[ManifestUses], Cursor]:
        items, cursor = self._query(f"R#{repository}", "MAN#", cursor, limit)
        found = []
        for item in items:
            digest = item["sk"][4:]
            blobs = tuple(sk[5:] for sk in self.meta._uses(digest, item) if sk[:5] == "BLOB#")
            found.append(ManifestUses(digest, int(item["size"]), blobs))
        return found, cursor

    # -- quotas (dynamodb_quota.py) --------------------------------------------------------
    def namespace_use(self, namespace: str) -> int:
        return self.meta.counts.use(namespace)

    def count_namespace(self, namespace: str) -> int:
        counted = 0
        for repository in self._namespace_repositories(namespace):
            cursor: Cursor = None
            while True:
                items, cursor = self._query(f"R#{repository}", "MAN#", cursor, 100)
                for item in items:
                    if not item.get("ns_counted"):
                        counted += self._count_manifest(namespace, repository, item)
                if cursor is None:
                    break
        return counted

    def _namespace_repositories(self, namespace: str) -> Iterator[str]:
        """The namespace's repositories in the catalog: itself, and `namespace/...`."""
        if self.meta._get("CATALOG", f"R#{namespace}") is not None:
            yield namespace
        cursor: Cursor = None
        while True:
            items, cursor = self._query("CATALOG", f"R#{namespace}/", cursor, 500)
            yield from (item["sk"][2:] for item in items)
            if cursor is None:
                return

    def _count_manifest(self, namespace: str, repository: str, item: dict[str, Any]) -> bool:
        """Count one manifest's blobs in its namespace and mark it, in one transaction (or, too
        many blobs for one, counted first and uncounted if the mark fails); False if it was
        deleted or counted meanwhile."""
        key = (item["pk"], item["sk"])
        for _attempt in range(8):
            uses = self.meta._uses(item["sk"][4:], item)
            blobs = [sk[5:] for sk in uses if sk[:5] == "BLOB#"]
            claim = self.meta.counts.claim(namespace, repository, blobs, None)
            operations = [self._mark_counted(*key), *claim.operations(self.meta)]
            if len(operations) <= MAX_TRANSACTION_ITEMS:
                if self.meta.counts.written(operations):
                    return True
            else:
                try:
                    self.meta.counts.apply(claim)
                except CountConflict:
                    continue
                if self.meta.counts.written(operations[:1]):
                    return True
                self.meta.counts.release_apart(namespace, claim.digests)
            fresh = self.meta._get(*key)
            if fresh is None or fresh.get("ns_counted"):
                return False
            item = fresh
        raise Contention()

    def _mark_counted(self, pk: str, sk: str) -> dict[str, Any]:
        return {
            "Update": {
                "Key": self.meta._key(pk, sk),
                "UpdateExpression": "SET ns_counted = :t",
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(ns_counted)",
                "ExpressionAttributeValues": self.meta._values(t=True),
            }
        }

    def _query(
        self,
        pk: str,
        prefix: str,
        cursor: Cursor,
        limit: int,
        projection: str | None = None,
        names: dict[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], Cursor]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": names or {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": self.meta._values(pk=pk, prefix=prefix),
            "Limit": limit,
            "ConsistentRead": True,
        }
        if projection:
            request["ProjectionExpression"] = projection
        return self._page(self.db.query, request, cursor)

    def _scan(
        self,
        condition: str,
        values: dict[str, Any],
        cursor: Cursor,
        limit: int,
        names: dict[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], Cursor]:
        """One page of a filtered Scan: at most `limit` items read, those that match."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": condition,
            "ExpressionAttributeValues": self.meta._values(**values),
            "Limit": limit,
            "ConsistentRead": True,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        return self._page(self.db.scan, request, cursor)

    def _page(
        self, call: Any, request: dict[str, Any], cursor: Cursor
    ) -> tuple[list[dict[str, Any]], Cursor]:
        """One page of a Query or Scan from `cursor`: its items and the cursor after it."""
        if cursor:
            request["ExclusiveStartKey"] = json.loads(cursor)
        reply = call(**request)
        after = reply.get("LastEvaluatedKey")
        return [self.meta._plain(i) for i in reply["Items"]], json.dumps(after) if after else None


def _record(item: dict[str, Any]) -> BlobRecord:
    return BlobRecord(item["pk"].removeprefix("B#"), int(item["size"]), item.get("key", ""))
