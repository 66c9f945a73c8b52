"""`docker login`, then every Soute client works: the config is written by the real docker CLI
(or by `soute login`) against a running `soute serve --auth`, never by hand, with the secret in
config.json or in a real credential store (pass, through docker-credential-pass), and
`soute push` uses whatever was kept: an identity token through the refresh_token grant, a
password, a helper's `<token>` user."""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.conftest import audit_log
from tests.support.clients import Skopeo
from tests.support.credential_store import DockerCli, PassStore, pass_store
from tests.support.images import OciImage, build_image
from tests.support.server import RegistryServer, default_soute
from tests.support.soute_push import SoutePush

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

EMPTY_PASSWORD = base64.b64encode(b"dev:").decode()  # docker's `auth` beside an identity token
SOUTE_REFRESH = re.compile(r'"POST /token HTTP/1.1" 200 .*python-requests')


def _image(tmp_path: Path) -> OciImage:
    return build_image(tmp_path / "src", [70_000, 900], tag="v1")


def _soute_login(
    pusher: SoutePush, host: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [default_soute(), "login", host, "-u", "dev", "--password-stdin"],
        input="pw\n",
        env={**pusher.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_docker_login_then_soute_push(auth_server: RegistryServer, tmp_path: Path) -> None:
    """docker keeps `{"auth": base64("dev:"), "identitytoken": …}`; soute push trades the
    identity token for a push token (POST /token, refresh_token grant)."""
    pusher = SoutePush(tmp_path / "client")
    image = _image(tmp_path)
    dest = f"{auth_server.address}/dev/after-docker-login:v1"
    assert pusher.run(image.ref, dest).returncode == 3  # not logged in yet
    DockerCli(pusher.docker_config).login(auth_server.address, "dev", "pw")
    entry = DockerCli(pusher.docker_config).config()["auths"][auth_server.address]  # type: ignore[index]
    assert entry["auth"] == EMPTY_PASSWORD and entry["identitytoken"]
    assert pusher.ok(image.ref, dest) == image.manifest_digest
    assert SOUTE_REFRESH.search(auth_server.log_tail(400))


def test_soute_login_keeps_what_docker_login_keeps(
    auth_server: RegistryServer, tmp_path: Path
) -> None:
    """The same shape as docker's, no password on disk; soute push and skopeo both use it."""
    pusher = SoutePush(tmp_path / "client")
    image = _image(tmp_path)
    dest = f"{auth_server.address}/dev/after-soute-login"
    login = _soute_login(pusher, auth_server.address)
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded; an identity token for dev" in login.stdout
    entry = DockerCli(pusher.docker_config).config()["auths"][auth_server.address]  # type: ignore[index]
    assert set(entry) == {"auth", "identitytoken"}  # no password anywhere: `auth` is "dev:"
    assert entry["auth"] == EMPTY_PASSWORD and entry["identitytoken"]
    assert pusher.ok(image.ref, f"{dest}:v1") == image.manifest_digest
    authfile = str(pusher.docker_config / "config.json")
    raw = Skopeo(tmp_path).run(
        "inspect", "--raw", "--tls-verify=false", "--authfile", authfile, f"docker://{dest}:v1"
    )
    assert raw.stdout.encode() == image.manifest


def test_a_refused_identity_token_says_log_in_again_and_is_not_tried_as_a_password(
    embedded_auth_server: RegistryServer, tmp_path: Path
) -> None:
    pusher = SoutePush(tmp_path / "client")
    host = embedded_auth_server.address
    DockerCli(pusher.docker_config).write_config(
        {"auths": {host: {"auth": EMPTY_PASSWORD, "identitytoken": "not-a-refresh-token"}}}
    )
    failures = len(audit_log(embedded_auth_server).events(actor="dev", limit=1000))
    done = pusher.run(_image(tmp_path).ref, f"{host}/dev/refused:v1")
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1, done.stderr
    assert "refresh token is invalid or expired" in done.stderr
    assert f"run `docker login {host}`" in done.stderr
    assert len(audit_log(embedded_auth_server).events(actor="dev", limit=1000)) == failures


def _with_pass(pusher: SoutePush, store: PassStore, config: dict[str, object]) -> DockerCli:
    DockerCli(pusher.docker_config).write_config(config)
    return DockerCli(pusher.docker_config, store.env)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PassStore]:
    with pass_store(tmp_path / "pass") as started:
        yield started


def test_docker_login_and_soute_login_through_a_credential_store(
    auth_server: RegistryServer, store: PassStore, tmp_path: Path
) -> None:
    """`credsStore: pass`: docker keeps the identity token in pass as the user `<token>`,
    config.json holds no secret, and soute push reads it back through the helper; soute login
    stores through the same helper."""
    pusher = SoutePush(tmp_path / "client")
    host = auth_server.address
    docker = _with_pass(pusher, store, {"credsStore": "pass"})
    docker.login(host, "dev", "pw")
    assert docker.config()["auths"] == {host: {}}
    assert store.secrets() == {host: "<token>"}
    image = _image(tmp_path)
    assert pusher.ok(image.ref, f"{host}/dev/from-pass:v1", env=store.env) == image.manifest_digest

    login = _soute_login(pusher, host, env=store.env)
    assert login.returncode == 0, login.stderr
    assert "kept in docker-credential-pass" in login.stdout
    assert docker.config()["auths"] == {host: {}} and store.secrets() == {host: "<token>"}
    assert pusher.ok(image.ref, f"{host}/dev/from-pass:v2", env=store.env) == image.manifest_digest


def test_cred_helpers_name_a_store_per_host(
    embedded_auth_server: RegistryServer,
    lambda_auth_server: RegistryServer,
    store: PassStore,
    tmp_path: Path,
) -> None:
    """`credHelpers` sends one registry's credentials to pass; the other's stay in
    config.json; soute push finds each where docker put it."""
    pusher = SoutePush(tmp_path / "client")
    kept, filed = embedded_auth_server.address, lambda_auth_server.address
    docker = _with_pass(pusher, store, {"credHelpers": {kept: "pass"}})
    docker.login(kept, "dev", "pw")
    docker.login(filed, "dev", "pw")
    auths = docker.config()["auths"]
    assert auths[kept] == {} and auths[filed]["identitytoken"]  # type: ignore[index]
    assert store.secrets() == {kept: "<token>"}
    image = _image(tmp_path)
    for host in (kept, filed):
        digest = pusher.ok(image.ref, f"{host}/dev/per-host:v1", env=store.env)
        assert digest == image.manifest_digest


def test_soute_login_to_an_open_registry_stores_nothing(
    soute_server: RegistryServer, tmp_path: Path
) -> None:
    pusher = SoutePush(tmp_path / "client")
    done = _soute_login(pusher, soute_server.address)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"soute login: {soute_server.address} asks for no credentials (GET /v2/ answered 200):"
        " nothing to log in to, nothing was stored\n"
    )
    assert not (pusher.docker_config / "config.json").exists()
