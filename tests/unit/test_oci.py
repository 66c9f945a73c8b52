"""The pure protocol layer: digests, names, tags, manifests, ranges."""

from __future__ import annotations

import json

import pytest

from chalicelib.api.ranges import blob_range, chunk_range
from chalicelib.oci import mediatypes as mt
from chalicelib.oci.digest import digest_of, parse_digest
from chalicelib.oci.errors import OCIError
from chalicelib.oci.manifest import parse_manifest
from chalicelib.oci.names import check_name, check_tag

GOOD = "sha256:" + "a" * 64


def _code(call, *args) -> str:  # noqa: ANN001
    with pytest.raises(OCIError) as caught:
        call(*args)
    return caught.value.code


@pytest.mark.parametrize("value", [GOOD, "sha512:" + "0" * 128])
def test_valid_digests(value: str) -> None:
    assert str(parse_digest(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha256",
        "sha256:",
        "sha256:" + "a" * 63,
        "sha256:" + "A" * 64,
        "md5:" + "a" * 32,
        "SHA256:" + "a" * 64,
        "sha256:" + "g" * 64,
        "sha512:" + "a" * 64,
    ],
)
def test_invalid_digests(value: str) -> None:
    assert _code(parse_digest, value) == "DIGEST_INVALID"


def test_digest_of() -> None:
    assert str(digest_of(b"")) == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize(
    "name", ["a", "library/ubuntu", "a-b/c__d/e.f", "x/y/z/1/2/3/4/5/6/7", "a--b", "a0"]
)
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "A", "a/", "/a", "a//b", "a_-b", "-a", "a.", "a" * 256, "a b", "a/./b"]
)
def test_invalid_names(name: str) -> None:
    assert _code(check_name, name) == "NAME_INVALID"


@pytest.mark.parametrize(
    "name",
    ["blobs", "manifests/x", "tags/list/x", "/".join("c" * 16), "a/blobsx", "a/uploads/b"],
)
def test_names_api_gateway_can_route(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/".join("c" * 17), "17 components; at most 16"),
        ("a/blobs", "component named 'blobs'"),
        ("a/manifests/b", "component named 'manifests'"),
        ("a/b/tags", "component named 'tags'"),
        ("a/referrers/b", "component named 'referrers'"),
    ],
)
def test_names_api_gateway_cannot_route_are_refused_everywhere(name: str, why: str) -> None:
    with pytest.raises(OCIError) as caught:
        check_name(name)
    assert caught.value.code == "NAME_INVALID" and why in str(caught.value.body())


def test_the_refused_words_are_the_lambda_routes_own() -> None:
    from chalicelib.oci.names import MAX_COMPONENTS, RESERVED_COMPONENTS
    from chalicelib.server.chalice_routes import MAX_DEPTH
    from chalicelib.server.chalice_routes import RESERVED_COMPONENTS as ROUTED

    assert (RESERVED_COMPONENTS, MAX_COMPONENTS) == (ROUTED, MAX_DEPTH)


@pytest.mark.parametrize("tag", ["latest", "v1.0", "_x", "A" * 128, "1-2_3.4"])
def test_valid_tags(tag: str) -> None:
    assert check_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".x", "-x", "a" * 129, "a/b", "a:b"])
def test_invalid_tags(tag: str) -> None:
    assert _code(check_tag, tag) == "TAG_INVALID"


def _manifest(**fields: object) -> bytes:
    document = {
        "schemaVersion": 2,
        "config": {"mediaType": "x", "digest": GOOD, "size": 1},
        "layers": [{"mediaType": "y", "digest": GOOD, "size": 2}],
    }
    document.update(fields)
    return json.dumps(document).encode()


def test_media_type_from_content_type_or_body() -> None:
    assert parse_manifest(_manifest(), mt.DOCKER_MANIFEST).media_type == mt.DOCKER_MANIFEST
    assert parse_manifest(_manifest(mediaType=mt.OCI_MANIFEST), None).media_type == mt.OCI_MANIFEST
    assert parse_manifest(_manifest(), None).media_type == mt.OCI_MANIFEST
    index = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    assert parse_manifest(index, "application/json").media_type == mt.OCI_INDEX


def test_content_type_and_body_must_agree() -> None:
    body = _manifest(mediaType=mt.DOCKER_MANIFEST)
    assert _code(parse_manifest, body, mt.OCI_MANIFEST) == "MANIFEST_INVALID"


def test_artifact_type_defaults_to_config_media_type() -> None:
    assert parse_manifest(_manifest(), mt.OCI_MANIFEST).artifact_type == "x"
    parsed = parse_manifest(_manifest(artifactType="z"), mt.OCI_MANIFEST)
    assert parsed.artifact_type == "z"


@pytest.mark.parametrize(
    "fields",
    [
        {"schemaVersion": 3},
        {"config": None},
        {"layers": "no"},
        {"layers": [{"mediaType": "y", "digest": GOOD, "size": -1}]},
        {"layers": [{"mediaType": "y", "digest": GOOD, "size": True}]},
        {"subject": {"mediaType": "m", "digest": "bad", "size": 1}},
        {"annotations": []},
        {"artifactType": 5},
    ],
)
def test_invalid_manifests(fields: dict[str, object]) -> None:
    assert _code(parse_manifest, _manifest(**fields), mt.OCI_MANIFEST) == "MANIFEST_INVALID"


def test_blob_range() -> None:
    assert blob_range(None, 10) is None
    assert blob_range("bytes=0-4", 10) == (0, 5)
    assert blob_range("bytes=5-", 10) == (5, 5)
    assert blob_range("bytes=-3", 10) == (7, 3)
    assert blob_range("bytes=0-1,4-5", 10) is None
    assert blob_range("items=0-1", 10) is None
    for header in ("bytes=10-", "bytes=3-2", "bytes=-0", "bytes=-", "bytes=a-b"):
        with pytest.raises(OCIError) as caught:
            blob_range(header, 10)
        assert caught.value.status == 416


def test_chunk_range() -> None:
    assert chunk_range(None, 5) is None
    assert chunk_range("10-14", 5) == 10
    assert chunk_range("bytes 10-14/*", 5) == 10
    assert chunk_range("0-9", None) == 0
    for header, length in (("10-13", 5), ("5-4", None), ("x", 1)):
        with pytest.raises(OCIError) as caught:
            chunk_range(header, length)
        assert caught.value.status == 416
