"""The storage ports: what the registry service needs from any backend.

`BlobStore` holds bytes (uploads in progress and content-addressed blobs); `MetadataStore` holds
facts (blob records and repository links, manifests, tags, referrers, upload sessions). Each
read-modify-write is one conditional call here, so adapters can make it atomic (a SQLite
transaction, a DynamoDB condition expression or transaction).

With several regions (storage/aws/regions/) a blob's bytes may have a copy in more than one
region's bucket: `BlobRecord.regions` says which, so the BlobStore picks where to send a pull
without asking S3, and `BlobStore.remove` deletes every copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from ..oci.digest import Digest


class DigestMismatch(Exception):
    """The uploaded bytes do not hash to the digest the client claimed."""

    def __init__(self, actual: Digest) -> None:
        super().__init__(str(actual))
        self.actual = actual


class IncompleteBody(Exception):
    """The request ended before the bytes its Content-Length promised."""


class MissingReference(Exception):
    """A manifest names a blob or child manifest that the repository does not have."""

    def __init__(self, digest: str, kind: str) -> None:
        super().__init__(digest)
        self.digest = digest
        self.kind = kind  # "blob" or "manifest"


class Contention(Exception):
    """Too many writers changed the same items at once; the client should retry."""


class StorageUnavailable(Exception):
    """The storage cannot answer for a moment: throttled, unreachable, timed out, locked by
    another process or failing I/O. Nothing was changed that a retry cannot redo, so the
    client is told to try again (503 with Retry-After). Adapters raise it at their boundary;
    the exception they translate is kept as `__cause__`, and the raised object is also of the
    original exception's type, so an adapter's own handlers of that type still see it."""

    retry_after = 5  # seconds a client should wait


class StorageFull(Exception):
    """The storage has no room left (a full disk or quota): 507 until an operator frees some.
    Like StorageUnavailable, also of the original exception's type (OSError, sqlite3)."""


class PartDenied(Exception):
    """A part URL is not valid: tampered, expired, used already, or not this store's."""


class PartsInvalid(Exception):
    """The parts a client lists to complete a direct upload are missing or differ."""


class BodyMissing(Exception):
    """A manifest is recorded but its body is not where the record says (an S3 object lost, or
    a table restored to a point in time without its bucket)."""

    def __init__(self, digest: str) -> None:
        super().__init__(digest)
        self.digest = digest


# One manifest may carry this many tags, on every backend: the DynamoDB adapter keeps them in
# the manifest's item, which must stay under 400 KB (see dynamodb.py).
MAX_TAGS_PER_MANIFEST = 1000


class TooManyTags(Exception):
    """A tag write would give a manifest more than MAX_TAGS_PER_MANIFEST tags."""

    def __init__(self, digest: str) -> None:
        super().__init__(digest)
        self.digest = digest
        self.limit = MAX_TAGS_PER_MANIFEST


class TagImmutable(Exception):
    """A tag that may not change exists: `tag` points at `digest`, and the write would move it
    to another manifest or delete it (chalicelib/lifecycle/immutability.py decides which tags;
    the adapters refuse within the same conditional write that moves or deletes the tag)."""

    def __init__(self, tag: str, digest: str) -> None:
        super().__init__(f"{tag} -> {digest}")
        self.tag = tag
        self.digest = digest


@dataclass(frozen=True)
class Quota:
    """A namespace's limit, in bytes of the distinct blobs its manifests reference
    (chalicelib/lifecycle/quotas.py says what counts)."""

    namespace: str
    limit: int


class QuotaExceeded(Exception):
    """Storing a manifest would take its namespace past its quota: `used` bytes counted now,
    `adding` the bytes of its blobs that the namespace's manifests do not reference yet."""

    def __init__(self, namespace: str, limit: int, used: int, adding: int) -> None:
        super().__init__(f"{namespace}: {used} + {adding} > {limit}")
        self.namespace = namespace
        self.limit = limit
        self.used = used
        self.adding = adding


