"""The API root, routing errors and the shape of every error."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from tests.contract.client import Client, LiveClient, new_repo


def test_v2_root(client: Client) -> None:
    for method in ("GET", "HEAD"):
        reply = client.request(method, "/v2/")
        assert reply.status == 200
        assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_unknown_endpoint_is_404_with_an_oci_body(client: Client) -> None:
    reply = client.request("GET", "/v2/nothing-here")
    assert reply.status == 404
    assert reply.json()["errors"][0]["message"]


def test_wrong_method_is_405(client: Client) -> None:
    reply = client.request("PATCH", f"/v2/{new_repo()}/manifests/latest")
    assert reply.status == 405
    assert reply.error_code() == "UNSUPPORTED"
    assert "PUT" in reply.headers["Allow"]


def test_errors_carry_the_api_version_header(client: Client) -> None:
    reply = client.request("GET", f"/v2/{new_repo()}/manifests/none")
    assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert reply.headers["Content-Type"] == "application/json"


def _raw(live: LiveClient, payload: bytes) -> tuple[bytes, float]:
    address = urlsplit(live.base_url)
    started = time.monotonic()
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(payload)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer, time.monotonic() - started


def test_tls_handshake_on_plain_port_is_refused_at_once(live: LiveClient) -> None:
    client_hello = bytes.fromhex("16030100a5010000a10303") + bytes(200)
    answer, elapsed = _raw(live, client_hello)
    assert answer.startswith(b"HTTP/1.1 400")
    assert elapsed < 1.0


def test_garbage_request_line_is_refused(live: LiveClient) -> None:
    answer, _ = _raw(live, b"\x00\x01\x02 nonsense\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")


def test_bad_content_length_is_refused(live: LiveClient) -> None:
    answer, _ = _raw(
        live, b"POST /v2/a/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400")
