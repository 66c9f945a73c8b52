"""Two regions side by side on one machine: one moto server holding us-east-1 (the primary)
and eu-west-1, a `soute serve --backend aws` per region, and the test replicator standing in
for global tables and S3 replication (moto replicates neither: tests/support/replicator.py).

The servers run exactly as the README's commands say:

    soute serve --backend aws --port 5001 --dynamodb-table T --endpoint-url http://127.0.0.1:PORT \
        --region us-east-1 --primary-region us-east-1 \
        --region-bucket us-east-1=T-us-east-1 --region-bucket eu-west-1=T-eu-west-1
    soute serve --backend aws --port 5002 ... --region eu-west-1 --primary-region us-east-1 ...
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.regions import OTHER, PRIMARY, TwoRegions, two_regions
from tests.support.replicator import Replicator
from tests.support.server import RegistryServer, running_registry


@pytest.fixture(scope="session")
def world(moto_endpoint: str) -> TwoRegions:
    return two_regions(moto_endpoint)


@pytest.fixture(scope="session")
def replicator(world: TwoRegions) -> Replicator:
    return world.replicator()


def _serve(world: TwoRegions, region: str, workdir: Path, *mode: str) -> Iterator[RegistryServer]:
    template = world.serve_template(region, "--backend", "aws", "--workers", "1", *mode)
    ready = 401 if "--auth" in mode else 200
    with running_registry(workdir, template, ready_status=ready) as server:
        yield server


@pytest.fixture(scope="session")
def region_a(
    world: TwoRegions, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """The registry in us-east-1, the primary region."""
    yield from _serve(world, PRIMARY, tmp_path_factory.mktemp("region-a"))


@pytest.fixture(scope="session")
def region_b(
    world: TwoRegions, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """The registry in eu-west-1."""
    yield from _serve(world, OTHER, tmp_path_factory.mktemp("region-b"))
