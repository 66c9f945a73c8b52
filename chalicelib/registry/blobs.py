"""Blob reads, deletes and cross-repository mounts; a blob a manifest still uses is refused
with a Conflict (registry/errors.py).

A blob a repository has but no manifest of it uses is what the lifecycle GC collects once idle
past its grace. A client that HEADs such a blob will reference it in a manifest soon (docker,
podman and skopeo HEAD each layer and skip the upload of those that exist), so a HEAD of a link
idle for more than TOUCH_AFTER seconds touches it: the GC then keeps it for a whole grace, or,
if the GC removed it first, the HEAD answers 404 and the client uploads the blob
(lifecycle/gc.py, case "HEAD").
"""

from __future__ import annotations

import time

from ..oci.digest import parse_digest
from ..oci.errors import OCIError
from ..storage.ports import BlobBody, BlobRecord, BlobStore, MetadataStore, StillReferenced
from .errors import Conflict

# An idle link read by a HEAD or GET is touched when it has been idle this long: at most one
# write per link in this time, and the GC's shortest safe grace is well above it (gc.py).
TOUCH_AFTER = 600


class Blobs:
    def __init__(self, meta: MetadataStore, store: BlobStore) -> None:
        self.meta = meta
        self.store = store

    def stat(self, repository: str, digest: str) -> BlobRecord:
        parse_digest(digest)
        record = self.meta.blob(repository, digest)
        if record is None or not self._kept_in_use(repository, record):
            raise OCIError("BLOB_UNKNOWN", f"blob {digest} is not in repository {repository}")
        return record

    def _kept_in_use(self, repository: str, record: BlobRecord) -> bool:
        """Touch a long-idle link (see the module docstring); False if the GC took it."""
        if record.idle_since is None or record.idle_since > time.time() - TOUCH_AFTER:
            return True
        return self.meta.touch_link(repository, record.digest)

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
        return self.meta.link_blob(repository, record)
