"""`soute push` compresses Docker's layers (gzip by default, zstd on request), and what it
pushes is the same image: each layer decompresses to its diff_id, the config is untouched, two
machines pushing the same layer make the same blob, and docker, podman and containerd pull it
and run it (`/bin/true`).

The Docker engine here is Debian's 20.10, which cannot unpack zstd layers (moby added zstd in
23.0): zstd images are run by podman and containerd only (docs/push.md says what works).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard

from tests.support.clients import Podman, Skopeo
from tests.support.engines import Containerd, DockerEngine
from tests.support.images import MiB, OciImage
from tests.support.runnable import build_runnable_image
from tests.support.server import RegistryServer, default_soute
from tests.support.soute_push import SoutePush

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER_TYPES = {
    "gzip": (DOCKER_MANIFEST, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    "zstd": (OCI_MANIFEST, "application/vnd.oci.image.layer.v1.tar+zstd"),
}
# Rootful podman raises RLIMIT_NOFILE and NPROC past what a test runner may hold: runc fails
# with "error setting rlimit type 7: operation not permitted". Limits the runner has:
PODMAN_LIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
FILLER = 9 * MiB  # several 4 MiB gzip members, two 8 MiB zstd frames


@dataclass
class Pushed:
    algorithm: str
    image: OciImage
    ref: str
    manifest: dict[str, Any]
    archive: Path


def _decompress(algorithm: str, data: bytes) -> bytes:
    if algorithm == "gzip":
        return gzip.decompress(data)
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    return bytes(reader.read())


class Pushes:
    """One image per compression, pushed once per module (from `docker save`-like tars)."""

    def __init__(self, server: RegistryServer, skopeo: Skopeo, base: Path) -> None:
        self.server, self.skopeo, self.base = server, skopeo, base
        self.done: dict[str, Pushed] = {}

    def __call__(self, algorithm: str) -> Pushed:
        if algorithm not in self.done:
            self.done[algorithm] = self._push(algorithm)
        return self.done[algorithm]

    def _push(self, algorithm: str) -> Pushed:
        base = self.base / algorithm
        image = build_runnable_image(base / "layout", FILLER)
        archive = base / "image.tar"
        self.skopeo.copy(image.ref, f"docker-archive:{archive}:soute-test/run:v1")
        ref = f"{self.server.address}/compressed/{algorithm}:v1"
        SoutePush(base / "client").ok(*_flags(algorithm), f"docker-archive:{archive}", ref)
        manifest = json.loads(self.skopeo.inspect_raw(f"docker://{ref}"))
        return Pushed(algorithm, image, ref, manifest, archive)


def _flags(algorithm: str) -> list[str]:
    return [] if algorithm == "gzip" else ["--compression", algorithm]  # gzip: the default


@pytest.fixture(scope="module")
def pushes(
    soute_server: RegistryServer, skopeo: Skopeo, tmp_path_factory: pytest.TempPathFactory
) -> Pushes:
    return Pushes(soute_server, skopeo, tmp_path_factory.mktemp("compressed"))


@pytest.mark.parametrize("algorithm", ["gzip", "zstd"])
def test_layers_decompress_to_the_diff_ids_of_the_untouched_config(
    algorithm: str, pushes: Pushes, skopeo: Skopeo, tmp_path: Path
) -> None:
    pushed = pushes(algorithm)
    manifest_type, layer_type = LAYER_TYPES[algorithm]
    assert pushed.manifest["mediaType"] == manifest_type
    layers = pushed.manifest["layers"]
    assert isinstance(layers, list) and {layer["mediaType"] for layer in layers} == {layer_type}
    config = pushed.manifest["config"]
    assert isinstance(config, dict) and config["digest"] == pushed.image.config.digest
    skopeo.copy(f"docker://{pushed.ref}", f"dir:{tmp_path / 'back'}")
    restored = []
    for layer in layers:
        data = (tmp_path / "back" / layer["digest"].split(":")[1]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == layer["digest"]
        assert len(data) == layer["size"] < FILLER
        restored.append("sha256:" + hashlib.sha256(_decompress(algorithm, data)).hexdigest())
    pulled_config = json.loads((tmp_path / "back" / config["digest"].split(":")[1]).read_bytes())
    assert restored == pulled_config["rootfs"]["diff_ids"] == pushed.image.diff_ids


@pytest.mark.parametrize("algorithm", ["gzip", "zstd"])
def test_another_machine_with_one_core_pushes_the_same_blobs(
    algorithm: str, pushes: Pushes, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    """Dedup and mounts across machines: the compressed layer does not depend on the machine's
    cores or on its client state (here: one CPU under taskset, a fresh cache)."""
    pushed = pushes(algorithm)
    ref = f"{soute_server.address}/compressed/{algorithm}-again:v1"
    other = SoutePush(tmp_path / "machine-2")
    command = ["taskset", "-c", "0", default_soute(), "push", "--quiet", *_flags(algorithm)]
    done = subprocess.run(
        [*command, f"docker-archive:{pushed.archive}", ref],
        env=other.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    again = json.loads(skopeo.inspect_raw(f"docker://{ref}"))
    assert again["layers"] == pushed.manifest["layers"]
    assert (
        done.stdout.strip()
        == "sha256:" + hashlib.sha256(skopeo.inspect_raw(f"docker://{pushed.ref}")).hexdigest()
    )


def test_docker_pulls_and_runs_the_gzip_image(pushes: Pushes, docker_engine: DockerEngine) -> None:
    pushed = pushes("gzip")
    docker_engine.docker("pull", pushed.ref)
    try:
        docker_engine.docker("run", "--rm", "--network", "none", pushed.ref)
    finally:
        docker_engine.docker("rmi", pushed.ref)


@pytest.mark.parametrize("algorithm", ["gzip", "zstd"])
def test_podman_pulls_and_runs_it(algorithm: str, pushes: Pushes, podman: Podman) -> None:
    pushed = pushes(algorithm)
    podman.pull(pushed.ref)
    podman.run("run", "--rm", "--network", "none", *PODMAN_LIMITS, pushed.ref)


@pytest.mark.parametrize("algorithm", ["gzip", "zstd"])
def test_containerd_pulls_and_runs_it(
    algorithm: str, pushes: Pushes, containerd: Containerd
) -> None:
    pushed = pushes(algorithm)
    containerd.ctr("images", "pull", "--plain-http", "--snapshotter", "native", pushed.ref)
    try:
        containerd.ctr(
            "run", "--rm", "--snapshotter", "native", pushed.ref, f"soute-run-{algorithm}"
        )
    finally:
        containerd.ctr("images", "rm", "--sync", pushed.ref)