class StillReferenced(Exception):
    """A blob or manifest cannot go: a manifest in the repository still points at it.

    `referrer` is that manifest's digest when the adapter knows it; None when it only counts
    references (DynamoDB keeps a count on the target, not the list of its users)."""

    def __init__(self, referrer: str | None = None) -> None:
        super().__init__(referrer or "a manifest of the repository")
        self.referrer = referrer


class TagsChanged(Exception):
    """A manifest's tags are no longer the ones a delete was decided on (a push tagged or
    untagged it meanwhile): nothing was deleted (retention, lifecycle/retention_run.py)."""

    def __init__(self, digest: str) -> None:
        super().__init__(digest)
        self.digest = digest


# A pull is recorded on a tag or a manifest at most once in this many seconds: the last-pull
# time retention reads (`sinceImagePulled`) is exact to within it, for one write an hour.
PULL_RECORD_EVERY = 3600


@dataclass(frozen=True)
class BlobRecord:
    digest: str
    size: int
    key: str = ""  # where the BlobStore keeps the bytes, if not derived from the digest
    # The regions whose buckets hold a copy of the bytes (multi-region aws backend only; empty
    # everywhere else, and for blobs stored before a deployment had several regions).
    regions: frozenset[str] = frozenset()
    # Read with a repository's link: since when no manifest of the repository has used the
    # blob (the link's last touch), or None while one does. The lifecycle GC drops links idle
    # longer than its grace; a HEAD of a long-idle link touches it (registry/blobs.py).
    idle_since: float | None = None


@dataclass(frozen=True)
class ManifestRecord:
    digest: str
    media_type: str
    body: bytes
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    # The last pull recorded on what was read: the tag, read by tag; the manifest, by digest.
    pulled_at: float | None = None


@dataclass(frozen=True)
class ManifestInfo:
    """What a HEAD of a manifest answers: read from the record, never from the body."""

    digest: str
    media_type: str
    size: int
    pulled_at: float | None = None  # as ManifestRecord.pulled_at


@dataclass(frozen=True)
class ManifestWrite:
    """A manifest with everything it references; stored all or nothing."""

    record: ManifestRecord
    blobs: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # Tags of `tags` that must not move once they exist: writing one that points at another
    # manifest raises TagImmutable (pointing it at this manifest again changes nothing).
    immutable_tags: tuple[str, ...] = ()
    # The namespace's quota, if it has one: the write raises QuotaExceeded, storing nothing,
    # if the blobs new to the namespace would take its use past the limit.
    quota: Quota | None = None


@dataclass(frozen=True)
class Referrer:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    annotations: dict[str, str]


@dataclass(frozen=True)
class UploadSession:
    repository: str
    upload_id: str
    size: int = 0
    version: int = 0
    state: dict[str, Any] = field(default_factory=dict)  # the BlobStore's own bookkeeping
    started_at: float = 0.0


@dataclass(frozen=True)
class Reservation:
    """A direct upload counted against its namespace's limits until it is finished or expires
    (registry/direct_uploads.py explains the design)."""

    upload_id: str
    repository: str
    size: int
    expires_at: float


