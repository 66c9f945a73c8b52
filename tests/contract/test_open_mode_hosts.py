"""F7: without auth, a registry on this machine answers only requests addressed to it by a name
no web page controls (DNS rebinding): `localhost`, a loopback literal or its bound address.
Through the router, `soute serve` and `soute serve --lambda`; with auth the check is off."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from chalicelib.api.router import Router
from chalicelib.server.backends import embedded_auth, embedded_registry
from tests.contract.client import Reply, RouterClient
from tests.support.lambda_server import lambda_registry
from tests.support.server import RegistryServer

FOREIGN = ["evil.example", "evil.example:5000", "127.0.0.1.evil.example", "localhost.evil", ""]
LOCAL = ["localhost", "LOCALHOST:5000", "127.0.0.1", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"]


def _refused(reply: Reply | requests.Response, host: str) -> None:
    status = reply.status if isinstance(reply, Reply) else reply.status_code
    assert status == 403, (host, reply.content if hasattr(reply, "content") else reply.body)
    error = reply.json()["errors"][0]
    assert error["code"] == "DENIED"
    assert "without auth" in error["message"] and "--auth" in error["message"]


@pytest.fixture
def open_router(tmp_path: Path) -> RouterClient:
    return RouterClient(Router(embedded_registry(str(tmp_path)), bound_address="10.1.2.3"))


@pytest.mark.parametrize("host", FOREIGN)
def test_the_router_refuses_a_foreign_host(open_router: RouterClient, host: str) -> None:
    for method, path in [("GET", "/v2/"), ("POST", "/v2/a/b/blobs/uploads/"), ("GET", "/nope")]:
        _refused(open_router.request(method, path, headers={"Host": host}), host)


@pytest.mark.parametrize("host", [*LOCAL, "10.1.2.3", "10.1.2.3:5000"])
def test_the_router_answers_a_local_host(open_router: RouterClient, host: str) -> None:
    assert open_router.request("GET", "/v2/", headers={"Host": host}).status == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://0.0.0.0:5000", "x"])
def test_the_router_refuses_a_page_from_elsewhere(open_router: RouterClient, origin: str) -> None:
    """A web page may POST to 127.0.0.1 directly (no rebinding, answers unread): the browser
    names it in Origin, which registry clients never send."""
    for method, path in [("GET", "/v2/"), ("POST", "/v2/a/b/blobs/uploads/")]:
        reply = open_router.request(method, path, headers={"Host": "127.0.0.1", "Origin": origin})
        assert (reply.status, reply.error_code()) == (403, "DENIED"), origin
        assert "--auth" in reply.json()["errors"][0]["message"]


@pytest.mark.parametrize("origin", ["http://localhost:5000", "http://127.0.0.1", "http://[::1]"])
def test_the_router_answers_a_local_page(open_router: RouterClient, origin: str) -> None:
    reply = open_router.request("GET", "/v2/", headers={"Host": "localhost", "Origin": origin})
    assert reply.status == 200


def test_without_a_bound_address_or_with_auth_there_is_no_check(tmp_path: Path) -> None:
    """In-process front ends that listen nowhere, and auth on (the deployed Lambda): unaffected."""
    registry = embedded_registry(str(tmp_path))
    plain = RouterClient(Router(registry))
    assert plain.request("GET", "/v2/", headers={"Host": "evil.example"}).status == 200
    auth = RouterClient(Router(registry, embedded_auth(str(tmp_path)), bound_address="127.0.0.1"))
    reply = auth.request("GET", "/v2/", headers={"Host": "registry.example"})
    assert reply.status == 401  # the challenge, as always with auth


def test_soute_serve_refuses_a_foreign_host(soute_server: RegistryServer) -> None:
    port = soute_server.address.rsplit(":", 1)[1]
    url = f"{soute_server.url}/v2/"
    _refused(requests.get(url, headers={"Host": "evil.example"}, timeout=30), "evil.example")
    _refused(requests.get(url, headers={"Host": f"evil.example:{port}"}, timeout=30), "evil:port")
    for host in (f"localhost:{port}", soute_server.address, f"[::1]:{port}"):
        assert requests.get(url, headers={"Host": host}, timeout=30).status_code == 200, host
    page = {"Origin": "http://evil.example"}
    upload = f"{soute_server.url}/v2/a/b/blobs/uploads/"
    _refused(requests.post(upload, headers=page, timeout=30), "evil origin")


def test_soute_serve_lambda_refuses_a_foreign_host(moto_endpoint: str, tmp_path: Path) -> None:
    with lambda_registry(moto_endpoint, tmp_path) as (server, _):
        port = server.address.rsplit(":", 1)[1]
        url = f"{server.url}/v2/"
        _refused(requests.get(url, headers={"Host": "evil.example"}, timeout=30), "evil")
        assert requests.get(url, headers={"Host": f"localhost:{port}"}, timeout=30).ok
        assert requests.get(url, timeout=30).ok  # 127.0.0.1:PORT, the bound address
