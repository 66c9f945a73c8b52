"""A layer too large for the Lambda endpoint is refused once, at once, naming `soute push`.

Through `soute serve --lambda --auth` on moto (the deployed shape), docker, skopeo, podman and
containerd push an image whose layer is 6 MB (under API Gateway's 10 MB, over Lambda's 6 MB
payload once base64-encoded) or 30 MiB (over 10 MB). Each must fail with the gateway's answer
shown and exactly one upload of the layer: a client that retried would start a second upload
(another POST) and get a second 413. The layers are random bytes, so no client's compression
brings them under a limit. Timings are measured by bench/lambda_refusals.py, not here.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.clients import Podman, Skopeo
from tests.support.engines import Containerd, DockerEngine
from tests.support.fixtures import setup_or_fail, short_tempdir
from tests.support.images import MiB, OciImage, build_image
from tests.support.procs import run
from tests.support.server import RegistryServer

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

SIZES = {"6mb": 6_000_000, "30mib": 30 * MiB}
ADVICE = "soute push IMAGE HOST/REPO:TAG (or docker soute push IMAGE HOST/REPO:TAG)"
USER = ("dev", "pw")  # the user of lambda_auth_server (tests/auth/conftest.py)


@dataclass(frozen=True)
class Source:
    image: OciImage
    local: str  # its name in the Docker engine, podman and containerd


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Source]:
    """One single-layer image per size, built once for every client."""
    base = tmp_path_factory.mktemp("refusal-images")
    return {
        label: Source(build_image(base / label, [size], tag="v1"), f"soute-refusal/{label}:v1")
        for label, size in SIZES.items()
    }


@pytest.fixture(scope="module")
def archives(
    sources: dict[str, Source], skopeo: Skopeo, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("refusal-archives")
    paths = {}
    for label, source in sources.items():
        paths[label] = base / f"{label}.tar"
        skopeo.copy(source.image.ref, f"docker-archive:{paths[label]}:{source.local}")
    return paths


@pytest.fixture(scope="module")
def docker_config(
    docker_engine: DockerEngine,
    lambda_auth_server: RegistryServer,
    archives: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    """The engine with both images loaded, and a client config after a real `docker login`."""
    for archive in archives.values():
        docker_engine.docker("load", "--input", str(archive))
    config = tmp_path_factory.mktemp("refusal-docker-config")
    env = {**docker_engine.env, "DOCKER_CONFIG": str(config)}
    run(
        [docker_engine.cli, "login", "-u", USER[0], "-p", USER[1], lambda_auth_server.address],
        env=env,
    )
    yield env
    docker_engine.docker("rmi", *[f"soute-refusal/{label}:v1" for label in SIZES], check=False)


@pytest.fixture(scope="module")
def loaded_podman(_root_required: None, sources: dict[str, Source]) -> Iterator[Podman]:
    client = setup_or_fail("podman", lambda: Podman(short_tempdir("soute-pod-")))
    try:
        for source in sources.values():
            image_id = client.pull(source.image.ref).stdout.split()[-1]
            client.run("tag", image_id, source.local)
        yield client
    finally:
        client.cleanup()


@pytest.fixture(scope="module")
def loaded_containerd(containerd: Containerd, archives: dict[str, Path]) -> Containerd:
    for archive in archives.values():
        containerd.ctr("images", "import", "--no-unpack", str(archive))
    return containerd


def _uploads(log: str, repository: str) -> list[tuple[str, int]]:
    """(method, status) of each upload request to `repository`, in order."""
    pattern = rf'"(\w+) /v2/{re.escape(repository)}/blobs/uploads/\S* HTTP/1.1" (\d{{3}}) '
    return [(method, int(status)) for method, status in re.findall(pattern, log)]


def _uploads_since(server: RegistryServer, offset: int, repository: str) -> list[tuple[str, int]]:
    """The uploads to `repository` logged from `offset`, once the refusal is among them.

    A server logs a request just after answering it, so the line of a client's last request
    can land after the client exits (on a busy machine, well after). A retry would show all
    the same: it starts with a new POST, logged before the retried upload is even sent."""
    deadline = time.monotonic() + 30
    while True:
        with open(server.log_path, "rb") as log:
            log.seek(offset)
            uploads = _uploads(log.read().decode(errors="replace"), repository)
        if any(status == 413 for _, status in uploads) or time.monotonic() > deadline:
            return uploads
        time.sleep(0.05)


def _assert_refused_once(server: RegistryServer, offset: int, repository: str) -> None:
    uploads = _uploads_since(server, offset, repository)
    refused = [i for i, (_, status) in enumerate(uploads) if status == 413]
    assert len(refused) == 1, f"expected one refused upload, got {uploads}"
    restarted = [method for method, _ in uploads[refused[0] + 1 :] if method == "POST"]
    assert not restarted, f"the client retried after the refusal: {uploads}"


def _push(client: str, target: str, label: str, fixtures: pytest.FixtureRequest) -> str:
    """Push the image `label` to `target` with `client`; the failed push's output."""
    local = f"soute-refusal/{label}:v1"
    if client == "docker":
        env = fixtures.getfixturevalue("docker_config")
        engine: DockerEngine = fixtures.getfixturevalue("docker_engine")
        run([engine.cli, "tag", local, target], env=env)
        done = run([engine.cli, "push", target], env=env, check=False)
        run([engine.cli, "rmi", target], env=env, check=False)
    elif client == "skopeo":
        skopeo: Skopeo = fixtures.getfixturevalue("skopeo")
        source: Source = fixtures.getfixturevalue("sources")[label]
        done = skopeo.run(
            "copy", "--dest-tls-verify=false", "--dest-creds", ":".join(USER),
            source.image.ref, f"docker://{target}", check=False,
        )  # fmt: skip
    elif client == "podman":
        podman: Podman = fixtures.getfixturevalue("loaded_podman")
        done = podman.run(
            "push", "--tls-verify=false", f"--signature-policy={podman.policy}",
            "--creds", ":".join(USER), local, target, check=False,
        )  # fmt: skip
    else:
        ctr: Containerd = fixtures.getfixturevalue("loaded_containerd")
        done = ctr.ctr(
            "images", "push", "--plain-http", "--user", ":".join(USER),
            target, f"docker.io/{local}", check=False,
        )  # fmt: skip
    assert done.returncode != 0, f"{client} pushed a {label} layer through Lambda"
    return done.stdout + done.stderr


