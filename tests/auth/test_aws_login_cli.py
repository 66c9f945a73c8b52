"""`soute aws map|unmap|mappings` and `soute login --aws`, in process: the login against a
registry served over HTTP from this process (auth with AWS login on) and the STS emulator."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.api.router import Router
from chalicelib.auth.audit import AuditEvent
from chalicelib.auth.aws_login import AwsLoginVerifier, decode_secret
from chalicelib.auth.model import MAINTAINER, Team
from chalicelib.cli.admin import open_store
from chalicelib.server.backends import embedded_auth, embedded_registry
from chalicelib.server.wsgi import WsgiApp
from chalicelib.storage.embedded.sqlite_audit import SqliteAuditLog
from chalicelib.storage.embedded.sqlite_identities import FILE
from tests.auth.soute_main import aws_storage_args, run_soute
from tests.auth.sts_emulator import StsEmulator
from tests.support.threaded import serving_wsgi

CI = "arn:aws:iam::123456789012:role/ci-*"
MOTO_USER = "arn:aws:sts::123456789012:user/moto"  # who moto says the fake credentials are


def test_map_unmap_and_list(run, tmp_path: Path) -> None:  # noqa: ANN001
    assert run("org", "add", "acme")[0] == 0
    assert run("team", "add", "acme", "ci", "--role", "maintainer")[0] == 0
    status, out, _ = run("aws", "map", CI, "--team", "acme/ci")
    assert status == 0 and "acme/ci" in out
    status, out, _ = run("aws", "mappings")
    assert status == 0 and out.strip() == f"{CI} acme/ci (maintainer)"
    assert [m.pattern for m in open_store(str(tmp_path)).aws_mappings()] == [CI]
    audited = [(e.action, e.target) for e in _audit_events(tmp_path)]
    assert ("aws map", f"team=acme/ci pattern={CI}") in audited
    assert run("aws", "unmap", CI, "--team", "acme/ci")[0] == 0
    assert run("aws", "mappings")[1] == ""
    status, _, err = run("aws", "unmap", CI, "--team", "acme/ci")
    assert status == 1 and "no mapping" in err


def _audit_events(data_dir: Path) -> list[AuditEvent]:
    return SqliteAuditLog(str(data_dir / FILE)).events(20)


def test_map_refuses_a_wildcard_account_an_unknown_team_and_a_bad_team(run) -> None:  # noqa: ANN001
    run("org", "add", "acme")
    status, _, err = run("aws", "map", "arn:aws:iam::*:role/ci", "--team", "acme/ci")
    assert status == 1 and "12-digit account" in err
    status, _, err = run("aws", "map", CI, "--team", "acme/ghosts")
    assert status == 1 and "no team acme/ghosts" in err
    status, _, err = run("aws", "map", CI, "--team", "acme")
    assert status == 1 and "ORG/TEAM" in err


def test_the_mapping_verbs_work_on_the_aws_backend(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aws = aws_storage_args(moto_endpoint)

    def call(*args: str) -> tuple[int, str, str]:
        return run_soute(monkeypatch, capsys, *args, *aws)

    assert call("org", "add", "acme")[0] == 0
    assert call("team", "add", "acme", "ci", "--role", "reader")[0] == 0
    assert call("aws", "map", CI, "--team", "acme/ci")[0] == 0
    assert call("aws", "mappings")[1].strip() == f"{CI} acme/ci (reader)"
    assert call("aws", "unmap", CI, "--team", "acme/ci")[0] == 0
    assert call("aws", "mappings")[1] == ""


# -- soute login --aws ----------------------------------------------------------------------------
@pytest.fixture
def registry(tmp_path: Path, sts: StsEmulator) -> Iterator[tuple[str, Path]]:
    """An auth-on registry with AWS login (the emulator allowed), served over HTTP."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # The service name is the host clients use, which `soute login --aws` insists on.
    auth = embedded_auth(str(data_dir), "127.0.0.1", aws_login=AwsLoginVerifier([sts.endpoint]))
    auth.store.add_org("acme")
    auth.store.put_team(Team("acme", "ci", MAINTAINER))
    with serving_wsgi(WsgiApp(Router(embedded_registry(str(data_dir)), auth))) as address:
        yield address, data_dir


def _login(monkeypatch, capsys, sts: StsEmulator, host: str, *extra: str):  # noqa: ANN001, ANN202
    # --no-helper: the stored password, whether or not docker-credential-soute is on PATH.
    args = ("login", host, "--insecure", "--aws", "--no-helper", "--region", "us-east-1")
    return run_soute(monkeypatch, capsys, *args, "--sts-endpoint", sts.endpoint, *extra)


def test_login_aws_writes_docker_config(
    registry: tuple[str, Path],
    sts: StsEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host, data_dir = registry
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    config_path = tmp_path / "docker" / "config.json"
    status, _, err = _login(monkeypatch, capsys, sts, host)
    assert status == 3 and "wrong user name or password" in err  # not mapped yet
    assert not config_path.exists()
    run = ("aws", "map", MOTO_USER, "--team", "acme/ci", "--data-dir", str(data_dir))
    assert run_soute(monkeypatch, capsys, *run)[0] == 0
    status, out, err = _login(monkeypatch, capsys, sts, host)
    assert status == 0, err
    assert "Login Succeeded" in out and "soute login --aws again" in out
    account, _, secret = (
        base64.b64decode(json.loads(config_path.read_text())["auths"][host]["auth"])
        .decode()
        .partition(":")
    )
    assert account == "aws"
    url = decode_secret(secret)
    assert url is not None and url.startswith(f"{sts.endpoint}/?Action=GetCallerIdentity")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["900"]
    assert "x-soute-service" in query["X-Amz-SignedHeaders"][0].split(";")
    assert stat.S_IMODE(os.stat(config_path).st_mode) == 0o600


def test_login_aws_refuses_an_expiry_sts_would_not_honour(
    registry: tuple[str, Path],
    sts: StsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = _login(monkeypatch, capsys, sts, registry[0], "--expires", "3600")
    assert status == 2 and "900" in err


@pytest.fixture
def impostor(tmp_path: Path, sts: StsEmulator) -> Iterator[str]:
    """A registry naming another registry's service, to have logins signed for it."""
    data_dir = tmp_path / "impostor"
    data_dir.mkdir()
    auth = embedded_auth(str(data_dir), "registry.example.com")
    with serving_wsgi(WsgiApp(Router(embedded_registry(str(data_dir)), auth))) as address:
        yield address


def test_login_aws_signs_only_for_the_host_named(
    impostor: str,
    sts: StsEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    before = len(sts.presigned_hits())
    status, _, err = _login(monkeypatch, capsys, sts, impostor)
    assert status == 3
    assert "'registry.example.com'" in err and "--service registry.example.com" in err
    assert not (tmp_path / "docker" / "config.json").exists()
    assert len(sts.presigned_hits()) == before  # nothing was signed and sent
