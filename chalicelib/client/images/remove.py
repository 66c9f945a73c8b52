"""`soute rm HOST/REPO:TAG` (untag) and `soute rm HOST/REPO@DIGEST [--referrers]` (delete a
manifest, and first the manifests that refer to it). Each deletion is reported as it happens,
so an interrupted removal still says what is gone. A registry that refuses tag deletion (the
spec makes it optional) or deletes altogether gets an explanation and the command that works."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import requests

from ..errors import PushError, UsageError
from ..session import RegistrySession, oci_error
from .api import check, delete, get_manifest, referrers, referrers_tag
from .errors import NotFound
from .targets import Reference


@dataclass(frozen=True)
class Deletion:
    """One thing deleted: a tag, a manifest, a referrer of it, or a referrers-tag index."""

    kind: str
    reference: str
    digest: str
    artifact_type: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "reference": self.reference,
            "digest": self.digest,
            "artifactType": self.artifact_type,
        }


Report = Callable[[Deletion], None]


def _refused(ref: Reference, response: requests.Response) -> PushError:
    host = ref.repository.host
    if response.status_code == 405:
        return PushError(
            f"{host} does not allow deleting manifests ({oci_error(response)}): deletes are "
            "off in its configuration (for the reference registry, storage.delete.enabled)"
        )
    return PushError(f"deleting {ref}: {host} answered {oci_error(response)}")


def _delete_manifest(session: RegistrySession, ref: Reference) -> bool:
    """DELETE one manifest by digest; False if it was already gone."""
    response = delete(session, f"/v2/{ref.repository.name}/manifests/{ref.reference}")
    if response.status_code == 404:
        return False
    if response.status_code >= 400:
        raise _refused(ref, response)
    return True


def remove_tag(session: RegistrySession, ref: Reference, report: Report) -> None:
    """Untag `ref`; the manifest stays (reachable by digest, and by its other tags)."""
    digest = get_manifest(session, ref.repository.name, ref.reference, str(ref)).digest
    response = delete(session, f"/v2/{ref.repository.name}/manifests/{ref.reference}")
    if response.status_code in (400, 405) or (
        response.status_code == 404 and _still_there(session, ref)
    ):
        raise PushError(
            f"{ref.repository.host} does not delete tags ({oci_error(response)}); "
            f"`soute rm {ref.at(digest)}` deletes the manifest {ref.reference} points at, "
            "with every tag of it"
        )
    check(response, f"deleting {ref}")
    report(Deletion("tag", str(ref), digest))


def _still_there(session: RegistrySession, ref: Reference) -> bool:
    try:
        get_manifest(session, ref.repository.name, ref.reference, str(ref))
    except NotFound:
        return False
    return True


def _referrer_tree(session: RegistrySession, ref: Reference, seen: set[str]) -> list[Deletion]:
    """The referrers of `ref` (and theirs), deepest first; first of all the tag schema's index
    when the referrers come from it (a registry may refuse to delete what an index lists)."""
    found, source = referrers(session, ref.repository.name, ref.reference, str(ref))
    planned: list[Deletion] = []
    if source == "tag":
        tag = referrers_tag(ref.reference)
        index = get_manifest(session, ref.repository.name, tag, str(ref)).digest
        planned.append(Deletion("referrers index", f"{ref.repository}:{tag}", index))
    for entry in found:
        digest = str(entry.get("digest"))
        if digest in seen:
            continue
        seen.add(digest)
        planned += _referrer_tree(session, ref.at(digest), seen)
        planned.append(Deletion("referrer", str(ref.at(digest)), digest, entry.get("artifactType")))
    return planned


def remove_manifest(
    session: RegistrySession, ref: Reference, with_referrers: bool, report: Report
) -> list[str]:
    """Delete manifest `ref` (with its tags), its referrers first if asked; returns the
    referrers it leaves behind (not asked to delete them)."""
    get_manifest(session, ref.repository.name, ref.reference, str(ref))  # NotFound if absent
    tree = _referrer_tree(session, ref, {ref.reference})
    if with_referrers:
        for deletion in tree:
            if _delete_manifest(session, ref.at(deletion.digest)):
                report(deletion)
    if not _delete_manifest(session, ref):
        raise NotFound(f"{ref}: not found (deleted meanwhile?)")
    report(Deletion("manifest", str(ref), ref.reference))
    return [] if with_referrers else [d.reference for d in tree if d.kind == "referrer"]


def remove(
    session: RegistrySession, ref: Reference, with_referrers: bool, report: Report
) -> list[str]:
    """`soute rm`: a tag or a manifest; returns the referrers it leaves behind."""
    if not ref.by_digest:
        if with_referrers:
            raise UsageError(
                "--referrers deletes a manifest and what refers to it: name the manifest by "
                "digest (HOST/REPO@sha256:…; `soute inspect` shows it)"
            )
        remove_tag(session, ref, report)
        return []
    return remove_manifest(session, ref, with_referrers, report)
