"""Blob upload sessions: start, append chunks, finish with a verified digest, cancel.

A chunk that does not start where the upload ends is refused with UploadOutOfOrder, which says
where the upload ends; the API layer turns that into the answer that tells the client so."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import BinaryIO

from ..oci.digest import parse_digest
from ..oci.errors import OCIError
from ..storage.ports import (
    BlobRecord,
    BlobStore,
    DigestMismatch,
    IncompleteBody,
    MetadataStore,
    UploadSession,
)
from .errors import UploadOutOfOrder


class Uploads:
    def __init__(self, meta: MetadataStore, store: BlobStore) -> None:
        self.meta = meta
        self.store = store

    def start(self, repository: str) -> UploadSession:
        session = UploadSession(repository, uuid.uuid4().hex, started_at=time.time())
        self.meta.create_upload(session)
        return session

    def session(self, repository: str, upload_id: str) -> UploadSession:
        session = self.meta.upload(repository, upload_id) if upload_id.isalnum() else None
        if session is None or "direct" in session.state:  # direct uploads take no chunks
            raise OCIError(
                "BLOB_UPLOAD_UNKNOWN",
                f"upload {upload_id} is not in progress in {repository}; start a new one",
            )
        return session

    def append(
        self,
        repository: str,
        upload_id: str,
        body: BinaryIO,
        length: int | None,
        start: int | None = None,
        last: bool = False,
    ) -> UploadSession:
        """Add a chunk; `start` is the offset where the client says it begins, if it says."""
        session = self.session(repository, upload_id)
        if start is not None and start != session.size:
            raise _out_of_order(session)
        try:
            written, state = self.store.append(
                upload_id, session.state, session.size, body, length, last
            )
        except IncompleteBody as error:
            raise OCIError("BLOB_UPLOAD_INVALID", str(error)) from None
        if written == 0:
            return session
        updated = replace(
            session, size=session.size + written, version=session.version + 1, state=state
        )
        if not self.meta.update_upload(updated):
            raise _out_of_order(self.session(repository, upload_id))
        return updated

    def finish(
        self,
        repository: str,
        upload_id: str,
        digest: str,
        body: BinaryIO,
        length: int | None,
        start: int | None = None,
    ) -> BlobRecord:
        """Append the last chunk, if any, then verify the digest and make the blob visible."""
        parsed = parse_digest(digest)
        session = self.append(repository, upload_id, body, length, start, last=True)
        try:
            key = self.store.finish(upload_id, session.state, session.size, parsed)
        except FileNotFoundError:
            # Another request finished or cancelled this upload first.
            raise OCIError(
                "BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} was already finished or cancelled"
            ) from None
        except DigestMismatch as error:
            self.cancel(repository, upload_id)
            raise OCIError(
                "DIGEST_INVALID",
                f"uploaded content has digest {error.actual}, not {digest}; the upload is"
                " discarded, push the blob again",
            ) from None
        record = keep_blob(
            self.meta, self.store, repository, BlobRecord(str(parsed), session.size, key)
        )
        self.meta.delete_upload(repository, upload_id)
        self.store.discard(upload_id, session.state)
        return record

    def upload_whole(
        self, repository: str, digest: str, body: BinaryIO, length: int | None
    ) -> BlobRecord:
        """A monolithic upload: POST with ?digest= and the blob as its body."""
        parse_digest(digest)
        session = self.start(repository)
        try:
            return self.finish(repository, session.upload_id, digest, body, length)
        except BaseException:
            self.cancel(repository, session.upload_id)
            raise

    def cancel(self, repository: str, upload_id: str) -> None:
        session = self.meta.upload(repository, upload_id)
        if session is None:
            return
        self.meta.delete_upload(repository, upload_id)
        self.store.discard(upload_id, session.state)

    def sweep(self, older_than_seconds: float) -> int:
        """Drop sessions idle too long and upload bytes that no session owns."""
        swept = 0
        for session in self.meta.uploads_started_before(time.time() - older_than_seconds):
            self.cancel(session.repository, session.upload_id)
            swept += 1
        for upload_id in self.store.upload_ids():
            if not self.meta.upload_exists(upload_id):
                self.store.discard(upload_id, {})
                swept += 1
        return swept


def keep_blob(
    meta: MetadataStore, store: BlobStore, repository: str, uploaded: BlobRecord
) -> BlobRecord:
    """Record the verified upload and link it; if the registry holds the blob already, keep
    those bytes and remove the copy just made. Return the record kept."""
    kept = meta.add_blob(repository, uploaded)
    if kept.key != uploaded.key:
        store.remove(uploaded)
    return kept


def _out_of_order(session: UploadSession) -> UploadOutOfOrder:
    return UploadOutOfOrder(session.repository, session.upload_id, session.size)
