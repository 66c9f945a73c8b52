"""Manifests: read by tag or digest, store with every reference checked, delete.

The limits here hold on every backend, so that a push that works on one works on all; the
DynamoDB adapter is what sets them (dynamodb.py): one transaction takes 100 items and 4 MB,
one item 400 KB.

Refusals that need more than an OCI code to answer (a manifest still referenced, a blob still
being verified, tags changed by many clients at once, an immutable tag) are raised as
registry/errors.py types.

Quotas (lifecycle/quotas.py): the namespace's quota is read from the PolicyStore with each
manifest PUT and goes with the write, which the adapters refuse in the same transaction
(QuotaExceeded) when the blobs new to the namespace would take it past the quota.

Immutable tags: the rule is read from the PolicyStore (lifecycle/immutability.py) before the
write, and the adapters refuse a move or delete of a protected tag inside the conditional write
itself (TagImmutable), so the check and the write cannot be separated by another push.

Last pulls (for retention's `sinceImagePulled`, lifecycle/retention.py): the reads a pull makes
record it, at most once per PULL_RECORD_EVERY per tag and per manifest, and only when the value
just read is that old, so a pull usually writes nothing. A pull by tag is GET or HEAD by tag:
docker and containerd resolve a tag with HEAD, then GET the manifest by digest, and skopeo,
crane and podman GET by tag; a GET by digest (those second requests, pinned pulls, an index's
platform manifests) records on the manifest. A HEAD by digest does not: pushers send it to ask
whether a manifest exists. Pushes never record. A failed record never fails the pull.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator

from ..lifecycle.immutability import effective_rule
from ..lifecycle.quotas import quota_of
from ..oci.digest import Digest, is_digest, parse_digest
from ..oci.errors import OCIError
from ..oci.manifest import parse_manifest
from ..oci.names import check_tag, namespace_of
from ..oci.sizes import human_size
from ..storage.policy_ports import PolicyStore
from ..storage.ports import (
    PULL_RECORD_EVERY,
    BodyMissing,
    Contention,
    ManifestInfo,
    ManifestRecord,
    ManifestWrite,
    MetadataStore,
    MissingReference,
    QuotaExceeded,
    StillReferenced,
    TagImmutable,
    TooManyTags,
)
from .errors import Busy, Conflict, QuotaFull, ReferenceMissing, TagLocked

# Tags one PUT may set (the reference and its `?tag=` parameters): each may move a tag off
# another manifest, two items of the one transaction that stores the manifest (at most 100
# items and 4 MB, with manifest items of up to ~360 KB).
MAX_TAGS_PER_PUT = 8
# RFC 6838: a media type is at most 127 + 1 + 127 characters; the adapters keep it in items.
MAX_MEDIA_TYPE_LENGTH = 255

log = logging.getLogger("soute.registry")


class Manifests:
    def __init__(self, meta: MetadataStore, policies: PolicyStore | None = None) -> None:
        self.meta = meta
        self.policies = policies

    def get(self, repository: str, reference: str) -> ManifestRecord:
        try:
            if is_digest(reference):
                record = self.meta.manifest(repository, str(parse_digest(reference)))
            else:
                record = self.meta.tagged_manifest(repository, check_tag(reference))
        except BodyMissing as missing:
            raise _body_missing(repository, missing.digest) from None
        if record is None:
            raise _unknown(repository, reference)
        tag = None if is_digest(reference) else reference
        self._pulled(repository, record.digest, tag, record.pulled_at)
        return record

    def _pulled(self, repository: str, digest: str, tag: str | None, last: float | None) -> None:
        """Record a pull if the last one recorded is an hour old (module docstring)."""
        now = time.time()
        stale_before = now - PULL_RECORD_EVERY
        if last is not None and last >= stale_before:
            return
        try:
            self.meta.record_pull(repository, digest, tag, now, stale_before)
        except Exception as error:  # noqa: BLE001 - a pull never fails for its bookkeeping
            log.warning(
                "last pull of %s %s not recorded: %s", repository, tag or digest, repr(error)
            )

    def head(self, repository: str, reference: str) -> ManifestInfo:
        """What a HEAD answers: from the record only, so it never reads a body."""
        if is_digest(reference):
            info = self.meta.manifest_info(repository, str(parse_digest(reference)))
        else:
            info = self.meta.tagged_manifest_info(repository, check_tag(reference))
        if info is None:
            raise _unknown(repository, reference)
        if not is_digest(reference):
            self._pulled(repository, info.digest, reference, info.pulled_at)
        return info

    def missing_bodies(self, page: int = 1000) -> Iterator[tuple[str, str, int]]:
        """Walk every manifest of every repository; yield (repository, digest, 0) for each
        whose body is lost (BodyMissing) and, after each repository, (repository, "", count
        of manifests checked). For `soute verify`: one read per manifest, never on a request
        path."""
        last_repository = None
        while repositories := self.meta.repositories(last_repository, page):
            for repository in repositories:
                checked, last = 0, None
                while digests := self.meta.manifest_digests(repository, last, page):
                    for digest in digests:
                        checked += 1
                        try:
                            self.meta.manifest(repository, digest)
                        except BodyMissing:
                            yield repository, digest, 0
                    last = digests[-1]
                yield repository, "", checked
            last_repository = repositories[-1]

    def put(
        self,
        repository: str,
        reference: str,
        body: bytes,
        content_type: str | None,
        extra_tags: tuple[str, ...] = (),
    ) -> tuple[ManifestRecord, tuple[str, ...]]:
        """Store a manifest under its digest and its tags: the reference if it is a tag, and
        `extra_tags` (the `?tag=` parameters); return the record and the tags set."""
        digest, tag = self._digest_and_tag(reference, body)
        tags = tuple(dict.fromkeys(check_tag(t) for t in ((tag,) if tag else ()) + extra_tags))
        if len(tags) > MAX_TAGS_PER_PUT:
            raise OCIError(
                "TAG_INVALID",
                f"a manifest PUT sets at most {MAX_TAGS_PER_PUT} tags (the reference and its"
                f" ?tag= parameters), this one {len(tags)}: set the others with further PUTs",
            )
        manifest = parse_manifest(body, content_type)
        _check_type_lengths(manifest.media_type, manifest.artifact_type)
        record = ManifestRecord(
            digest=str(digest),
            media_type=manifest.media_type,
            body=body,
            subject=str(manifest.subject.digest) if manifest.subject else None,
            artifact_type=manifest.artifact_type,
            annotations=manifest.annotations,
        )
        # The namespace's settings in one read: its quota, and its immutability if needed.
        settings = self.policies.settings(namespace_of(repository)) if self.policies else None
        scope, rule = effective_rule(self.policies, repository, settings) if tags else ("", None)
        write = ManifestWrite(
            record=record,
            blobs=tuple(dict.fromkeys(str(blob.digest) for blob in manifest.blobs)),
            children=tuple(dict.fromkeys(str(child.digest) for child in manifest.children)),
            tags=tags,
            immutable_tags=tuple(t for t in tags if rule is not None and rule.protects(t)),
            quota=quota_of(self.policies, repository, settings),
        )
        try:
            self.meta.put_manifest(repository, write)
        except TagImmutable as locked:
            raise _immutable(repository, scope, locked, "moved to another manifest") from None
        except QuotaExceeded as full:
            raise _quota_full(repository, full) from None
        except MissingReference as missing:
            if missing.kind == "blob" and self.meta.is_pending(repository, missing.digest):
                raise _pending(repository, missing.digest) from None
            raise _missing(repository, missing) from None
        except Contention:
            raise _busy(repository) from None
        except TooManyTags as error:
            raise OCIError(
                "TAG_INVALID",
                f"manifest {error.digest} in {repository} has {error.limit} tags, the most one"
                f" manifest may have; delete tags it no longer needs (DELETE /v2/{repository}"
                "/manifests/<tag>) before adding others",
            ) from None
        return record, tags

    @staticmethod
    def _digest_and_tag(reference: str, body: bytes) -> tuple[Digest, str | None]:
        if not is_digest(reference):
            return Digest("sha256", hashlib.sha256(body).hexdigest()), check_tag(reference)
        claimed = parse_digest(reference)
        actual = Digest(claimed.algorithm, hashlib.new(claimed.algorithm, body).hexdigest())
        if actual != claimed:
            raise OCIError(
                "DIGEST_INVALID",
                f"manifest body has digest {actual}, not {claimed} as in the URL",
            )
        return actual, None

    def delete(self, repository: str, reference: str) -> None:
        scope, rule = effective_rule(self.policies, repository)
        if not is_digest(reference):
            tag = check_tag(reference)
            try:
                deleted = self.meta.delete_tag(repository, tag, rule.protects(tag))
            except TagImmutable as locked:
                raise _immutable(repository, scope, locked, "deleted") from None
            if not deleted:
                raise OCIError("MANIFEST_UNKNOWN", f"tag {reference} is not in {repository}")
            return
        digest = str(parse_digest(reference))
        protected = rule.protects if rule.immutable or rule.exclusions else None
        try:
            deleted = self.meta.delete_manifest(repository, digest, protected)
        except TagImmutable as locked:
            raise _immutable(repository, scope, locked, "deleted", by_digest=True) from None
        except Contention:
            raise _busy(repository) from None
        except StillReferenced as error:
            index = f"index {error.referrer}" if error.referrer else "an index"
            raise Conflict(
                "DENIED",
                f"manifest {digest} is listed in {index} in {repository}; delete the index first",
            ) from None
        if not deleted:
            raise OCIError("MANIFEST_UNKNOWN", f"manifest {digest} is not in {repository}")


def _unknown(repository: str, reference: str) -> OCIError:
    return OCIError("MANIFEST_UNKNOWN", f"manifest {reference} is not in repository {repository}")


def _body_missing(repository: str, digest: str) -> OCIError:
    # MANIFEST_UNKNOWN, not UNAVAILABLE: the content is gone until someone pushes it again, so
    # a retry cannot help, and every client shows an unknown manifest's message ("manifest
    # unknown: ...") where an unavailable registry is retried and then reported without one.
    return OCIError(
        "MANIFEST_UNKNOWN",
        f"manifest {digest} of {repository} is recorded but its content is missing from"
        " storage (a table restored without its bucket?); push the manifest again to restore"
        " it, and run `soute verify` to find others",
        detail={"digest": digest},
    )


def _check_type_lengths(media_type: str, artifact_type: str | None) -> None:
    for name, value in (("mediaType", media_type), ("artifactType", artifact_type)):
        if value is not None and len(value) > MAX_MEDIA_TYPE_LENGTH:
            raise OCIError(
                "MANIFEST_INVALID",
                f"the manifest's {name} is {len(value)} characters; a media type has at most"
                f" {MAX_MEDIA_TYPE_LENGTH}",
            )


def _missing(repository: str, missing: MissingReference) -> ReferenceMissing:
    if missing.kind == "blob":
        return ReferenceMissing(
            "MANIFEST_BLOB_UNKNOWN",
            f"blob {missing.digest} is not in {repository}; push it before the manifest",
            digest=missing.digest,
        )
    return ReferenceMissing(
        "MANIFEST_UNKNOWN",
        f"manifest {missing.digest} is not in {repository}; push it before the index",
        digest=missing.digest,
    )


def _pending(repository: str, digest: str) -> Conflict:
    return Conflict(
        "MANIFEST_BLOB_UNKNOWN",
        f"blob {digest} of {repository} is still being verified after its upload; retry the"
        " manifest in a few seconds",
        detail={"digest": digest},
        retry_after=5,
    )


def _immutable(
    repository: str, scope: str, locked: TagImmutable, refused: str, by_digest: bool = False
) -> TagLocked:
    """What clients print (skopeo, docker: "denied: <message>"): what is immutable, where, and
    the admin command that lifts it (a repository's setting wins over its namespace's)."""
    what = f"tag {locked.tag} of {repository} is immutable"
    if scope and scope != repository:
        what += f" (namespace {scope})"
    if by_digest:
        what = f"manifest {locked.digest} is tagged {locked.tag}, and {what}"
    else:
        what += f" and names {locked.digest}"
    return TagLocked(
        f"{what}: it cannot be {refused}; push under a new tag, or an admin lifts it with"
        f" `soute immutable set {repository} --off` (or --exclude a pattern)",
        repository=repository,
        tag=locked.tag,
        digest=locked.digest,
    )


def _quota_full(repository: str, full: QuotaExceeded) -> QuotaFull:
    """What clients print after "denied: ": the quota, the use, what the image would add, and
    the two ways out."""
    namespace = full.namespace
    return QuotaFull(
        f"namespace {namespace} is over its quota: this image adds {human_size(full.adding)} of"
        f" blobs {namespace} does not hold yet to the {human_size(full.used)} it stores, and its"
        f" quota is {human_size(full.limit)}; delete images of {namespace} it no longer needs"
        " (their layers stop counting at once; GET /v2/_soute/usage?repository=NAME shows what"
        " a repository stores, and the quota), or an admin raises it with `soute quota set"
        f" {namespace} SIZE`",
        namespace=namespace,
        limit=full.limit,
        used=full.used,
        adding=full.adding,
    )


def _busy(repository: str) -> Busy:
    return Busy(
        f"too many clients are changing the same tags of {repository}, or the quota count of"
        " its namespace, at once; retry shortly",
        retry_after=1,
    )
