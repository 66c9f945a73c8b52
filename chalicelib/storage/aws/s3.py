"""BlobStore on S3.

An upload becomes one S3 object, `blobs/<upload id>`, assembled as a multipart upload: the
bytes of each request are hashed and appended to a pending buffer; whenever it reaches
`part_size` it is sent as one part. Bytes still pending when a request ends (less than a part:
S3 wants at least 5 MiB for every part but the last) wait in a temporary object
`uploads/<upload id>/tail-<random>` for the next request. The session state carries the
multipart upload id, the parts' ETags, the tail's key and the saved sha256/sha512 states, so
finishing verifies the digest without reading the object back. The blob record then points at
the object's key: no copy to a content-addressed key (CopyObject stops at 5 GB and costs a
full read and write).

Requests to the same upload never share an S3 key: a part number is written again only by a
request whose session update will then fail, and CompleteMultipartUpload, given the ETags the
session recorded, refuses a part that was overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from typing import Any, BinaryIO

from ...oci.digest import Digest
from ..ports import (
    BlobBody,
    BlobRecord,
    DigestMismatch,
    PartDenied,
    PartInfo,
    PartsInvalid,
    PartUrl,
    body_blocks,
)
from . import resumable_hash

MiB = 1 << 20
READ_BLOCK = MiB
# Lifetime of a presigned GET URL (a pull's 307). Short, because the URL keeps working after
# the blob is deleted until it expires (reclaiming the bytes is the lifecycle GC's business).
# S3 checks the expiry when a request starts, so a download in progress is not cut off, and
# clients ask the registry for a new URL for each pull or retry.
PRESIGN_EXPIRES = 300
ALGORITHMS = ("sha256", "sha512")


class S3BlobStore:
    def __init__(
        self,
        s3: Any,
        bucket: str,
        *,
        presign_expires: int = PRESIGN_EXPIRES,
        part_size: int = 8 * MiB,
        resumable: bool | None = None,
    ) -> None:
        if part_size < 5 * MiB:
            raise ValueError("S3 parts other than the last must be at least 5 MiB")
        self.s3 = s3
        self.bucket = bucket
        self.presign_expires = presign_expires
        self.part_size = part_size
        self.resumable = resumable_hash.available() if resumable is None else resumable

    # -- uploads ---------------------------------------------------------------------------
    def append(
        self,
        upload_id: str,
        state: dict[str, Any],
        offset: int,
        body: BinaryIO,
        length: int | None,
        last: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        state = _with_defaults(upload_id, state)
        self._delete_stale(state)
        hashes = self._hashes(state, offset)
        pending = bytearray(self._read_tail(state))
        written = 0
        for block in body_blocks(body, length, READ_BLOCK):
            written += len(block)
            for hasher in hashes.values():
                hasher.update(block)
            pending += block
            if len(pending) >= self.part_size:
                self._upload_part(state, pending)
                pending = bytearray()
        if written == 0:
            return 0, state
        if last:
            self._write_last(state, pending)
        else:
            self._replace_tail(upload_id, state, pending)
        if hashes:
            state["hash"] = {name: hasher.state() for name, hasher in hashes.items()}
        return written, state

    def _hashes(self, state: dict[str, Any], offset: int) -> dict[str, Any]:
        if not self.resumable or (offset and "hash" not in state):
            return {}
        saved = state.get("hash", {})
        return {name: resumable_hash.ResumableHash(name, saved.get(name)) for name in ALGORITHMS}

    def _read_tail(self, state: dict[str, Any]) -> bytes:
        if not state.get("tail"):
            return b""
        return self.s3.get_object(Bucket=self.bucket, Key=state["tail"])["Body"].read()

    def _upload_part(self, state: dict[str, Any], data: bytearray) -> None:
        if "mpu" not in state:
            created = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=state["key"], ContentType="application/octet-stream"
            )
            state["mpu"] = created["UploadId"]
        number = len(state["parts"]) + 1
        reply = self.s3.upload_part(
            Bucket=self.bucket,
            Key=state["key"],
            UploadId=state["mpu"],
            PartNumber=number,
            Body=bytes(data),
        )
        state["parts"] = [*state["parts"], {"n": number, "etag": reply["ETag"]}]

    def _replace_tail(self, upload_id: str, state: dict[str, Any], pending: bytearray) -> None:
        _retire_tail(state)
        state["tail"] = None
        if pending:
            state["tail"] = f"uploads/{upload_id}/tail-{secrets.token_hex(6)}"
            self.s3.put_object(Bucket=self.bucket, Key=state["tail"], Body=bytes(pending))

    def _write_last(self, state: dict[str, Any], pending: bytearray) -> None:
        """The upload's last bytes: no tail object, the object (or its last part) at once."""
        _retire_tail(state)
        if "mpu" in state:
            if pending:
                self._upload_part(state, pending)
            return
        self.s3.put_object(
            Bucket=self.bucket,
            Key=state["key"],
            Body=bytes(pending),
            ContentType="application/octet-stream",
        )
        state["assembled"] = True

    def _delete_stale(self, state: dict[str, Any]) -> None:
        for key in state.pop("stale", []):
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def finish(self, upload_id: str, state: dict[str, Any], size: int, digest: Digest) -> str:
        state = _with_defaults(upload_id, state)
        try:
            return self._finish(upload_id, state, size, digest)
        except self.s3.exceptions.NoSuchUpload:
            raise FileNotFoundError(state["key"]) from None
        except self.s3.exceptions.NoSuchKey:
            raise FileNotFoundError(state["key"]) from None

    def _finish(self, upload_id: str, state: dict[str, Any], size: int, digest: Digest) -> str:
        self._delete_stale(state)
        saved = state.get("hash", {}).get(digest.algorithm)
        if saved is not None or size == 0:
            actual = _digest_of_state(digest.algorithm, saved)
            if actual != digest:
                self.discard(upload_id, state)
                if state.get("assembled"):
                    self.s3.delete_object(Bucket=self.bucket, Key=state["key"])
                raise DigestMismatch(actual)
        if not state.get("assembled"):
            self._assemble(state)
        if saved is None and size:
            self._check_object(state["key"], digest)
        return state["key"]

    def _assemble(self, state: dict[str, Any]) -> None:
        """Turn the parts and the tail into the object `state["key"]`."""
        key, tail = state["key"], state.get("tail")
        if "mpu" not in state:
            if tail:
                source = {"Bucket": self.bucket, "Key": tail}
                self.s3.copy_object(
                    Bucket=self.bucket,
                    Key=key,
                    CopySource=source,
                    ContentType="application/octet-stream",
                    MetadataDirective="REPLACE",
                )
            else:
                self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=b"", ContentType="application/octet-stream"
                )
        else:
            if tail:
                self._upload_part(state, bytearray(self._read_tail(state)))
            parts = [{"PartNumber": p["n"], "ETag": p["etag"]} for p in state["parts"]]
            self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=state["mpu"],
                MultipartUpload={"Parts": parts},
            )
        if tail:
            self.s3.delete_object(Bucket=self.bucket, Key=tail)

    def _check_object(self, key: str, digest: Digest) -> None:
        """Read the object back and hash it; if it is not `digest`, delete it and raise
        DigestMismatch."""
        hasher = hashlib.new(digest.algorithm)
        stream = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        for block in iter(lambda: stream.read(8 * MiB), b""):
            hasher.update(block)
        actual = Digest(digest.algorithm, hasher.hexdigest())
        if actual != digest:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
            raise DigestMismatch(actual)

    def discard(self, upload_id: str, state: dict[str, Any]) -> None:
        self._delete_stale(state)
        if state.get("mpu"):
            with contextlib.suppress(self.s3.exceptions.NoSuchUpload):
                # Completed (this is the clean-up after finish) or aborted already.
                self.s3.abort_multipart_upload(
                    Bucket=self.bucket,
                    Key=state.get("key", object_key(upload_id)),
                    UploadId=state["mpu"],
                )
        if state.get("tail"):
            self.s3.delete_object(Bucket=self.bucket, Key=state["tail"])

    def upload_ids(self, untouched_since: float | None = None) -> list[str]:
        # Abandoned bytes go by the bucket's lifecycle rules (uploads/ prefix, incomplete
        # multipart uploads), not by listing the bucket.
        return []

    # -- direct uploads: the client PUTs parts to presigned UploadPart URLs -----------------
    def start_parts(self, upload_id: str) -> dict[str, Any]:
        key = object_key(upload_id)
        created = self.s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType="application/octet-stream"
        )
        return {"key": key, "mpu": created["UploadId"], "parts": []}

    def part_url(
        self,
        upload_id: str,
        state: dict[str, Any],
        number: int,
        expires_at: int,
        base_url: str,
        *,
        size: int,
    ) -> PartUrl:
        # ContentLength puts content-length among the URL's signed headers: S3 refuses the
        # PUT (SignatureDoesNotMatch) unless the body is exactly the part's size.
        url = self.s3.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": state["key"],
                "UploadId": state["mpu"],
                "PartNumber": number,
                "ContentLength": size,
            },
            ExpiresIn=max(expires_at - int(time.time()), 1),
        )
        return PartUrl(url, {"Content-Length": str(size)})

    def receive_part(
        self, upload_id: str, number: int, query: dict[str, str], body: BinaryIO, length: int | None
    ) -> str:
        raise PartDenied("this registry's parts go to S3, through the URLs it hands out")

    def received_parts(self, upload_id: str, state: dict[str, Any]) -> list[PartInfo]:
        found: list[PartInfo] = []
        marker = 0
        while True:
            try:
                reply = self.s3.list_parts(
                    Bucket=self.bucket,
                    Key=state["key"],
                    UploadId=state["mpu"],
                    PartNumberMarker=marker,
                )
            except self.s3.exceptions.NoSuchUpload:
                return found  # completed or aborted
            found += [
                PartInfo(p["PartNumber"], p["ETag"], p["Size"]) for p in reply.get("Parts", [])
            ]
            if not reply.get("IsTruncated"):
                return found
            marker = int(reply["NextPartNumberMarker"])

    def complete_parts(
        self, upload_id: str, state: dict[str, Any], parts: list[tuple[int, str]]
    ) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=state["key"],
                UploadId=state["mpu"],
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
            )
        except self.s3.exceptions.NoSuchUpload:
            raise FileNotFoundError(state["key"]) from None
        except ClientError as error:  # InvalidPart, InvalidPartOrder, EntityTooSmall
            raise PartsInvalid(error.response["Error"].get("Message", str(error))) from None
        return {**state, "assembled": True}

    def verify_parts(self, upload_id: str, state: dict[str, Any], digest: Digest) -> str:
        self._check_object(state["key"], digest)
        return state["key"]

    # -- blobs -----------------------------------------------------------------------------
    def body(self, blob: BlobRecord, offset: int, length: int) -> BlobBody:
        url = self.s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": blob.key},
            ExpiresIn=self.presign_expires,
        )
        return BlobBody(redirect_url=url, offset=offset, length=length)

    def remove(self, blob: BlobRecord) -> None:
        self.delete_object(blob.key)

    def delete_object(self, key: str) -> None:
        """Delete `key` (idempotent: S3 answers a delete of a missing key like any other). The
        bucket is versioned, so the bytes stay recoverable until the lifecycle rule expires
        noncurrent versions (provision.py)."""
        self.s3.delete_object(Bucket=self.bucket, Key=key)


def object_key(upload_id: str) -> str:
    """The object an upload becomes, and so its blob's storage key."""
    return f"blobs/{upload_id}"


def _with_defaults(upload_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """The session state of a v2 upload, with what its first request sets."""
    return {"key": object_key(upload_id), "parts": [], **state}


def _retire_tail(state: dict[str, Any]) -> None:
    # The old tail is still the committed session's until the caller saves this state, so
    # it is only marked stale here and deleted by the next call.
    if state.get("tail"):
        state["stale"] = [*state.get("stale", []), state["tail"]]
        state["tail"] = None


def _digest_of_state(algorithm: str, saved: str | None) -> Digest:
    if saved is None:  # an empty upload
        return Digest(algorithm, hashlib.new(algorithm).hexdigest())
    return Digest(algorithm, resumable_hash.ResumableHash(algorithm, saved).hexdigest())
