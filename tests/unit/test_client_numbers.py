"""Numbers and credentials a client writes that Python's own parsers refuse: `int()` takes no
string of more than 4,300 digits, `str.isdigit` is true for '²' which `int()` refuses, and
`base64.b64decode` refuses non-ASCII text with a ValueError. Each was a 500 (found by the fuzz
harness, docs/fuzzing.md); each is an OCI error now."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from chalicelib.api.router import Router
from chalicelib.server.backends import embedded_auth, embedded_registry
from chalicelib.server.wsgi import WsgiApp
from tests.contract.client import LambdaClient, RouterClient, push_blob

HUGE = "9" * 4301  # one digit more than int() reads


@pytest.fixture
def client(tmp_path: Path) -> RouterClient:
    return RouterClient(Router(embedded_registry(str(tmp_path))))


@pytest.mark.parametrize("n", ["²", "١٢", "１０", HUGE])
@pytest.mark.parametrize("path", ["/v2/_catalog", "/v2/x/tags/list"])
def test_a_page_size_of_other_digits_or_too_many_is_not_a_500(
    client: RouterClient, path: str, n: str
) -> None:
    push_blob(client, "x", b"layer")
    reply = client.request("GET", path, params={"n": n})
    assert reply.status < 500, reply.body
    if n != HUGE:
        assert (reply.status, reply.error_code()) == (400, "UNSUPPORTED")


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (f"bytes={HUGE}-", 416),  # starts past the blob
        (f"bytes=0-{HUGE}", 206),  # up to the end, as any last byte past it means
        (f"bytes=-{HUGE}", 206),  # the whole blob as its suffix
        ("bytes=١-٢", 416),  # Arabic-Indic digits are no range
    ],
)
def test_a_range_of_huge_or_other_digits_is_answered(
    client: RouterClient, header: str, status: int
) -> None:
    digest = push_blob(client, "x", b"layer bytes")
    reply = client.request("GET", f"/v2/x/blobs/{digest}", headers={"Range": header})
    assert reply.status == status, reply.body


def test_a_content_range_of_huge_numbers_is_416(client: RouterClient) -> None:
    started = client.request("POST", "/v2/x/blobs/uploads/")
    location = started.headers["Location"]
    reply = client.request("PATCH", location, headers={"Content-Range": f"0-{HUGE}"}, data=b"chunk")
    assert (reply.status, reply.error_code()) == (416, "BLOB_UPLOAD_INVALID")


@pytest.mark.parametrize("length", ["²", HUGE])
def test_a_content_length_of_other_digits_or_too_many_is_not_a_500(
    tmp_path: Path, length: str
) -> None:
    wsgi = LambdaClient(WsgiApp(Router(embedded_registry(str(tmp_path)))))
    reply = wsgi.request("POST", "/v2/x/blobs/uploads/", headers={"Content-Length": length})
    assert reply.status < 500, reply.body
    if length != HUGE:  # a huge one is read as a length past any body: the start needs none
        assert (reply.status, reply.error_code()) == (400, "SIZE_INVALID")


@pytest.mark.parametrize("encoded", ["é", "Zm9v:é", base64.b64encode(b"\xff\xfe:x").decode()])
def test_basic_credentials_that_are_not_base64_ascii_are_401(tmp_path: Path, encoded: str) -> None:
    data_dir = str(tmp_path)
    router = Router(embedded_registry(data_dir), embedded_auth(data_dir))
    reply = RouterClient(router).request(
        "GET", "/token", headers={"Authorization": f"Basic {encoded}"}
    )
    assert (reply.status, reply.error_code()) == (401, "UNAUTHORIZED")
