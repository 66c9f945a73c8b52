"""containerd's ``ctr`` (containerd 1.6 resolver and pusher) against the registry.

Pulls unpack with the ``native`` snapshotter: it only copies files, so it works on any
filesystem (overlayfs does not work on every CI filesystem, e.g. overlay inside a container).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.engines import Containerd
from tests.support.images import (
    MiB,
    assert_same_blobs,
    build_image,
    build_index,
    write_oci_archive,
)

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

SNAPSHOTTER = "--snapshotter=native"


def image_digest(containerd: Containerd, ref: str) -> str:
    """The target digest of an image in containerd's image store."""
    listing = containerd.ctr("images", "list").stdout
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == ref:
            return fields[2]
    raise AssertionError(f"{ref} is not in containerd's image list:\n{listing}")


def test_ctr_pull_then_push_to_another_repository(
    containerd: Containerd, skopeo: Skopeo, registry: str, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "src", [2 * MiB, 16 * 1024], tag="v1")
    source = f"{registry}/ctr/pulled:v1"
    skopeo.copy(image.ref, f"docker://{source}", "--preserve-digests")

    containerd.ctr("images", "pull", "--plain-http", SNAPSHOTTER, source)
    assert image_digest(containerd, source) == image.manifest_digest

    # Pushing what was pulled to another repository (containerd mounts from the source).
    target = f"{registry}/ctr/pushed-after-pull:v1"
    containerd.ctr("images", "push", "--plain-http", target, source)
    assert skopeo.inspect_raw(f"docker://{target}") == image.manifest
    back = tmp_path / "back"
    skopeo.copy(f"docker://{target}", f"oci:{back}:v1", "--preserve-digests")
    assert_same_blobs(image.layout, back)
    containerd.ctr("images", "remove", source)


def test_ctr_push_uploads_imported_image(
    containerd: Containerd, skopeo: Skopeo, registry: str, tmp_path: Path
) -> None:
    """An image imported from a tar has no source registry: every blob is uploaded."""
    image = build_image(tmp_path / "src", [3 * MiB, 16 * 1024], tag="v1")
    archive = write_oci_archive(image.layout, tmp_path / "image-oci.tar")
    base = f"{registry}/ctr/imported"
    containerd.ctr("images", "import", f"--base-name={base}", SNAPSHOTTER, str(archive))
    assert image_digest(containerd, f"{base}:v1") == image.manifest_digest

    containerd.ctr("images", "push", "--plain-http", f"{base}:v1")
    assert skopeo.inspect_raw(f"docker://{base}:v1") == image.manifest
    back = tmp_path / "back"
    skopeo.copy(f"docker://{base}:v1", f"oci:{back}:v1", "--preserve-digests")
    assert_same_blobs(image.layout, back)

    # And pulled back by containerd itself, by digest, after removing it.
    containerd.ctr("images", "remove", f"{base}:v1")
    by_digest = f"{base}@{image.manifest_digest}"
    containerd.ctr("images", "pull", "--plain-http", SNAPSHOTTER, by_digest)
    assert image_digest(containerd, by_digest) == image.manifest_digest
    containerd.ctr("images", "remove", by_digest)


def test_ctr_multi_platform_index(
    containerd: Containerd, skopeo: Skopeo, registry: str, tmp_path: Path
) -> None:
    index = build_index(tmp_path / "src", tag="multi")
    source = f"{registry}/ctr/multi-source:multi"
    skopeo.copy(index.ref, f"docker://{source}", "--all", "--preserve-digests")

    containerd.ctr("images", "pull", "--plain-http", "--all-platforms", SNAPSHOTTER, source)
    assert image_digest(containerd, source) == index.index_digest

    target = f"{registry}/ctr/multi-target:multi"
    containerd.ctr("images", "push", "--plain-http", target, source)
    assert skopeo.inspect_raw(f"docker://{target}") == index.index
    repo = f"docker://{registry}/ctr/multi-target"
    for child in index.children:
        assert skopeo.inspect_raw(f"{repo}@{child.manifest_digest}") == child.manifest
    containerd.ctr("images", "remove", source)
