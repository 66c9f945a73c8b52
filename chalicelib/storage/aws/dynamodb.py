"""MetadataStore on one DynamoDB table: one item per fact, conditional writes and transactions
for every read-modify-write, no Scan.

Items (pk, sk):
  R#<repo>  BLOB#<digest>         the repository's link to a blob: size, key, refs, touched,
                                  counted (dynamodb_links.py)
  R#<repo>  MAN#<digest>          a manifest: media type, size, body (or body_key in S3 when too
                                  big for the item), subject, artifact type, uses (the sort
                                  keys it references, unless too many: then read from the
                                  body), tags (a string set), refs, created (when first
                                  stored, the push time retention counts from), pulled_at
  R#<repo>  TAG#<tag>             a tag: digest, media type, size, and a copy of the manifest's
                                  body when it is small (TAG_BODY_LIMIT), so that a pull by tag
                                  is one read for ordinary manifests and a tag listing reads
                                  small items only; pulled_at (the last pull by this tag)
  R#<repo>  REF#<subject>#<digest> a referrer of `subject`
  R#<repo>  UPLOAD#<id>           an upload session: size, version, state; TTL expires_at
  R#<repo>  PENDING#<digest>      a direct upload of the blob is being verified; TTL expires_at
  B#<digest> BLOB                 the blob itself: size, storage key, linked (repositories
                                  linking it), state while a GC removes it (dynamodb_links.py)
  GC        PREPARED              every link made before the lifecycle GC is counted
  GC        PROGRESS              where the scheduled GC run stands (dynamodb_lifecycle.py)
  CATALOG   R#<repo>              the repository has manifests
  QUOTA#<namespace> DIRECT        the namespace's open direct uploads: a version and a list
                                  bounded by the limit (registry/direct_uploads.py)
  OBJ#<s3 key> COPIES            with several regions: the regions whose bucket holds the
                                  object (regions/copies.py)
  (users, teams, public marks and access tokens: see dynamodb_identities.py)

With several regions (regions/, issue 13) `dynamodb` is the primary region's client: every
write, and every read whose answer decides a write (the reads inside put_manifest and the
deletes, upload sessions, pending marks, reservations), goes to the primary's table. The reads
of the pull path (blobs, manifests, tags, the catalog, referrers) go through `reads`, the local
replica with the primary as its fallback, and a blob's record lists the regions holding its
bytes (`copies`). With one region both are None: one client, the calls of before.

`refs` counts the manifests that use a blob or child manifest: a manifest write raises it in
the same transaction that checks the target exists, and a delete of a target whose count is
not zero is refused, so no manifest ever points at something missing. A tag write updates the
manifest's `tags` set in the same transaction, and a manifest delete is conditioned on that
set, so a tag can never be left pointing at a deleted manifest.

Last pulls (record_pull, for retention's `sinceImagePulled`): a pull by tag sets the TAG#
item's `pulled_at`, a pull by digest the MAN# item's, each in one UpdateItem conditioned on
`attribute_not_exists(pulled_at) OR pulled_at < :stale`, and only when the value the pull read
is that old: at most one write per tag or manifest per PULL_RECORD_EVERY. With several regions
the pull reads locally and the write goes to the primary's table, like every write.

Immutable tags (ManifestWrite.immutable_tags, chalicelib/lifecycle/immutability.py) are checked
on the TAG# item read in the same attempt whose write is conditioned on it (`digest = :old`, or
`attribute_not_exists(pk)` for a new tag): if another push sets the tag in between, the
condition fails, the attempt is retried, and the new read sees the tag taken (TagImmutable).
So of concurrent pushes to one new immutable tag exactly one wins. Every read here is the
primary's (`_get`), never a replica's.

No item grows without bound (DynamoDB refuses items over 400 KB, 409,600 bytes): a MAN# item
holds at most INLINE_BODY_LIMIT (192 KiB) of body, USES_LIMIT (32 KiB) of `uses`,
MAX_TAGS_PER_MANIFEST (1000) tags of at most 128 bytes (129 KB) and a few short attributes
(media and artifact types are at most 255 bytes): about 360 KB. A TAG# item holds at most
TAG_BODY_LIMIT (8 KiB) of body. Items written before these limits (tag items with a copy of
any body up to 256 KiB, or its `body_key`) are still read; re-tagging rewrites them small.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from ...oci.manifest import parse_manifest
from ...oci.names import namespace_of
from ..ports import (
    MAX_TAGS_PER_MANIFEST,
    BlobRecord,
    BodyMissing,
    Contention,
    ManifestInfo,
    ManifestRecord,
    ManifestWrite,
    MissingReference,
    Referrer,
    Reservation,
    StillReferenced,
    TagImmutable,
    TagsChanged,
    TooManyTags,
    UploadSession,
)
from .dynamodb_links import DELETING, BlobLinks, LinkConflict, conflicted, timestamp
from .dynamodb_quota import Count, CountConflict, NamespaceCounts

INLINE_BODY_LIMIT = 192 * 1024  # larger manifests go to S3; an item stops at 400 KB
# The copy of a body in its tag items. Manifests measured in this repository's test images
# (docker, skopeo and tests/support/images.py) are 0.4-0.7 KiB; public single-platform image
# manifests are 0.4-2 KiB and multi-platform indexes (with attestations) 1-10 KiB. 8 KiB keeps
# a pull by tag one read for all of those but the largest indexes (two reads), while a tag
# listing reads at most ~8.3 KiB per tag: a page of 1000 tags is about 9 Query calls in the
# worst case, against 77,000 read units when tag items copied bodies of up to 256 KiB.
TAG_BODY_LIMIT = 8 * 1024
USES_LIMIT = 32 * 1024  # a manifest's `uses` beyond this are read from its body instead
INLINE_ANNOTATIONS_LIMIT = 64 * 1024
MAX_TRANSACTION_ITEMS = 100
UPLOAD_TTL_SECONDS = 7 * 24 * 3600
CONFLICT_RETRIES = 8


T = TypeVar("T")

if TYPE_CHECKING:
    from .regions.copies import BlobCopies
    from .regions.reads import RegionalReader


def _retry_conflicts(attempt: Callable[[], T]) -> T:
    """Run a read-then-transact `attempt` again, after a jittered pause, while another writer
    wins the race for the same items."""
    for retry in range(CONFLICT_RETRIES):
        try:
            return attempt()
        except (_Conflict, LinkConflict, CountConflict):
            time.sleep(random.uniform(0, 0.02 * 2**retry))
    raise Contention()


def _repo(repository: str) -> str:
    return f"R#{repository}"


class _Conflict(Exception):
    """Another writer changed an item this transaction read; start again."""


class DynamoMetadataStore:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        s3: Any | None = None,
        bucket: str | None = None,
        *,
        reads: RegionalReader | None = None,
        copies: BlobCopies | None = None,
    ) -> None:
        """`s3` and `bucket` hold manifest bodies too big for an item (the primary region's,
        with several regions)."""
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.db = dynamodb
        self.table = table
        self.s3 = s3
        self.bucket = bucket
        self.reads = reads
        self.copies = copies
        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize
        self.links = BlobLinks(self)
        self.counts = NamespaceCounts(self)

    # -- item helpers ----------------------------------------------------------------------
    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _values(self, **values: Any) -> dict[str, Any]:
        return {f":{name}": self._serialize(value) for name, value in values.items()}

    def _item(self, pk: str, sk: str, **attributes: Any) -> dict[str, Any]:
        item = self._key(pk, sk)
        item.update({k: self._serialize(v) for k, v in attributes.items() if v is not None})
        return item

    def _plain(self, item: dict[str, Any]) -> dict[str, Any]:
        return {key: self._deserialize(value) for key, value in item.items()}

    def _get(self, pk: str, sk: str, db: Any = None) -> dict[str, Any] | None:
        db = db or self.db
        reply = db.get_item(TableName=self.table, Key=self._key(pk, sk), ConsistentRead=True)
        return self._plain(reply["Item"]) if "Item" in reply else None

    def _read(self, pk: str, sk: str) -> dict[str, Any] | None:
        """A read of the pull path: the local replica, then the primary (see the docstring)."""
        if self.reads is None:
            return self._get(pk, sk)
        return self.reads.item(lambda db: self._get(pk, sk, db), f"{pk} {sk}")

    def _read_list(self, pk: str, prefix: str, after: str | None, limit: int) -> list[dict]:
        """A page of a listing of the pull path: the local replica, an empty one the primary's."""
        if self.reads is None:
            return list(self._query(pk, prefix, after, limit))
        return self.reads.listing(
            lambda db: list(self._query(pk, prefix, after, limit, db)), f"{pk} {prefix}*"
        )

    def _query(
        self, pk: str, prefix: str, after: str | None, limit: int, db: Any = None
    ) -> Iterator[dict]:
        """Items of partition `pk` whose sort key starts with `prefix`, after `prefix+after`."""
        db = db or self.db
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": self._values(pk=pk, prefix=prefix),
            "ConsistentRead": True,
        }
        if after:
            request["ExclusiveStartKey"] = self._key(pk, prefix + after)
        yielded = 0
        while yielded < limit:
            request["Limit"] = limit - yielded  # a later page reads no more than is left
            reply = db.query(**request)
            for item in reply["Items"]:
                yield self._plain(item)
                yielded += 1
            if "LastEvaluatedKey" not in reply:
                return
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def _transact(self, operations: list[dict[str, Any]]) -> int | None:
        """Run the operations as one transaction; the index of the condition that failed."""
        for op in operations:
            next(iter(op.values()))["TableName"] = self.table
        try:
            self.db.transact_write_items(TransactItems=operations)
        except self.db.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            for index, reason in enumerate(reasons):
                if reason.get("Code") == "ConditionalCheckFailed":
                    return index
            raise
        return None

    def _transact_contended(self, operations: list[dict[str, Any]]) -> int | None:
        """_transact, with a cancellation by another transaction on the same items (a tag or a
        namespace's quota total many push at once) raised as _Conflict, which is retried."""
        try:
            return self._transact(operations)
        except self.db.exceptions.TransactionCanceledException as error:
            if conflicted(error):
                raise _Conflict() from None
            raise

    # -- blobs -----------------------------------------------------------------------------
    def blob(self, repository: str, digest: str) -> BlobRecord | None:
        item = self._read(_repo(repository), f"BLOB#{digest}")
        if item is None or "size" not in item:
            return None
        idle = None if int(item.get("refs", 0)) > 0 else float(item.get("touched", 0))
        return self._blob_record(digest, item, idle)

    def any_blob(self, digest: str) -> BlobRecord | None:
        item = self._read(f"B#{digest}", "BLOB")
        if item is None or item.get("state") == DELETING:
            return None
        return self._blob_record(digest, item)

    def _blob_record(
        self, digest: str, item: dict[str, Any], idle_since: float | None = None
    ) -> BlobRecord:
        key = item.get("key", "")
        regions = self.copies.regions(key) if self.copies is not None and key else frozenset()
        return BlobRecord(digest, int(item["size"]), key, regions, idle_since)

    def add_blob(self, repository: str, blob: BlobRecord) -> BlobRecord:
        return _retry_conflicts(lambda: self.links.add(repository, blob))

    def link_blob(self, repository: str, blob: BlobRecord) -> BlobRecord | None:
        return _retry_conflicts(lambda: self.links.link(repository, blob.digest))

    def touch_link(self, repository: str, digest: str) -> bool:
        return self.links.touch(repository, digest)

    def unlink_blob(self, repository: str, digest: str) -> bool:
        return _retry_conflicts(lambda: self.links.drop(repository, digest))

    # -- manifests -------------------------------------------------------------------------
    def manifest(self, repository: str, digest: str) -> ManifestRecord | None:
        item = self._read(_repo(repository), f"MAN#{digest}")
        return self._record(digest, item) if item else None

    def tagged_manifest(self, repository: str, tag: str) -> ManifestRecord | None:
        item = self._read(_repo(repository), f"TAG#{tag}")
        if item is None:
            return None
        if "body" in item or "body_key" in item:  # a copy (or, written before, its S3 key)
            return self._record(item["digest"], item)
        record = self.manifest(repository, item["digest"])  # too big for a copy: a second read
        return replace(record, pulled_at=_pulled(item)) if record else None

    def manifest_info(self, repository: str, digest: str) -> ManifestInfo | None:
        item = self._read(_repo(repository), f"MAN#{digest}")
        if item is None:
            return None
        return ManifestInfo(digest, item["media_type"], int(item["size"]), _pulled(item))

    def tagged_manifest_info(self, repository: str, tag: str) -> ManifestInfo | None:
        item = self._read(_repo(repository), f"TAG#{tag}")
        if item is None:
            return None
        if "size" in item:
            size = int(item["size"])
        elif "body" in item:  # written before tag items had a size
            size = len(bytes(item["body"]))
        else:
            info = self.manifest_info(repository, item["digest"])
            return replace(info, pulled_at=_pulled(item)) if info else None
        return ManifestInfo(item["digest"], item["media_type"], size, _pulled(item))

    def record_pull(
        self, repository: str, digest: str, tag: str | None, at: float, stale_before: float
    ) -> bool:
        condition = (
            "attribute_exists(pk) AND (attribute_not_exists(pulled_at) OR pulled_at < :stale)"
        )
        values = {"at": Decimal(repr(at)), "stale": Decimal(repr(stale_before))}
        if tag is not None:  # a tag moved meanwhile keeps its new manifest's record
            condition += " AND digest = :digest"
            values["digest"] = digest
        sk = f"TAG#{tag}" if tag is not None else f"MAN#{digest}"
        try:
            self.db.update_item(
                TableName=self.table,
                Key=self._key(_repo(repository), sk),
                UpdateExpression="SET pulled_at = :at",
                ConditionExpression=condition,
                ExpressionAttributeValues=self._values(**values),
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def manifest_digests(self, repository: str, last: str | None, limit: int) -> list[str]:
        items = self._query(_repo(repository), "MAN#", last, limit)
        return [item["sk"][4:] for item in items]

    def _record(self, digest: str, item: dict[str, Any]) -> ManifestRecord:
        if "body_key" in item:
            body = self._read_body(digest, item["body_key"])
        else:
            body = bytes(item["body"])
        return ManifestRecord(
            digest=digest,
            media_type=item["media_type"],
            body=body,
            subject=item.get("subject"),
            artifact_type=item.get("artifact_type"),
            annotations=_annotations(body),
            pulled_at=_pulled(item),
        )

    def _read_body(self, digest: str, key: str) -> bytes:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            raise BodyMissing(digest) from None

    def _body_attributes(self, record: ManifestRecord, room: int) -> dict[str, Any]:
        """The body in the item if it fits in `room` bytes, else its key in S3."""
        if len(record.body) <= room:
            return {"body": record.body}
        if self.s3 is None:
            raise RuntimeError("manifests this big need the S3 bucket")
        key = f"manifests/{record.digest}"
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=record.body, ContentType=record.media_type
        )
        return {"body_key": key}

    def _restore_missing_body(self, existing: dict[str, Any], record: ManifestRecord) -> None:
        """A push of a manifest whose S3 body is lost (see BodyMissing) puts it back."""
        if "body_key" not in existing:
            return
        try:
            self.s3.head_object(Bucket=self.bucket, Key=existing["body_key"])
        except self.s3.exceptions.ClientError as error:
            if error.response["Error"].get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            self.s3.put_object(
                Bucket=self.bucket,
                Key=existing["body_key"],
                Body=record.body,
                ContentType=record.media_type,
            )

    def put_manifest(self, repository: str, write: ManifestWrite) -> None:
        _retry_conflicts(lambda: self._put_manifest(repository, write))

    def _put_manifest(self, repository: str, write: ManifestWrite) -> None:
        record, pk = write.record, _repo(repository)
        existing = self._get(pk, f"MAN#{record.digest}")
        if existing is not None:
            for tag in write.immutable_tags:  # before any tag moves: all or nothing
                _refuse_moving(tag, record, self._get(pk, f"TAG#{tag}"))
            self._restore_missing_body(existing, record)
            for tag in write.tags:
                self._set_tag(repository, tag, record, tag in write.immutable_tags)
            return
        olds = {tag: self._get(pk, f"TAG#{tag}") for tag in write.tags}
        for tag in write.immutable_tags:
            _refuse_moving(tag, record, olds[tag])
        quota = write.quota
        claim = quota and self.counts.claim(
            quota.namespace, repository, [*write.blobs], quota.limit
        )
        uses = [f"BLOB#{d}" for d in write.blobs] + [f"MAN#{d}" for d in write.children]
        kept_uses = uses if sum(len(sk) + 1 for sk in uses) <= USES_LIMIT else []
        room = INLINE_BODY_LIMIT - sum(len(sk) + 1 for sk in kept_uses)
        body = self._body_attributes(record, room)
        main = [self._put_new_manifest(pk, record, body, kept_uses, uses, write.tags, claim)]
        leaving: dict[str, set[str]] = {}  # manifest digest -> the tags moving off it
        for tag, old in olds.items():
            # Conditioned on `old`: a push that set the tag since fails it (then a retry).
            main.append(self._tag_put(pk, tag, record, old))
            if old is not None and old["digest"] != record.digest:
                leaving.setdefault(old["digest"], set()).add(tag)
        if record.subject:
            main.append({"Put": {"Item": self._referrer_item(pk, record)}})
        main.append({"Put": {"Item": self._item("CATALOG", pk)}})
        counted = claim.operations(self) if claim else []
        if len(uses) + len(leaving) + len(main) + len(counted) <= MAX_TRANSACTION_ITEMS:
            # One operation per item: a tag may move off a child this manifest counts (an
            # index pushed under its image's tag), so that child's count and tag set change in
            # one update; DynamoDB refuses two operations on one item in a transaction.
            counting = [self._count_use(pk, sk, +1, _pop_child(leaving, sk)) for sk in uses]
            untag = [self._tag_set(pk, d, tags, "DELETE") for d, tags in leaving.items()]
            self._run_manifest_transaction(counting + main + untag + counted, uses, claim)
            return
        main.extend(self._tag_set(pk, d, tags, "DELETE") for d, tags in leaving.items())
        if claim:
            self.counts.apply(claim)  # too many for one transaction: counted first
        try:
            self._count_in_batches(pk, uses)
            try:
                self._run_manifest_transaction(main, [])
            except BaseException:
                self._uncount(pk, uses)
                raise
        except BaseException:
            if claim:
                self.counts.release_apart(claim.namespace, claim.digests)
            raise

    def _run_manifest_transaction(
        self, operations: list[dict], uses: list[str], claim: Count | None = None
    ) -> None:
        failed = self._transact_contended(operations)
        if failed is None:
            return
        if failed < len(uses):
            kind, digest = uses[failed].split("#", 1)
            raise MissingReference(digest, "blob" if kind == "BLOB" else "manifest")
        if claim is not None and claim.total is not None and operations[failed] is claim.total:
            raise self.counts.exceeded(claim)
        raise _Conflict()

    def _count_use(
        self, pk: str, sk: str, delta: int, untag: set[str] | None = None
    ) -> dict[str, Any]:
        """Count a use of a blob or child manifest; also take `untag` out of its tag set. A
        use that ends touches the item: the GC's grace for an idle link counts from then."""
        expression, values = "SET refs = if_not_exists(refs, :zero) + :delta", {}
        if delta < 0:
            expression, values = f"{expression}, touched = :now", {"now": timestamp()}
        if untag:
            expression, values = f"{expression} DELETE tags :tag", {**values, "tag": untag}
        return {
            "Update": {
                "Key": self._key(pk, sk),
                "UpdateExpression": expression,
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": self._values(zero=0, delta=delta, **values),
            }
        }

    def _count_in_batches(self, pk: str, uses: list[str]) -> None:
        done: list[str] = []
        for start in range(0, len(uses), MAX_TRANSACTION_ITEMS):
            batch = uses[start : start + MAX_TRANSACTION_ITEMS]
            try:
                self._run_manifest_transaction([self._count_use(pk, sk, +1) for sk in batch], batch)
            except BaseException:
                self._uncount(pk, done)
                raise
            done.extend(batch)

    def _uncount(self, pk: str, uses: list[str]) -> None:
        for sk in uses:
            operation = self._count_use(pk, sk, -1)["Update"]
            try:
                self.db.update_item(TableName=self.table, **operation)
            except self.db.exceptions.ConditionalCheckFailedException:
                continue

    def _put_new_manifest(
        self,
        pk: str,
        record: ManifestRecord,
        body: dict[str, Any],
        kept_uses: list[str],
        uses: list[str],
        tags: tuple[str, ...],
        claim: Count | None,
    ) -> dict[str, Any]:
        item = self._item(
            pk,
            f"MAN#{record.digest}",
            media_type=record.media_type,
            size=len(record.body),
            subject=record.subject,
            artifact_type=record.artifact_type,
            uses=kept_uses or None,
            # Too many to keep: a delete reads them from the body (see _uses).
            uses_in_body=True if uses and not kept_uses else None,
            tags=set(tags) or None,
            # to the millisecond: retention orders images by it (imageCountMoreThan)
            created=Decimal(repr(round(time.time(), 3))),
            ns_counted=True if claim is not None else None,  # in its namespace's counts
            **body,
        )
        return {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def _referrer_item(self, pk: str, record: ManifestRecord) -> dict[str, Any]:
        annotations = json.dumps(record.annotations) if record.annotations else None
        big = annotations is not None and len(annotations) > INLINE_ANNOTATIONS_LIMIT
        return self._item(
            pk,
            f"REF#{record.subject}#{record.digest}",
            media_type=record.media_type,
            size=len(record.body),
            artifact_type=record.artifact_type,
            # Annotations too big for the item are read from the manifest when listed.
            annotations=None if big else annotations,
            annotations_in_body=True if big else None,
        )

    # -- tags ------------------------------------------------------------------------------
    def _tag_item(self, pk: str, tag: str, record: ManifestRecord) -> dict[str, Any]:
        small = len(record.body) <= TAG_BODY_LIMIT
        return self._item(
            pk,
            f"TAG#{tag}",
            digest=record.digest,
            media_type=record.media_type,
            size=len(record.body),
            body=record.body if small else None,
            # With the copy, what the manifest's record says, so a pull by tag reads it all.
            subject=record.subject if small else None,
            artifact_type=record.artifact_type if small else None,
        )

    def _tag_operations(
        self, pk: str, tag: str, record: ManifestRecord, old: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Point `tag` at `record` (whose MAN# item this transaction writes or updates)."""
        put = self._tag_put(pk, tag, record, old)
        if old is None or old["digest"] == record.digest:
            return [put]
        return [put, self._tag_set(pk, old["digest"], {tag}, "DELETE")]

    def _tag_put(
        self, pk: str, tag: str, record: ManifestRecord, old: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The TAG# item of `tag` pointing at `record`, if it still points where it did."""
        item = self._tag_item(pk, tag, record)
        if old is None:
            return {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
        return {
            "Put": {
                "Item": item,
                "ConditionExpression": "digest = :old",
                "ExpressionAttributeValues": self._values(old=old["digest"]),
            }
        }

    def _tag_set(self, pk: str, digest: str, tags: set[str], action: str) -> dict[str, Any]:
        condition, values = "attribute_exists(pk)", {"tag": tags}
        if action == "ADD":
            # The bound that keeps the item under 400 KB (module docstring).
            condition += " AND (attribute_not_exists(tags) OR size(tags) < :most)"
            values["most"] = MAX_TAGS_PER_MANIFEST
        return {
            "Update": {
                "Key": self._key(pk, f"MAN#{digest}"),
                "UpdateExpression": f"{action} tags :tag",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": self._values(**values),
            }
        }

    def _set_tag(
        self, repository: str, tag: str, record: ManifestRecord, immutable: bool = False
    ) -> None:
        """Point an existing tag or a new one at the stored manifest `record.digest`; an
        `immutable` one only if it is new (the write is conditioned on what was read)."""
        pk = _repo(repository)
        old = self._get(pk, f"TAG#{tag}")
        if immutable:
            _refuse_moving(tag, record, old)
        moved = old is None or old["digest"] != record.digest
        if not moved and not _old_tag_layout(old):
            return  # already so: no write
        operations = self._tag_operations(pk, tag, record, old)
        if moved:
            operations.append(self._tag_set(pk, record.digest, {tag}, "ADD"))
        failed = self._transact(operations)
        if failed is None:
            return
        if moved and failed == len(operations) - 1:
            manifest = self._get(pk, f"MAN#{record.digest}")
            if manifest is not None and len(manifest.get("tags", ())) >= MAX_TAGS_PER_MANIFEST:
                raise TooManyTags(record.digest)
        raise _Conflict()

    def delete_tag(self, repository: str, tag: str, immutable: bool = False) -> bool:
        pk = _repo(repository)
        old = self._get(pk, f"TAG#{tag}")
        if old is None:
            return False
        if immutable:
            raise TagImmutable(tag, old["digest"])
        failed = self._transact(
            [
                {
                    "Delete": {
                        "Key": self._key(pk, f"TAG#{tag}"),
                        "ConditionExpression": "digest = :d",
                        "ExpressionAttributeValues": self._values(d=old["digest"]),
                    }
                },
                self._tag_set(pk, old["digest"], {tag}, "DELETE"),
            ]
        )
        return failed is None or self.delete_tag(repository, tag, immutable)

    def tags(self, repository: str, last: str | None, limit: int) -> list[str]:
        items = self._read_list(_repo(repository), "TAG#", last, limit)
        return [item["sk"][4:] for item in items]

    # -- deletes ---------------------------------------------------------------------------
    def delete_manifest(
        self,
        repository: str,
        digest: str,
        protected: Callable[[str], bool] | None = None,
        tags: frozenset[str] | None = None,
    ) -> bool:
        return _retry_conflicts(lambda: self._delete_manifest(repository, digest, protected, tags))

    def _delete_manifest(
        self,
        repository: str,
        digest: str,
        protected: Callable[[str], bool] | None,
        expected: frozenset[str] | None = None,
    ) -> bool:
        pk = _repo(repository)
        item = self._get(pk, f"MAN#{digest}")
        if item is None:
            return False
        if int(item.get("refs", 0)) > 0:
            raise StillReferenced()
        tags = set(item.get("tags", set()))
        if expected is not None and tags != expected:
            raise TagsChanged(digest)  # the condition below holds it to this set
        # The delete is conditioned on this very set (`tags = :tags`): a tag added since fails
        # it, and the retry judges the new set.
        for tag in sorted(tags):
            if protected is not None and protected(tag):
                raise TagImmutable(tag, digest)
        condition = "(attribute_not_exists(refs) OR refs <= :zero) AND "
        condition += "tags = :tags" if tags else "attribute_not_exists(tags)"
        # and counted in its namespace as read (a quota's first count may mark it meanwhile)
        condition += " AND " + (
            "ns_counted = :t" if item.get("ns_counted") else "attribute_not_exists(ns_counted)"
        )
        values = self._values(
            zero=0,
            **({"tags": tags} if tags else {}),
            **({"t": True} if item.get("ns_counted") else {}),
        )
        operations = [
            {
                "Delete": {
                    "Key": self._key(pk, f"MAN#{digest}"),
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        operations += [{"Delete": {"Key": self._key(pk, f"TAG#{tag}")}} for tag in sorted(tags)]
        if item.get("subject"):
            operations.append({"Delete": {"Key": self._key(pk, f"REF#{item['subject']}#{digest}")}})
        uses = self._uses(digest, item)
        blobs = [sk.removeprefix("BLOB#") for sk in uses if sk.startswith("BLOB#")]
        namespace, in_counts = namespace_of(repository), bool(item.get("ns_counted"))
        # Its namespace's counts: a use per blob and the total, read only if they fit.
        counts = len(blobs) + 1 if in_counts else 0
        inline = len(operations) + len(uses) + counts <= MAX_TRANSACTION_ITEMS
        if inline:
            operations += [self._count_use(pk, sk, -1) for sk in uses]
            if in_counts:
                operations += self.counts.release(namespace, blobs).operations(self)
        if self._transact_contended(operations) is not None:
            raise _Conflict()
        if not inline:  # counted too high until here: safe, never too low
            self._uncount(pk, uses)
            if in_counts:
                self.counts.release_apart(namespace, blobs)
        self._forget_repository_if_empty(pk)
        return True

    def _uses(self, digest: str, item: dict[str, Any]) -> list[str]:
        """The sort keys a manifest item counts in `refs`: kept, or read from its body."""
        if not item.get("uses_in_body"):
            return list(item.get("uses", []))
        manifest = parse_manifest(self._record(digest, item).body, item["media_type"])
        blobs = dict.fromkeys(f"BLOB#{blob.digest}" for blob in manifest.blobs)
        return [*blobs, *dict.fromkeys(f"MAN#{child.digest}" for child in manifest.children)]

    def _forget_repository_if_empty(self, pk: str) -> None:
        if next(self._query(pk, "MAN#", None, 1), None) is None:
            self.db.delete_item(TableName=self.table, Key=self._key("CATALOG", pk))

    # -- listings --------------------------------------------------------------------------
    def repository_exists(self, repository: str) -> bool:
        return self._read("CATALOG", _repo(repository)) is not None

    def repositories(self, last: str | None, limit: int) -> list[str]:
        return [item["sk"][2:] for item in self._read_list("CATALOG", "R#", last, limit)]

    def referrers(self, repository: str, subject: str) -> list[Referrer]:
        prefix = f"REF#{subject}#"
        found = []
        for item in self._read_list(_repo(repository), prefix, None, 10000):
            digest = item["sk"][len(prefix) :]
            if item.get("annotations_in_body"):
                manifest = self.manifest(repository, digest)
                annotations = manifest.annotations if manifest else {}
            else:
                annotations = json.loads(item.get("annotations", "{}"))
            found.append(
                Referrer(
                    digest,
                    item["media_type"],
                    int(item["size"]),
                    item.get("artifact_type"),
                    annotations,
                )
            )
        return found

    # -- upload sessions -------------------------------------------------------------------
    def _upload_item(self, session: UploadSession) -> dict[str, Any]:
        return self._item(
            _repo(session.repository),
            f"UPLOAD#{session.upload_id}",
            size=session.size,
            version=session.version,
            state=json.dumps(session.state),
            started=Decimal(str(session.started_at)),
            expires_at=int(session.started_at) + UPLOAD_TTL_SECONDS,
        )

    def create_upload(self, session: UploadSession) -> None:
        self.db.put_item(
            TableName=self.table,
            Item=self._upload_item(session),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def upload(self, repository: str, upload_id: str) -> UploadSession | None:
        item = self._get(_repo(repository), f"UPLOAD#{upload_id}")
        if item is None or int(item["expires_at"]) < time.time():
            return None  # TTL deletes lag behind: an expired session is gone already
        return UploadSession(
            repository,
            upload_id,
            int(item["size"]),
            int(item["version"]),
            json.loads(item["state"]),
            float(item["started"]),
        )

    def update_upload(self, session: UploadSession) -> bool:
        try:
            self.db.put_item(
                TableName=self.table,
                Item=self._upload_item(session),
                ConditionExpression="version = :previous",
                ExpressionAttributeValues=self._values(previous=session.version - 1),
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def delete_upload(self, repository: str, upload_id: str) -> None:
        self.db.delete_item(
            TableName=self.table, Key=self._key(_repo(repository), f"UPLOAD#{upload_id}")
        )

    # -- blobs being verified --------------------------------------------------------------
    def mark_pending(self, repository: str, digest: str, upload_id: str) -> None:
        self.db.put_item(
            TableName=self.table,
            Item=self._item(
                _repo(repository),
                f"PENDING#{digest}",
                upload_id=upload_id,
                # A verifier that died leaves the marker; the TTL removes it with the session.
                expires_at=int(time.time()) + UPLOAD_TTL_SECONDS,
            ),
        )

    def clear_pending(self, repository: str, digest: str) -> None:
        self.db.delete_item(
            TableName=self.table, Key=self._key(_repo(repository), f"PENDING#{digest}")
        )

    def is_pending(self, repository: str, digest: str) -> bool:
        item = self._get(_repo(repository), f"PENDING#{digest}")
        return item is not None and int(item["expires_at"]) >= time.time()

    def upload_exists(self, upload_id: str) -> bool:
        return True  # only asked for bytes the BlobStore lists; S3 lists none (lifecycle rules)

    def uploads_started_before(self, cutoff: float) -> list[UploadSession]:
        return []  # the table's TTL removes old sessions, the bucket's lifecycle their bytes

    # -- direct uploads a namespace holds open ---------------------------------------------
    def direct_reservations(self, namespace: str) -> tuple[list[Reservation], int]:
        item = self._get(f"QUOTA#{namespace}", "DIRECT")
        if item is None:
            return [], 0
        held = [Reservation(*entry) for entry in json.loads(item["held"])]
        return held, int(item["version"])

    def save_direct_reservations(
        self, namespace: str, reservations: list[Reservation], version: int
    ) -> bool:
        held = [[r.upload_id, r.repository, r.size, r.expires_at] for r in reservations]
        condition = "attribute_not_exists(pk)" if version == 0 else "version = :previous"
        try:
            self.db.put_item(
                TableName=self.table,
                Item=self._item(
                    f"QUOTA#{namespace}", "DIRECT", held=json.dumps(held), version=version + 1
                ),
                ConditionExpression=condition,
                **(
                    {"ExpressionAttributeValues": self._values(previous=version)} if version else {}
                ),
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _pulled(item: dict[str, Any]) -> float | None:
    return float(item["pulled_at"]) if "pulled_at" in item else None


def _refuse_moving(tag: str, record: ManifestRecord, old: dict[str, Any] | None) -> None:
    """An immutable tag may be set where it is not yet, or again on the manifest it names."""
    if old is not None and old["digest"] != record.digest:
        raise TagImmutable(tag, old["digest"])


def _old_tag_layout(item: dict[str, Any]) -> bool:
    """A tag item written before tag items were kept small: rewrite it when tagged again."""
    body = bytes(item.get("body", b""))
    return "body_key" in item or "size" not in item or len(body) > TAG_BODY_LIMIT


def _annotations(body: bytes) -> dict[str, str]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    annotations = document.get("annotations") if isinstance(document, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def _pop_child(leaving: dict[str, set[str]], sk: str) -> set[str] | None:
    """The tags moving off the child manifest `sk` names (None for a blob)."""
    return leaving.pop(sk.removeprefix("MAN#"), None) if sk.startswith("MAN#") else None
