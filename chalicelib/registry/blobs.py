"""Blob reads, deletes and cross-repository mounts; a blob a manifest still uses is refused
with a Conflict (registry/errors.py)."""

from __future__ import annotations

from ..oci.digest import parse_digest
from ..oci.errors import OCIError
from ..storage.ports import BlobBody, BlobRecord, BlobStore, MetadataStore, StillReferenced
from .errors import Conflict


class Blobs:
    def __init__(self, meta: MetadataStore, store: BlobStore) -> None:
        self.meta = meta
        self.store = store

    def stat(self, repository: str, digest: str) -> BlobRecord:
        parse_digest(digest)
        record = self.meta.blob(repository, digest)
        if record is None:
            raise OCIError("BLOB_UNKNOWN", f"blob {digest} is not in repository {repository}")
        return record

    def body(self, record: BlobRecord, offset: int, length: int) -> BlobBody:
        return self.store.body(record, offset, length)

    def delete(self, repository: str, digest: str) -> None:
        self.stat(repository, digest)
        try:
            self.meta.unlink_blob(repository, digest)
        except StillReferenced as error:
            user = f"manifest {error.referrer}" if error.referrer else "a manifest"
            raise Conflict(
                "DENIED",
                f"blob {digest} is used by {user} in {repository}; delete that manifest first",
            ) from None

    def mount(self, repository: str, digest: str, source: str | None) -> BlobRecord | None:
        """Link a blob that `source` (or, without one, any repository) has; None if absent."""
        parse_digest(digest)
        record = self.meta.blob(source, digest) if source else self.meta.any_blob(digest)
        if record is None:
            return None
        self.meta.link_blob(repository, record)
        return record
