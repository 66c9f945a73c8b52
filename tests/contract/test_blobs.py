"""Blob GET, HEAD, Range and DELETE."""

from __future__ import annotations

import os

import pytest

from tests.contract.client import Client, image_manifest, new_repo, push_blob, put_manifest, sha256


@pytest.fixture
def stored(client: Client) -> tuple[str, str, bytes]:
    repo, data = new_repo(), os.urandom(1000)
    return repo, push_blob(client, repo, data), data


def test_get_and_head(client: Client, stored: tuple[str, str, bytes]) -> None:
    repo, digest, data = stored
    for method in ("GET", "HEAD"):
        reply = client.request(method, f"/v2/{repo}/blobs/{digest}")
        assert reply.status == 200
        assert reply.headers["Content-Length"] == "1000"
        assert reply.headers["Content-Type"] == "application/octet-stream"
        assert reply.registry_headers["Docker-Content-Digest"] == digest
        assert "Content-Encoding" not in reply.headers
        assert reply.body == (data if method == "GET" else b"")


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=990-", 990, 999),
        ("bytes=-10", 990, 999),
        ("bytes=500-5000", 500, 999),
    ],
)
def test_range(
    client: Client, stored: tuple[str, str, bytes], header: str, start: int, end: int
) -> None:
    repo, digest, data = stored
    reply = client.request("GET", f"/v2/{repo}/blobs/{digest}", headers={"Range": header})
    assert reply.status == 206
    assert reply.headers["Content-Range"] == f"bytes {start}-{end}/1000"
    assert reply.headers["Content-Length"] == str(end - start + 1)
    assert reply.body == data[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=x-y", "bytes=-0"])
def test_unsatisfiable_range_is_416(
    client: Client, stored: tuple[str, str, bytes], header: str
) -> None:
    repo, digest, _ = stored
    reply = client.request("GET", f"/v2/{repo}/blobs/{digest}", headers={"Range": header})
    assert reply.status == 416
    assert reply.headers["Content-Range"] == "bytes */1000"
    assert reply.json()["errors"][0]["message"]


def test_unknown_blob(client: Client) -> None:
    reply = client.request("GET", f"/v2/{new_repo()}/blobs/{sha256(b'nope')}")
    assert reply.status == 404
    assert reply.error_code() == "BLOB_UNKNOWN"
    assert client.request("HEAD", f"/v2/{new_repo()}/blobs/{sha256(b'nope')}").status == 404


def test_blob_of_another_repository_is_not_visible(
    client: Client, stored: tuple[str, str, bytes]
) -> None:
    _, digest, _ = stored
    assert client.request("GET", f"/v2/{new_repo()}/blobs/{digest}").status == 404


def test_bad_digest_in_path(client: Client) -> None:
    reply = client.request("GET", f"/v2/{new_repo()}/blobs/sha256:1234")
    assert reply.status == 400
    assert reply.error_code() == "DIGEST_INVALID"


def test_delete(client: Client, stored: tuple[str, str, bytes]) -> None:
    repo, digest, _ = stored
    assert client.request("DELETE", f"/v2/{repo}/blobs/{digest}").status == 202
    assert client.request("HEAD", f"/v2/{repo}/blobs/{digest}").status == 404
    reply = client.request("DELETE", f"/v2/{repo}/blobs/{digest}")
    assert reply.status == 404
    assert reply.error_code() == "BLOB_UNKNOWN"


def test_delete_of_a_blob_a_manifest_uses_is_refused(client: Client) -> None:
    repo, layer = new_repo(), os.urandom(64)
    manifest = image_manifest(client, repo, [layer])
    put_manifest(client, repo, "v1", manifest)
    reply = client.request("DELETE", f"/v2/{repo}/blobs/{sha256(layer)}")
    assert reply.status == 409
    # SQLite knows which manifest; DynamoDB counts references and names none.
    assert reply.json()["errors"][0]["message"] in {
        f"blob {sha256(layer)} is used by manifest {sha256(manifest)} in {repo};"
        " delete that manifest first",
        f"blob {sha256(layer)} is used by a manifest in {repo}; delete that manifest first",
    }
    assert client.request("HEAD", f"/v2/{repo}/blobs/{sha256(layer)}").status == 200
