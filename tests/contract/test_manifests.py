"""Manifests of every supported media type: push, pull, references checked, delete."""

from __future__ import annotations

import hashlib
import json
import os

from tests.contract.client import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY_JSON,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Client,
    descriptor,
    image_manifest,
    new_repo,
    push_blob,
    put_manifest,
    sha256,
)


def test_put_get_head_by_tag_and_digest(client: Client) -> None:
    repo = new_repo()
    body = image_manifest(client, repo)
    reply = put_manifest(client, repo, "v1", body)
    assert reply.status == 201
    digest = sha256(body)
    assert reply.headers["Docker-Content-Digest"] == digest
    assert reply.headers["Location"] == f"/v2/{repo}/manifests/{digest}"
    for reference in ("v1", digest):
        got = client.request(
            "GET", f"/v2/{repo}/manifests/{reference}", headers={"Accept": OCI_MANIFEST}
        )
        assert got.status == 200
        assert got.body == body
        assert got.headers["Content-Type"] == OCI_MANIFEST
        assert got.headers["Docker-Content-Digest"] == digest
        assert got.headers["Content-Length"] == str(len(body))
        head = client.request("HEAD", f"/v2/{repo}/manifests/{reference}")
        assert head.status == 200
        assert head.body == b""
        assert head.headers["Content-Length"] == str(len(body))
        assert head.headers["Docker-Content-Digest"] == digest


def test_docker_schema2_and_manifest_list(client: Client) -> None:
    repo = new_repo()
    config, layer = b'{"architecture":"arm64","os":"linux"}', os.urandom(300)
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": descriptor(DOCKER_CONFIG, config),
            "layers": [descriptor(DOCKER_LAYER, layer)],
        }
    ).encode()
    assert put_manifest(client, repo, sha256(manifest), manifest, DOCKER_MANIFEST).status == 201
    listing = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [
                descriptor(
                    DOCKER_MANIFEST, manifest, platform={"architecture": "arm64", "os": "linux"}
                )
            ],
        }
    ).encode()
    assert put_manifest(client, repo, "multi", listing, DOCKER_LIST).status == 201
    got = client.request("GET", f"/v2/{repo}/manifests/multi")
    assert got.headers["Content-Type"] == DOCKER_LIST
    assert got.body == listing
    got = client.request("GET", f"/v2/{repo}/manifests/{sha256(manifest)}")
    assert got.headers["Content-Type"] == DOCKER_MANIFEST


def test_oci_index(client: Client) -> None:
    repo = new_repo()
    child = image_manifest(client, repo)
    put_manifest(client, repo, sha256(child), child)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [descriptor(OCI_MANIFEST, child)],
        }
    ).encode()
    reply = put_manifest(client, repo, "latest", index, OCI_INDEX)
    assert reply.status == 201
    assert client.request("GET", f"/v2/{repo}/manifests/latest").body == index


def test_artifact_with_empty_config_and_artifact_type(client: Client) -> None:
    repo = new_repo()
    empty = b"{}"
    push_blob(client, repo, empty)
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom",
            "config": descriptor(EMPTY_JSON, empty),
            "layers": [descriptor(EMPTY_JSON, empty)],
        }
    ).encode()
    assert put_manifest(client, repo, "sbom", body).status == 201


def test_any_config_media_type(client: Client) -> None:
    repo, config = new_repo(), b"helm chart config"
    push_blob(client, repo, config)
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.cncf.helm.config.v1+json", config),
            "layers": [],
        }
    ).encode()
    assert put_manifest(client, repo, "chart", body).status == 201


def test_missing_blob_is_manifest_blob_unknown(client: Client) -> None:
    repo = new_repo()
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, b"never pushed"),
            "layers": [],
        }
    ).encode()
    reply = put_manifest(client, repo, "v1", body)
    assert reply.status == 400
    assert reply.error_code() == "MANIFEST_BLOB_UNKNOWN"
    assert client.request("GET", f"/v2/{repo}/manifests/v1").status == 404


def test_blob_of_another_repository_does_not_count(client: Client) -> None:
    other = new_repo()
    body = image_manifest(client, other)
    reply = put_manifest(client, new_repo(), "v1", body)
    assert reply.error_code() == "MANIFEST_BLOB_UNKNOWN"


def test_index_with_missing_child_is_refused(client: Client) -> None:
    repo = new_repo()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [descriptor(OCI_MANIFEST, b"not here")],
        }
    ).encode()
    reply = put_manifest(client, repo, "v1", index, OCI_INDEX)
    assert reply.status == 400
    assert reply.error_code() == "MANIFEST_UNKNOWN"


