"""Names, tags and digests are matched whole: `^...$` with `re.match` lets a final
newline through (`$` matches before it), so `PUT /v2/x/manifests/evil%0A` stored the tag
`evil\\n`. Checked through the WSGI front end of `soute serve` (which percent-decodes the path,
as every front end does) into the router they all share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.api.router import Router
from chalicelib.client.errors import UsageError
from chalicelib.client.references import parse_destination
from chalicelib.oci.digest import parse_digest
from chalicelib.oci.errors import OCIError
from chalicelib.oci.names import check_name, check_tag, is_name, is_tag
from chalicelib.server.backends import embedded_registry
from chalicelib.server.wsgi import WsgiApp
from tests.contract.client import LambdaClient, image_manifest, put_manifest

GOOD = "sha256:" + "a" * 64
# 63 hex digits and a newline: the right length, so only the full match refuses it.
SHORT = "sha256:" + "a" * 63


@pytest.fixture
def client(tmp_path: Path) -> LambdaClient:
    """A WSGI caller (the class is named after its other use, the Lambda emulator)."""
    return LambdaClient(WsgiApp(Router(embedded_registry(str(tmp_path)))))


def test_a_tag_ending_in_a_newline_is_refused_and_not_stored(client: LambdaClient) -> None:
    body = image_manifest(client, "x")
    reply = put_manifest(client, "x", "evil%0A", body)
    assert (reply.status, reply.error_code()) == (400, "TAG_INVALID")
    assert client.request("GET", "/v2/x/tags/list").status == 404  # nothing was stored
    assert put_manifest(client, "x", "evil", body).status == 201  # the same without it is fine


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/v2/x/manifests/latest%0A", "TAG_INVALID"),
        ("GET", f"/v2/x/manifests/{SHORT}%0A", "DIGEST_INVALID"),
        ("GET", f"/v2/x/blobs/{SHORT}%0A", "DIGEST_INVALID"),
        ("DELETE", f"/v2/x/blobs/{SHORT}%0A", "DIGEST_INVALID"),
        ("GET", f"/v2/x/referrers/{SHORT}%0A", "DIGEST_INVALID"),
    ],
)
def test_a_final_newline_is_refused_through_the_router(
    client: LambdaClient, method: str, path: str, code: str
) -> None:
    reply = client.request(method, path)
    assert (reply.status, reply.error_code()) == (400, code)


@pytest.mark.parametrize(
    ("method", "path", "params", "code"),
    [
        ("POST", "/v2/x/blobs/uploads/", {"mount": GOOD, "from": "y\n"}, "NAME_INVALID"),
        ("GET", "/v2/_soute/uploads/abc", {"repository": "x\n"}, "NAME_INVALID"),
        ("DELETE", "/v2/_soute/uploads/abc", {"repository": "x\n"}, "NAME_INVALID"),
    ],
)
def test_a_name_in_the_query_ending_in_a_newline_is_refused(
    client: LambdaClient, method: str, path: str, params: dict[str, str], code: str
) -> None:
    reply = client.request(method, path, params=params)
    assert (reply.status, reply.error_code()) == (400, code)


def test_a_name_in_a_json_body_ending_in_a_newline_is_refused(client: LambdaClient) -> None:
    document = {"repository": "x\n", "digest": GOOD, "size": 10}
    reply = client.request(
        "POST",
        "/v2/_soute/uploads",
        headers={"Content-Type": "application/json"},
        data=json.dumps(document).encode(),
    )
    assert (reply.status, reply.error_code()) == (400, "NAME_INVALID")


def test_an_extra_tag_ending_in_a_newline_is_refused(client: LambdaClient) -> None:
    body = image_manifest(client, "x")
    reply = client.request(
        "PUT",
        "/v2/x/manifests/v1",
        params={"tag": "evil\n"},
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        data=body,
    )
    assert (reply.status, reply.error_code()) == (400, "TAG_INVALID")


@pytest.mark.parametrize("text", ["a\n", "a/b\n"])
def test_names_are_matched_whole(text: str) -> None:
    assert not is_name(text)
    with pytest.raises(OCIError):
        check_name(text)


@pytest.mark.parametrize("text", ["latest\n", "v1\n"])
def test_tags_are_matched_whole(text: str) -> None:
    assert not is_tag(text)
    with pytest.raises(OCIError):
        check_tag(text)


@pytest.mark.parametrize("text", [SHORT + "\n", GOOD[:-1] + "\n"])
def test_digests_are_matched_whole(text: str) -> None:
    with pytest.raises(OCIError):
        parse_digest(text)


@pytest.mark.parametrize("text", ["host/repo\n", "host/repo:tag\n"])
def test_push_destinations_are_matched_whole(text: str) -> None:
    with pytest.raises(UsageError):
        parse_destination(text)


@pytest.mark.parametrize("path", ["/v2/_catalog%0A", "/v2/%0A", "/v2/x/tags/list%0A"])
def test_a_route_is_matched_whole_so_a_final_newline_reaches_no_endpoint(
    client: LambdaClient, path: str
) -> None:
    # `/v2/_catalog\n` answered the catalog, and `/v2/x/tags/list\n` looked up repository x.
    reply = client.request("GET", path)
    assert (reply.status, reply.error_code()) == (404, "UNSUPPORTED")
