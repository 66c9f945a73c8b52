"""The direct upload extension with auth on, attacked by someone who may push only in their own
namespace (otto, maintainer of `other`) against a private repository of acme, owned by olga.

The gate authorises the repository of `?repository=` and the handler acts on that one only, so
otto can neither (a) learn whether acme's repository holds a digest, (b) link a blob into it,
nor (c) drive an upload of olga's whose id he knows. Through the router, `soute serve --auth`
and the Lambda front end (the people of tests/auth/conftest.py)."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.auth.conftest import AuthWorld, lambda_world, router_world, served_world
from tests.contract.client import Reply, push_blob, sha256
from tests.contract.direct import call, send_parts
from tests.support.token_client import TokenClient

__all__ = ["lambda_world", "router_world", "served_world"]  # fixtures, used by name

ATTACKER_REPO = "other/loot"


@pytest.fixture(scope="module", params=["router", "served", "lambda"])
def world(request: pytest.FixtureRequest) -> AuthWorld:
    return request.getfixturevalue(f"{request.param}_world")


@pytest.fixture(scope="module")
def victim(world: AuthWorld) -> tuple[str, bytes]:
    """A private acme repository holding one blob, pushed by its owner olga."""
    repo, blob = f"acme/secret-{uuid.uuid4().hex[:8]}", os.urandom(2000)
    push_blob(world.as_user("olga"), repo, blob)
    return repo, blob


def _initiate(client: TokenClient, query_repo: str, body_repo: str | None, data: bytes) -> Reply:
    document = {"digest": sha256(data), "size": len(data)}
    if body_repo is not None:
        document["repository"] = body_repo
    return call(client, "POST", "/v2/_soute/uploads", document, repository=query_repo)


def test_a_pusher_cannot_learn_what_another_repository_holds(
    world: AuthWorld, victim: tuple[str, bytes]
) -> None:
    repo, blob = victim
    otto = world.as_user("otto")
    # Once answered 200 "exists": the body named the repository acted on.
    reply = _initiate(otto, ATTACKER_REPO, repo, blob)
    assert (reply.status, reply.error_code()) == (400, "NAME_INVALID"), reply.body
    reply = _initiate(otto, repo, repo, blob)
    assert (reply.status, reply.error_code()) == (403, "DENIED"), reply.body
    # In his own repository the digest is simply not there.
    reply = _initiate(otto, ATTACKER_REPO, None, blob)
    assert reply.status == 201, reply.body
    path = f"/v2/_soute/uploads/{reply.json()['upload_id']}"
    assert call(otto, "DELETE", path, repository=ATTACKER_REPO).status == 204


def test_a_pusher_cannot_link_a_blob_into_another_repository(
    world: AuthWorld, victim: tuple[str, bytes]
) -> None:
    repo = victim[0]
    otto, olga = world.as_user("otto"), world.as_user("olga")
    data = os.urandom(3000)
    assert _initiate(otto, ATTACKER_REPO, repo, data).status == 400
    upload = _initiate(otto, ATTACKER_REPO, ATTACKER_REPO, data).json()
    parts = send_parts(otto, upload, data)
    path = f"/v2/_soute/uploads/{upload['upload_id']}/complete"
    reply = call(otto, "POST", path, {"repository": repo, "parts": parts}, repository=ATTACKER_REPO)
    assert (reply.status, reply.error_code()) == (400, "NAME_INVALID"), reply.body
    reply = call(otto, "POST", path, {"repository": repo, "parts": parts}, repository=repo)
    assert (reply.status, reply.error_code()) == (403, "DENIED"), reply.body
    assert olga.request("HEAD", f"/v2/{repo}/blobs/{sha256(data)}").status == 404
    reply = call(otto, "POST", path, {"parts": parts}, repository=ATTACKER_REPO)
    assert reply.status == 201, reply.body
    assert olga.request("HEAD", f"/v2/{repo}/blobs/{sha256(data)}").status == 404
    assert otto.request("HEAD", f"/v2/{ATTACKER_REPO}/blobs/{sha256(data)}").status == 200


def test_a_pusher_cannot_drive_another_users_upload(
    world: AuthWorld, victim: tuple[str, bytes]
) -> None:
    repo = victim[0]
    otto, olga = world.as_user("otto"), world.as_user("olga")
    data = os.urandom(1500)
    upload = _initiate(olga, repo, repo, data).json()
    base = f"/v2/_soute/uploads/{upload['upload_id']}"
    calls = [
        ("POST", f"{base}/parts", {"numbers": [1]}),
        ("POST", f"{base}/complete", {"parts": [{"number": 1, "etag": '"00"'}]}),
        ("GET", base, None),
        ("DELETE", base, None),
    ]
    for method, path, body in calls:
        reply = call(otto, method, path, body, repository=repo)
        assert (reply.status, reply.error_code()) == (403, "DENIED"), (method, path, reply.body)
        reply = call(otto, method, path, body, repository=ATTACKER_REPO)
        assert (reply.status, reply.error_code()) == (404, "BLOB_UPLOAD_UNKNOWN"), (method, path)
        if body is not None:
            reply = call(otto, method, path, {**body, "repository": repo}, repository=ATTACKER_REPO)
            assert (reply.status, reply.error_code()) == (400, "NAME_INVALID"), (method, path)
    # olga's upload is untouched and still hers to finish.
    reply = call(olga, "GET", base, repository=repo)
    assert (reply.status, reply.json()["status"]) == (200, "uploading"), reply.body
    parts = send_parts(olga, upload, data)
    reply = call(olga, "POST", f"{base}/complete", {"parts": parts}, repository=repo)
    assert reply.status == 201, reply.body


@pytest.mark.parametrize(
    "path", ["/v2/_soute/uploads", "/v2/_soute/uploads/x/parts", "/v2/_soute/uploads/x/complete"]
)
def test_the_bearer_token_is_checked_before_the_body_is_read(
    world: AuthWorld, victim: tuple[str, bytes], path: str
) -> None:
    """A nested body (a RecursionError in json once) from a caller without a token, or with a
    bad one, is 401: the gate reads no body. An authorised caller gets 400."""
    nested = b"[" * 100_000
    headers, query = {"Content-Type": "application/json"}, {"repository": victim[0]}
    raw = world.raw()
    for extra in ({}, {"Authorization": "Bearer not.a.token"}):
        reply = raw.request("POST", path, params=query, headers={**headers, **extra}, data=nested)
        assert (reply.status, reply.error_code()) == (401, "UNAUTHORIZED"), (extra, reply.body)
    reply = world.as_user("olga").request("POST", path, params=query, headers=headers, data=nested)
    assert reply.status == 400, reply.body
    assert json.loads(reply.body)["errors"][0]["message"]
