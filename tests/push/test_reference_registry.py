"""`soute push` to a registry without Soute's upload extension (the reference registry,
distribution 2.8): the extension's 404 makes it fall back to the v2 API, layers streamed whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.images import MiB, assert_same_blobs, build_image
from tests.support.server import RegistryServer
from tests.support.soute_push import SoutePush

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


def test_push_falls_back_to_the_v2_api(
    soute_push: SoutePush, reference_registry: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "src", [30 * MiB, 1000], tag="v1")
    dest = f"{reference_registry.address}/push/reference:v1"
    assert soute_push.ok(image.ref, dest) == image.manifest_digest
    assert skopeo.inspect_raw(f"docker://{dest}") == image.manifest
    back = tmp_path / "back"
    skopeo.copy(f"docker://{dest}", f"oci:{back}:v1")
    assert_same_blobs(image.layout, back)
