"""The Docker engine (dockerd 20.10, classic pusher) against the registry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.engines import DockerEngine
from tests.support.images import MiB, build_image, sha256_digest

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def image_id(engine: DockerEngine, ref: str) -> str:
    return engine.docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


def test_docker_push_pull(
    docker_engine: DockerEngine, skopeo: Skopeo, registry: str, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "src", [2 * MiB, 64 * 1024, 4 * 1024], tag="v1")
    archive = tmp_path / "image.tar"
    local = "soute-test/docker-source:v1"
    skopeo.copy(image.ref, f"docker-archive:{archive}:{local}")
    loaded = docker_engine.docker("load", "--input", str(archive)).stdout
    assert local in loaded
    # Docker's image ID is the digest of the config, which the conversion keeps.
    assert image_id(docker_engine, local) == image.config.digest

    remote = f"{registry}/docker/push-pull"
    docker_engine.docker("tag", local, f"{remote}:v1")
    pushed = docker_engine.docker("push", f"{remote}:v1").stdout
    match = re.search(r"v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)", pushed)
    assert match, f"no digest in the output of docker push:\n{pushed}"
    digest, size = match.group(1), int(match.group(2))

    # What the registry holds is what docker pushed: a schema 2 manifest with our config.
    manifest = skopeo.inspect_raw(f"docker://{remote}:v1")
    assert sha256_digest(manifest) == digest
    assert len(manifest) == size
    parsed = json.loads(manifest)
    assert parsed["mediaType"] == DOCKER_MANIFEST
    assert parsed["config"]["digest"] == image.config.digest
    assert len(parsed["layers"]) == len(image.layers)

    docker_engine.docker("rmi", local, f"{remote}:v1")
    gone = docker_engine.docker("image", "inspect", image.config.digest, check=False)
    assert gone.returncode != 0, "the image is still in the engine after docker rmi"

    docker_engine.docker("pull", f"{remote}:v1")
    assert image_id(docker_engine, f"{remote}:v1") == image.config.digest
    repo_digests = docker_engine.docker(
        "image", "inspect", "--format", "{{json .RepoDigests}}", f"{remote}:v1"
    ).stdout
    assert f"{remote}@{digest}" in json.loads(repo_digests)

    # By digest too, after removing it again.
    docker_engine.docker("rmi", f"{remote}:v1")
    docker_engine.docker("pull", f"{remote}@{digest}")
    assert image_id(docker_engine, f"{remote}@{digest}") == image.config.digest
    docker_engine.docker("rmi", f"{remote}@{digest}")
