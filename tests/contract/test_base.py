"""The API root, routing errors and the shape of every error."""

from __future__ import annotations

import json
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
    assert reply.error_code() == "UNSUPPORTED"
    if client.name.startswith("lambda"):
        # API Gateway answers a method its resource does not declare itself, before Lambda.
        assert reply.status == 404
        return
    assert reply.status == 405
    assert "PUT" in reply.headers["Allow"]


def test_errors_carry_the_api_version_header(client: Client) -> None:
    reply = client.request("GET", f"/v2/{new_repo()}/manifests/none")
    assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert reply.headers["Content-Type"] == "application/json"


def _raw(live: LiveClient, payload: bytes) -> tuple[bytes, float]:
    """Send raw bytes; return the first response (or all bytes until close) and the time."""
    address = urlsplit(live.base_url)
    started = time.monotonic()
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(payload)
        answer = b""
        while not _complete(answer) and (chunk := sock.recv(4096)):
            answer += chunk
    return answer, time.monotonic() - started


def _complete(answer: bytes) -> bool:
    head, separator, body = answer.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


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
        live,
        b"POST /v2/a/blobs/uploads/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400")


def test_request_line_over_the_limit_gets_an_oci_error(live: LiveClient) -> None:
    line = b"GET /v2/" + b"a" * 9000 + b"/tags/list HTTP/1.1"
    answer, _ = _raw(live, line + b"\r\nHost: localhost\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"application/json" in head
    assert json.loads(body)["errors"][0]["code"]


def test_broken_chunked_body_is_400_not_500(live: LiveClient) -> None:
    location = live.request("POST", f"/v2/{new_repo()}/blobs/uploads/").headers["Location"]
    answer, _ = _raw(
        live,
        f"PATCH {location} HTTP/1.1\r\nHost: localhost\r\n".encode()
        + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nnot hex\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


def test_deeply_nested_manifest_is_manifest_invalid(client: Client) -> None:
    body = b'{"schemaVersion": 2, "x": ' + b"[" * 100000 + b"]" * 100000 + b"}"
    reply = client.request(
        "PUT",
        f"/v2/{new_repo()}/manifests/deep",
        data=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert reply.status == 400
    assert reply.error_code() == "MANIFEST_INVALID"
