"""`soute push docker://…`: from another registry (blobs downloaded and uploaded), and within
one registry (blobs mounted from the source repository)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.images import MiB, assert_same_blobs, build_index
from tests.support.server import RegistryServer, running_registry
from tests.support.soute_push import SoutePush

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def other_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with running_registry(tmp_path_factory.mktemp("other-registry")) as server:
        yield server


def test_push_from_another_registry_then_mount_within_one(
    soute_push: SoutePush,
    soute_server: RegistryServer,
    other_registry: RegistryServer,
    skopeo: Skopeo,
    tmp_path: Path,
) -> None:
    image = build_index(tmp_path / "src", tag="v1", layer_sizes=(9 * MiB, 2000))
    upstream = f"{other_registry.address}/up/stream:v1"
    soute_push.ok(image.ref, upstream)

    first = f"{soute_server.address}/push/from-registry:v1"
    assert soute_push.ok(f"docker://{upstream}", first) == image.index_digest
    mark = soute_server.log_path.stat().st_size
    second = f"{soute_server.address}/push/mounted:v1"
    assert soute_push.ok(f"docker://{first}", second) == image.index_digest
    with open(soute_server.log_path) as log:
        log.seek(mark)
        text = log.read()
    mounts = re.findall(r'"POST /v2/push/mounted/blobs/uploads/\?mount=\S+ HTTP/1.1" 201', text)
    assert len(mounts) == 6, text  # two children, each a config and two layers
    assert "/v2/_soute/uploads" not in text

    back = tmp_path / "back"
    skopeo.copy(f"docker://{second}", f"oci:{back}:v1", "--all", "--preserve-digests")
    assert_same_blobs(image.layout, back)
