"""`soute push oci:…` to the embedded server, pulled back with skopeo byte for byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.images import MiB, assert_same_blobs, build_image, build_index, sha256_digest
from tests.support.server import RegistryServer
from tests.support.soute_push import SoutePush

INITIATED = re.compile(r'"POST /v2/_soute/uploads\?repository=\S+ HTTP/1.1" 201')

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


def test_push_of_an_oci_layout_pulls_back_identical(
    soute_push: SoutePush, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "src", [20 * MiB + 3, 2 * MiB, 1000], tag="v1")
    dest = f"{soute_server.address}/push/oci"
    digest = soute_push.ok(image.ref, f"{dest}:v1")
    assert digest == image.manifest_digest
    assert skopeo.inspect_raw(f"docker://{dest}:v1") == image.manifest
    back = tmp_path / "back"
    skopeo.copy(f"docker://{dest}:v1", f"oci:{back}:v1")
    assert_same_blobs(image.layout, back)
    log = soute_server.log_tail(400)
    assert INITIATED.search(log), "the 20 MB layer skipped the extension"


def test_push_again_skips_every_blob(
    soute_push: SoutePush, soute_server: RegistryServer, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "src", [9 * MiB], tag="v1")
    dest = f"{soute_server.address}/push/again:v1"
    soute_push.ok(image.ref, dest)
    mark = soute_server.log_path.stat().st_size
    assert soute_push.ok(image.ref, dest) == image.manifest_digest
    with open(soute_server.log_path) as log:
        log.seek(mark)
        second = log.read()
    assert "/v2/_soute/uploads" not in second and "blobs/uploads" not in second, second


def test_multi_platform_index_is_pushed_whole(
    soute_push: SoutePush, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    image = build_index(tmp_path / "src", tag="multi")
    dest = f"{soute_server.address}/push/index"
    assert soute_push.ok(image.ref, f"{dest}:multi") == image.index_digest
    assert skopeo.inspect_raw(f"docker://{dest}:multi") == image.index
    back = tmp_path / "back"
    skopeo.copy(f"docker://{dest}:multi", f"oci:{back}:multi", "--all", "--preserve-digests")
    assert_same_blobs(image.layout, back)
    for child in image.children:
        raw = skopeo.inspect_raw(f"docker://{dest}@{child.manifest_digest}")
        assert sha256_digest(raw) == child.manifest_digest
        assert json.loads(raw)["config"]["digest"] == child.config.digest
