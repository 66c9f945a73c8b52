"""Manifests: read by tag or digest, store with every reference checked, delete."""

from __future__ import annotations

import hashlib

from ..oci.digest import Digest, is_digest, parse_digest
from ..oci.errors import OCIError
from ..oci.manifest import parse_manifest
from ..oci.names import check_tag
from ..storage.ports import (
    Contention,
    ManifestRecord,
    ManifestWrite,
    MetadataStore,
    MissingReference,
    StillReferenced,
)


class Manifests:
    def __init__(self, meta: MetadataStore) -> None:
        self.meta = meta

    def get(self, repository: str, reference: str) -> ManifestRecord:
        if is_digest(reference):
            record = self.meta.manifest(repository, str(parse_digest(reference)))
        else:
            record = self.meta.tagged_manifest(repository, check_tag(reference))
        if record is None:
            raise OCIError(
                "MANIFEST_UNKNOWN", f"manifest {reference} is not in repository {repository}"
            )
        return record

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
        manifest = parse_manifest(body, content_type)
        record = ManifestRecord(
            digest=str(digest),
            media_type=manifest.media_type,
            body=body,
            subject=str(manifest.subject.digest) if manifest.subject else None,
            artifact_type=manifest.artifact_type,
            annotations=manifest.annotations,
        )
        write = ManifestWrite(
            record=record,
            blobs=tuple(dict.fromkeys(str(blob.digest) for blob in manifest.blobs)),
            children=tuple(dict.fromkeys(str(child.digest) for child in manifest.children)),
            tags=tags,
        )
        try:
            self.meta.put_manifest(repository, write)
        except MissingReference as missing:
            if missing.kind == "blob" and self.meta.is_pending(repository, missing.digest):
                raise _pending(repository, missing.digest) from None
            raise _missing(repository, missing) from None
        except Contention:
            raise _busy(repository) from None
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
        if not is_digest(reference):
            if not self.meta.delete_tag(repository, check_tag(reference)):
                raise OCIError("MANIFEST_UNKNOWN", f"tag {reference} is not in {repository}")
            return
        digest = str(parse_digest(reference))
        try:
            deleted = self.meta.delete_manifest(repository, digest)
        except Contention:
            raise _busy(repository) from None
        except StillReferenced as error:
            raise OCIError(
                "DENIED",
                f"manifest {digest} is listed in index {error.referrer} in {repository};"
                " delete the index first",
                status=409,
            ) from None
        if not deleted:
            raise OCIError("MANIFEST_UNKNOWN", f"manifest {digest} is not in {repository}")


def _missing(repository: str, missing: MissingReference) -> OCIError:
    if missing.kind == "blob":
        return OCIError(
            "MANIFEST_BLOB_UNKNOWN",
            f"blob {missing.digest} is not in {repository}; push it before the manifest",
            detail={"digest": missing.digest},
        )
    return OCIError(
        "MANIFEST_UNKNOWN",
        f"manifest {missing.digest} is not in {repository}; push it before the index",
        status=400,
        detail={"digest": missing.digest},
    )


def _pending(repository: str, digest: str) -> OCIError:
    return OCIError(
        "MANIFEST_BLOB_UNKNOWN",
        f"blob {digest} of {repository} is still being verified after its upload; retry the"
        " manifest in a few seconds",
        status=409,
        detail={"digest": digest},
        headers={"Retry-After": "5"},
    )


def _busy(repository: str) -> OCIError:
    return OCIError(
        "TOOMANYREQUESTS",
        f"too many clients are changing the same tags of {repository} at once; retry shortly",
        headers={"Retry-After": "1"},
    )
