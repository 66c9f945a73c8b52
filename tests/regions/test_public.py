"""A repository made public through region A is public in region B: settings are written to
the primary's table and auth reads identities there (storage/aws/backend.py), so no
replication is needed. Both registries run with --auth, the user dev in the table."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from chalicelib.storage.aws.dynamodb_identities import DynamoIdentityStore
from tests.support.clients import Skopeo
from tests.support.images import build_image
from tests.support.regions import OTHER, PRIMARY, TwoRegions
from tests.support.server import RegistryServer, default_soute

from .conftest import _serve

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def auth_servers(
    world: TwoRegions, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RegistryServer, RegistryServer]]:
    store = DynamoIdentityStore(world.dynamodb(PRIMARY), world.table)
    if store.user("dev") is None:
        store.add_user(User("dev", hash_password("pw")))
    a = _serve(world, PRIMARY, tmp_path_factory.mktemp("auth-a"), "--auth")
    b = _serve(world, OTHER, tmp_path_factory.mktemp("auth-b"), "--auth")
    yield next(a), next(b)
    for started in (a, b):
        started.close()  # leaves the running_registry block: the server is stopped


def test_a_repository_made_public_in_a_is_public_in_b(
    skopeo: Skopeo,
    world: TwoRegions,
    auth_servers: tuple[RegistryServer, RegistryServer],
    tmp_path: Path,
) -> None:
    a, b = auth_servers
    image = build_image(tmp_path / "src", [1000], tag="v1")
    skopeo.copy(image.ref, f"docker://{a.address}/dev/shared:v1", "--dest-creds", "dev:pw")
    anonymous = skopeo.run("inspect", "--tls-verify=false", f"docker://{b.address}/dev/shared:v1",
                           check=False)  # fmt: skip
    assert anonymous.returncode != 0
    # The admin verb as run in region A (here the primary; with --region eu-west-1 it acts on
    # the primary's table all the same).
    subprocess.run(
        [
            default_soute(),
            "public",
            "dev/shared",
            "--backend",
            "aws",
            "--dynamodb-table",
            world.table,
            "--endpoint-url",
            world.endpoint_url,
            "--region",
            PRIMARY,
            "--primary-region",
            PRIMARY,
        ],  # fmt: skip
        check=True,
        capture_output=True,
        timeout=60,
    )
    inspected = skopeo.inspect(f"docker://{b.address}/dev/shared:v1")
    assert inspected["Digest"] == image.manifest_digest
