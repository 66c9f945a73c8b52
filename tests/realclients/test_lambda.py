"""Real clients against the production shape: `soute serve --lambda` (the Chalice app behind
the API Gateway emulator) on S3 + DynamoDB served by moto."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.server.backends import BackendOptions
from tests.support.clients import Skopeo
from tests.support.engines import DockerEngine
from tests.support.images import MiB, assert_same_blobs, build_image
from tests.support.immutable import check_pushes_over_an_immutable_tag_are_refused, soute
from tests.support.lambda_server import admin_arguments, serve_template
from tests.support.moto import aws_backend
from tests.support.server import RegistryServer, running_registry

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def storage(moto_endpoint: str) -> BackendOptions:
    return aws_backend(moto_endpoint)


@pytest.fixture(scope="module")
def lambda_server(
    storage: BackendOptions, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    template = serve_template(storage, "--lambda")
    with running_registry(tmp_path_factory.mktemp("lambda"), template) as server:
        yield server


@pytest.fixture(scope="module")
def direct_server(
    storage: BackendOptions, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """The same storage behind the ordinary server, which takes layers of any size."""
    template = serve_template(storage, "--backend", "aws")
    with running_registry(tmp_path_factory.mktemp("direct"), template) as server:
        yield server


def test_skopeo_pulls_a_50mb_layer_through_the_redirect_to_s3(
    skopeo: Skopeo,
    lambda_server: RegistryServer,
    direct_server: RegistryServer,
    tmp_path: Path,
) -> None:
    image = build_image(tmp_path / "src", [50 * MiB + 77, 1 * MiB], tag="v1")
    skopeo.copy(image.ref, f"docker://{direct_server.address}/big/pull:v1")
    back = tmp_path / "back"
    skopeo.copy(f"docker://{lambda_server.address}/big/pull:v1", f"oci:{back}:v1")
    assert_same_blobs(image.layout, back)
    log = lambda_server.log_path.read_text()
    big = image.layers[0].digest
    assert re.search(rf'"GET /v2/big/pull/blobs/{big} HTTP/1.1" 307 ', log), (
        "the 50 MB layer was not served by a redirect to S3"
    )
    shutil.rmtree(image.layout)
    shutil.rmtree(back)


def test_skopeo_pushes_and_pulls_small_blobs_through_lambda(
    skopeo: Skopeo, lambda_server: RegistryServer, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "src", [3 * MiB + 5, 200 * 1024], tag="v1")
    repo = f"docker://{lambda_server.address}/small/skopeo"
    skopeo.copy(image.ref, f"{repo}:v1", "--preserve-digests")
    assert skopeo.inspect_raw(f"{repo}:v1") == image.manifest
    back = tmp_path / "back"
    skopeo.copy(f"{repo}:v1", f"oci:{back}:v1")
    assert_same_blobs(image.layout, back)


def test_skopeo_cannot_move_an_immutable_tag_through_lambda(
    skopeo: Skopeo, lambda_server: RegistryServer, storage: BackendOptions, tmp_path: Path
) -> None:
    """`soute immutable set --backend aws` writes to the table the Lambda function reads."""
    check_pushes_over_an_immutable_tag_are_refused(
        skopeo, lambda_server.address, "locked-lambda", admin_arguments(storage), tmp_path
    )


def test_docker_push_past_a_quota_is_refused_through_lambda(
    docker_engine: DockerEngine,
    skopeo: Skopeo,
    lambda_server: RegistryServer,
    storage: BackendOptions,
    tmp_path: Path,
) -> None:
    """What docker prints when the namespace's quota (`soute quota set --backend aws`) is too
    small for the image: its layers go up, its manifest is refused, and nothing is tagged."""
    soute("quota", "set", "quota-lambda", "1MB", *admin_arguments(storage))
    _load(docker_engine, skopeo, tmp_path, [2 * MiB], "quota")
    remote = f"{lambda_server.address}/quota-lambda/app:v1"
    docker_engine.docker("tag", "soute-lambda/quota:v1", remote)
    pushed = docker_engine.docker("push", remote, check=False)
    assert pushed.returncode != 0
    said = pushed.stdout + pushed.stderr
    assert "denied: namespace quota-lambda is over its quota: this image adds 2.1" in said, said
    assert "to the 0 B it stores, and its quota is 1.00 MB" in said, said
    assert "`soute quota set quota-lambda SIZE`" in said, said
    gone = skopeo.run("inspect", "--tls-verify=false", f"docker://{remote}", check=False)
    assert gone.returncode != 0
    docker_engine.docker("rmi", "soute-lambda/quota:v1", remote)


def _load(engine: DockerEngine, skopeo: Skopeo, tmp_path: Path, sizes: list[int], name: str) -> str:
    image = build_image(tmp_path / name, sizes, tag="v1")
    archive = tmp_path / f"{name}.tar"
    skopeo.copy(image.ref, f"docker-archive:{archive}:soute-lambda/{name}:v1")
    engine.docker("load", "--input", str(archive))
    return image.config.digest


def test_docker_pushes_and_pulls_small_blobs_through_lambda(
    docker_engine: DockerEngine, skopeo: Skopeo, lambda_server: RegistryServer, tmp_path: Path
) -> None:
    config = _load(docker_engine, skopeo, tmp_path, [3 * MiB, 100 * 1024], "small")
    remote = f"{lambda_server.address}/small/docker:v1"
    docker_engine.docker("tag", "soute-lambda/small:v1", remote)
    docker_engine.docker("push", remote)
    docker_engine.docker("rmi", "soute-lambda/small:v1", remote)
    docker_engine.docker("pull", remote)
    inspected = docker_engine.docker("image", "inspect", "--format", "{{.Id}}", remote)
    assert inspected.stdout.strip() == config
    docker_engine.docker("rmi", remote)


def test_docker_push_of_a_20mb_layer_fails_saying_what_to_do(
    docker_engine: DockerEngine, skopeo: Skopeo, lambda_server: RegistryServer, tmp_path: Path
) -> None:
    _load(docker_engine, skopeo, tmp_path, [20 * MiB], "big")
    remote = f"{lambda_server.address}/big/docker:v1"
    docker_engine.docker("tag", "soute-lambda/big:v1", remote)
    pushed = docker_engine.docker("push", remote, check=False)
    assert pushed.returncode != 0
    said = pushed.stdout + pushed.stderr
    assert "soute push IMAGE HOST/REPO:TAG" in said and "Pushing large layers" in said, said
    docker_engine.docker("rmi", "soute-lambda/big:v1", remote)
