"""The two regions served as Lambda serves them: `soute serve --lambda` in each region (the
Chalice app behind the API Gateway emulator) with --region and --primary-region, skopeo pushing
through A and pulling through B before and after the test replicator's copy. The other tests
here run `--backend aws`; the regions' logic is the same service under both front ends, and
this checks that the Lambda front end is given it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.regions import (
    FALLBACK,
    OTHER,
    PRIMARY,
    ServerLog,
    TwoRegions,
    pull_image,
    push_image,
    redirect_bucket,
)
from tests.support.replicator import Replicator
from tests.support.server import RegistryServer, running_registry

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


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


def test_lambda_front_ends_push_in_a_pull_in_b_before_and_after_replication(
    skopeo: Skopeo,
    world: TwoRegions,
    replicator: Replicator,
    lambdas: tuple[RegistryServer, RegistryServer],
    tmp_path: Path,
) -> None:
    a, b = lambdas
    image = push_image(skopeo, tmp_path, a, "lambda/app")
    layer = image.layers[0].digest
    for replicated in (False, True):
        said = ServerLog(b)
        pull_image(skopeo, tmp_path, b, "lambda/app", image)
        expected = world.bucket(OTHER) if replicated else world.bucket(PRIMARY)
        assert redirect_bucket(b, "lambda/app", layer) == expected
        assert (FALLBACK in said.text()) is not replicated, said.text()[-2000:]
        replicator.sync()
