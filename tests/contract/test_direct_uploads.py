"""The direct upload extension (docs/upload-extension.md) through every front end: parts sent
straight to storage, assembled and verified before the blob is visible."""

from __future__ import annotations

import json
import os

from tests.contract.client import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    Client,
    descriptor,
    new_repo,
    push_blob,
    put_manifest,
    sha256,
)
from tests.contract.direct import (
    MiB,
    call,
    complete,
    initiate,
    part_bytes,
    put_part,
    send_parts,
    status,
)


def _manifest(client: Client, repo: str, layer: bytes) -> bytes:
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": os.urandom(4).hex()})
    push_blob(client, repo, config.encode())
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config.encode()),
        "layers": [descriptor(OCI_LAYER, layer)],
    }
    return json.dumps(document).encode()


def test_initiate_answers_exists_for_a_blob_the_repository_has(client: Client) -> None:
    repo, data = new_repo(), os.urandom(1000)
    push_blob(client, repo, data)
    reply = initiate(client, repo, data)
    assert reply.status == 200, reply.body
    assert reply.json() == {"status": "exists", "digest": sha256(data)}


def test_two_parts_out_of_order_renewed_resumed_then_usable(client: Client) -> None:
    repo, data = new_repo(), os.urandom(11 * MiB)
    reply = initiate(client, repo, data)
    assert reply.status == 201, reply.body
    upload = reply.json()
    assert (upload["status"], upload["size"], upload["digest"]) == (
        "uploading",
        len(data),
        sha256(data),
    )
    assert (upload["part_size"], upload["part_count"]) == (8 * MiB, 2)
    assert [p["number"] for p in upload["parts"]] == [1, 2]
    assert all(p["method"] == "PUT" and p["url"].startswith("http") for p in upload["parts"])
    upload_id = upload["upload_id"]
    # Part 2 first.
    code, etag2, body = put_part(client, upload["parts"][1]["url"], part_bytes(upload, data, 2))
    assert code == 200 and etag2, body
    # Resume: the status lists what arrived.
    reply = status(client, repo, upload_id)
    assert reply.status == 200
    assert reply.json()["status"] == "uploading"
    assert [(p["number"], p["size"]) for p in reply.json()["received"]] == [(2, 3 * MiB)]
    # Renewal: a fresh URL for part 1.
    reply = call(
        client,
        "POST",
        f"/v2/_soute/uploads/{upload_id}/parts",
        {"repository": repo, "numbers": [1]},
        repository=repo,
    )
    assert reply.status == 200, reply.body
    (renewed,) = reply.json()["parts"]
    assert renewed["number"] == 1 and renewed["expires_at"] >= upload["expires_at"]
    code, etag1, body = put_part(client, renewed["url"], part_bytes(upload, data, 1))
    assert code == 200, body
    received = status(client, repo, upload_id).json()["received"]
    assert [(p["number"], p["etag"]) for p in received] == [(1, etag1), (2, etag2)]
    # The blob is not visible before `complete`.
    assert client.request("HEAD", f"/v2/{repo}/blobs/{sha256(data)}").status == 404
    parts = [{"number": 2, "etag": etag2}, {"number": 1, "etag": etag1}]
    reply = complete(client, repo, upload_id, parts)
    assert reply.status == 201, reply.body
    assert reply.json()["status"] == "available"
    assert reply.headers["Docker-Content-Digest"] == sha256(data)
    assert status(client, repo, upload_id).json()["status"] == "available"
    head = client.request("HEAD", f"/v2/{repo}/blobs/{sha256(data)}")
    assert head.status == 200 and int(head.headers["Content-Length"]) == len(data)
    assert client.request("GET", f"/v2/{repo}/blobs/{sha256(data)}").body == data
    assert put_manifest(client, repo, "v1", _manifest(client, repo, data)).status == 201


def test_bytes_of_another_digest_are_refused_and_never_visible(client: Client) -> None:
    repo, data = new_repo(), os.urandom(3000)
    claimed = sha256(os.urandom(3000))
    upload = initiate(client, repo, data, digest=claimed).json()
    parts = send_parts(client, upload, data)
    reply = complete(client, repo, upload["upload_id"], parts)
    assert reply.status == 400
    assert reply.error_code() == "DIGEST_INVALID"
    assert sha256(data) in reply.json()["errors"][0]["message"]
    assert client.request("HEAD", f"/v2/{repo}/blobs/{claimed}").status == 404
    assert client.request("HEAD", f"/v2/{repo}/blobs/{sha256(data)}").status == 404
    failed = status(client, repo, upload["upload_id"]).json()
    assert failed["status"] == "failed" and "push the blob again" in failed["message"]


