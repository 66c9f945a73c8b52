"""Tag lists, the catalog and the referrers API."""

from __future__ import annotations

import json

from tests.contract.client import (
    OCI_INDEX,
    OCI_MANIFEST,
    Client,
    descriptor,
    image_manifest,
    new_repo,
    put_manifest,
    sha256,
)


def _tagged(client: Client, tags: list[str]) -> str:
    repo = new_repo()
    body = image_manifest(client, repo)
    for tag in tags:
        assert put_manifest(client, repo, tag, body).status == 201
    return repo


def test_tags_sorted(client: Client) -> None:
    repo = _tagged(client, ["b", "a", "c", "B"])
    reply = client.request("GET", f"/v2/{repo}/tags/list")
    assert reply.status == 200
    assert reply.json() == {"name": repo, "tags": ["B", "a", "b", "c"]}
    assert "Link" not in reply.headers


def test_tag_pagination(client: Client) -> None:
    repo = _tagged(client, ["t1", "t2", "t3", "t4", "t5"])
    reply = client.request("GET", f"/v2/{repo}/tags/list", params={"n": "2"})
    assert reply.json()["tags"] == ["t1", "t2"]
    assert reply.headers["Link"] == f'</v2/{repo}/tags/list?last=t2&n=2>; rel="next"'
    reply = client.request("GET", f"/v2/{repo}/tags/list?last=t2&n=2")
    assert reply.json()["tags"] == ["t3", "t4"]
    reply = client.request("GET", f"/v2/{repo}/tags/list?last=t4&n=2")
    assert reply.json()["tags"] == ["t5"]
    assert "Link" not in reply.headers
    reply = client.request("GET", f"/v2/{repo}/tags/list", params={"n": "0"})
    assert reply.json()["tags"] == []
    reply = client.request("GET", f"/v2/{repo}/tags/list", params={"last": "t3"})
    assert reply.json()["tags"] == ["t4", "t5"]


def test_bad_page_size(client: Client) -> None:
    repo = _tagged(client, ["x"])
    reply = client.request("GET", f"/v2/{repo}/tags/list", params={"n": "-1"})
    assert reply.status == 400
    assert "n=" in reply.json()["errors"][0]["message"]


def test_tags_of_unknown_repository(client: Client) -> None:
    reply = client.request("GET", f"/v2/{new_repo()}/tags/list")
    assert reply.status == 404
    assert reply.error_code() == "NAME_UNKNOWN"


def test_catalog_sorted_and_paginated(client: Client) -> None:
    repos = sorted(_tagged(client, ["v"]) for _ in range(3))
    everything = client.request("GET", "/v2/_catalog", params={"n": "10000"}).json()
    listed = everything["repositories"]
    assert listed == sorted(listed)
    assert set(repos) <= set(listed)
    start = listed.index(repos[0])
    last = listed[start - 1] if start else ""
    page = client.request("GET", "/v2/_catalog", params={"n": "1", "last": last})
    assert page.json()["repositories"] == [repos[0]]
    assert page.headers["Link"].endswith('>; rel="next"')


def _referrer(client: Client, repo: str, subject: bytes, artifact_type: str) -> bytes:
    body = image_manifest(
        client,
        repo,
        artifactType=artifact_type,
        subject=descriptor(OCI_MANIFEST, subject),
        annotations={"org.example": "yes"},
    )
    assert put_manifest(client, repo, sha256(body), body).status == 201
    return body


def test_referrers(client: Client) -> None:
    repo = new_repo()
    subject = image_manifest(client, repo)
    put_manifest(client, repo, "v1", subject)
    sbom = _referrer(client, repo, subject, "application/vnd.example.sbom")
    sig = _referrer(client, repo, subject, "application/vnd.example.signature")
    reply = client.request("GET", f"/v2/{repo}/referrers/{sha256(subject)}")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == OCI_INDEX
    index = reply.json()
    assert index["mediaType"] == OCI_INDEX
    by_digest = {m["digest"]: m for m in index["manifests"]}
    assert set(by_digest) == {sha256(sbom), sha256(sig)}
    assert by_digest[sha256(sbom)] == {
        "mediaType": OCI_MANIFEST,
        "digest": sha256(sbom),
        "size": len(sbom),
        "artifactType": "application/vnd.example.sbom",
        "annotations": {"org.example": "yes"},
    }
    filtered = client.request(
        "GET",
        f"/v2/{repo}/referrers/{sha256(subject)}",
        params={"artifactType": "application/vnd.example.sbom"},
    )
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in filtered.json()["manifests"]] == [sha256(sbom)]


def test_referrers_artifact_type_falls_back_to_config_media_type(client: Client) -> None:
    repo = new_repo()
    body = image_manifest(client, repo, subject=descriptor(OCI_MANIFEST, b"x"))
    put_manifest(client, repo, sha256(body), body)
    listed = client.request("GET", f"/v2/{repo}/referrers/{sha256(b'x')}").json()
    assert listed["manifests"][0]["artifactType"] == json.loads(body)["config"]["mediaType"]


def test_referrers_of_unknown_subject_is_an_empty_index(client: Client) -> None:
    reply = client.request("GET", f"/v2/{new_repo()}/referrers/{sha256(b'none')}")
    assert reply.status == 200
    assert reply.json()["manifests"] == []


def test_referrers_bad_digest(client: Client) -> None:
    reply = client.request("GET", f"/v2/{new_repo()}/referrers/sha256:xyz")
    assert reply.status == 400
    assert reply.error_code() == "DIGEST_INVALID"


def test_deleted_referrer_disappears(client: Client) -> None:
    repo = new_repo()
    sbom = _referrer(client, repo, b"subject", "application/vnd.example.sbom")
    client.request("DELETE", f"/v2/{repo}/manifests/{sha256(sbom)}")
    reply = client.request("GET", f"/v2/{repo}/referrers/{sha256(b'subject')}")
    assert reply.json()["manifests"] == []