def test_non_distributable_layers_need_not_be_pushed(client: Client) -> None:
    repo, config = new_repo(), b"{}"
    push_blob(client, repo, config)
    foreign = descriptor(
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        b"windows base",
        urls=["https://example.com/layer"],
    )
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": descriptor(DOCKER_CONFIG, config),
            "layers": [foreign],
        }
    ).encode()
    assert put_manifest(client, repo, "win", body, DOCKER_MANIFEST).status == 201


def test_put_by_digest_must_match_body(client: Client) -> None:
    repo = new_repo()
    body = image_manifest(client, repo)
    reply = put_manifest(client, repo, sha256(b"other"), body)
    assert reply.status == 400
    assert reply.error_code() == "DIGEST_INVALID"
    sha512 = "sha512:" + hashlib.sha512(body).hexdigest()
    reply = put_manifest(client, repo, sha512, body)
    assert reply.status == 201
    assert reply.headers["Docker-Content-Digest"] == sha512
    assert client.request("GET", f"/v2/{repo}/manifests/{sha512}").body == body


def test_invalid_bodies_are_manifest_invalid(client: Client) -> None:
    repo = new_repo()
    cases = [
        b"not json",
        b"[]",
        b'{"schemaVersion": 1}',
        json.dumps(
            {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": {}, "layers": []}
        ).encode(),
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": "sha256:zz", "size": 1},
                "layers": [],
            }
        ).encode(),
        json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode(),
    ]
    for body in cases:
        reply = put_manifest(client, repo, "bad", body)
        assert reply.status == 400, body
        assert reply.error_code() == "MANIFEST_INVALID", body
        assert reply.json()["errors"][0]["message"]


def test_deeply_nested_manifests_are_manifest_invalid(client: Client) -> None:
    """Nested past the parser's recursion limit, or past the fixed bound every reader agrees
    on (annotations 200 deep parse here, but may not where the body is parsed again)."""
    repo = new_repo()
    document = json.loads(image_manifest(client, repo))
    deep = json.dumps(document)[:-1] + ', "annotations": {"a": ' + "[" * 200 + "]" * 200 + "}}"
    for body in (b"[" * 100_000, b'{"a":' * 50_000, deep.encode()):
        reply = put_manifest(client, repo, "deep", body)
        assert (reply.status, reply.error_code()) == (400, "MANIFEST_INVALID"), reply.body
        assert "nested" in reply.json()["errors"][0]["message"]
    assert client.request("GET", f"/v2/{repo}/manifests/deep").status == 404


def test_schema1_is_refused_with_a_reason(client: Client) -> None:
    reply = put_manifest(
        client,
        new_repo(),
        "old",
        b'{"schemaVersion": 1, "name": "x"}',
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    )
    assert reply.status == 400
    assert "schema1" in reply.json()["errors"][0]["message"]


def test_oversized_manifest_is_413(client: Client) -> None:
    body = b'{"schemaVersion": 2, "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    reply = put_manifest(client, new_repo(), "big", body)
    assert reply.status == 413
    assert reply.error_code() == "SIZE_INVALID"


def test_invalid_tag_and_name(client: Client) -> None:
    repo = new_repo()
    body = image_manifest(client, repo)
    reply = put_manifest(client, repo, "-bad", body)
    assert reply.status == 400
    assert reply.error_code() == "TAG_INVALID"
    reply = put_manifest(client, repo, "x" * 129, body)
    assert reply.error_code() == "TAG_INVALID"
    for name in ("UPPER/case", "a//b", "trailing-/x", "a/" + "b" * 300):
        reply = client.request("GET", f"/v2/{name}/manifests/latest")
        if client.name.startswith("lambda") and name == "a//b":
            # An empty path segment matches no API Gateway resource: the gateway's 404.
            assert (reply.status, reply.error_code()) == (404, "UNSUPPORTED")
            continue
        assert reply.status == 400, name
        assert reply.error_code() == "NAME_INVALID"


def test_deep_repository_names(client: Client) -> None:
    repo = "a/b/c/d/e/f/g/h/i/" + new_repo()
    body = image_manifest(client, repo)
    assert put_manifest(client, repo, "deep", body).status == 201
    assert client.request("GET", f"/v2/{repo}/manifests/deep").body == body


