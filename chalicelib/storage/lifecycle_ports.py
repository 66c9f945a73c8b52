"""The storage port of the lifecycle GC (chalicelib/lifecycle/gc.py): what it reads in bounded
pages and the conditional transitions it makes, each one atomic fact.

Listings are pages with an opaque cursor (None: from the start; a returned None: the listing
is done), so a run can stop after any page and the next one resume where it stopped (the
scheduled function works in batches). The transitions are conditional writes that a concurrent
upload, mount, HEAD or manifest store can see and lose to, or win against; gc.py holds the
argument that no interleaving loses an acknowledged image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .ports import BlobRecord, UploadSession

Cursor = str | None


@dataclass(frozen=True)
class IdleLink:
    """A repository's link to a blob that no manifest of the repository uses."""

    repository: str
    digest: str
    size: int
    idle_since: float


@dataclass(frozen=True)
class ManifestUses:
    """A manifest's own size and the blobs it references."""

    digest: str
    size: int
    blobs: tuple[str, ...]


@dataclass(frozen=True)
class ImageFacts:
    """A manifest of a repository as retention (lifecycle/retention.py) judges it: its tags,
    when it was pushed, when it was last pulled (the latest of the pulls recorded on it, by
    digest, and on its tags; None: never since pulls were recorded), whether an index of the
    repository lists it, and the manifest it refers to (`subject`), if any."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: float
    pulled_at: float | None = None
    listed_by_index: bool = False
    subject: str | None = None


@dataclass(frozen=True)
class BlobState:
    """A blob record with no repository link left (`deleting`: a GC began removing it)."""

    record: BlobRecord
    deleting: bool


class LifecycleStore(Protocol):
    def prepare(self) -> None:
        """Bring records written before the lifecycle existed into its bookkeeping (links
        with no time of use get one now; on DynamoDB, links not yet counted on their blob's
        record are counted). Idempotent; a GC calls it first."""

    def idle_links(
        self, cutoff: float, cursor: Cursor, limit: int
    ) -> tuple[list[IdleLink], Cursor]:
        """Links no manifest uses, idle since before `cutoff`; at most `limit` items read."""

    def drop_idle_link(self, repository: str, digest: str, cutoff: float) -> bool:
        """Delete the link if no manifest uses it and it is still idle since before `cutoff`;
        False if it changed (touched, used, or gone)."""

    def unlinked_blobs(self, cursor: Cursor, limit: int) -> tuple[list[BlobState], Cursor]:
        """Blob records that no repository links (and those being removed)."""

    def links_of(self, digest: str) -> int:
        """How many repositories link the blob (for a dry run's arithmetic)."""

    def begin_blob_removal(self, digest: str) -> BlobRecord | None:
        """Mark the blob's record `deleting` if no repository links it, and return it (with
        the key of the bytes to delete); a record `deleting` already (a run that stopped) is
        returned as it is, to be finished. None if a repository links it, or it is gone. From
        then on an upload of the digest takes the record over; a link to it is refused."""

    def end_blob_removal(self, digest: str, key: str) -> bool:
        """Delete the record if it is still `deleting` the bytes at `key` (not taken over)."""

    def stale_uploads(
        self, cutoff: float, cursor: Cursor, limit: int
    ) -> tuple[list[UploadSession], Cursor]:
        """Upload sessions (v2 and direct) started before `cutoff`."""

    def gc_progress(self) -> str | None:
        """Where the scheduled run stands (gc.Progress as JSON), or None between runs."""

    def save_gc_progress(self, progress: str | None) -> None:
        """Save where the run stands; None: the run is finished."""

    # -- retention (lifecycle/retention_run.py) ---------------------------------------------
    def images(
        self, repository: str, cursor: Cursor, limit: int
    ) -> tuple[list[ImageFacts], Cursor]:
        """The repository's manifests with their tags, push and last-pull times, whether an
        index lists them and their subject; at most `limit` manifests a page."""

    # -- usage (lifecycle/usage.py) --------------------------------------------------------
    def repository_blobs(
        self, repository: str, cursor: Cursor, limit: int
    ) -> tuple[list[tuple[str, int]], Cursor]:
        """The blobs the repository links, as (digest, size), used or not."""

    def manifest_uses(
        self, repository: str, cursor: Cursor, limit: int
    ) -> tuple[list[ManifestUses], Cursor]:
        """The repository's manifests with the blobs each references."""

    # -- quotas (lifecycle/quotas.py) ------------------------------------------------------
    def namespace_use(self, namespace: str) -> int:
        """The bytes a quota counts: the distinct blobs the namespace's manifests reference."""

    def count_namespace(self, namespace: str) -> int:
        """Bring the namespace's manifests that are not in its count into it, and return how
        many were (DynamoDB counts a namespace's uses only while it has a quota: a quota set
        on a namespace with images counts them here; SQLite's triggers count every namespace:
        always 0)."""
