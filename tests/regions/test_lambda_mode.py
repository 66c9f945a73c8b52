"""The two regions served as Lambda serves them: `soute serve --lambda` in each region (the
Chalice app behind the API Gateway emulator) with --region and --primary-region, skopeo pushing
through A and pulling through B before and after the test replicator's copy. The other tests
here run `--backend aws`; the regions' logic is the same service under both front ends, and
this checks that the Lambda front end is given it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.clients import Skopeo
from tests.support.images import assert_same_blobs, build_image
from tests.support.regions import OTHER, PRIMARY, TwoRegions
from tests.support.replicator import Replicator
from tests.support.server import RegistryServer, running_registry

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]
FALLBACK = "read from the primary region us-east-1: not yet in eu-west-1"


@pytest.fixture(scope="module")
def lambdas(
    world: TwoRegions, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RegistryServer, RegistryServer]]:
    """`soute serve --lambda` in us-east-1 (the primary) and in eu-west-1."""
    a_dir, b_dir = tmp_path_factory.mktemp("lambda-a"), tmp_path_factory.mktemp("lambda-b")
    with (
        running_registry(a_dir, world.serve_template(PRIMARY, "--lambda")) as a,
        running_registry(b_dir, world.serve_template(OTHER, "--lambda")) as b,
    ):
        yield a, b


def _redirect_bucket(server: RegistryServer, repo: str, digest: str) -> str:
    reply = requests.get(
        f"{server.url}/v2/{repo}/blobs/{digest}", allow_redirects=False, timeout=30
    )
    assert reply.status_code == 307, reply.text
    return urlsplit(reply.headers["Location"]).path.split("/")[1]  # path-style on moto


def test_lambda_front_ends_push_in_a_pull_in_b_before_and_after_replication(
    skopeo: Skopeo,
    world: TwoRegions,
    replicator: Replicator,
    lambdas: tuple[RegistryServer, RegistryServer],
    tmp_path: Path,
) -> None:
    a, b = lambdas
    image = build_image(tmp_path / "src", [300 * 1024, 1000], tag="v1")
    skopeo.copy(image.ref, f"docker://{a.address}/lambda/app:v1", "--preserve-digests")
    layer = image.layers[0].digest
    for replicated in (False, True):
        offset = b.log_path.stat().st_size
        back = tmp_path / "back"
        shutil.rmtree(back, ignore_errors=True)
        skopeo.copy(f"docker://{b.address}/lambda/app:v1", f"oci:{back}:v1")
        assert_same_blobs(image.layout, back)
        with open(b.log_path, "rb") as log:
            log.seek(offset)
            said = log.read().decode(errors="replace")
        expected = world.bucket(OTHER) if replicated else world.bucket(PRIMARY)
        assert _redirect_bucket(b, "lambda/app", layer) == expected
        assert (FALLBACK in said) is not replicated, said[-2000:]
        replicator.sync()