def test_subject_is_recorded_and_answered(client: Client) -> None:
    repo = new_repo()
    target = image_manifest(client, repo)
    put_manifest(client, repo, "v1", target)
    body = image_manifest(client, repo, subject=descriptor(OCI_MANIFEST, target))
    reply = put_manifest(client, repo, sha256(body), body)
    assert reply.status == 201
    assert reply.headers["OCI-Subject"] == sha256(target)


def test_subject_may_be_absent_from_the_repository(client: Client) -> None:
    repo = new_repo()
    body = image_manifest(client, repo, subject=descriptor(OCI_MANIFEST, b"elsewhere"))
    assert put_manifest(client, repo, sha256(body), body).status == 201


def test_moving_a_tag(client: Client) -> None:
    repo = new_repo()
    first, second = image_manifest(client, repo), image_manifest(client, repo)
    put_manifest(client, repo, "latest", first)
    put_manifest(client, repo, "latest", second)
    assert client.request("GET", f"/v2/{repo}/manifests/latest").body == second
    assert client.request("GET", f"/v2/{repo}/manifests/{sha256(first)}").body == first


def test_delete_by_digest_removes_its_tags(client: Client) -> None:
    repo = new_repo()
    body = image_manifest(client, repo)
    put_manifest(client, repo, "v1", body)
    assert client.request("DELETE", f"/v2/{repo}/manifests/{sha256(body)}").status == 202
    for reference in ("v1", sha256(body)):
        reply = client.request("GET", f"/v2/{repo}/manifests/{reference}")
        assert reply.status == 404
        assert reply.error_code() == "MANIFEST_UNKNOWN"
    assert client.request("DELETE", f"/v2/{repo}/manifests/{sha256(body)}").status == 404


def test_delete_by_tag_removes_only_the_tag(client: Client) -> None:
    repo = new_repo()
    body = image_manifest(client, repo)
    put_manifest(client, repo, "v1", body)
    assert client.request("DELETE", f"/v2/{repo}/manifests/v1").status == 202
    assert client.request("GET", f"/v2/{repo}/manifests/v1").status == 404
    assert client.request("GET", f"/v2/{repo}/manifests/{sha256(body)}").status == 200


def test_child_of_an_index_cannot_be_deleted_first(client: Client) -> None:
    repo = new_repo()
    child = image_manifest(client, repo)
    put_manifest(client, repo, sha256(child), child)
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor(OCI_MANIFEST, child)]}
    ).encode()
    put_manifest(client, repo, "all", index, OCI_INDEX)
    reply = client.request("DELETE", f"/v2/{repo}/manifests/{sha256(child)}")
    assert reply.status == 409
    assert reply.json()["errors"][0]["message"] in {
        f"manifest {sha256(child)} is listed in index {sha256(index)} in {repo};"
        " delete the index first",
        f"manifest {sha256(child)} is listed in an index in {repo}; delete the index first",
    }
    assert client.request("DELETE", f"/v2/{repo}/manifests/{sha256(index)}").status == 202
    assert client.request("DELETE", f"/v2/{repo}/manifests/{sha256(child)}").status == 202


def test_unknown_manifest(client: Client) -> None:
    reply = client.request("GET", f"/v2/{new_repo()}/manifests/nope")
    assert reply.status == 404
    assert reply.error_code() == "MANIFEST_UNKNOWN"


def test_tag_parameters_on_put_by_digest(client: Client) -> None:
    repo = new_repo()
    body = image_manifest(client, repo)
    reply = client.request(
        "PUT",
        f"/v2/{repo}/manifests/{sha256(body)}?tag=a&tag=b",
        headers={"Content-Type": OCI_MANIFEST},
        data=body,
    )
    assert reply.status == 201
    assert reply.headers["OCI-Tag"] == "a, b"
    assert client.request("GET", f"/v2/{repo}/tags/list").json()["tags"] == ["a", "b"]
    reply = client.request(
        "PUT",
        f"/v2/{repo}/manifests/{sha256(body)}?tag=-bad",
        headers={"Content-Type": OCI_MANIFEST},
        data=body,
    )
    assert reply.error_code() == "TAG_INVALID"


def test_pushing_the_same_manifest_again_is_201(client: Client) -> None:
    repo = new_repo()
    body = image_manifest(client, repo)
    assert put_manifest(client, repo, sha256(body), body).status == 201
    assert put_manifest(client, repo, sha256(body), body).status == 201
    assert put_manifest(client, repo, "again", body).status == 201
