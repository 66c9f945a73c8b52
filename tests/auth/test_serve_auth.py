"""`soute serve --auth` and `SOUTE_AUTH=on`: off by default, refused open on a public address,
said in the first log line, and a real server that challenges, issues tokens and serves the
holder."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests

from chalicelib.cli.main import _check_open, main
from chalicelib.server.backends import BackendOptions, build_auth, options_from_environment
from chalicelib.server.gunicorn_app import ServeOptions, auth_notice
from tests.auth.conftest import audit_log
from tests.contract.client import LiveClient, image_manifest, put_manifest
from tests.support.lambda_server import lambda_registry
from tests.support.server import RegistryServer
from tests.support.token_client import TokenClient


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_open_on_loopback_is_allowed(host: str) -> None:
    assert _check_open(host, BackendOptions()) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "registry.example.com", "::"])
def test_open_on_another_address_is_refused(host: str) -> None:
    assert "--auth" in (_check_open(host, BackendOptions()) or "")
    assert _check_open(host, BackendOptions(auth=True)) is None


def test_serve_refuses_an_open_public_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "add --auth" in capsys.readouterr().err


def test_auth_is_off_unless_the_environment_turns_it_on() -> None:
    assert not options_from_environment({}).auth
    assert options_from_environment({"SOUTE_AUTH": "on"}).auth
    assert not options_from_environment({"SOUTE_AUTH": "off"}).auth
    options = BackendOptions(auth=True, auth_service="reg.example")
    assert options_from_environment(options.environment()) == options
    assert build_auth(BackendOptions()) is None


def test_auth_on_the_aws_backend_needs_its_table() -> None:
    with pytest.raises(ValueError, match="DynamoDB table"):
        build_auth(BackendOptions(backend="aws", auth=True))


def test_the_notice_says_whether_the_registry_is_open() -> None:
    assert auth_notice(ServeOptions()).startswith("auth OFF: anyone who can reach 127.0.0.1:5000")
    assert auth_notice(ServeOptions(backend=BackendOptions(auth=True))).startswith("auth on")


def test_the_first_log_line_says_auth_is_on(auth_server: RegistryServer) -> None:
    first = auth_server.log_path.read_text().splitlines()[0]
    assert "auth on" in first


def test_a_logged_in_user_pushes_and_pulls_through_the_server(auth_server: RegistryServer) -> None:
    client = TokenClient(LiveClient(auth_server.url), "dev", "pw")
    repo = f"dev/app-{uuid.uuid4().hex[:8]}"
    assert put_manifest(client, repo, "v1", image_manifest(client, repo)).status == 201
    assert client.request("GET", f"/v2/{repo}/manifests/v1").status == 200
    anonymous = TokenClient(LiveClient(auth_server.url))
    assert anonymous.request("GET", f"/v2/{repo}/manifests/v1").status == 401
    stranger = TokenClient(LiveClient(auth_server.url), "dev", "wrong")
    assert stranger.request("GET", f"/v2/{repo}/tags/list").status == 401
    # The source is the address the front end saw (API Gateway's sourceIp through Lambda).
    events = audit_log(auth_server).events(actor="dev")
    assert ("login", "127.0.0.1") in [(event.action, event.source) for event in events]
    assert ("login-failed", "127.0.0.1") in [(event.action, event.source) for event in events]


def test_the_first_log_line_of_an_open_server_says_so(soute_server: RegistryServer) -> None:
    first = soute_server.log_path.read_text().splitlines()[0]
    assert "auth OFF: anyone who can reach 127.0.0.1:" in first


def test_serve_lambda_follows_its_flags_not_the_shell(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A function has exactly its configuration: SOUTE_AUTH=on left in the shell must not turn
    auth on behind `soute serve --lambda` when its flags say off (and the first log line says
    off)."""
    monkeypatch.setenv("SOUTE_AUTH", "on")
    with lambda_registry(moto_endpoint, tmp_path) as (server, _):
        assert requests.get(f"{server.url}/v2/", timeout=10).status_code == 200
        assert "auth OFF" in server.log_path.read_text().splitlines()[0]
