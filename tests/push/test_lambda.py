"""`soute push` through `soute serve --lambda` on moto: every request to the API stays within
the API Gateway and Lambda limits (the emulator refuses larger ones, so success proves it), and
the layers go straight to S3 through presigned part URLs."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.images import MiB, assert_same_blobs, build_image
from tests.support.lambda_server import lambda_registry
from tests.support.server import RegistryServer
from tests.support.soute_push import SoutePush

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def lambda_server(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    with lambda_registry(moto_endpoint, tmp_path_factory.mktemp("push-lambda")) as (server, _):
        yield server


@pytest.mark.parametrize("megabytes", [50, 300])
def test_push_through_lambda_pulls_back_identical(
    megabytes: int,
    soute_push: SoutePush,
    lambda_server: RegistryServer,
    skopeo: Skopeo,
    tmp_path: Path,
) -> None:
    sizes = [megabytes * MiB * 4 // 5, megabytes * MiB // 5, 3 * MiB + 1]
    image = build_image(tmp_path / "src", sizes, tag="v1")
    dest = f"{lambda_server.address}/big/push{megabytes}"
    assert soute_push.ok(image.ref, f"{dest}:v1", timeout=540) == image.manifest_digest
    log = lambda_server.log_path.read_text()
    assert not re.search(r'" (413|502|504) ', log), "a request went over a Lambda limit"
    assert len(re.findall(r'"POST /v2/_soute/uploads\?repository=\S+ HTTP/1.1" 201', log)) >= 2
    assert skopeo.inspect_raw(f"docker://{dest}:v1") == image.manifest
    back = tmp_path / "back"
    skopeo.copy(f"docker://{dest}:v1", f"oci:{back}:v1")
    assert_same_blobs(image.layout, back)
    shutil.rmtree(image.layout)
    shutil.rmtree(back)


def test_no_direct_over_the_lambda_limit_says_to_drop_it(
    soute_push: SoutePush, lambda_server: RegistryServer, tmp_path: Path
) -> None:
    """`--no-direct` sends each layer in one request, which Lambda cannot take over ~4.5 MB:
    the one line says to drop the option, not (as the gateway does) to use soute push."""
    image = build_image(tmp_path / "src", [6_000_000], tag="v1")
    refused = soute_push.run("--no-direct", image.ref, f"{lambda_server.address}/big/nodirect:v1")
    assert refused.returncode == 1, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "drop --no-direct" in lines[0], refused.stderr
    assert "Traceback" not in refused.stderr