def test_complete_without_every_part_is_refused(client: Client) -> None:
    repo, data = new_repo(), os.urandom(2000)
    upload = initiate(client, repo, data).json()
    upload_id = upload["upload_id"]
    reply = complete(client, repo, upload_id, [])
    assert (reply.status, reply.error_code()) == (400, "BLOB_UPLOAD_INVALID")
    reply = complete(client, repo, upload_id, [{"number": 1, "etag": '"0123"'}])
    assert (reply.status, reply.error_code()) == (400, "BLOB_UPLOAD_INVALID")
    assert "not received" in reply.json()["errors"][0]["message"]
    (part,) = send_parts(client, upload, data)
    reply = complete(client, repo, upload_id, [{"number": 1, "etag": '"0123"'}])
    assert (reply.status, reply.error_code()) == (400, "BLOB_UPLOAD_INVALID")
    assert client.request("HEAD", f"/v2/{repo}/blobs/{sha256(data)}").status == 404
    # The upload is still usable with the right ETag.
    assert complete(client, repo, upload_id, [part]).status == 201


def test_abort_forgets_the_upload(client: Client) -> None:
    repo, data = new_repo(), os.urandom(2000)
    upload = initiate(client, repo, data).json()
    upload_id = upload["upload_id"]
    reply = call(client, "DELETE", f"/v2/_soute/uploads/{upload_id}", repository=repo)
    assert reply.status == 204
    reply = status(client, repo, upload_id)
    assert (reply.status, reply.error_code()) == (404, "BLOB_UPLOAD_UNKNOWN")
    code, _, _ = put_part(client, upload["parts"][0]["url"], data)
    # The store has no such upload any more: 404 (S3: NoSuchUpload; moto answers 500).
    assert code == 404 if not client.name.startswith("lambda") else code >= 400
    reply = complete(client, repo, upload_id, [{"number": 1, "etag": '"00"'}])
    assert (reply.status, reply.error_code()) == (404, "BLOB_UPLOAD_UNKNOWN")


def test_malformed_requests_get_oci_errors(client: Client) -> None:
    repo = new_repo()
    bad = [
        ("POST", "/v2/_soute/uploads", b"not json"),
        ("POST", "/v2/_soute/uploads", b"[1]"),
        ("POST", "/v2/_soute/uploads", json.dumps({"repository": repo, "size": 1}).encode()),
        (
            "POST",
            "/v2/_soute/uploads",
            json.dumps({"repository": repo, "digest": "sha256:00", "size": 5}).encode(),
        ),
        (
            "POST",
            "/v2/_soute/uploads",
            json.dumps({"repository": "UPPER", "digest": sha256(b"x"), "size": 1}).encode(),
        ),
        (
            "POST",
            "/v2/_soute/uploads",
            json.dumps({"repository": repo, "digest": sha256(b"x"), "size": True}).encode(),
        ),
        (
            "POST",
            "/v2/_soute/uploads",
            json.dumps({"repository": repo, "digest": sha256(b""), "size": 0}).encode(),
        ),
    ]
    for method, path, body in bad:
        reply = client.request(method, path, params={"repository": repo}, data=body)
        assert reply.status == 400, (body, reply.body)
        assert reply.json()["errors"][0]["message"]
    upload_id = initiate(client, repo, b"abc").json()["upload_id"]
    for document in ({"repository": repo}, {"repository": repo, "parts": [5]}, {"parts": []}):
        path = f"/v2/_soute/uploads/{upload_id}/complete"
        reply = call(client, "POST", path, document, repository=repo)
        assert reply.status == 400, reply.body
    for numbers in ([0], [2], ["1"], list(range(1, 102))):
        document = {"repository": repo, "numbers": numbers}
        path = f"/v2/_soute/uploads/{upload_id}/parts"
        reply = call(client, "POST", path, document, repository=repo)
        assert reply.status == 400, (numbers, reply.body)
    assert status(client, repo, "0123abcd").status == 404
    assert status(client, "other/repo", upload_id).status == 404
    reply = call(client, "GET", f"/v2/_soute/uploads/{upload_id}")
    assert reply.status == 400  # no ?repository=


# -- the repository: only ever the one of ?repository= -----------------------------------------


def _extension_calls(upload_id: str) -> list[tuple[str, str, dict]]:
    """Every route of the extension that names an upload: (method, path, JSON body)."""
    base = f"/v2/_soute/uploads/{upload_id}"
    return [
        ("GET", base, {}),
        ("DELETE", base, {}),
        ("POST", f"{base}/parts", {"numbers": [1]}),
        ("POST", f"{base}/complete", {"parts": [{"number": 1, "etag": '"00"'}]}),
    ]


