"""The S3 side of direct uploads against moto: presigned UploadPart URLs, ListParts, completion
with the client's ETags, read-back verification; the pending marker in DynamoDB; the verifier
that invokes the second Lambda function."""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.stub import Stubber

from chalicelib.oci.digest import Digest
from chalicelib.server import verifiers
from chalicelib.server.backends import BackendOptions, build_registry
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb import DynamoMetadataStore
from chalicelib.storage.aws.s3 import MiB, S3BlobStore
from chalicelib.storage.ports import DigestMismatch, PartDenied, PartsInvalid


def _store(backend: BackendOptions) -> S3BlobStore:
    return S3BlobStore(aws_clients(backend.region, backend.endpoint_url).s3, backend.s3_bucket)


def _put(store: S3BlobStore, upload: str, state: dict, number: int, data: bytes) -> str:
    expires = int(time.time()) + 600
    url = store.part_url(upload, state, number, expires, "https://ignored", size=len(data)).url
    response = requests.put(url, data=data, timeout=60)
    assert response.status_code == 200, response.text
    return response.headers["ETag"]


def test_presigned_parts_listed_completed_and_verified(backend: BackendOptions) -> None:
    store, upload = _store(backend), uuid.uuid4().hex
    state = store.start_parts(upload)
    first, last = b"a" * (5 * MiB), b"tail"
    expires = int(time.time()) + 1234
    url = store.part_url(upload, state, 1, expires, "https://ignored", size=len(first)).url
    assert 1200 <= int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]) <= 1234
    etag2 = _put(store, upload, state, 2, last)
    etag1 = _put(store, upload, state, 1, first)
    parts = store.received_parts(upload, state)
    assert [(p.number, p.etag, p.size) for p in parts] == [
        (1, etag1, len(first)),
        (2, etag2, len(last)),
    ]
    state = store.complete_parts(upload, state, [(1, etag1), (2, etag2)])
    digest = Digest("sha256", hashlib.sha256(first + last).hexdigest())
    key = store.verify_parts(upload, state, digest)
    s3 = aws_clients(backend.region, backend.endpoint_url).s3
    assert s3.get_object(Bucket=backend.s3_bucket, Key=key)["Body"].read() == first + last


def test_wrong_etag_and_wrong_digest(backend: BackendOptions) -> None:
    store, upload = _store(backend), uuid.uuid4().hex
    state = store.start_parts(upload)
    etag = _put(store, upload, state, 1, b"content")
    with pytest.raises(PartsInvalid):
        store.complete_parts(upload, state, [(1, '"0123456789abcdef0123456789abcdef"')])
    state = store.complete_parts(upload, state, [(1, etag)])
    with pytest.raises(DigestMismatch):
        store.verify_parts(upload, state, Digest("sha256", "0" * 64))
    s3 = aws_clients(backend.region, backend.endpoint_url).s3
    listed = s3.list_objects_v2(Bucket=backend.s3_bucket, Prefix=state["key"])
    assert listed.get("KeyCount", 0) == 0  # nothing left under the blob's key


def test_s3_store_receives_no_parts_itself(backend: BackendOptions) -> None:
    with pytest.raises(PartDenied):
        _store(backend).receive_part("abc", 1, {}, io.BytesIO(b"x"), 1)


def test_pending_marker_in_dynamodb(backend: BackendOptions) -> None:
    clients = aws_clients(backend.region, backend.endpoint_url)
    meta = DynamoMetadataStore(
        clients.dynamodb, backend.dynamodb_table, clients.s3, backend.s3_bucket
    )
    digest = "sha256:" + "1" * 64
    assert not meta.is_pending("a/b", digest)
    meta.mark_pending("a/b", digest, "upload1")
    assert meta.is_pending("a/b", digest) and not meta.is_pending("a/c", digest)
    meta.clear_pending("a/b", digest)
    assert not meta.is_pending("a/b", digest)


def test_lambda_verifier_invokes_the_function_asynchronously(backend: BackendOptions) -> None:
    options = BackendOptions(**{**backend.__dict__, "verifier_function": "soute-dev-verifier"})
    verifier = build_registry(options).direct.verifier
    assert isinstance(verifier, verifiers.LambdaVerifier)
    client = verifiers._lambda_client(options.region)
    expected = {
        "FunctionName": "soute-dev-verifier",
        "InvocationType": "Event",
        "Payload": json.dumps({"repository": "a/b", "upload_id": "u1"}).encode(),
    }
    with Stubber(client) as stub:
        stub.add_response("invoke", {"StatusCode": 202}, expected)
        verifier.submit("a/b", "u1")
        stub.assert_no_pending_responses()


def test_part_urls_bind_the_exact_size_of_their_part(backend: BackendOptions) -> None:
    """A2: S3 refuses a presigned UploadPart whose body is not the signed content-length (moto
    does not check signatures, so this checks what S3 checks: the signed headers)."""
    registry = build_registry(backend)
    size = 20 * MiB + 123  # parts of 8 MiB, 8 MiB and the rest
    upload, links = registry.direct.initiate("r/bound", "sha256:" + "1" * 64, size, "https://x")
    expected = [8 * MiB, 8 * MiB, 4 * MiB + 123]
    assert [link.number for link in links] == [1, 2, 3] and upload.part_size == 8 * MiB
    for link, length in zip(links, expected, strict=True):
        query = parse_qs(urlsplit(link.url).query)
        assert "content-length" in query["X-Amz-SignedHeaders"][0].split(";")
        assert link.headers == {"Content-Length": str(length)}
    again = registry.direct.part_urls("r/bound", upload.upload_id, [3], "https://x")
    assert again[0].headers == {"Content-Length": str(expected[2])}
