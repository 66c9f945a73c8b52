"""Tags that move off a manifest in the same PUT that stores another, on every backend. On
DynamoDB each such move and each reference count is an operation on the old manifest's item,
and one transaction may not hold two operations on one item: pushing an index under the tag of
its own image, or moving two tags off one manifest at once, was a 500 there (found by the fuzz
harness, docs/fuzzing.md)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from chalicelib.registry.service import Registry
from chalicelib.server.backends import build_registry, embedded_registry
from tests.support.moto import aws_backend

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.fixture(params=["embedded", "aws"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    if request.param == "embedded":
        return embedded_registry(str(tmp_path))
    return build_registry(aws_backend(request.getfixturevalue("moto_endpoint")))


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _image(registry: Registry, repo: str, seed: str) -> bytes:
    config = json.dumps({"seed": seed}).encode()
    registry.uploads.upload_whole(repo, _digest(config), io.BytesIO(config), len(config))
    descriptor = {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config)}
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {**descriptor, "digest": _digest(config)},
        "layers": [],
    }
    return json.dumps(document).encode()


def _index(*children: bytes) -> bytes:
    manifests = [
        {"mediaType": OCI_MANIFEST, "digest": _digest(child), "size": len(child)}
        for child in children
    ]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).encode()


def test_an_index_is_pushed_under_the_tag_of_its_own_image(registry: Registry) -> None:
    repo = "moves/index"
    image = _image(registry, repo, "amd64")
    registry.manifests.put(repo, "latest", image, OCI_MANIFEST, ())
    index = _index(image)
    registry.manifests.put(repo, "latest", index, OCI_INDEX, ("stable",))
    assert registry.manifests.get(repo, "latest").digest == _digest(index)
    assert registry.manifests.get(repo, "stable").digest == _digest(index)
    registry.manifests.delete(repo, _digest(index))  # the index, its tags, its count on the image
    assert registry.listing.tags(repo, None, None).items == []
    registry.manifests.delete(repo, _digest(image))  # no longer referenced
    assert registry.listing.catalog(None, None).items == []


def test_two_tags_move_off_one_manifest_in_one_put(registry: Registry) -> None:
    repo = "moves/two"
    first, second = _image(registry, repo, "1"), _image(registry, repo, "2")
    registry.manifests.put(repo, "a", first, OCI_MANIFEST, ("b",))
    registry.manifests.put(repo, "a", second, OCI_MANIFEST, ("b",))
    registry.manifests.delete(repo, _digest(first))  # takes no tag with it: both moved
    for tag in ("a", "b"):
        assert registry.manifests.get(repo, tag).digest == _digest(second)
    assert registry.listing.tags(repo, None, None).items == ["a", "b"]
