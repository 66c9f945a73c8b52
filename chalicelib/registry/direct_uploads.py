"""Direct uploads (docs/upload-extension.md): the client sends a blob's parts straight to the
BlobStore through signed URLs; the registry assembles them and verifies the digest before the
blob becomes visible in the repository.

The session is an ordinary UploadSession: `size` is the blob's size and `state` holds the
BlobStore's bookkeeping plus, under "direct", the digest, part layout and status
(uploading → verifying → available | failed). A blob verified in the background is marked
pending meanwhile, so a manifest that references it is told to retry rather than refused.
Refusals that need more than an OCI code to answer (a session changed meanwhile, too many
uploads starting in a namespace at once) are registry/errors.py types.

Limits per namespace (issue 10, A2): each part URL stores exactly its part (its signature
covers the length), so what a namespace can make S3 hold through part URLs is bounded by the
uploads it has open and their declared sizes. `initiate` counts them in one small record per
namespace (MetadataStore.direct_reservations): a list of (upload id, repository, size, expiry)
and a version. Why this design:
- no Scan and no per-request Query over sessions: a reservation costs one read and one
  conditional write (the version), so concurrent initiates never pass the limit together;
- no counter to decrement: `complete` and `abort` need not touch it, and a crashed client or a
  session that the table's TTL removed cannot leave the count too high forever. Entries
  expire with their session (upload_ttl_seconds), and when a new upload would pass a limit,
  entries whose session is no longer uploading or verifying are dropped first (one read each,
  at most max_open_uploads, and only then: a namespace that finishes its uploads pays them
  once per max_open_uploads initiates). An entry is written after its session, so an entry
  whose session is missing is finished (aborted, or expired), never still starting; a refused
  upload's session and parts are removed at once;
- the record holds at most max_open_uploads entries (~60-300 bytes each), well under an item.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from ..oci.digest import parse_digest
from ..oci.errors import OCIError
from ..storage.ports import (
    BlobRecord,
    BlobStore,
    DigestMismatch,
    IncompleteBody,
    MetadataStore,
    PartDenied,
    PartInfo,
    PartsInvalid,
    Reservation,
    UploadSession,
)
from .errors import Busy, Conflict
from .settings import Settings
from .uploads import keep_blob
from .verification import ThreadVerifier, Verifier

log = logging.getLogger("soute.direct")

MiB = 1 << 20
MIN_PART_SIZE = 8 * MiB  # S3 wants 5 MiB; 8 MiB keeps the number of requests down
MAX_PART_SIZE = 5 << 30  # S3's largest part
MAX_PARTS = 10_000
URL_BATCH = 100
RESERVE_ATTEMPTS = 8  # concurrent initiates in one namespace retry their conditional write
# A background verification not finished after this long is started again when a client asks
# for the status: the process that ran it may have stopped (a restarted worker).
VERIFY_RESUBMIT_SECONDS = 900


@dataclass(frozen=True)
class PartLink:
    number: int
    url: str
    headers: dict[str, str]
    expires_at: int


@dataclass(frozen=True)
class DirectUpload:
    upload_id: str
    repository: str
    digest: str
    size: int
    part_size: int
    part_count: int
    status: str  # uploading, verifying, available, failed
    message: str | None = None

    def document(self) -> dict[str, Any]:
        """The Status object of the OpenAPI description (without `received`)."""
        fields = {
            "upload_id": self.upload_id,
            "status": self.status,
            "digest": self.digest,
            "size": self.size,
            "part_size": self.part_size,
            "part_count": self.part_count,
        }
        return fields if self.message is None else {**fields, "message": self.message}


def part_layout(size: int) -> tuple[int, int]:
    """(part size, part count): parts of at least 8 MiB, whole MiB, at most 10,000 of them."""
    part_size = max(MIN_PART_SIZE, math.ceil(math.ceil(size / MAX_PARTS) / MiB) * MiB)
    return part_size, math.ceil(size / part_size)


class DirectUploads:
    def __init__(
        self,
        meta: MetadataStore,
        store: BlobStore,
        settings: Settings,
        verifier: Verifier | None = None,
    ) -> None:
        self.meta = meta
        self.store = store
        self.settings = settings
        self.verifier: Verifier = verifier or ThreadVerifier(self.verify)

    # -- initiate, URLs, status --------------------------------------------------------------
    def existing(self, repository: str, digest: str) -> BlobRecord | None:
        return self.meta.blob(repository, str(parse_digest(digest)))

    def initiate(
        self, repository: str, digest: str, size: int, base_url: str
    ) -> tuple[DirectUpload, list[PartLink]]:
        parse_digest(digest)
        part_size, part_count = part_layout(size)
        if part_size > MAX_PART_SIZE:
            raise OCIError("SIZE_INVALID", f"{size} bytes is more than one upload can hold")
        upload_id = uuid.uuid4().hex
        direct = {"digest": digest, "part_size": part_size, "part_count": part_count}
        state = {**self.store.start_parts(upload_id), "direct": {**direct, "status": "uploading"}}
        session = UploadSession(repository, upload_id, size, state=state, started_at=time.time())
        self.meta.create_upload(session)
        try:
            self._reserve(repository, upload_id, size)  # after the session: see the docstring
        except OCIError:
            self.store.discard(upload_id, state)
            self.meta.delete_upload(repository, upload_id)
            raise
        numbers = list(range(1, min(part_count, URL_BATCH) + 1))
        return _upload(session), self._links(session, numbers, base_url)

    def _reserve(self, repository: str, upload_id: str, size: int) -> None:
        """Count the new upload against its namespace, or refuse it naming the limit."""
        namespace = repository.split("/", 1)[0]
        expires_at = time.time() + self.settings.upload_ttl_seconds
        for _ in range(RESERVE_ATTEMPTS):
            held, version = self.meta.direct_reservations(namespace)
            held = [r for r in held if r.expires_at > time.time()]
            if self._over_limits(held, size):
                held = [r for r in held if self._still_open(r)]
            if problem := self._over_limits(held, size):
                raise OCIError("TOOMANYREQUESTS", f"namespace {namespace} {problem}")
            mine = Reservation(upload_id, repository, size, expires_at)
            if self.meta.save_direct_reservations(namespace, [*held, mine], version):
                return
        raise Busy(
            f"too many direct uploads are starting in namespace {namespace} at once; retry",
            retry_after=1,
        )

    def _over_limits(self, held: list[Reservation], size: int) -> str | None:
        """Why one more upload of `size` bytes passes a limit, or None."""
        most, declared = self.settings.max_open_uploads, sum(r.size for r in held)
        if len(held) + 1 > most:
            return (
                f"has {len(held)} direct uploads open, the most one namespace may have"
                f" ({most}; raise it with --max-open-uploads or SOUTE_MAX_OPEN_UPLOADS):"
                " complete or abort some (DELETE /v2/_soute/uploads/<id>), or wait until they"
                " expire"
            )
        if declared + size > self.settings.max_upload_bytes:
            return (
                f"has direct uploads open of {declared} bytes; {size} more would pass the"
                f" {self.settings.max_upload_bytes} bytes one namespace may declare (raise it"
                " with --max-upload-bytes or SOUTE_MAX_UPLOAD_BYTES): complete or abort some"
                " (DELETE /v2/_soute/uploads/<id>), or wait until they expire"
            )
        return None

    def _still_open(self, reservation: Reservation) -> bool:
        session = self.meta.upload(reservation.repository, reservation.upload_id)
        if session is None or "direct" not in session.state:
            return False
        return session.state["direct"]["status"] in ("uploading", "verifying")

    def part_urls(
        self, repository: str, upload_id: str, numbers: list[int], base_url: str
    ) -> list[PartLink]:
        session = self._session(repository, upload_id)
        upload = _upload(session)
        if upload.status != "uploading":
            raise _not_uploading(upload)
        if len(numbers) > URL_BATCH:
            raise OCIError("BLOB_UPLOAD_INVALID", f"ask for at most {URL_BATCH} part URLs a call")
        for number in numbers:
            if not 1 <= number <= upload.part_count:
                raise OCIError(
                    "BLOB_UPLOAD_INVALID",
                    f"part {number} does not exist: the upload has parts 1 to {upload.part_count}",
                )
        return self._links(session, numbers, base_url)

    def _links(self, session: UploadSession, numbers: list[int], base_url: str) -> list[PartLink]:
        expires_at = int(time.time()) + self.settings.part_url_expires
        links = []
        part_size = session.state["direct"]["part_size"]
        for number in numbers:
            size = min(part_size, session.size - (number - 1) * part_size)  # the last: the rest
            url = self.store.part_url(
                session.upload_id, session.state, number, expires_at, base_url, size=size
            )
            links.append(PartLink(number, url.url, url.headers, expires_at))
        return links

    def status(self, repository: str, upload_id: str) -> tuple[DirectUpload, list[PartInfo]]:
        session = self._session(repository, upload_id)
        upload = _upload(session)
        if upload.status == "verifying":
            self._resubmit_if_stalled(session)
        if upload.status != "uploading":
            return upload, []
        return upload, self.store.received_parts(upload_id, session.state)

    def _resubmit_if_stalled(self, session: UploadSession) -> None:
        since = session.state["direct"].get("since", 0)
        if time.time() - since <= VERIFY_RESUBMIT_SECONDS:
            return
        try:
            self._save(session, session.state, "verifying")  # a new `since`
        except OCIError:
            return  # another request resubmitted it just now
        self.verifier.submit(session.repository, session.upload_id)

    def _session(self, repository: str, upload_id: str) -> UploadSession:
        session = self.meta.upload(repository, upload_id) if upload_id.isalnum() else None
        if session is None or "direct" not in session.state:
            raise OCIError(
                "BLOB_UPLOAD_UNKNOWN",
                f"direct upload {upload_id} is not known in {repository}; start a new one",
            )
        return session

    # -- receiving parts (stores whose part URLs point at the registry) ----------------------
    def receive_part(
        self,
        upload_id: str,
        number: int,
        query: dict[str, str],
        body: BinaryIO,
        length: int | None,
    ) -> str:
        try:
            return self.store.receive_part(upload_id, number, query, body, length)
        except PartDenied as denied:
            raise OCIError("DENIED", str(denied)) from None
        except FileNotFoundError:
            raise OCIError(
                "BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} is finished or aborted"
            ) from None
        except IncompleteBody as error:
            raise OCIError("BLOB_UPLOAD_INVALID", str(error)) from None

    # -- complete, verify, abort ---------------------------------------------------------------
    def complete(
        self, repository: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> DirectUpload:
        session = self._session(repository, upload_id)
        upload = _upload(session)
        if upload.status != "uploading":
            return _settled(upload)  # a retried complete: the same answer
        self._check_parts(session, upload, parts)
        try:
            state = self.store.complete_parts(upload_id, session.state, sorted(parts))
        except PartsInvalid as error:
            raise OCIError("BLOB_UPLOAD_INVALID", f"the parts cannot be joined: {error}") from None
        except FileNotFoundError:
            raise _gone(upload_id) from None
        session = self._save(session, state, "verifying")
        if upload.size <= self.settings.inline_verify_limit:
            return _settled(self.verify(repository, upload_id))
        self.meta.mark_pending(repository, upload.digest, upload_id)
        try:
            self.verifier.submit(repository, upload_id)
        except Exception:
            # The bytes are complete and the answer stays "verifying": the next status request
            # submits the verification again (see _resubmit_if_stalled).
            log.exception("could not start verifying upload %s of %s", upload_id, repository)
            session = self._save(session, session.state, "verifying", since=0.0)
        return _upload(session)

    def _check_parts(
        self, session: UploadSession, upload: DirectUpload, parts: list[tuple[int, str]]
    ) -> None:
        numbers = sorted(number for number, _ in parts)
        if numbers != list(range(1, upload.part_count + 1)):
            raise OCIError(
                "BLOB_UPLOAD_INVALID",
                f"list every part from 1 to {upload.part_count} once; got {numbers[:20]}",
            )
        held = {p.number: p for p in self.store.received_parts(upload.upload_id, session.state)}
        for number, etag in parts:
            expected = min(upload.part_size, upload.size - (number - 1) * upload.part_size)
            part = held.get(number)
            if part is None:
                raise OCIError("BLOB_UPLOAD_INVALID", f"part {number} was not received; send it")
            if part.etag.strip('"') != etag.strip('"'):
                raise OCIError(
                    "BLOB_UPLOAD_INVALID", f"part {number} has ETag {part.etag}, not {etag}"
                )
            if part.size != expected:
                raise OCIError(
                    "BLOB_UPLOAD_INVALID",
                    f"part {number} holds {part.size} bytes, not {expected}; send it again",
                )

    def verify(self, repository: str, upload_id: str) -> DirectUpload:
        """Hash the joined parts; make the blob visible if they match the digest. Runs within
        `complete` for small blobs, and in the Verifier for the others."""
        session = self._session(repository, upload_id)
        upload = _upload(session)
        if upload.status != "verifying":
            return upload
        try:
            key = self.store.verify_parts(upload_id, session.state, parse_digest(upload.digest))
        except DigestMismatch as error:
            message = (
                f"uploaded content has digest {error.actual}, not {upload.digest}; the upload"
                " is discarded, push the blob again"
            )
            self.store.discard(upload_id, session.state)
            self.meta.clear_pending(repository, upload.digest)
            return _upload(self._save(session, session.state, "failed", message))
        keep_blob(self.meta, self.store, repository, BlobRecord(upload.digest, upload.size, key))
        self.meta.clear_pending(repository, upload.digest)
        self.store.discard(upload_id, {})  # the parts' leftovers; the blob is elsewhere now
        return _upload(self._save(session, session.state, "available"))

    def abort(self, repository: str, upload_id: str) -> None:
        session = self._session(repository, upload_id)
        if _upload(session).status == "uploading":
            self.store.discard(upload_id, session.state)
        self.meta.delete_upload(repository, upload_id)

    def _save(
        self,
        session: UploadSession,
        state: dict[str, Any],
        status: str,
        message: str = "",
        since: float | None = None,
    ) -> UploadSession:
        """Save the session with a new status; `since` is when it took it (now by default)."""
        direct = {
            **state["direct"],
            "status": status,
            "since": time.time() if since is None else since,
        }
        if message:
            direct["message"] = message
        updated = replace(session, version=session.version + 1, state={**state, "direct": direct})
        if not self.meta.update_upload(updated):
            raise Conflict(
                "BLOB_UPLOAD_INVALID",
                f"upload {session.upload_id} changed meanwhile (completed twice at once?);"
                " ask for its status",
            )
        return updated


def _upload(session: UploadSession) -> DirectUpload:
    direct = session.state["direct"]
    return DirectUpload(
        upload_id=session.upload_id,
        repository=session.repository,
        digest=direct["digest"],
        size=session.size,
        part_size=direct["part_size"],
        part_count=direct["part_count"],
        status=direct["status"],
        message=direct.get("message"),
    )


def _settled(upload: DirectUpload) -> DirectUpload:
    """The upload, or the error `complete` answers for a failed one."""
    if upload.status == "failed":
        raise OCIError("DIGEST_INVALID", upload.message or "the digest did not match")
    return upload


def _not_uploading(upload: DirectUpload) -> OCIError:
    return OCIError(
        "BLOB_UPLOAD_INVALID",
        f"upload {upload.upload_id} is {upload.status}; it takes no more parts",
    )


def _gone(upload_id: str) -> OCIError:
    return OCIError("BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} was completed or aborted")
