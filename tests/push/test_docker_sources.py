"""`soute push` from a docker-archive tar and from the Docker engine (and as `docker soute`)."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.engines import DockerEngine
from tests.support.images import MiB, OciImage, build_image, sha256_digest
from tests.support.server import RegistryServer, default_soute
from tests.support.soute_push import SoutePush

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def _archive(skopeo: Skopeo, tmp_path: Path, name: str) -> tuple[OciImage, Path]:
    image = build_image(tmp_path / "src", [12 * MiB, 300 * 1024], tag="v1")
    archive = tmp_path / "image.tar"
    skopeo.copy(image.ref, f"docker-archive:{archive}:{name}")
    return image, archive


def _uncompressed(image: OciImage) -> set[bytes]:
    return {gzip.decompress(image.blob_path(layer.digest).read_bytes()) for layer in image.layers}


def _pulled(skopeo: Skopeo, ref: str, back: Path) -> dict[str, bytes]:
    """The blobs as the registry serves them: skopeo's `dir:` keeps them as they are."""
    skopeo.copy(ref, f"dir:{back}")
    blobs = {f"sha256:{p.name}": p.read_bytes() for p in back.iterdir() if len(p.name) == 64}
    for digest, data in blobs.items():
        assert sha256_digest(data) == digest
    return blobs


@pytest.mark.parametrize(
    ("flags", "compress"),
    [(["--compression", "none"], False), ([], True), (["--compress"], True)],
    ids=["none", "default-gzip", "deprecated-compress"],
)
def test_push_from_a_docker_archive(
    flags: list[str],
    compress: bool,
    soute_push: SoutePush,
    soute_server: RegistryServer,
    skopeo: Skopeo,
    tmp_path: Path,
) -> None:
    image, archive = _archive(skopeo, tmp_path, "soute-test/archive:v1")
    dest = f"{soute_server.address}/push/archive-{len(flags)}-{int(compress)}:v1"
    digest = soute_push.ok(*flags, f"docker-archive:{archive}", dest)
    raw = skopeo.inspect_raw(f"docker://{dest}")
    assert sha256_digest(raw) == digest
    manifest = json.loads(raw)
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert manifest["config"]["digest"] == image.config.digest
    types = {layer["mediaType"] for layer in manifest["layers"]}
    assert types == {LAYER_GZIP if compress else LAYER_TAR}
    if not compress:
        assert [layer["digest"] for layer in manifest["layers"]] == image.diff_ids
    blobs = _pulled(skopeo, f"docker://{dest}", tmp_path / "back")
    layers = [blobs[layer["digest"]] for layer in manifest["layers"]]
    contents = {gzip.decompress(b) if compress else b for b in layers}
    assert contents == _uncompressed(image)
    assert blobs[image.config.digest] == image.blob_path(image.config.digest).read_bytes()


def test_compression_of_an_oci_layout_is_refused_in_one_line(
    soute_push: SoutePush, soute_server: RegistryServer, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    done = soute_push.run("--compression", "zstd", image.ref, f"{soute_server.address}/push/x:v1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "soute push: --compression applies to Docker's layers (docker-daemon:, docker-archive:); "
        "oci: images are pushed as they are: drop --compression"
    ]


def _load(engine: DockerEngine, skopeo: Skopeo, tmp_path: Path, name: str) -> OciImage:
    image, archive = _archive(skopeo, tmp_path, name)
    engine.docker("load", "--input", str(archive))
    return image


def _pull_back(engine: DockerEngine, ref: str, image: OciImage) -> None:
    engine.docker("pull", ref)
    got = engine.docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
    assert got == image.config.digest
    engine.docker("rmi", ref)


def test_push_from_the_docker_engine(
    docker_engine: DockerEngine,
    soute_push: SoutePush,
    soute_server: RegistryServer,
    skopeo: Skopeo,
    tmp_path: Path,
) -> None:
    image = _load(docker_engine, skopeo, tmp_path, "soute-test/engine:v1")
    dest = f"{soute_server.address}/push/engine:v1"
    env = {"DOCKER_HOST": docker_engine.host}
    digest = soute_push.ok("docker-daemon:soute-test/engine:v1", dest, env=env)
    assert sha256_digest(skopeo.inspect_raw(f"docker://{dest}")) == digest
    docker_engine.docker("rmi", "soute-test/engine:v1")
    _pull_back(docker_engine, dest, image)


def test_docker_soute_push_as_a_cli_plugin(
    docker_engine: DockerEngine, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    image = _load(docker_engine, skopeo, tmp_path, "soute-test/plugin:v1")
    plugins = docker_engine.client_config / "cli-plugins"
    plugins.mkdir(exist_ok=True)
    link = plugins / "docker-soute"
    if not link.exists():
        os.symlink(Path(default_soute()).with_name("docker-soute"), link)
    listed = docker_engine.docker("info", "--format", "{{json .ClientInfo.Plugins}}").stdout
    assert "soute" in listed, listed
    dest = f"{soute_server.address}/push/plugin:v1"
    pushed = docker_engine.docker("soute", "push", "--quiet", "soute-test/plugin:v1", dest)
    digest = pushed.stdout.strip()
    raw = skopeo.inspect_raw(f"docker://{dest}")
    assert sha256_digest(raw) == digest
    docker_engine.docker("rmi", "soute-test/plugin:v1")
    _pull_back(docker_engine, dest, image)


def test_push_from_a_docker_25_archive_with_compressed_blobs(
    soute_push: SoutePush, soute_server: RegistryServer, skopeo: Skopeo, tmp_path: Path
) -> None:
    """Docker 25+ writes `docker save` as an OCI layout plus manifest.json; with the containerd
    image store its layers are the registry's gzip'd blobs, pushed under their own digests."""
    image = build_image(tmp_path / "src", [9 * MiB, 1000], tag="v1")
    entry = {
        "Config": f"blobs/sha256/{image.config.digest.split(':')[1]}",
        "RepoTags": ["soute-test/oci-save:v1"],
        "Layers": [f"blobs/sha256/{layer.digest.split(':')[1]}" for layer in image.layers],
    }
    (image.layout / "manifest.json").write_text(json.dumps([entry]))
    archive = tmp_path / "saved.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(image.layout, arcname=".")
    dest = f"{soute_server.address}/push/oci-save:v1"
    soute_push.ok(f"docker-archive:{archive}", dest)
    manifest = json.loads(skopeo.inspect_raw(f"docker://{dest}"))
    assert [layer["digest"] for layer in manifest["layers"]] == [d.digest for d in image.layers]
    assert {layer["mediaType"] for layer in manifest["layers"]} == {LAYER_GZIP}
    blobs = _pulled(skopeo, f"docker://{dest}", tmp_path / "back")
    for layer in image.layers:
        assert blobs[layer.digest] == image.blob_path(layer.digest).read_bytes()
