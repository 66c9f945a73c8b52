"""BlobStore over one bucket per region: uploads stay in the bucket they started in, pulls
go to the nearest bucket that holds a copy.

An upload's bytes go to the bucket of the region that receives its first bytes (the first
append, or start_parts for a direct upload), and its session state records that region. An S3
multipart upload lives in one bucket, so every later call on the upload (more appends,
finish, discard, part URLs, the parts' listing, complete and verify) uses the recorded
region's bucket and client, whichever region's endpoint DNS sent the request to: an upload
never fails because it moved. Finishing records the copy (copies.py); S3 replication makes
the others, and the `blob_copies` function records them.

A pull redirects to the local bucket when the blob's record lists the local region, else to
the primary's if it holds a copy, else to the first region that does; a blob stored before
there were several regions lists none, and is in the primary's bucket. No S3 call decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, BinaryIO

from ....oci.digest import Digest
from ...ports import BlobBody, BlobRecord, DigestMismatch, PartInfo, PartUrl
from ..s3 import S3BlobStore, object_key
from .copies import BlobCopies

REGION = "region"  # the session state's attribute naming the upload's region


class UnknownRegion(RuntimeError):
    """An upload recorded a region whose bucket this registry is not configured with."""


class RegionalBlobStore:
    def __init__(
        self,
        stores: Mapping[str, S3BlobStore],
        local_region: str,
        primary_region: str,
        copies: BlobCopies,
    ) -> None:
        self.stores = dict(stores)
        self.local_region, self.primary_region = local_region, primary_region
        self.copies = copies

    def _region(self, state: dict[str, Any]) -> str:
        return str(state.get(REGION) or self.local_region)

    def _store(self, region: str) -> S3BlobStore:
        try:
            return self.stores[region]
        except KeyError:
            raise UnknownRegion(
                f"an upload is in region {region}, whose bucket is not configured here"
                " (SOUTE_S3_BUCKETS, --region-bucket)"
            ) from None

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
        region = self._region(state)
        written, new = self._store(region).append(upload_id, state, offset, body, length, last)
        return written, {**new, REGION: region}

    def finish(self, upload_id: str, state: dict[str, Any], size: int, digest: Digest) -> str:
        region = self._region(state)
        try:
            key = self._store(region).finish(upload_id, state, size, digest)
        except DigestMismatch:
            self._forget(upload_id, state)
            raise
        self.copies.add(key, region)
        return key

    def _forget(self, upload_id: str, state: dict[str, Any]) -> None:
        """The object was deleted for a wrong digest: a replica already on its way to another
        bucket is deleted when it lands (recorder.py)."""
        self.copies.mark_removed(state.get("key") or object_key(upload_id))

    def discard(self, upload_id: str, state: dict[str, Any]) -> None:
        self._store(self._region(state)).discard(upload_id, state)

    def upload_ids(self, untouched_since: float | None = None) -> list[str]:
        return []  # abandoned bytes go by each bucket's lifecycle rules, as with one bucket

    # -- direct uploads --------------------------------------------------------------------
    def start_parts(self, upload_id: str) -> dict[str, Any]:
        region = self.local_region
        return {**self._store(region).start_parts(upload_id), REGION: region}

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
        store = self._store(self._region(state))
        return store.part_url(upload_id, state, number, expires_at, base_url, size=size)

    def receive_part(
        self, upload_id: str, number: int, query: dict[str, str], body: BinaryIO, length: int | None
    ) -> str:
        return self._store(self.local_region).receive_part(upload_id, number, query, body, length)

    def received_parts(self, upload_id: str, state: dict[str, Any]) -> list[PartInfo]:
        return self._store(self._region(state)).received_parts(upload_id, state)

    def complete_parts(
        self, upload_id: str, state: dict[str, Any], parts: list[tuple[int, str]]
    ) -> dict[str, Any]:
        region = self._region(state)
        return {**self._store(region).complete_parts(upload_id, state, parts), REGION: region}

    def verify_parts(self, upload_id: str, state: dict[str, Any], digest: Digest) -> str:
        region = self._region(state)
        try:
            key = self._store(region).verify_parts(upload_id, state, digest)
        except DigestMismatch:
            self._forget(upload_id, state)
            raise
        self.copies.add(key, region)
        return key

    # -- blobs -----------------------------------------------------------------------------
    def body(self, blob: BlobRecord, offset: int, length: int) -> BlobBody:
        return self.stores[self.region_for(blob)].body(blob, offset, length)

    def region_for(self, blob: BlobRecord) -> str:
        """The region whose bucket a pull of `blob` is sent to."""
        held = blob.regions & self.stores.keys()
        if self.local_region in held:
            return self.local_region
        if self.primary_region in held or not held:
            return self.primary_region
        return min(held)

    def remove(self, blob: BlobRecord) -> None:
        """Mark the object removed, then delete it from every region's bucket: a copy that
        replication is still making is deleted when it lands (recorder.py). Every bucket, not
        only the recorded ones: a copy whose event was lost is deleted too."""
        self.copies.mark_removed(blob.key)
        for store in self.stores.values():
            store.delete_object(blob.key)
