"""Push what skopeo cannot over plain HTTP: an artifact manifest with a `subject` (a signature,
an SBOM), more tags of a manifest, and the referrers-tag index of the OCI tag schema (what
clients write to a registry without the referrers API)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(base: str, repo: str, data: bytes) -> dict[str, Any]:
    """POST then PUT (every registry takes this form); the blob's descriptor."""
    started = requests.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=30)
    assert started.status_code == 202, started.text
    location = requests.compat.urljoin(base, started.headers["Location"])
    joiner = "&" if "?" in location else "?"
    done = requests.put(f"{location}{joiner}digest={sha256(data)}", data=data, timeout=30)
    assert done.status_code == 201, done.text
    return {"digest": sha256(data), "size": len(data)}


def put_manifest(base: str, repo: str, reference: str, body: bytes, media_type: str) -> None:
    reply = requests.put(
        f"{base}/v2/{repo}/manifests/{reference}",
        data=body,
        headers={"Content-Type": media_type},
        timeout=30,
    )
    assert reply.status_code == 201, reply.text


def get_manifest(base: str, repo: str, reference: str) -> tuple[bytes, str]:
    accept = f"{OCI_MANIFEST}, {OCI_INDEX}"
    reply = requests.get(
        f"{base}/v2/{repo}/manifests/{reference}", headers={"Accept": accept}, timeout=30
    )
    assert reply.status_code == 200, reply.text
    return reply.content, reply.headers["Content-Type"]


def tag(base: str, repo: str, source: str, *tags: str) -> None:
    """Put the manifest `source` (a tag or digest) under more tags."""
    body, media_type = get_manifest(base, repo, source)
    for name in tags:
        put_manifest(base, repo, name, body, media_type)


def push_artifact(base: str, repo: str, subject: str, artifact_type: str) -> dict[str, Any]:
    """Push an artifact referring to manifest `subject` (by digest); its descriptor."""
    subject_body, subject_type = get_manifest(base, repo, subject)
    config = {"mediaType": EMPTY, **push_blob(base, repo, b"{}")}
    layer = {"mediaType": "application/octet-stream", **push_blob(base, repo, uuid.uuid4().bytes)}
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": config,
        "layers": [layer],
        "subject": {"mediaType": subject_type, "digest": subject, "size": len(subject_body)},
        "annotations": {"org.example.note": "made by the test"},
    }
    body = json.dumps(document).encode()
    put_manifest(base, repo, sha256(body), body, OCI_MANIFEST)
    return {
        "mediaType": OCI_MANIFEST,
        "digest": sha256(body),
        "size": len(body),
        "artifactType": artifact_type,
    }


def put_referrers_tag(base: str, repo: str, subject: str, referrers: list[dict[str, Any]]) -> str:
    """The tag-schema fallback: an index of `referrers` under the tag `sha256-<hex>`."""
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": referrers})
    body = index.encode()
    put_manifest(base, repo, subject.replace(":", "-", 1), body, OCI_INDEX)
    return sha256(body)
