"""The DynamoDB metadata store through the registry service, against moto: the number of calls
each operation costs and where big manifests go. What the MetadataStore port promises (counted
references, tags, conditional writes, concurrent writers) is held on every adapter in
tests/storage/contract/test_metadata_store.py."""

from __future__ import annotations

import io
import json
import os
import uuid

import pytest

from chalicelib.oci.errors import OCIError
from chalicelib.registry.service import Registry
from tests.aws.conftest import CallCounter

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _push(registry: Registry, repo: str, data: bytes) -> dict:
    import hashlib

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    registry.uploads.upload_whole(repo, digest, io.BytesIO(data), len(data))
    return {"mediaType": "application/octet-stream", "digest": digest, "size": len(data)}


def _manifest(registry: Registry, repo: str, layers: int = 1, **extra: object) -> bytes:
    config = _push(registry, repo, json.dumps({"n": uuid.uuid4().hex}).encode())
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    blobs = [_push(registry, repo, os.urandom(64)) for _ in range(layers)]
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": blobs,
        **extra,
    }
    return json.dumps(document).encode()


def _digest(body: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(body).hexdigest()


def test_pull_by_tag_is_one_read(registry: Registry, aws_calls: CallCounter) -> None:
    body = _manifest(registry, "r/one")
    registry.manifests.put("r/one", "v1", body, OCI_MANIFEST)
    aws_calls.reset()
    assert registry.manifests.get("r/one", "v1").body == body
    # The first pull of the hour also records its time (retention's last pull: one write).
    assert aws_calls.calls == {"dynamodb.GetItem": 1, "dynamodb.UpdateItem": 1}
    aws_calls.reset()
    assert registry.manifests.get("r/one", "v1").body == body
    assert aws_calls.calls == {"dynamodb.GetItem": 1}


def test_blob_head_and_get_are_one_read_and_no_s3_call(
    registry: Registry, aws_calls: CallCounter
) -> None:
    descriptor = _push(registry, "r/blob", b"x" * 1000)
    aws_calls.reset()
    record = registry.blobs.stat("r/blob", descriptor["digest"])
    body = registry.blobs.body(record, 0, record.size)
    assert body.redirect_url and "X-Amz-Signature" in body.redirect_url
    assert aws_calls.calls == {"dynamodb.GetItem": 1}


def test_pushing_the_same_image_again_writes_nothing(
    registry: Registry, aws_calls: CallCounter
) -> None:
    body = _manifest(registry, "r/again")
    registry.manifests.put("r/again", "latest", body, OCI_MANIFEST)
    aws_calls.reset()
    registry.manifests.put("r/again", "latest", body, OCI_MANIFEST)
    registry.manifests.put("r/again", _digest(body), body, OCI_MANIFEST)
    assert aws_calls.dynamodb_writes() == 0
    assert aws_calls.s3() == 0


def test_mount_is_one_write(registry: Registry, aws_calls: CallCounter) -> None:
    descriptor = _push(registry, "r/source", b"shared")
    aws_calls.reset()
    assert registry.blobs.mount("r/target", descriptor["digest"], "r/source")
    assert aws_calls.dynamodb_writes() == 1


def test_manifest_too_big_for_an_item_goes_to_s3(registry: Registry) -> None:
    body = _manifest(registry, "r/big", annotations={"pad": "x" * 600_000})
    registry.manifests.put("r/big", "v1", body, OCI_MANIFEST)
    assert registry.manifests.get("r/big", "v1").body == body
    assert registry.manifests.get("r/big", _digest(body)).body == body


def test_tagging_a_stored_big_manifest_does_not_upload_it_again(
    registry: Registry, aws_calls: CallCounter
) -> None:
    body = _manifest(registry, "r/big", annotations={"pad": "x" * 600_000})
    registry.manifests.put("r/big", "v1", body, OCI_MANIFEST)
    aws_calls.reset()
    registry.manifests.put("r/big", "v2", body, OCI_MANIFEST, extra_tags=("v3",))
    assert aws_calls.calls["s3.PutObject"] == 0
    for tag in ("v1", "v2", "v3"):
        assert registry.manifests.get("r/big", tag).body == body


def test_expired_upload_session_is_gone(registry: Registry) -> None:
    session = registry.uploads.start("r/up")
    meta = registry.uploads.meta
    old = session.__class__(session.repository, session.upload_id, started_at=1.0)
    meta.delete_upload("r/up", session.upload_id)
    meta.create_upload(old)
    with pytest.raises(OCIError) as gone:
        registry.uploads.session("r/up", session.upload_id)
    assert gone.value.code == "BLOB_UPLOAD_UNKNOWN"
