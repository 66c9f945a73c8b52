"""Blob uploads: every way the distribution-spec lets a client push a blob."""

from __future__ import annotations

import hashlib
import os

from tests.contract.client import Client, LiveClient, new_repo, push_blob, sha256


def _start(client: Client, repo: str) -> str:
    reply = client.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert reply.status == 202
    assert reply.headers["Range"] == "0-0"
    assert reply.headers["Docker-Upload-UUID"]
    assert int(reply.headers["OCI-Chunk-Min-Length"]) > 0
    return reply.headers["Location"]


def _blob(client: Client, repo: str, digest: str) -> bytes:
    reply = client.request("GET", f"/v2/{repo}/blobs/{digest}")
    assert reply.status == 200, reply.body
    return reply.body


def test_monolithic_post_with_digest(client: Client) -> None:
    repo, data = new_repo(), os.urandom(5000)
    reply = client.request(
        "POST", f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(data)}, data=data
    )
    assert reply.status == 201
    assert reply.headers["Location"] == f"/v2/{repo}/blobs/{sha256(data)}"
    assert reply.headers["Docker-Content-Digest"] == sha256(data)
    assert _blob(client, repo, sha256(data)) == data


def test_post_then_put_with_whole_body(client: Client) -> None:
    repo, data = new_repo(), os.urandom(3000)
    location = _start(client, repo)
    reply = client.request("PUT", location, params={"digest": sha256(data)}, data=data)
    assert reply.status == 201
    assert _blob(client, repo, sha256(data)) == data


def test_streamed_patch_then_empty_put(client: Client) -> None:
    repo, data = new_repo(), os.urandom(70000)
    location = _start(client, repo)
    reply = client.request("PATCH", location, data=data)
    assert reply.status == 202
    assert reply.headers["Range"] == f"0-{len(data) - 1}"
    reply = client.request("PUT", reply.headers["Location"], params={"digest": sha256(data)})
    assert reply.status == 201
    assert _blob(client, repo, sha256(data)) == data


def test_chunks_with_content_range_and_last_chunk_on_put(client: Client) -> None:
    repo, data = new_repo(), os.urandom(10000)
    location = _start(client, repo)
    for start in (0, 4000):
        chunk = data[start : start + 4000]
        reply = client.request(
            "PATCH",
            location,
            headers={
                "Content-Range": f"{start}-{start + len(chunk) - 1}",
                "Content-Type": "application/octet-stream",
            },
            data=chunk,
        )
        assert reply.status == 202, reply.body
        assert reply.headers["Range"] == f"0-{start + len(chunk) - 1}"
        location = reply.headers["Location"]
    status = client.request("GET", location)
    assert status.status == 204
    assert status.headers["Range"] == "0-7999"
    reply = client.request(
        "PUT",
        location,
        params={"digest": sha256(data)},
        headers={"Content-Range": "8000-9999"},
        data=data[8000:],
    )
    assert reply.status == 201
    assert _blob(client, repo, sha256(data)) == data


def test_chunk_out_of_order_is_416_with_range_and_location(client: Client) -> None:
    repo = new_repo()
    location = _start(client, repo)
    client.request("PATCH", location, headers={"Content-Range": "0-9"}, data=b"0123456789")
    reply = client.request("PATCH", location, headers={"Content-Range": "20-29"}, data=b"x" * 10)
    assert reply.status == 416
    assert reply.error_code() == "BLOB_UPLOAD_INVALID"
    assert reply.headers["Range"] == "0-9"
    assert reply.headers["Location"].endswith(location.rsplit("/", 1)[1])


def test_content_range_that_does_not_match_the_body_is_refused(client: Client) -> None:
    location = _start(client, new_repo())
    reply = client.request("PATCH", location, headers={"Content-Range": "0-99"}, data=b"short")
    assert reply.status == 416
    reply = client.request("PATCH", location, headers={"Content-Range": "banana"}, data=b"x")
    assert reply.status == 416
    assert reply.error_code() == "BLOB_UPLOAD_INVALID"


def test_wrong_digest_is_refused_and_nothing_is_stored(client: Client) -> None:
    repo, data = new_repo(), os.urandom(1000)
    wrong = sha256(b"something else")
    location = _start(client, repo)
    reply = client.request("PUT", location, params={"digest": wrong}, data=data)
    assert reply.status == 400
    assert reply.error_code() == "DIGEST_INVALID"
    assert client.request("HEAD", f"/v2/{repo}/blobs/{wrong}").status == 404
    assert client.request("HEAD", f"/v2/{repo}/blobs/{sha256(data)}").status == 404
    assert client.request("GET", location).status == 404  # the upload is gone too


def test_sha512_digests(client: Client) -> None:
    repo, data = new_repo(), os.urandom(2048)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    location = _start(client, repo)
    client.request("PATCH", location, data=data)
    reply = client.request("PUT", location, params={"digest": digest})
    assert reply.status == 201
    assert reply.headers["Docker-Content-Digest"] == digest
    assert _blob(client, repo, digest) == data


