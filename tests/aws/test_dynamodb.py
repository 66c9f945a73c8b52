"""The DynamoDB metadata store through the registry service, against moto: the guarantees the
single-table design makes, and the number of calls each operation costs."""

from __future__ import annotations

import io
import json
import os
import threading
import uuid

import pytest

from chalicelib.oci.errors import OCIError
from chalicelib.registry.errors import Conflict
from chalicelib.registry.service import Registry
from chalicelib.storage.ports import BlobRecord
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


def test_more_references_than_one_transaction_holds(registry: Registry) -> None:
    # 120 layers: more conditional updates than one DynamoDB transaction takes (100).
    meta, repo = registry.uploads.meta, "r/wide"
    config = _push(registry, repo, b"{}")
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    layers = []
    for _ in range(120):
        data = os.urandom(32)
        meta.add_blob(repo, BlobRecord(_digest(data), len(data), "blobs/none"))
        layers.append(
            {"mediaType": "application/octet-stream", "digest": _digest(data), "size": len(data)}
        )
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
    ).encode()
    registry.manifests.put(repo, "v1", body, OCI_MANIFEST)
    with pytest.raises(Conflict) as refused:
        registry.blobs.delete(repo, layers[107]["digest"])
    assert refused.value.code == "DENIED"
    registry.manifests.delete(repo, _digest(body))
    registry.blobs.delete(repo, layers[107]["digest"])  # the counts went back to zero


def test_missing_reference_among_many_leaves_no_count_behind(registry: Registry) -> None:
    meta, repo = registry.uploads.meta, "r/wide-missing"
    digests = []
    for _ in range(110):
        data = os.urandom(32)
        meta.add_blob(repo, BlobRecord(_digest(data), len(data), "blobs/none"))
        digests.append(_digest(data))
    layers = [{"mediaType": "application/octet-stream", "digest": d, "size": 32} for d in digests]
    layers.append(
        {"mediaType": "application/octet-stream", "digest": _digest(b"absent"), "size": 6}
    )
    config = _push(registry, repo, b"{}")
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
    ).encode()
    with pytest.raises(OCIError) as refused:
        registry.manifests.put(repo, "v1", body, OCI_MANIFEST)
    assert refused.value.code == "MANIFEST_BLOB_UNKNOWN"
    for digest in digests:
        registry.blobs.delete(repo, digest)  # no count was left raised


def test_index_counts_its_children(registry: Registry) -> None:
    children = []
    for _ in range(3):
        child = _manifest(registry, "r/index")
        registry.manifests.put("r/index", _digest(child), child, OCI_MANIFEST)
        children.append({"mediaType": OCI_MANIFEST, "digest": _digest(child), "size": len(child)})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode()
    registry.manifests.put("r/index", "all", index, OCI_INDEX)
    with pytest.raises(OCIError):
        registry.manifests.delete("r/index", children[0]["digest"])
    registry.manifests.delete("r/index", "all")
    registry.manifests.delete("r/index", _digest(index))
    registry.manifests.delete("r/index", children[0]["digest"])


def test_deleting_a_manifest_removes_the_tags_that_point_at_it(registry: Registry) -> None:
    first, second = _manifest(registry, "r/tags"), _manifest(registry, "r/tags")
    registry.manifests.put("r/tags", "a", first, OCI_MANIFEST)
    registry.manifests.put("r/tags", "b", first, OCI_MANIFEST)
    registry.manifests.put("r/tags", "b", second, OCI_MANIFEST)  # b moves away from first
    registry.manifests.delete("r/tags", _digest(first))
    assert registry.listing.tags("r/tags", None, None).items == ["b"]
    assert registry.manifests.get("r/tags", "b").body == second
    registry.manifests.delete("r/tags", _digest(second))
    assert registry.listing.catalog(None, None).items == []


def test_expired_upload_session_is_gone(registry: Registry) -> None:
    session = registry.uploads.start("r/up")
    meta = registry.uploads.meta
    old = session.__class__(session.repository, session.upload_id, started_at=1.0)
    meta.delete_upload("r/up", session.upload_id)
    meta.create_upload(old)
    with pytest.raises(OCIError) as gone:
        registry.uploads.session("r/up", session.upload_id)
    assert gone.value.code == "BLOB_UPLOAD_UNKNOWN"


def test_eight_clients_moving_one_tag_and_pushing_the_same_blobs(registry: Registry) -> None:
    shared = [os.urandom(256) for _ in range(3)]
    bodies: list[bytes] = []
    errors: list[BaseException] = []

    def client() -> None:
        try:
            for data in shared:
                _push(registry, "r/race", data)
            config = _push(registry, "r/race", uuid.uuid4().bytes)
            config["mediaType"] = "application/vnd.oci.image.config.v1+json"
            layers = [_push(registry, "r/race", data) for data in shared]
            body = json.dumps(
                {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
            ).encode()
            bodies.append(body)
            for _ in range(3):
                registry.manifests.put("r/race", "latest", body, OCI_MANIFEST)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    tagged = registry.manifests.get("r/race", "latest")
    assert tagged.body in bodies
    store = registry.manifests.meta
    owner = store._get("R#r/race", f"MAN#{tagged.digest}")  # noqa: SLF001
    assert owner["tags"] == {"latest"}
    for body in bodies:
        if body != tagged.body:
            assert "tags" not in store._get("R#r/race", f"MAN#{_digest(body)}")  # noqa: SLF001
    shared_layer = json.loads(tagged.body)["layers"][0]["digest"]
    link = store._get("R#r/race", f"BLOB#{shared_layer}")  # noqa: SLF001
    assert int(link["refs"]) == 8  # every one of the eight manifests counts it once