@dataclass(frozen=True)
class BlobBody:
    """Bytes to send: a file range (served with sendfile where possible) or a redirect."""

    path: str | None = None
    offset: int = 0
    length: int = 0
    redirect_url: str | None = None

    def iter_chunks(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        assert self.path is not None
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            remaining = self.length
            while remaining > 0:
                chunk = handle.read(min(chunk_size, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk


def body_blocks(body: BinaryIO, length: int | None, block_size: int) -> Iterator[bytes]:
    """A request body in blocks of at most `block_size`: `length` bytes, or up to its end when
    `length` is None. Raise IncompleteBody, after the last block, if it ends short."""
    read = 0
    while length is None or read < length:
        block = body.read(block_size if length is None else min(block_size, length - read))
        if not block:
            break
        read += len(block)
        yield block
    if length is not None and read != length:
        raise IncompleteBody(f"request body ended after {read} of {length} bytes")


@dataclass(frozen=True)
class PartInfo:
    """A part of a direct upload that the store holds."""

    number: int
    etag: str
    size: int


@dataclass(frozen=True)
class PartUrl:
    url: str
    headers: dict[str, str]


class BlobStore(Protocol):
    def append(
        self,
        upload_id: str,
        state: dict[str, Any],
        offset: int,
        body: BinaryIO,
        length: int | None,
        last: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """Store the body's bytes after `offset`; return the bytes written and the new state.
        `last` says no more bytes follow (the closing PUT), so none need wait for a later part.
        """

    def finish(self, upload_id: str, state: dict[str, Any], size: int, digest: Digest) -> str:
        """Make the upload the blob `digest` and return its storage key, or raise
        DigestMismatch and keep nothing."""

    def discard(self, upload_id: str, state: dict[str, Any]) -> None:
        """Forget an upload's bytes (cancelled, finished, or abandoned)."""

    def body(self, blob: BlobRecord, offset: int, length: int) -> BlobBody:
        """Where to read `length` bytes of the blob from `offset` (a file range or a URL)."""

    def upload_ids(self, untouched_since: float | None = None) -> list[str]:
        """Uploads that have bytes in the store, to sweep those that lost their session; with
        `untouched_since`, only those unchanged since then (a direct upload's bytes appear
        just before its session is written: a sweep must not take them in between)."""

    def remove(self, blob: BlobRecord) -> None:
        """Delete the blob's bytes, every copy of them (in each region that holds one); a blob
        already gone is no error. Called by the lifecycle GC once no record can lead a client
        to the bytes (lifecycle/gc.py argues it), and for the redundant copy an upload made of
        a blob the registry holds already (`MetadataStore.add_blob`)."""

    # -- direct uploads: the client sends parts straight to the store ----------------------
    def start_parts(self, upload_id: str) -> dict[str, Any]:
        """Prepare to receive parts; return the state to keep in the session."""

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
        """A URL the client PUTs part `number` to, valid until `expires_at` (Unix time), for
        exactly `size` bytes: the URL's signature covers the length, so one URL cannot store
        more. `base_url` is the registry's own address as the client sees it."""

    def receive_part(
        self, upload_id: str, number: int, query: dict[str, str], body: BinaryIO, length: int | None
    ) -> str:
        """Store a part sent to a URL of `part_url` and return its ETag; raise PartDenied
        when the URL is not valid (stores whose URLs point elsewhere always raise it)."""

    def received_parts(self, upload_id: str, state: dict[str, Any]) -> list[PartInfo]:
        """The parts stored so far, by number."""

    def complete_parts(
        self, upload_id: str, state: dict[str, Any], parts: list[tuple[int, str]]
    ) -> dict[str, Any]:
        """Join the parts (number, ETag) into one object, still unverified; raise
        PartsInvalid when one is missing or its ETag differs. Return the new state."""

    def verify_parts(self, upload_id: str, state: dict[str, Any], digest: Digest) -> str:
        """Hash the joined object; if it is `digest`, make it the blob and return its key,
        else delete it and raise DigestMismatch."""


class MetadataStore(Protocol):
    # blobs and repository links
    def blob(self, repository: str, digest: str) -> BlobRecord | None: ...
    def any_blob(self, digest: str) -> BlobRecord | None: ...
    def add_blob(self, repository: str, blob: BlobRecord) -> BlobRecord:
        """Record a blob just uploaded and link it to the repository; return the record kept.
        A blob the registry holds already keeps its bytes (the record's key): the caller then
        removes the copy it just made. A blob being collected (lifecycle/gc.py) is taken over:
        its record points at the new bytes from then on."""

    def link_blob(self, repository: str, blob: BlobRecord) -> BlobRecord | None:
        """Link a known blob (a mount) and return its record, or None when the blob is gone or
        being collected (the client then uploads it)."""

    def touch_link(self, repository: str, digest: str) -> bool:
        """Mark the repository's link to the blob as just used (a HEAD of an idle link), so the
        GC keeps it for its grace; False if the link is gone."""

    def unlink_blob(self, repository: str, digest: str) -> bool:
        """Remove the link; raise StillReferenced if a manifest of the repository uses it."""

    # manifests and tags
    def manifest(self, repository: str, digest: str) -> ManifestRecord | None:
        """The manifest, or None; raise BodyMissing if it is recorded but its body is lost."""

    def tagged_manifest(self, repository: str, tag: str) -> ManifestRecord | None:
        """The manifest a tag points at, in one read where the backend allows."""

    def manifest_info(self, repository: str, digest: str) -> ManifestInfo | None: ...
    def tagged_manifest_info(self, repository: str, tag: str) -> ManifestInfo | None:
        """What a HEAD by tag answers, without reading the body."""

    def manifest_digests(self, repository: str, last: str | None, limit: int) -> list[str]:
        """The repository's manifests, by digest (for `soute verify`)."""

    def put_manifest(self, repository: str, write: ManifestWrite) -> None:
        """Store manifest, references and tag at once; raise MissingReference otherwise,
        TooManyTags if a tag would pass MAX_TAGS_PER_MANIFEST, TagImmutable if a tag of
        `write.immutable_tags` exists and points at another manifest, and QuotaExceeded if
        `write.quota` would be passed (nothing is written)."""

    def delete_manifest(
        self,
        repository: str,
        digest: str,
        protected: Callable[[str], bool] | None = None,
        tags: frozenset[str] | None = None,
    ) -> bool:
        """Delete the manifest and its tags; raise StillReferenced if an index lists it, and
        TagImmutable if one of its tags is `protected`, judged on the tags it has when deleted.
        With `tags`, delete only if its tags are exactly these, in the same atomic step; raise
        TagsChanged otherwise (retention decides on the tags it read).
        """

    def record_pull(
        self, repository: str, digest: str, tag: str | None, at: float, stale_before: float
    ) -> bool:
        """Record a pull at `at` on the tag (pointing at `digest`), or with no tag on the
        manifest, if its recorded pull is older than `stale_before` or missing: one conditional
        write. False if nothing was written (recorded since, moved, or gone)."""

    def delete_tag(self, repository: str, tag: str, immutable: bool = False) -> bool:
        """Delete the tag (False: there was none); if `immutable`, raise TagImmutable instead
        when it exists."""

    def tags(self, repository: str, last: str | None, limit: int) -> list[str]: ...
    def repository_exists(self, repository: str) -> bool:
        """Whether the repository has at least one manifest (what the catalog lists)."""

    def repositories(self, last: str | None, limit: int) -> list[str]: ...
    def referrers(self, repository: str, subject: str) -> list[Referrer]: ...

    # upload sessions
    def create_upload(self, session: UploadSession) -> None: ...
    def upload(self, repository: str, upload_id: str) -> UploadSession | None: ...
    def update_upload(self, session: UploadSession) -> bool:
        """Save `session` if the stored version is session.version - 1."""

    def delete_upload(self, repository: str, upload_id: str) -> None: ...

    # blobs being verified after a direct upload: not usable yet, but about to be
    def mark_pending(self, repository: str, digest: str, upload_id: str) -> None: ...
    def clear_pending(self, repository: str, digest: str) -> None: ...
    def is_pending(self, repository: str, digest: str) -> bool: ...
    def upload_exists(self, upload_id: str) -> bool: ...
    def uploads_started_before(self, cutoff: float) -> list[UploadSession]: ...

    # the direct uploads a namespace holds open: one small record per namespace
    def direct_reservations(self, namespace: str) -> tuple[list[Reservation], int]:
        """The namespace's reservations and the record's version (0: none yet)."""

    def save_direct_reservations(
        self, namespace: str, reservations: list[Reservation], version: int
    ) -> bool:
        """Replace them if the record is still at `version`; False if another writer won."""