def test_a_body_naming_another_repository_is_name_invalid(client: Client) -> None:
    """The repository acted on is the URL's, the one the gate authorised; a body naming
    another is refused on every route that reads one, and changes nothing."""
    repo, other, data = new_repo(), new_repo(), os.urandom(1000)
    push_blob(client, other, data)  # `other` holds the blob: a body naming it must not tell
    document = {"repository": other, "digest": sha256(data), "size": len(data)}
    reply = call(client, "POST", "/v2/_soute/uploads", document, repository=repo)
    assert (reply.status, reply.error_code()) == (400, "NAME_INVALID"), reply.body
    assert repo in reply.json()["errors"][0]["message"]
    upload = initiate(client, repo, data).json()
    assert upload["status"] == "uploading"  # in `repo`, not answered by `other`'s blob
    for method, path, body in _extension_calls(upload["upload_id"]):
        if method == "POST":
            reply = call(client, method, path, {**body, "repository": other}, repository=repo)
            assert (reply.status, reply.error_code()) == (400, "NAME_INVALID"), (path, reply.body)
    parts = send_parts(client, upload, data)
    reply = call(
        client,
        "POST",
        f"/v2/_soute/uploads/{upload['upload_id']}/complete",
        {"repository": other, "parts": parts},
        repository=repo,
    )
    assert (reply.status, reply.error_code()) == (400, "NAME_INVALID")
    assert status(client, repo, upload["upload_id"]).json()["status"] == "uploading"
    assert complete(client, repo, upload["upload_id"], parts).status == 201
    assert client.request("HEAD", f"/v2/{repo}/blobs/{sha256(data)}").status == 200


def test_every_route_needs_the_repository_in_the_query(client: Client) -> None:
    """A body's `repository` alone is not enough: the gate reads no body."""
    repo, data = new_repo(), os.urandom(1000)
    document = {"repository": repo, "digest": sha256(data), "size": len(data)}
    reply = call(client, "POST", "/v2/_soute/uploads", document)
    assert (reply.status, reply.error_code()) == (400, "NAME_INVALID"), reply.body
    assert "?repository=" in reply.json()["errors"][0]["message"]
    upload_id = initiate(client, repo, data).json()["upload_id"]
    for method, path, body in _extension_calls(upload_id):
        reply = call(client, method, path, {**body, "repository": repo} if body else None)
        assert (reply.status, reply.error_code()) == (400, "NAME_INVALID"), (path, reply.body)
    reply = call(client, "POST", "/v2/_soute/uploads", document, repository="UPPER/case")
    assert (reply.status, reply.error_code()) == (400, "NAME_INVALID")
    assert status(client, repo, upload_id).json()["status"] == "uploading"


def test_an_upload_is_unknown_under_another_repository(client: Client) -> None:
    """An upload's id is bound to its repository (the metadata lookup is keyed by both): used
    under another one, on any route, it is 404 and the upload is untouched."""
    repo, other, data = new_repo(), new_repo(), os.urandom(1000)
    upload = initiate(client, repo, data).json()
    upload_id = upload["upload_id"]
    for method, path, body in _extension_calls(upload_id):
        document = {**body, "repository": other} if body else None
        reply = call(client, method, path, document, repository=other)
        assert (reply.status, reply.error_code()) == (404, "BLOB_UPLOAD_UNKNOWN"), (method, path)
    parts = send_parts(client, upload, data)
    assert status(client, repo, upload_id).json()["status"] == "uploading"
    assert complete(client, repo, upload_id, parts).status == 201
    assert client.request("HEAD", f"/v2/{other}/blobs/{sha256(data)}").status == 404
    assert client.request("HEAD", f"/v2/{repo}/blobs/{sha256(data)}").status == 200


def test_deeply_nested_bodies_are_400(client: Client) -> None:
    """Once a RecursionError (500) in the JSON reader, even anonymously."""
    repo = new_repo()
    upload_id = initiate(client, repo, b"abc").json()["upload_id"]
    paths = [
        "/v2/_soute/uploads",
        f"/v2/_soute/uploads/{upload_id}/parts",
        f"/v2/_soute/uploads/{upload_id}/complete",
    ]
    for path in paths:
        for body in (b"[" * 100_000, b'{"a":' * 50_000, b'{"x":' + b"[" * 150 + b"]" * 150 + b"}"):
            reply = client.request(
                "POST",
                path,
                params={"repository": repo},
                headers={"Content-Type": "application/json"},
                data=body,
            )
            assert (reply.status, reply.error_code()) == (400, "UNSUPPORTED"), (path, reply.body)
            assert "nested" in reply.json()["errors"][0]["message"]
    assert status(client, repo, upload_id).json()["status"] == "uploading"
