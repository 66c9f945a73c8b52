"""Names API Gateway cannot route (more than 16 components, or a component after the first
named like an endpoint: blobs, manifests, tags, referrers) are refused alike on every front
end, so a name that works on a laptop also works in production. The registry refuses them
with NAME_INVALID and says why; through Lambda, API Gateway answers a path with such a name
before the function runs (its 404 says the same), and a name in the query reaches the
registry and gets its NAME_INVALID."""

from __future__ import annotations

import pytest

from chalicelib.server.gateway_responses import GATEWAY_RESPONSES
from tests.contract.client import Client, new_repo
from tests.contract.direct import initiate

REFUSED = {
    "a/blobs/b": "component named 'blobs' after the first",
    "a/manifests": "component named 'manifests' after the first",
    "a/b/tags": "component named 'tags' after the first",
    "a/referrers/b": "component named 'referrers' after the first",
    "/".join(f"c{i}" for i in range(17)): "17 components; at most 16",
}
DIGEST = "sha256:" + "ab" * 32


def _message(reply: object) -> str:
    return reply.json()["errors"][0]["message"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unroutable_names_are_refused_on_every_front_end(client: Client, name: str) -> None:
    for method, path in [
        ("GET", f"/v2/{name}/tags/list"),
        ("GET", f"/v2/{name}/manifests/latest"),
        ("PUT", f"/v2/{name}/manifests/v1"),
        ("POST", f"/v2/{name}/blobs/uploads/"),
        ("GET", f"/v2/{name}/referrers/{DIGEST}"),
    ]:
        reply = client.request(method, path)
        if client.name.startswith("lambda"):
            gateway = GATEWAY_RESPONSES["MISSING_AUTHENTICATION_TOKEN"]
            assert (reply.status, reply.body) == (404, gateway.body()), (method, path)
            assert "at most 16 components" in _message(reply)
            continue
        assert (reply.status, reply.error_code()) == (400, "NAME_INVALID"), (method, path)
        assert REFUSED[name] in _message(reply)
    reply = initiate(client, name, b"layer")  # ?repository=: reaches the registry everywhere
    assert (reply.status, reply.error_code()) == (400, "NAME_INVALID")
    assert REFUSED[name] in _message(reply)


def test_the_words_are_fine_elsewhere_in_a_name(client: Client) -> None:
    for name in (
        f"blobs/{new_repo()}",
        f"{new_repo()}/blobsx",
        "/".join(["c"] * 14 + [new_repo()]),
    ):
        assert client.request("GET", f"/v2/{name}/tags/list").status == 404  # unknown, not refused
