"""GET /v2/_soute/usage?repository=: a repository's figures (soute du's), through every front
end, with and without auth."""

from __future__ import annotations

from tests.contract.client import Client, image_manifest, new_repo, put_manifest


def test_the_usage_of_a_repository(client: Client) -> None:
    repo = new_repo("usage")
    layer = b"shared layer " * 100
    first = image_manifest(client, repo, [layer])
    second = image_manifest(client, repo, [layer, b"other layer " * 50])
    assert put_manifest(client, repo, "v1", first).status == 201
    assert put_manifest(client, repo, "v2", second).status == 201
    reply = client.request("GET", "/v2/_soute/usage", params={"repository": repo})
    assert reply.status == 200, reply.body
    usage = reply.json()
    assert usage["name"] == repo
    assert (usage["manifests"], usage["blobs"]) == (2, 4)  # two configs, two layers
    assert usage["logical_bytes"] - usage["stored_bytes"] == len(layer)  # counted twice, once


def test_usage_of_an_unknown_repository_or_none(client: Client) -> None:
    reply = client.request("GET", "/v2/_soute/usage", params={"repository": new_repo("nothing")})
    assert (reply.status, reply.error_code()) == (404, "NAME_UNKNOWN")
    reply = client.request("GET", "/v2/_soute/usage")
    assert (reply.status, reply.error_code()) == (400, "NAME_INVALID")
