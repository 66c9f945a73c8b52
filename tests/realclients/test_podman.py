"""podman (containers/image, local vfs storage) against the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clients import Podman, Skopeo
from tests.support.images import MiB, build_image, sha256_digest

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


def image_id(podman: Podman, ref: str) -> str:
    return podman.run("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


def test_podman_push_pull(podman: Podman, skopeo: Skopeo, registry: str, tmp_path: Path) -> None:
    image = build_image(tmp_path / "src", [1 * MiB, 16 * 1024], tag="v1")
    config_id = image.config.digest.removeprefix("sha256:")
    podman.pull(image.ref)
    assert image_id(podman, config_id) == config_id

    remote = f"{registry}/podman/push-pull"
    podman.run("tag", config_id, f"{remote}:v1")
    digest_file = tmp_path / "digest"
    podman.push(f"{remote}:v1", f"--digestfile={digest_file}")
    digest = digest_file.read_text().strip()
    manifest = skopeo.inspect_raw(f"docker://{remote}:v1")
    assert sha256_digest(manifest) == digest
    assert skopeo.inspect(f"docker://{remote}:v1")["Digest"] == digest

    podman.run("rmi", "--force", config_id)
    gone = podman.run("image", "exists", config_id, check=False)
    assert gone.returncode != 0, "the image is still in podman's storage after rmi"

    podman.pull(f"{remote}:v1")
    assert image_id(podman, f"{remote}:v1") == config_id
    podman.run("rmi", "--force", config_id)
    podman.pull(f"{remote}@{digest}")
    assert image_id(podman, f"{remote}@{digest}") == config_id
