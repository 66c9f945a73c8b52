"""Docker's credentials (config.json `auths`, credential helpers), the Bearer token flow, and
the exit statuses of `soute push` when it cannot go on."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from chalicelib.client.errors import AuthError
from chalicelib.client.session import RegistrySession
from tests.support.auth_stub import SECRET, USER, auth_stub
from tests.support.images import build_image
from tests.support.server import free_port
from tests.support.soute_push import SoutePush

SCOPE = "repository:team/app:pull,push"


def _config(directory: Path, config: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))


def _auths(host: str) -> dict[str, object]:
    encoded = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
    return {"auths": {host: {"auth": encoded}}}


def test_bearer_token_with_credentials_from_docker_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with auth_stub("bearer") as stub:
        _config(tmp_path, _auths(stub.address))
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
        RegistrySession(stub.address, False, [SCOPE], 4).ping()
    assert SCOPE in stub.scopes


def test_basic_with_a_credential_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    answer = json.dumps({"Username": USER, "Secret": SECRET})
    helper.write_text(f"#!/bin/sh\nread host\necho '{answer}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}:/usr/bin:/bin")
    with auth_stub("basic") as stub:
        _config(tmp_path, {"credHelpers": {stub.address: "fake"}})
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
        RegistrySession(stub.address, False, [SCOPE], 4).ping()


def test_wrong_credentials_are_an_auth_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with auth_stub("bearer") as stub:
        encoded = base64.b64encode(b"user:wrong").decode()
        _config(tmp_path, {"auths": {stub.address: {"auth": encoded}}})
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
        with pytest.raises(AuthError, match="token service"):
            RegistrySession(stub.address, False, [SCOPE], 4).ping()


def test_exit_3_without_credentials(soute_push: SoutePush, tmp_path: Path) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    with auth_stub("basic") as stub:
        done = soute_push.run(image.ref, f"{stub.address}/team/app:v1")
    assert done.returncode == 3, done.stderr
    assert "docker login" in done.stderr


def test_exit_4_when_the_registry_is_unreachable(soute_push: SoutePush, tmp_path: Path) -> None:
    image = build_image(tmp_path / "src", [1000], tag="v1")
    done = soute_push.run(image.ref, f"127.0.0.1:{free_port()}/team/app:v1")
    assert done.returncode == 4, done.stderr
    assert "cannot reach" in done.stderr


@pytest.mark.parametrize(
    "source",
    ["oci:/nonexistent/layout:v1", "docker-archive:/nonexistent.tar", "oci-archive:/x.tar"],
)
def test_exit_2_for_a_source_that_cannot_be_read(soute_push: SoutePush, source: str) -> None:
    done = soute_push.run(source, "127.0.0.1:1/team/app:v1")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("soute push: "), done.stderr


def test_exit_2_for_a_bad_destination(soute_push: SoutePush) -> None:
    done = soute_push.run("oci:/x:v1", "no-repository-here")
    assert done.returncode == 2
    assert "HOST[:PORT]/REPOSITORY[:TAG]" in done.stderr


@pytest.mark.parametrize("form_status", [404, 405, 401])
def test_an_identity_token_falls_back_to_a_basic_get_where_the_realm_takes_no_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form_status: int
) -> None:
    """GCR answers the OAuth2 form 404, Artifactory a bare 401: then the identity token goes
    as the Basic password of a GET, as containerd and buildkit fall back."""
    with auth_stub("bearer") as stub:
        stub.form_status = form_status
        empty = base64.b64encode(f"{USER}:".encode()).decode()
        _config(tmp_path, {"auths": {stub.address: {"auth": empty, "identitytoken": SECRET}}})
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
        RegistrySession(stub.address, False, [SCOPE], 4).ping()
    [form] = stub.forms
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == [SECRET]
    assert form["scope"] == [SCOPE] and form["service"] == ["stub"]
    assert SCOPE in stub.scopes  # the GET that followed
