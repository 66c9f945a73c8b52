"""MetadataStore on one DynamoDB table: one item per fact, conditional writes and transactions
for every read-modify-write, no Scan.

Items (pk, sk):
  R#<repo>  BLOB#<digest>         the repository's link to a blob: size, key, refs
  R#<repo>  MAN#<digest>          a manifest: media type, body (or body_key in S3 when too big
                                  for an item), subject, artifact type, annotations, uses (the
                                  sort keys it references), tags (a string set), refs
  R#<repo>  TAG#<tag>             a tag: digest plus a copy of the manifest, so a pull by tag
                                  is one read
  R#<repo>  REF#<subject>#<digest> a referrer of `subject`
  R#<repo>  UPLOAD#<id>           an upload session: size, version, state; TTL expires_at
  R#<repo>  PENDING#<digest>      a direct upload of the blob is being verified; TTL expires_at
  B#<digest> BLOB                 the blob itself: size and storage key
  CATALOG   R#<repo>              the repository has manifests
  (users, teams, public marks and access tokens: see dynamodb_identities.py)

`refs` counts the manifests that use a blob or child manifest: a manifest write raises it in
the same transaction that checks the target exists, and a delete of a target whose count is
not zero is refused, so no manifest ever points at something missing. A tag write updates the
manifest's `tags` set in the same transaction, and a manifest delete is conditioned on that
set, so a tag can never be left pointing at a deleted manifest.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

from .ports import (
    BlobRecord,
    Contention,
    ManifestRecord,
    ManifestWrite,
    MissingReference,
    Referrer,
    StillReferenced,
    UploadSession,
)

INLINE_BODY_LIMIT = 256 * 1024  # larger manifests go to S3; an item stops at 400 KB
INLINE_ANNOTATIONS_LIMIT = 64 * 1024
MAX_TRANSACTION_ITEMS = 100
UPLOAD_TTL_SECONDS = 7 * 24 * 3600
CONFLICT_RETRIES = 8


T = TypeVar("T")


def _retry_conflicts(attempt: Callable[[], T]) -> T:
    """Run a read-then-transact `attempt` again, after a jittered pause, while another writer
    wins the race for the same items."""
    for retry in range(CONFLICT_RETRIES):
        try:
            return attempt()
        except _Conflict:
            time.sleep(random.uniform(0, 0.02 * 2**retry))
    raise Contention()


def _repo(repository: str) -> str:
    return f"R#{repository}"


class _Conflict(Exception):
    """Another writer changed an item this transaction read; start again."""


class DynamoMetadataStore:
    def __init__(
        self, dynamodb: Any, table: str, s3: Any | None = None, bucket: str | None = None
    ) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.db = dynamodb
        self.table = table
        self.s3 = s3
        self.bucket = bucket
        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize

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

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        reply = self.db.get_item(TableName=self.table, Key=self._key(pk, sk), ConsistentRead=True)
        return self._plain(reply["Item"]) if "Item" in reply else None

    def _query(self, pk: str, prefix: str, after: str | None, limit: int) -> Iterator[dict]:
        """Items of partition `pk` whose sort key starts with `prefix`, after `prefix+after`."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": self._values(pk=pk, prefix=prefix),
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after:
            request["ExclusiveStartKey"] = self._key(pk, prefix + after)
        yielded = 0
        while yielded < limit:
            reply = self.db.query(**request)
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

    # -- blobs -----------------------------------------------------------------------------
    def blob(self, repository: str, digest: str) -> BlobRecord | None:
        item = self._get(_repo(repository), f"BLOB#{digest}")
        if item is None or "size" not in item:
            return None
        return BlobRecord(digest, int(item["size"]), item.get("key", ""))

    def any_blob(self, digest: str) -> BlobRecord | None:
        item = self._get(f"B#{digest}", "BLOB")
        return BlobRecord(digest, int(item["size"]), item.get("key", "")) if item else None

    def add_blob(self, repository: str, blob: BlobRecord) -> None:
        self.db.put_item(
            TableName=self.table,
            Item=self._item(
                f"B#{blob.digest}",
                "BLOB",
                size=blob.size,
                key=blob.key,
                created=Decimal(int(time.time())),
            ),
        )
        self.link_blob(repository, blob)

    def link_blob(self, repository: str, blob: BlobRecord) -> None:
        # An update, not a put: a link that manifests already count keeps its `refs`.
        self.db.update_item(
            TableName=self.table,
            Key=self._key(_repo(repository), f"BLOB#{blob.digest}"),
            UpdateExpression="SET #size = :size, #key = :key",
            ExpressionAttributeNames={"#size": "size", "#key": "key"},
            ExpressionAttributeValues=self._values(size=blob.size, key=blob.key),
        )

    def unlink_blob(self, repository: str, digest: str) -> bool:
        return self._delete_unreferenced(repository, f"BLOB#{digest}", "a manifest")

    def _delete_unreferenced(self, repository: str, sk: str, user: str) -> bool:
        try:
            self.db.delete_item(
                TableName=self.table,
                Key=self._key(_repo(repository), sk),
                ConditionExpression="attribute_exists(pk) AND"
                " (attribute_not_exists(refs) OR refs <= :zero)",
                ExpressionAttributeValues=self._values(zero=0),
            )
        except self.db.exceptions.ConditionalCheckFailedException:
            if self._get(_repo(repository), sk) is None:
                return False
            raise StillReferenced(f"{user} in {repository}") from None
        return True

    # -- manifests -------------------------------------------------------------------------
    def manifest(self, repository: str, digest: str) -> ManifestRecord | None:
        item = self._get(_repo(repository), f"MAN#{digest}")
        return self._record(digest, item) if item else None

    def tagged_manifest(self, repository: str, tag: str) -> ManifestRecord | None:
        item = self._get(_repo(repository), f"TAG#{tag}")
        return self._record(item["digest"], item) if item else None

    def _record(self, digest: str, item: dict[str, Any]) -> ManifestRecord:
        if "body_key" in item:
            body = self.s3.get_object(Bucket=self.bucket, Key=item["body_key"])["Body"].read()
        else:
            body = bytes(item["body"])
        return ManifestRecord(
            digest=digest,
            media_type=item["media_type"],
            body=body,
            subject=item.get("subject"),
            artifact_type=item.get("artifact_type"),
            annotations=_annotations(body),
        )

    def _body_attributes(self, record: ManifestRecord) -> dict[str, Any]:
        if len(record.body) <= INLINE_BODY_LIMIT:
            return {"body": record.body}
        if self.s3 is None:
            raise RuntimeError("manifests over 256 KiB need the S3 bucket")
        key = f"manifests/{record.digest}"
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=record.body, ContentType=record.media_type
        )
        return {"body_key": key}

    def put_manifest(self, repository: str, write: ManifestWrite) -> None:
        _retry_conflicts(lambda: self._put_manifest(repository, write))

    def _put_manifest(self, repository: str, write: ManifestWrite) -> None:
        record, pk = write.record, _repo(repository)
        existing = self._get(pk, f"MAN#{record.digest}")
        if existing is not None:
            # The stored manifest's body or S3 key: a big body is not uploaded again per tag.
            stored = {"body_key": existing["body_key"]} if "body_key" in existing else None
            for tag in write.tags:
                self._set_tag(repository, tag, record, stored)
            return
        body = self._body_attributes(record)
        uses = [f"BLOB#{d}" for d in write.blobs] + [f"MAN#{d}" for d in write.children]
        counting = [self._count_use(pk, sk, +1) for sk in uses]
        main = [self._put_new_manifest(pk, record, body, uses, write.tags)]
        old_tags = {tag: self._get(pk, f"TAG#{tag}") for tag in write.tags}
        for tag, old in old_tags.items():
            main.extend(self._tag_operations(pk, tag, record.digest, body, record, old))
        if record.subject:
            main.append({"Put": {"Item": self._referrer_item(pk, record)}})
        main.append({"Put": {"Item": self._item("CATALOG", pk)}})
        if len(counting) + len(main) <= MAX_TRANSACTION_ITEMS:
            self._run_manifest_transaction(counting + main, uses)
            return
        self._count_in_batches(pk, uses)
        try:
            self._run_manifest_transaction(main, [])
        except BaseException:
            self._uncount(pk, uses)
            raise

    def _run_manifest_transaction(self, operations: list[dict], uses: list[str]) -> None:
        failed = self._transact(operations)
        if failed is None:
            return
        if failed < len(uses):
            kind, digest = uses[failed].split("#", 1)
            raise MissingReference(digest, "blob" if kind == "BLOB" else "manifest")
        raise _Conflict()

    def _count_use(self, pk: str, sk: str, delta: int) -> dict[str, Any]:
        return {
            "Update": {
                "Key": self._key(pk, sk),
                "UpdateExpression": "SET refs = if_not_exists(refs, :zero) + :delta",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": self._values(zero=0, delta=delta),
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
        uses: list[str],
        tags: tuple[str, ...],
    ) -> dict[str, Any]:
        item = self._item(
            pk,
            f"MAN#{record.digest}",
            media_type=record.media_type,
            size=len(record.body),
            subject=record.subject,
            artifact_type=record.artifact_type,
            uses=uses or None,
            tags=set(tags) or None,
            created=Decimal(int(time.time())),
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
    def _tag_operations(
        self,
        pk: str,
        tag: str,
        digest: str,
        body: dict[str, Any],
        record: ManifestRecord,
        old: dict[str, Any] | None,
    ) -> list[dict[str, Any]]:
        """Point `tag` at `digest` (whose MAN# item this transaction writes or updates)."""
        item = self._item(pk, f"TAG#{tag}", digest=digest, media_type=record.media_type, **body)
        if old is None:
            return [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}]
        put = {
            "Put": {
                "Item": item,
                "ConditionExpression": "digest = :old",
                "ExpressionAttributeValues": self._values(old=old["digest"]),
            }
        }
        if old["digest"] == digest:
            return [put]
        return [put, self._tag_set(pk, old["digest"], tag, "DELETE")]

    def _tag_set(self, pk: str, digest: str, tag: str, action: str) -> dict[str, Any]:
        return {
            "Update": {
                "Key": self._key(pk, f"MAN#{digest}"),
                "UpdateExpression": f"{action} tags :tag",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": self._values(tag={tag}),
            }
        }

    def _set_tag(
        self, repository: str, tag: str, record: ManifestRecord, body: dict[str, Any] | None
    ) -> None:
        """Point an existing tag or a new one at the stored manifest `record.digest`, whose
        body attributes are `body` (None: derived from the record)."""
        pk = _repo(repository)
        old = self._get(pk, f"TAG#{tag}")
        if old is not None and old["digest"] == record.digest:
            return  # already so: no write
        body = body or self._body_attributes(record)
        operations = self._tag_operations(pk, tag, record.digest, body, record, old)
        operations.append(self._tag_set(pk, record.digest, tag, "ADD"))
        if self._transact(operations) is not None:
            raise _Conflict()

    def delete_tag(self, repository: str, tag: str) -> bool:
        pk = _repo(repository)
        old = self._get(pk, f"TAG#{tag}")
        if old is None:
            return False
        failed = self._transact(
            [
                {
                    "Delete": {
                        "Key": self._key(pk, f"TAG#{tag}"),
                        "ConditionExpression": "digest = :d",
                        "ExpressionAttributeValues": self._values(d=old["digest"]),
                    }
                },
                self._tag_set(pk, old["digest"], tag, "DELETE"),
            ]
        )
        return failed is None or self.delete_tag(repository, tag)

    def tags(self, repository: str, last: str | None, limit: int) -> list[str]:
        items = self._query(_repo(repository), "TAG#", last, limit)
        return [item["sk"][4:] for item in items]

    # -- deletes ---------------------------------------------------------------------------
    def delete_manifest(self, repository: str, digest: str) -> bool:
        return _retry_conflicts(lambda: self._delete_manifest(repository, digest))

    def _delete_manifest(self, repository: str, digest: str) -> bool:
        pk = _repo(repository)
        item = self._get(pk, f"MAN#{digest}")
        if item is None:
            return False
        if int(item.get("refs", 0)) > 0:
            raise StillReferenced(f"an index in {repository}")
        tags = set(item.get("tags", set()))
        condition = "(attribute_not_exists(refs) OR refs <= :zero) AND "
        condition += "tags = :tags" if tags else "attribute_not_exists(tags)"
        values = self._values(zero=0, **({"tags": tags} if tags else {}))
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
        uses = list(item.get("uses", []))
        inline = uses if len(operations) + len(uses) <= MAX_TRANSACTION_ITEMS else []
        operations += [self._count_use(pk, sk, -1) for sk in inline]
        if self._transact(operations) is not None:
            raise _Conflict()
        if not inline:
            self._uncount(pk, uses)  # counted too high until here: safe, never too low
        self._forget_repository_if_empty(pk)
        return True

    def _forget_repository_if_empty(self, pk: str) -> None:
        if next(self._query(pk, "MAN#", None, 1), None) is None:
            self.db.delete_item(TableName=self.table, Key=self._key("CATALOG", pk))

    # -- listings --------------------------------------------------------------------------
    def repository_exists(self, repository: str) -> bool:
        return self._get("CATALOG", _repo(repository)) is not None

    def repositories(self, last: str | None, limit: int) -> list[str]:
        return [item["sk"][2:] for item in self._query("CATALOG", "R#", last, limit)]

    def referrers(self, repository: str, subject: str) -> list[Referrer]:
        prefix = f"REF#{subject}#"
        found = []
        for item in self._query(_repo(repository), prefix, None, 10000):
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


def _annotations(body: bytes) -> dict[str, str]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    annotations = document.get("annotations") if isinstance(document, dict) else None
    return annotations if isinstance(annotations, dict) else {}