def test_empty_blob(client: Client) -> None:
    repo = new_repo()
    digest = push_blob(client, repo, b"")
    head = client.request("HEAD", f"/v2/{repo}/blobs/{digest}")
    assert head.status == 200
    assert head.headers["Content-Length"] == "0"


def test_malformed_digests_are_digest_invalid(client: Client) -> None:
    repo = new_repo()
    location = _start(client, repo)
    for bad in ("sha256:short", "md5:" + "0" * 32, "nocolon", "sha256:" + "G" * 64):
        reply = client.request("PUT", location, params={"digest": bad}, data=b"x")
        assert reply.status == 400, bad
        assert reply.error_code() == "DIGEST_INVALID"
    reply = client.request("PUT", location)
    assert reply.status == 400
    assert reply.error_code() == "DIGEST_INVALID"


def test_cancel_upload(client: Client) -> None:
    location = _start(client, new_repo())
    assert client.request("DELETE", location).status == 204
    reply = client.request("GET", location)
    assert reply.status == 404
    assert reply.error_code() == "BLOB_UPLOAD_UNKNOWN"
    assert client.request("PATCH", location, data=b"x").status == 404


def test_unknown_upload_and_upload_of_another_repository(client: Client) -> None:
    repo = new_repo()
    location = _start(client, repo)
    upload_id = location.rsplit("/", 1)[1]
    elsewhere = client.request("GET", f"/v2/{new_repo()}/blobs/uploads/{upload_id}")
    assert elsewhere.status == 404
    assert elsewhere.error_code() == "BLOB_UPLOAD_UNKNOWN"
    bogus = client.request("PATCH", f"/v2/{repo}/blobs/uploads/../../etc", data=b"x")
    assert bogus.status in (404, 405)


def test_mount_from_another_repository(client: Client) -> None:
    source, target, data = new_repo(), new_repo(), os.urandom(500)
    digest = push_blob(client, source, data)
    reply = client.request(
        "POST", f"/v2/{target}/blobs/uploads/", params={"mount": digest, "from": source}
    )
    assert reply.status == 201
    assert reply.headers["Location"] == f"/v2/{target}/blobs/{digest}"
    assert reply.headers["Docker-Content-Digest"] == digest
    assert _blob(client, target, digest) == data


def test_mount_without_from(client: Client) -> None:
    source, target = new_repo(), new_repo()
    digest = push_blob(client, source, os.urandom(100))
    reply = client.request("POST", f"/v2/{target}/blobs/uploads/", params={"mount": digest})
    assert reply.status == 201


def test_mount_of_absent_blob_falls_back_to_an_upload(client: Client) -> None:
    target = new_repo()
    missing = sha256(os.urandom(10))
    reply = client.request(
        "POST", f"/v2/{target}/blobs/uploads/", params={"mount": missing, "from": new_repo()}
    )
    assert reply.status == 202
    assert "/blobs/uploads/" in reply.headers["Location"]


def test_chunked_transfer_encoding_streams(live: LiveClient) -> None:
    repo = new_repo()
    pieces = [os.urandom(100_000) for _ in range(30)]
    data = b"".join(pieces)
    location = live.request("POST", f"/v2/{repo}/blobs/uploads/").headers["Location"]
    reply = live.request("PATCH", location, data=iter(pieces))  # no Content-Length
    assert reply.status == 202
    assert reply.headers["Range"] == f"0-{len(data) - 1}"
    reply = live.request("PUT", reply.headers["Location"], params={"digest": sha256(data)})
    assert reply.status == 201
    assert live.request("GET", f"/v2/{repo}/blobs/{sha256(data)}").body == data


def test_last_chunk_on_put_out_of_order_is_416_and_upload_stays_usable(client: Client) -> None:
    repo, data = new_repo(), os.urandom(2000)
    location = _start(client, repo)
    client.request("PATCH", location, headers={"Content-Range": "0-999"}, data=data[:1000])
    reply = client.request(
        "PUT",
        location,
        params={"digest": sha256(data)},
        headers={"Content-Range": "0-999"},
        data=data[1000:],
    )
    assert reply.status == 416
    assert reply.headers["Range"] == "0-999"
    reply = client.request(
        "PUT",
        location,
        params={"digest": sha256(data)},
        headers={"Content-Range": "1000-1999"},
        data=data[1000:],
    )
    assert reply.status == 201
    assert _blob(client, repo, sha256(data)) == data


def test_refused_chunk_leaves_the_connection_usable(live: LiveClient) -> None:
    location = _start(live, new_repo())
    chunk = os.urandom(1 << 20)
    reply = live.request(
        "PATCH",
        location,
        headers={"Content-Range": f"{len(chunk)}-{2 * len(chunk) - 1}"},
        data=chunk,
    )
    assert reply.status == 416
    status = live.request("GET", location)  # same kept-alive connection
    assert status.status == 204
    assert status.headers["Range"] == "0-0"
