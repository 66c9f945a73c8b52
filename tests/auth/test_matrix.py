"""The permission matrix of the issue, every cell asserted: anonymous, reader, maintainer,
owner, robot, member of another team × pull, push, delete, catalog, tag list, mount across
namespaces, and the upload extension API."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.auth.conftest import AuthWorld
from tests.contract.client import image_manifest, push_blob, put_manifest, sha256

WHO = ["anonymous", "rita", "mia", "olga", "robot", "otto"]
# (pull, push, delete, sees in catalog, tag list)
EXPECTED = {
    "anonymous": (401, 401, 401, False, 401),
    "rita": (200, 403, 403, True, 200),
    "mia": (200, 201, 202, True, 200),
    "olga": (200, 201, 202, True, 200),
    "robot": (200, 201, 403, True, 200),
    "otto": (403, 403, 403, False, 403),
}
# Where each caller may push, to mount into: its own namespace, or none.
OWN_NAMESPACE = {"rita": "rita", "mia": "mia", "olga": "olga", "robot": "acme", "otto": "other"}


@pytest.fixture(scope="module", params=["router", "served", "lambda"])
def world(request: pytest.FixtureRequest) -> AuthWorld:
    """The matrix runs through the router in process, through `soute serve --auth`, and
    through the Lambda front end on S3 + DynamoDB (identities in DynamoDB)."""
    return request.getfixturevalue(f"{request.param}_world")


@pytest.fixture(scope="module")
def acme_repo(world: AuthWorld) -> tuple[str, str, bytes]:
    """acme/<random> holding one tagged image and one extra blob, pushed by its owner."""
    owner = world.as_user("olga")
    repo = f"acme/app-{uuid.uuid4().hex[:8]}"
    blob = uuid.uuid4().bytes * 64
    push_blob(owner, repo, blob)
    assert put_manifest(owner, repo, "v1", image_manifest(owner, repo)).status == 201
    return repo, sha256(blob), blob


def _who(world: AuthWorld, who: str):  # noqa: ANN202
    return world.as_user(None if who == "anonymous" else who)


@pytest.mark.parametrize("who", WHO)
def test_pull(world: AuthWorld, acme_repo: tuple, who: str) -> None:
    repo = acme_repo[0]
    reply = _who(world, who).request("GET", f"/v2/{repo}/manifests/v1")
    assert reply.status == EXPECTED[who][0], reply.body
    blob_reply = _who(world, who).request("HEAD", f"/v2/{repo}/blobs/{acme_repo[1]}")
    assert blob_reply.status == EXPECTED[who][0]


@pytest.mark.parametrize("who", WHO)
def test_push(world: AuthWorld, acme_repo: tuple, who: str) -> None:
    client = _who(world, who)
    data = uuid.uuid4().bytes
    reply = client.request(
        "POST", f"/v2/{acme_repo[0]}/blobs/uploads/", params={"digest": sha256(data)}, data=data
    )
    assert reply.status == EXPECTED[who][1], reply.body
    if reply.status != 201:
        assert reply.error_code() in ("UNAUTHORIZED", "DENIED")


@pytest.mark.parametrize("who", WHO)
def test_delete(world: AuthWorld, who: str) -> None:
    owner = world.as_user("olga")
    repo = f"acme/del-{uuid.uuid4().hex[:8]}"
    body = image_manifest(owner, repo)
    assert put_manifest(owner, repo, "v1", body).status == 201
    reply = _who(world, who).request("DELETE", f"/v2/{repo}/manifests/{sha256(body)}")
    assert reply.status == EXPECTED[who][2], reply.body


@pytest.mark.parametrize("who", WHO)
def test_catalog(world: AuthWorld, acme_repo: tuple, who: str) -> None:
    reply = _who(world, who).request("GET", "/v2/_catalog")
    assert reply.status == 200, reply.body
    repositories = reply.json()["repositories"]
    assert (acme_repo[0] in repositories) == EXPECTED[who][3]
    if who == "otto":
        assert not [name for name in repositories if name.startswith("acme/")]


@pytest.mark.parametrize("who", WHO)
def test_tag_list(world: AuthWorld, acme_repo: tuple, who: str) -> None:
    reply = _who(world, who).request("GET", f"/v2/{acme_repo[0]}/tags/list")
    assert reply.status == EXPECTED[who][4]
    if reply.status == 200:
        assert reply.json()["tags"] == ["v1"]


@pytest.mark.parametrize("who", [w for w in WHO if w != "anonymous"])
def test_mount_from_acme_into_own_namespace(world: AuthWorld, acme_repo: tuple, who: str) -> None:
    """Into a repository the caller may push: mounted (201) when it may pull the source, else a
    plain upload (202), exactly as for a blob the source does not have."""
    repo, digest, _ = acme_repo
    target = f"{OWN_NAMESPACE[who]}/mounted-{uuid.uuid4().hex[:8]}"
    client = _who(world, who)
    reply = client.request(
        "POST", f"/v2/{target}/blobs/uploads/", params={"mount": digest, "from": repo}
    )
    may_pull = EXPECTED[who][0] == 200
    assert reply.status == (201 if may_pull else 202), reply.body
    absent = client.request(
        "POST", f"/v2/{target}/blobs/uploads/", params={"mount": sha256(b"x"), "from": repo}
    )
    assert absent.status == 202
    if not may_pull:  # the refused mount looks exactly like a missing blob
        assert set(reply.headers) == set(absent.headers)


def test_anonymous_cannot_mount(world: AuthWorld, acme_repo: tuple) -> None:
    reply = world.as_user(None).request(
        "POST", "/v2/pub/x/blobs/uploads/", params={"mount": acme_repo[1], "from": acme_repo[0]}
    )
    assert reply.status == 401


def test_a_mount_without_from_is_a_plain_upload(world: AuthWorld, acme_repo: tuple) -> None:
    reply = world.as_user("otto").request(
        "POST", "/v2/other/m/blobs/uploads/", params={"mount": acme_repo[1]}
    )
    assert reply.status == 202


@pytest.mark.parametrize("who", WHO)
def test_upload_extension(world: AuthWorld, acme_repo: tuple, who: str) -> None:
    data = uuid.uuid4().bytes * 4
    document = {"repository": acme_repo[0], "digest": sha256(data), "size": len(data)}
    client = _who(world, who)
    reply = client.request(
        "POST",
        "/v2/_soute/uploads",
        params={"repository": acme_repo[0]},
        headers={"Content-Type": "application/json"},
        data=json.dumps(document).encode(),
    )
    expected = EXPECTED[who][1]  # as for a push
    assert reply.status == expected, reply.body