@pytest.mark.parametrize("label", SIZES)
@pytest.mark.parametrize("client", ["docker", "skopeo", "podman"])
def test_refused_once_with_the_soute_push_command(
    client: str, label: str, lambda_auth_server: RegistryServer, request: pytest.FixtureRequest
) -> None:
    repository = f"dev/refused-{client}-{label}-{uuid.uuid4().hex[:6]}"
    offset = lambda_auth_server.log_path.stat().st_size
    said = _push(client, f"{lambda_auth_server.address}/{repository}:v1", label, request)
    assert ADVICE in said, said
    _assert_refused_once(lambda_auth_server, offset, repository)


@pytest.mark.parametrize("label", SIZES)
def test_containerd_is_refused_once(
    label: str, lambda_auth_server: RegistryServer, request: pytest.FixtureRequest
) -> None:
    """containerd (ctr 1.6) shows only the status line of a refused PUT, never its body (its
    ErrUnexpectedStatus; docs/lambda-limits.md), so the advice cannot reach it: it gets the 413
    at once and does not retry."""
    repository = f"dev/refused-ctr-{label}-{uuid.uuid4().hex[:6]}"
    offset = lambda_auth_server.log_path.stat().st_size
    said = _push("ctr", f"{lambda_auth_server.address}/{repository}:v1", label, request)
    assert "413 Request Entity Too Large" in said, said
    _assert_refused_once(lambda_auth_server, offset, repository)
