"""The S3 blob store against moto: uploads assembled from many requests into one multipart
object, digests verified from the saved hash states (or by reading back), nothing visible
when a digest is wrong."""

from __future__ import annotations

import hashlib
import io
import json
import os
from typing import Any

import pytest
import requests

from chalicelib.oci.digest import Digest
from chalicelib.server.backends import BackendOptions
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.s3 import MiB, S3BlobStore
from chalicelib.storage.ports import BlobRecord, DigestMismatch, IncompleteBody
from tests.aws.conftest import CallCounter


def _store(backend: BackendOptions, **options: Any) -> S3BlobStore:
    s3 = aws_clients(backend.region, backend.endpoint_url).s3
    return S3BlobStore(s3, backend.s3_bucket, part_size=5 * MiB, **options)


def _requests(
    backend: BackendOptions, upload: str, chunks: list[bytes], **options: Any
) -> tuple[int, dict]:
    """Each chunk in its own 'request': a fresh store, the state through JSON as in a session."""
    state: dict = {}
    size = 0
    for chunk in chunks:
        store = _store(backend, **options)
        written, state = store.append(
            upload, json.loads(json.dumps(state)), size, io.BytesIO(chunk), len(chunk)
        )
        size += written
    return size, state


def _sha(data: bytes, algorithm: str = "sha256") -> Digest:
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())


def _fetch(store: S3BlobStore, key: str, size: int) -> bytes:
    url = store.body(BlobRecord("sha256:" + "0" * 64, size, key), 0, size).redirect_url
    assert url is not None
    return requests.get(url, timeout=30).content


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_chunks_become_one_multipart_object_verified_without_reading_back(
    backend: BackendOptions, aws_calls: CallCounter, algorithm: str
) -> None:
    data = os.urandom(13 * MiB + 12345)
    chunks = [data[i : i + 3 * MiB] for i in range(0, len(data), 3 * MiB)]
    size, state = _requests(backend, "up1", chunks)
    assert len(state["parts"]) == 2  # 15 MiB pending twice made two parts; the rest is tail
    aws_calls.reset()
    store = _store(backend)
    key = store.finish("up1", state, size, _sha(data, algorithm))
    assert aws_calls.calls["s3.GetObject"] == 1  # the tail only, never the whole object
    assert _fetch(store, key, size) == data


def test_without_saved_hash_states_the_object_is_read_back(backend: BackendOptions) -> None:
    data = os.urandom(6 * MiB)
    size, state = _requests(backend, "up2", [data[: 3 * MiB], data[3 * MiB :]], resumable=False)
    assert "hash" not in state
    store = _store(backend, resumable=False)
    key = store.finish("up2", state, size, _sha(data))
    assert _fetch(store, key, size) == data


def test_wrong_digest_leaves_no_object(backend: BackendOptions) -> None:
    data = os.urandom(7 * MiB)
    size, state = _requests(backend, "up3", [data])
    store = _store(backend)
    with pytest.raises(DigestMismatch) as caught:
        store.finish("up3", state, size, _sha(b"something else"))
    assert caught.value.actual == _sha(data)
    listed = store.s3.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    assert [item["Key"] for item in listed] == []
    assert store.s3.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []


@pytest.mark.parametrize("data", [b"", b"small blob"])
def test_small_and_empty_blobs(backend: BackendOptions, data: bytes) -> None:
    size, state = _requests(backend, "up4", [data] if data else [])
    store = _store(backend)
    key = store.finish("up4", state, size, _sha(data))
    assert _fetch(store, key, size) == data


def test_short_body_is_refused(backend: BackendOptions) -> None:
    with pytest.raises(IncompleteBody):
        _store(backend).append("up5", {}, 0, io.BytesIO(b"abc"), 10)


def test_replaced_tails_are_deleted_once_a_later_request_runs(backend: BackendOptions) -> None:
    size, state = _requests(backend, "up6", [b"a" * 100, b"b" * 100, b"c" * 100])
    store = _store(backend)
    tails = store.s3.list_objects_v2(Bucket=store.bucket, Prefix="uploads/up6/")["Contents"]
    assert {item["Key"] for item in tails} == {state["tail"], *state["stale"]}
    assert len(state["stale"]) == 1  # the first tail went when the third request ran
    store.finish("up6", state, size, _sha(b"a" * 100 + b"b" * 100 + b"c" * 100))
    left = store.s3.list_objects_v2(Bucket=store.bucket, Prefix="uploads/up6/")
    assert left.get("Contents", []) == []


def test_presigned_url_serves_ranges(backend: BackendOptions) -> None:
    data = os.urandom(2048)
    size, state = _requests(backend, "up7", [data])
    store = _store(backend)
    key = store.finish("up7", state, size, _sha(data))
    url = store.body(BlobRecord(str(_sha(data)), size, key), 0, size).redirect_url
    reply = requests.get(url, headers={"Range": "bytes=500-1499"}, timeout=30)
    assert reply.status_code == 206
    assert reply.content == data[500:1500]


@pytest.mark.parametrize("size", [100, 6 * MiB])
def test_last_request_writes_no_tail(
    backend: BackendOptions, aws_calls: CallCounter, size: int
) -> None:
    data = os.urandom(size)
    store = _store(backend)
    written, state = store.append("up8", {}, 0, io.BytesIO(data), size, last=True)
    assert aws_calls.calls["s3.PutObject"] <= 1
    assert not state.get("tail")
    key = store.finish("up8", state, written, _sha(data))
    assert _fetch(store, key, size) == data
    assert store.s3.list_objects_v2(Bucket=store.bucket, Prefix="uploads/").get("Contents") is None


def test_last_request_with_wrong_digest_leaves_nothing(backend: BackendOptions) -> None:
    store = _store(backend)
    written, state = store.append("up9", {}, 0, io.BytesIO(b"abc"), 3, last=True)
    with pytest.raises(DigestMismatch):
        store.finish("up9", state, written, _sha(b"xyz"))
    assert store.s3.list_objects_v2(Bucket=store.bucket).get("Contents") is None


def _expires(url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]


def test_presigned_get_urls_live_five_minutes_unless_configured(moto_endpoint: str) -> None:
    """A URL keeps working after a delete until it expires (A6): short by default, the same
    default wherever a deployment takes it from, and still configurable."""
    from pathlib import Path

    from chalicelib.cli.main import build_parser
    from chalicelib.server.backends import build_registry, options_from_environment
    from tests.support.moto import aws_backend

    serve = build_parser().parse_args(["serve"])
    chalice = json.loads((Path(__file__).parents[2] / ".chalice" / "config.json").read_text())
    assert serve.presign_expires == options_from_environment({}).presign_expires == 300
    for stage in chalice["stages"].values():
        handler = stage["lambda_functions"]["api_handler"]["environment_variables"]
        assert handler["SOUTE_PRESIGN_EXPIRES"] == "300"
    for settings, expected in (({}, "300"), ({"presign_expires": 60}, "60")):
        registry = build_registry(aws_backend(moto_endpoint, **settings))
        data = os.urandom(100)
        registry.uploads.upload_whole("r/url", str(_sha(data)), io.BytesIO(data), len(data))
        record = registry.blobs.stat("r/url", str(_sha(data)))
        url = registry.blobs.body(record, 0, record.size).redirect_url
        assert url is not None and _expires(url) == expected
        assert requests.get(url, timeout=30).content == data
