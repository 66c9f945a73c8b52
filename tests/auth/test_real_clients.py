"""Real clients against `soute serve --auth`: skopeo with --creds, the Docker engine after
`docker login`, `ctr --user`, and `soute login` + `soute push` push and pull, and are refused
where they should be."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.clients import Skopeo
from tests.support.engines import Containerd, DockerEngine
from tests.support.images import MiB, build_image
from tests.support.procs import run
from tests.support.server import RegistryServer, default_soute
from tests.support.soute_push import SoutePush

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]


def test_skopeo_with_credentials(auth_server: RegistryServer, tmp_path: Path) -> None:
    skopeo = Skopeo(tmp_path)
    image = build_image(tmp_path / "src", [1 * MiB, 4096], tag="v1")
    repo = f"docker://{auth_server.address}/dev/skopeo"
    skopeo.copy(image.ref, f"{repo}:v1", "--preserve-digests", "--dest-creds", "dev:pw")
    assert skopeo.run("inspect", "--raw", "--tls-verify=false", "--creds", "dev:pw", f"{repo}:v1")
    back = skopeo.run(
        "inspect", "--raw", "--tls-verify=false", "--creds", "dev:pw", f"{repo}:v1"
    ).stdout.encode()
    assert back == image.manifest

    anonymous = skopeo.run("inspect", "--raw", "--tls-verify=false", f"{repo}:v1", check=False)
    assert anonymous.returncode != 0
    assert (
        "unauthorized" in anonymous.stderr.lower() or "authentication" in anonymous.stderr.lower()
    )

    elsewhere = f"docker://{auth_server.address}/someone/else:v1"
    denied = skopeo.run(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "dev:pw",
        image.ref,
        elsewhere,
        check=False,
    )
    assert denied.returncode != 0
    assert "403" in denied.stderr or "denied" in denied.stderr.lower(), denied.stderr

    wrong = skopeo.run(
        "inspect", "--raw", "--tls-verify=false", "--creds", "dev:nope", f"{repo}:v1", check=False
    )
    assert wrong.returncode != 0


def test_docker_login_push_pull(
    auth_server: RegistryServer, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    """Refused before `docker login`; after it, docker's own token dance pushes and pulls."""
    skopeo = Skopeo(tmp_path)
    image = build_image(tmp_path / "src", [1 * MiB, 4096], tag="v1")
    archive = tmp_path / "image.tar"
    local = "soute-test/auth-source:v1"
    skopeo.copy(image.ref, f"docker-archive:{archive}:{local}")
    docker_engine.docker("load", "--input", str(archive))
    remote = f"{auth_server.address}/dev/docker"
    docker_engine.docker("tag", local, f"{remote}:v1")
    refused = docker_engine.docker("push", f"{remote}:v1", check=False)
    assert refused.returncode != 0
    assert (
        "unauthorized" in (refused.stdout + refused.stderr).lower()
        or "denied" in (refused.stdout + refused.stderr).lower()
    )
    config = tmp_path / "docker-config"
    config.mkdir()
    env = {**docker_engine.env, "DOCKER_CONFIG": str(config)}
    run([docker_engine.cli, "login", "-u", "dev", "-p", "pw", auth_server.address], env=env)
    run([docker_engine.cli, "push", f"{remote}:v1"], env=env)
    docker_engine.docker("rmi", local, f"{remote}:v1")
    run([docker_engine.cli, "pull", f"{remote}:v1"], env=env)
    run([docker_engine.cli, "logout", auth_server.address], env=env)


def test_soute_login_then_soute_push_uses_the_extension(
    auth_server: RegistryServer, tmp_path: Path
) -> None:
    """`soute login` writes the config `soute push` reads; the 20 MB layer goes through the
    direct-upload extension, which needs push on the repository."""
    pusher = SoutePush(tmp_path / "client")
    env = {**pusher.env}
    image = build_image(tmp_path / "src", [20 * MiB + 3, 1000], tag="v1")
    dest = f"{auth_server.address}/dev/pushed"
    refused = pusher.run(image.ref, f"{dest}:v1")
    assert refused.returncode != 0
    login = subprocess.run(
        [
            default_soute(),
            "login",
            auth_server.address,
            "--insecure",
            "-u",
            "dev",
            "--password-stdin",
        ],
        input="pw\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    assert pusher.ok(image.ref, f"{dest}:v1") == image.manifest_digest
    log = auth_server.log_tail(400)
    assert re.search(r'"POST /v2/_soute/uploads\?repository=\S+ HTTP/1.1" 201', log)
    elsewhere = pusher.run(image.ref, f"{auth_server.address}/someone/else:v1")
    assert elsewhere.returncode != 0


def test_ctr_with_user(auth_server: RegistryServer, containerd: Containerd, tmp_path: Path) -> None:
    """containerd's resolver: the OAuth2 POST to /token with the password grant, then pushes and
    pulls with the bearer token; without --user it is refused."""
    skopeo = Skopeo(tmp_path)
    image = build_image(tmp_path / "src", [1 * MiB, 2048], tag="v1")
    source = f"{auth_server.address}/dev/ctr-source:v1"
    skopeo.copy(image.ref, f"docker://{source}", "--preserve-digests", "--dest-creds", "dev:pw")
    refused = containerd.ctr(
        "images", "pull", "--plain-http", "--snapshotter=native", source, check=False
    )
    assert refused.returncode != 0
    containerd.ctr(
        "images", "pull", "--plain-http", "--snapshotter=native", "--user", "dev:pw", source
    )
    target = f"{auth_server.address}/dev/ctr-pushed:v1"
    containerd.ctr("images", "push", "--plain-http", "--user", "dev:pw", target, source)
    pushed = skopeo.run(
        "inspect", "--raw", "--tls-verify=false", "--creds", "dev:pw", f"docker://{target}"
    )
    assert pushed.stdout.encode() == image.manifest
    containerd.ctr("images", "remove", source)
    log = auth_server.log_tail(400)
    assert 'POST /token HTTP/1.1" 200' in log, "containerd did not use the OAuth2 form"
