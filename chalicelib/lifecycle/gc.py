"""Online garbage collection: no read-only window, and no acknowledged image ever lost.

What goes, in one run (`GarbageCollector.run`), each step a conditional transition of the
LifecycleStore (storage/lifecycle_ports.py):
  0. with a PolicyStore, the images retention policies expire (lifecycle/retention_run.py,
     which argues its own interleavings: each delete is conditioned on the tags it decided on);
     their blobs' links are released then, so steps 2-3 of a later run free them;
  1. upload sessions started more than the grace ago (v2 and direct), with their bytes;
  2. repository links to blobs that no manifest of the repository uses, idle (not received,
     mounted, HEADed or released by a manifest delete) for longer than the grace;
  3. blob records that no repository links any more, and their bytes in every region.
Steps 1-3 never delete a manifest: a manifest, and so everything it and the indexes above it
reference, stays until a client or a retention policy (step 0) deletes it.

Why no acknowledged image is lost: the argument, with the case names the tests use
(tests/lifecycle/test_gc_interleavings.py drives each case, on both backends).

The facts. A link (repository, digest) is what lets a client use a blob: a HEAD answers 200, a
manifest naming it is accepted. A blob's record is live or `deleting` and names one key, where
its bytes are. The adapters keep four invariants, each a single conditional write or
transaction (a SQLite write transaction; a DynamoDB condition or TransactWriteItems):
  I1 a link is created only while the record is live, in one step that checks the record's key
     and counts the link on it (`linked`); a link is dropped in one step that uncounts it.
  I2 a record becomes `deleting` only in a step that finds it has no link (linked = 0); a
     `deleting` record takes no new link (I1).
  I3 the GC deletes the bytes at key K only after it made the record `deleting` with key K;
     it deletes the record only if it is still `deleting` with key K.
  I4 every upload's bytes have a key of their own (S3: blobs/<upload id>; files:
     blobs/<alg>/<xx>/<hex>.<upload id>), and an upload that finds the record `deleting`
     replaces it with a live record of its own key.
So the bytes a link leads to exist: the link was made while the record was live with key K
(I1); K's bytes go only after the record turned `deleting` with key K (I3), which needs the
link gone (I2); an upload that revives the digest brings other bytes under another key (I4).
A manifest is stored only in a step that finds each blob's link and adds to its `refs`, and a
link is dropped only in a step that finds `refs` = 0: while the manifest exists its links stay,
and by the above their bytes. Child manifests are counted the same way, and never collected.

The interleavings, each with what the client sees:
  upload-complete (`add_blob`) against removal (`begin`, bytes deleted, `end`):
    complete before begin: the record is linked, begin finds linked > 0 and does nothing.
    begin before complete: the upload takes the record over with its own key; the GC deletes
      only the old key and its `end` finds the key changed, so the record stays, live.
    end before complete: the record is gone; the upload makes a new one.
  mount (`link_blob`) against removal:
    mount before begin: linked > 0, begin does nothing.
    begin before mount: the mount is refused (None), the registry answers 202 and the client
      uploads the blob.
    mount reads the live record, the GC removes it, the mount's write: its condition (live,
      same key) fails; read again, the record is gone or deleting: refused, as above.
  HEAD against the link's drop:
    HEAD touches an idle link first: the drop's condition (idle since before the cutoff) fails.
    drop first: the HEAD answers 404 and the client uploads the blob.
    HEAD reads the link, the drop, then the HEAD's touch: the touch finds no link, 404.
    (A HEAD touches only a link idle for TOUCH_AFTER, registry/blobs.py: one write per link
    per 10 minutes at most, and none on pulls, whose links are in use.)
  manifest-put against the link's drop:
    put first: refs > 0, the drop's condition fails.
    drop first: the put is refused, MANIFEST_BLOB_UNKNOWN: the push was not acknowledged, and
      pushing again uploads the blob. The grace makes this rare: a client that uploaded or
      HEADed a blob less than `grace - TOUCH_AFTER` ago always finds its link.
    the GC lists the link as idle, the put, then the drop: refs > 0, the drop fails.
  manifest-delete: the manifest's links are touched as it goes, so they wait a whole grace.
  crash (kill -9 anywhere): every step is one transition; a record left `deleting` has no link
    and takes none, uploads take it over, and the next run lists it and finishes (begin returns
    it as it is, deleting bytes already gone is no error, `end` is conditional).
  two runs at once: both may delete the same bytes (no error) and one `end` succeeds.

Regions (docs/regions.md): the store's transitions go to the primary's table (rules 1-2), and
the bytes go through `BlobStore.remove`, which deletes every region's copy and marks the object
removed so a replica that lands later is deleted on arrival (rule 6).

A dry run changes nothing a client can see: it lists exactly what the same run would delete,
the blobs whose links all go in step 2 included (it counts them, `links_of`). It does bring
records made before the lifecycle existed into its bookkeeping (LifecycleStore.prepare).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..storage.lifecycle_ports import BlobState, Cursor, IdleLink, LifecycleStore
from ..storage.policy_ports import PolicyStore
from ..storage.ports import BlobStore, MetadataStore, UploadSession
from .retention_run import Decision, Retention

DEFAULT_GRACE = 24 * 3600  # at least the part URLs' hour and S3's one-day multipart lifetime
PAGE = 500  # items read per page: bounds a run's memory and each call's time
PHASES = ("retention", "uploads", "links", "blobs")


@dataclass(frozen=True)
class Removal:
    kind: str  # "image" (expired), "kept" (expired by a rule, kept), "upload", "link", "blob"
    subject: str  # "<repository> <upload id>", "<repository>@<digest>" or "<digest>"
    size: int
    decision: Decision | None = None  # for "image" and "kept": the rule, tags, times, why


Report = Callable[[Removal], None]


@dataclass(frozen=True)
class Progress:
    """Where a run stands: the phase, the cursor within it, and the run's fixed cutoff (what
    was used since then stays). Saved between the batches of the scheduled function."""

    cutoff: float
    phase: str = PHASES[0]
    cursor: Cursor = None

    def to_json(self) -> str:
        return json.dumps({"cutoff": self.cutoff, "phase": self.phase, "cursor": self.cursor})

    @staticmethod
    def from_json(text: str) -> Progress:
        saved = json.loads(text)
        return Progress(float(saved["cutoff"]), str(saved["phase"]), saved.get("cursor"))


@dataclass
class Totals:
    dry_run: bool
    uploads: int = 0
    links: int = 0
    blobs: int = 0
    bytes: int = 0  # of the blobs removed
    images: int = 0  # expired by retention policies
    kept: int = 0  # that a rule expires but that are kept (immutable, an index's...)

    def add(self, removal: Removal) -> None:
        if removal.kind == "image":
            self.images += 1
        elif removal.kind == "kept":
            self.kept += 1
        elif removal.kind == "blob":
            self.blobs += 1
            self.bytes += removal.size
        elif removal.kind == "link":
            self.links += 1
        else:
            self.uploads += 1

    def describe(self) -> str:
        """One line for a log: what went (dry: would go), no names."""
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"{verb} {self.blobs} blobs ({self.bytes} bytes), {self.links} repository links,"
            f" {self.uploads} abandoned uploads"
        )


def _silent(removal: Removal) -> None:
    """A report that ignores what it hears."""


class GarbageCollector:
    def __init__(
        self,
        lifecycle: LifecycleStore,
        meta: MetadataStore,
        store: BlobStore,
        *,
        page: int = PAGE,
        clock: Callable[[], float] = time.time,
        policies: PolicyStore | None = None,
    ) -> None:
        """With `policies`, a run first applies the retention policies (step 0)."""
        self.lifecycle, self.meta, self.store = lifecycle, meta, store
        self.page, self.clock = page, clock
        self.retention = (
            None
            if policies is None
            else Retention(lifecycle, meta, policies, page=page, clock=clock)
        )

    def run(
        self, grace: float = DEFAULT_GRACE, *, dry_run: bool = False, report: Report = _silent
    ) -> Totals:
        """One whole collection; `report` hears of each removal (dry: each that would be)."""
        totals = Totals(dry_run)
        progress: Progress | None = Progress(self._cutoff(grace))
        self.lifecycle.prepare()
        would_go: dict[str, tuple[int, int]] = {}
        while progress is not None:
            progress = self._page(progress, dry_run, _counting(totals, report), would_go)
        if dry_run:
            self._blobs_whose_links_would_go(would_go, _counting(totals, report))
        return totals

    def run_batch(
        self, grace: float, deadline: float, report: Report = _silent
    ) -> tuple[Totals, bool]:
        """Go on with the saved run (or start one) until `deadline` (a clock time), a page at
        a time, saving where it stands after each page; (totals, whether the run finished).
        For the scheduled function: each invocation does a bounded part of one run, and at
        least one page, so that every batch moves the run on, however late it starts."""
        totals = Totals(dry_run=False)
        saved = self.lifecycle.gc_progress()
        progress: Progress | None = (
            Progress.from_json(saved) if saved else Progress(self._cutoff(grace))
        )
        if saved is None:
            self.lifecycle.prepare()
        while progress is not None:
            progress = self._page(progress, False, _counting(totals, report), {})
            self.lifecycle.save_gc_progress(progress.to_json() if progress else None)
            if self.clock() >= deadline:
                break
        return totals, progress is None

    def _cutoff(self, grace: float) -> float:
        if grace < 0:
            raise ValueError("the grace is a duration: 0 or more seconds")
        return self.clock() - grace

    def _page(
        self,
        progress: Progress,
        dry_run: bool,
        removed: Report,
        would_go: dict[str, tuple[int, int]],
    ) -> Progress | None:
        """Do one page of the current phase; where the run stands after it (None: done)."""
        cutoff, cursor = progress.cutoff, progress.cursor
        if progress.phase == "retention":
            cursor = self._retention(cursor, dry_run, removed)
        elif progress.phase == "uploads":
            sessions, cursor = self.lifecycle.stale_uploads(cutoff, cursor, self.page)
            self._uploads(sessions, dry_run, removed)
            if cursor is None and not dry_run:
                self._orphan_upload_bytes(cutoff)
        elif progress.phase == "links":
            links, cursor = self.lifecycle.idle_links(cutoff, cursor, self.page)
            self._links(links, cutoff, dry_run, removed, would_go)
        else:
            blobs, cursor = self.lifecycle.unlinked_blobs(cursor, self.page)
            self._blobs(blobs, dry_run, removed, would_go)
        if cursor is not None:
            return replace(progress, cursor=cursor)
        following = PHASES.index(progress.phase) + 1
        if following == len(PHASES):
            return None
        return Progress(cutoff, PHASES[following])

    # -- 0. retention policies: one repository a page ---------------------------------------
    def _retention(self, after: Cursor, dry_run: bool, removed: Report) -> Cursor:
        """Apply the policy of the repository after `after`; the cursor is its name."""
        if self.retention is None:
            return None
        repository = self.retention.next_repository(after)
        if repository is None:
            return None
        for decision in self.retention.repository(repository, dry_run):
            kind = "kept" if decision.kept else "image"
            subject = f"{repository}@{decision.image.digest}"
            removed(Removal(kind, subject, 0, decision))
        return repository

    # -- 1. upload sessions ----------------------------------------------------------------
    def _uploads(self, sessions: list[UploadSession], dry_run: bool, removed: Report) -> None:
        for session in sessions:
            if not dry_run:
                self.meta.delete_upload(session.repository, session.upload_id)
                self.store.discard(session.upload_id, session.state)
            removed(Removal("upload", f"{session.repository} {session.upload_id}", session.size))

    def _orphan_upload_bytes(self, cutoff: float) -> None:
        """Bytes whose session is gone (on disk; S3's lifecycle rules take the bucket's)."""
        for upload_id in self.store.upload_ids(untouched_since=cutoff):
            if not self.meta.upload_exists(upload_id):
                self.store.discard(upload_id, {})

    # -- 2. idle links ---------------------------------------------------------------------
    def _links(
        self,
        links: list[IdleLink],
        cutoff: float,
        dry_run: bool,
        removed: Report,
        would_go: dict[str, tuple[int, int]],
    ) -> None:
        """Drop idle links; in a dry run, count in `would_go` {digest: (links, size)}."""
        for link in links:
            if dry_run:
                count, _ = would_go.get(link.digest, (0, 0))
                would_go[link.digest] = (count + 1, link.size)
            elif not self.lifecycle.drop_idle_link(link.repository, link.digest, cutoff):
                continue  # used, touched or dropped meanwhile
            removed(Removal("link", f"{link.repository}@{link.digest}", link.size))

    # -- 3. unlinked blobs -----------------------------------------------------------------
    def _blobs(
        self,
        blobs: list[BlobState],
        dry_run: bool,
        removed: Report,
        would_go: dict[str, tuple[int, int]],
    ) -> None:
        for state in blobs:
            blob = state.record
            if dry_run:
                would_go.pop(blob.digest, None)
                removed(Removal("blob", blob.digest, blob.size))
                continue
            record = self.lifecycle.begin_blob_removal(blob.digest)
            if record is None:
                continue  # linked again meanwhile
            self.store.remove(record)
            self.lifecycle.end_blob_removal(record.digest, record.key)
            removed(Removal("blob", record.digest, record.size))

    def _blobs_whose_links_would_go(
        self, would_go: dict[str, tuple[int, int]], removed: Report
    ) -> None:
        """Dry run: the blobs a real run would find unlinked after dropping their links."""
        for digest, (count, size) in sorted(would_go.items()):
            if self.lifecycle.links_of(digest) == count:
                removed(Removal("blob", digest, size))


def _counting(totals: Totals, report: Report) -> Report:
    def removed(removal: Removal) -> None:
        totals.add(removal)
        report(removal)

    return removed
