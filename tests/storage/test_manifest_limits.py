"""The tag limits of issue 10 (A3, A4) hold on every backend, so that a push that works on the
embedded registry works on AWS too: at most MAX_TAGS_PER_PUT tags per manifest PUT, at most
MAX_TAGS_PER_MANIFEST tags on one manifest (DynamoDB's 400 KB item, see dynamodb.py)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from chalicelib.oci.errors import OCIError
from chalicelib.registry.manifests import MAX_TAGS_PER_PUT
from chalicelib.registry.service import Registry
from chalicelib.server.backends import build_registry, embedded_registry
from chalicelib.storage.ports import MAX_TAGS_PER_MANIFEST
from tests.support.moto import aws_backend

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(params=["embedded", "aws"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    if request.param == "embedded":
        return embedded_registry(str(tmp_path))
    return build_registry(aws_backend(request.getfixturevalue("moto_endpoint")))


def _manifest(registry: Registry, repo: str, seed: str = "") -> bytes:
    config = json.dumps({"seed": seed}).encode()
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    registry.uploads.upload_whole(repo, digest, io.BytesIO(config), len(config))
    descriptor = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest}
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {**descriptor, "size": len(config)},
        "layers": [],
    }
    return json.dumps(document).encode()


def test_a_put_sets_at_most_max_tags(registry: Registry) -> None:
    body = _manifest(registry, "p/put")
    extra = tuple(f"x{i}" for i in range(MAX_TAGS_PER_PUT))
    with pytest.raises(OCIError) as refused:
        registry.manifests.put("p/put", "v1", body, OCI_MANIFEST, extra)
    assert refused.value.status == 400 and refused.value.code == "TAG_INVALID"
    assert f"at most {MAX_TAGS_PER_PUT} tags" in refused.value.message
    assert registry.listing.catalog(None, None).items == []  # nothing was stored
    registry.manifests.put("p/put", "v1", body, OCI_MANIFEST, extra[:-1])
    assert len(registry.listing.tags("p/put", None, None).items) == MAX_TAGS_PER_PUT


def test_one_manifest_has_at_most_max_tags_on_sqlite(tmp_path: Path) -> None:
    registry, repo = embedded_registry(str(tmp_path)), "p/many"
    body = _manifest(registry, repo)
    for i in range(MAX_TAGS_PER_MANIFEST):
        registry.manifests.put(repo, f"t{i:04d}", body, OCI_MANIFEST)
    with pytest.raises(OCIError) as refused:
        registry.manifests.put(repo, "one-more", body, OCI_MANIFEST)
    assert refused.value.status == 400 and refused.value.code == "TAG_INVALID"
    assert f"has {MAX_TAGS_PER_MANIFEST} tags" in refused.value.message
    registry.manifests.put(repo, "t0000", body, OCI_MANIFEST)  # a tag it has: still fine
    other = _manifest(registry, repo, "other")
    registry.manifests.put(repo, "t0001", other, OCI_MANIFEST)  # moves one tag away
    registry.manifests.put(repo, "one-more", body, OCI_MANIFEST)  # and so frees its room
