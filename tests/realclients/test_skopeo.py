"""skopeo (containers/image) against the registry: pushes, pulls, multi-platform, deletes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.images import (
    OCI_INDEX,
    OCI_MANIFEST,
    MiB,
    assert_same_blobs,
    blob_path,
    build_image,
    build_index,
    read_layout_ref,
)

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


def assert_inspect_fails(skopeo: Skopeo, ref: str) -> subprocess.CompletedProcess[str]:
    result = skopeo.run("inspect", "--raw", "--tls-verify=false", ref, check=False)
    assert result.returncode != 0, f"`skopeo inspect {ref}` still works after the delete"
    assert "manifest unknown" in result.stderr.lower(), (
        f"expected a MANIFEST_UNKNOWN error for {ref}, skopeo said: {result.stderr}"
    )
    return result


def test_copy_large_image_round_trip(skopeo: Skopeo, registry: str, tmp_path: Path) -> None:
    image = build_image(tmp_path / "src", [50 * MiB + 12345, 2 * MiB, 16 * 1024], tag="v1")
    assert image.layers[0].size >= 50 * 1000 * 1000
    repo = f"docker://{registry}/skopeo/round-trip"

    skopeo.copy(image.ref, f"{repo}:v1", "--preserve-digests")

    # The registry serves the very bytes that were pushed, by tag and by digest.
    assert skopeo.inspect_raw(f"{repo}:v1") == image.manifest
    assert skopeo.inspect_raw(f"{repo}@{image.manifest_digest}") == image.manifest
    info = skopeo.inspect(f"{repo}:v1")
    assert info["Digest"] == image.manifest_digest
    assert info["Layers"] == [layer.digest for layer in image.layers]
    config = json.loads(
        skopeo.run("inspect", "--config", "--tls-verify=false", f"{repo}:v1").stdout
    )
    assert config["rootfs"]["diff_ids"] == image.diff_ids

    # A second tag (registry to registry: every blob is already there) and the tag list.
    skopeo.copy(f"{repo}:v1", f"{repo}:v2", "--preserve-digests")
    assert sorted(skopeo.list_tags(repo)) == ["v1", "v2"]
    assert skopeo.inspect_raw(f"{repo}:v2") == image.manifest

    # Pull it back into a fresh layout: same manifest digest, every blob identical.
    back = tmp_path / "back"
    skopeo.copy(f"{repo}:v1", f"oci:{back}:v1", "--preserve-digests")
    ref = read_layout_ref(back, "v1")
    assert ref["digest"] == image.manifest_digest
    assert ref["mediaType"] == OCI_MANIFEST
    assert blob_path(back, image.manifest_digest).read_bytes() == image.manifest
    assert_same_blobs(image.layout, back)
    # pytest keeps the temporary directories of the last runs: drop the big layouts.
    shutil.rmtree(image.layout)
    shutil.rmtree(back)


def test_copy_large_image_to_another_repository(
    skopeo: Skopeo, registry: str, tmp_path: Path
) -> None:
    """A copy between two repositories of the registry (containers/image may mount blobs)."""
    image = build_image(tmp_path / "src", [3 * MiB, 8 * 1024], tag="v1")
    source = f"docker://{registry}/skopeo/mount-source:v1"
    target = f"docker://{registry}/skopeo/mount-target/deeper/name:v1"
    skopeo.copy(image.ref, source, "--preserve-digests")
    skopeo.copy(source, target, "--preserve-digests")
    assert skopeo.inspect_raw(target) == image.manifest
    back = tmp_path / "back"
    skopeo.copy(target, f"oci:{back}:v1", "--preserve-digests")
    assert_same_blobs(image.layout, back)


def test_multi_platform_index_round_trip(skopeo: Skopeo, registry: str, tmp_path: Path) -> None:
    index = build_index(tmp_path / "src", tag="multi")
    repo = f"docker://{registry}/skopeo/multi-platform"

    skopeo.copy(index.ref, f"{repo}:multi", "--all", "--preserve-digests")

    assert skopeo.inspect_raw(f"{repo}:multi") == index.index
    assert skopeo.inspect_raw(f"{repo}@{index.index_digest}") == index.index
    for child in index.children:
        assert skopeo.inspect_raw(f"{repo}@{child.manifest_digest}") == child.manifest
    # A client on arm64 resolves the index to the arm64 image ("Digest" stays the index's).
    arm = skopeo.run(
        "--override-arch",
        "arm64",
        "--override-os",
        "linux",
        "inspect",
        "--tls-verify=false",
        f"{repo}:multi",
    ).stdout
    arm_child = next(c for c in index.children if c.platform["architecture"] == "arm64")
    arm_info = json.loads(arm)
    assert arm_info["Digest"] == index.index_digest
    assert arm_info["Architecture"] == "arm64"
    assert arm_info["Layers"] == [layer.digest for layer in arm_child.layers]

    back = tmp_path / "back"
    skopeo.copy(f"{repo}:multi", f"oci:{back}:multi", "--all", "--preserve-digests")
    ref = read_layout_ref(back, "multi")
    assert ref["digest"] == index.index_digest
    assert ref["mediaType"] == OCI_INDEX
    assert blob_path(back, index.index_digest).read_bytes() == index.index
    for child in index.children:
        assert blob_path(back, child.manifest_digest).read_bytes() == child.manifest
    assert_same_blobs(index.layout, back)


def test_delete_by_tag_and_by_digest(skopeo: Skopeo, registry: str, tmp_path: Path) -> None:
    first = build_image(tmp_path / "first", [32 * 1024], tag="one")
    second = build_image(tmp_path / "second", [32 * 1024], tag="two")
    repo = f"docker://{registry}/skopeo/delete-me"
    skopeo.copy(first.ref, f"{repo}:one", "--preserve-digests")
    skopeo.copy(first.ref, f"{repo}:one-again", "--preserve-digests")
    skopeo.copy(second.ref, f"{repo}:two", "--preserve-digests")
    assert sorted(skopeo.list_tags(repo)) == ["one", "one-again", "two"]

    # skopeo deletes "by tag" by resolving the tag and deleting the manifest it points to.
    skopeo.run("delete", "--tls-verify=false", f"{repo}:one")
    assert_inspect_fails(skopeo, f"{repo}:one")
    assert_inspect_fails(skopeo, f"{repo}@{first.manifest_digest}")
    assert_inspect_fails(skopeo, f"{repo}:one-again")
    assert skopeo.list_tags(repo) == ["two"]
    # The other image of the repository is untouched.
    assert skopeo.inspect_raw(f"{repo}:two") == second.manifest

    skopeo.run("delete", "--tls-verify=false", f"{repo}@{second.manifest_digest}")
    assert_inspect_fails(skopeo, f"{repo}@{second.manifest_digest}")
    assert_inspect_fails(skopeo, f"{repo}:two")

    # The deleted content can be pushed again.
    skopeo.copy(first.ref, f"{repo}:back", "--preserve-digests")
    assert skopeo.inspect_raw(f"{repo}:back") == first.manifest
