"""The audit log: logins, pushes, deletes and permission changes, without secrets; and no
password or token in any log line."""

from __future__ import annotations

import base64
import io
import logging
import uuid
from pathlib import Path

import pytest

from chalicelib.api.router import Router
from chalicelib.auth.audit import AuditEvent, AuditLog
from chalicelib.cli.main import main
from chalicelib.server.backends import BackendOptions, build_audit, build_registry
from chalicelib.storage.embedded.sqlite_audit import SqliteAuditLog
from tests.auth.conftest import PASSWORD, AuthWorld
from tests.contract.client import (
    Client,
    ConfiguredFunction,
    LambdaClient,
    LiveClient,
    RouterClient,
    image_manifest,
    new_repo,
    put_manifest,
    sha256,
)
from tests.support.moto import aws_backend
from tests.support.server import RegistryServer


def test_the_log_keeps_events_newest_first_and_filters_by_actor(tmp_path: Path) -> None:
    log = SqliteAuditLog(str(tmp_path / "audit.sqlite"))
    log.record(AuditEvent("alice", "login", "user", "10.0.0.1", at=1.0))
    log.record(AuditEvent("bob", "push", "bob/app@v1", "10.0.0.2", at=2.0))
    assert [event.actor for event in log.events()] == ["bob", "alice"]
    assert log.events(actor="alice") == [AuditEvent("alice", "login", "user", "10.0.0.1", 1.0)]
    assert len(log.events(limit=1)) == 1


def test_pushes_deletes_and_logins_are_recorded(world: AuthWorld) -> None:
    client = world.as_user("mia")
    repo = "acme/audited"
    body = image_manifest(client, repo)
    assert put_manifest(client, repo, "v1", body).status == 201
    assert client.request("DELETE", f"/v2/{repo}/manifests/{sha256(body)}").status == 202
    events = world.auth.audit.events(limit=50, actor="mia")
    actions = [(event.action, event.target) for event in events]
    assert ("push", f"{repo}@v1") in actions
    assert ("delete", f"{repo}@{sha256(body)}") in actions
    assert ("login", "user") in actions


def test_no_secret_reaches_a_log_line_or_the_audit(
    world: AuthWorld, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("soute.auth", "soute.api"):
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.set_level(logging.DEBUG)
    raw = world.raw()
    for secret in (PASSWORD, "a-wrong-password"):
        pair = base64.b64encode(f"rita:{secret}".encode()).decode()
        reply = raw.request("GET", "/token", headers={"Authorization": f"Basic {pair}"})
        assert reply.status in (200, 401)
        if reply.status == 200:
            token = reply.json()["token"]
            raw.request("GET", "/v2/", headers={"Authorization": f"Bearer {token}x"})
    text = caplog.text
    assert "login: account=rita" in text and "login-failed: account=rita" in text
    for secret in (PASSWORD, "a-wrong-password", pair):
        assert secret not in text
    assert token not in text and token[-20:] not in text
    for event in world.auth.audit.events(limit=100):
        assert PASSWORD not in repr(event) and "a-wrong-password" not in repr(event)


def test_admin_changes_are_recorded_and_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path)]
    monkeypatch.setattr("sys.stdin", io.StringIO("wonderland\n"))
    assert main(["user", "add", "alice", "--password-stdin", *data]) == 0
    assert main(["org", "add", "acme", *data]) == 0
    assert main(["team", "add", "acme", "devs", "--role", "maintainer", *data]) == 0
    assert main(["user", "list", *data]) == 0
    capsys.readouterr()
    assert main(["audit", *data]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3  # listing changes nothing
    assert "team add org=acme team=devs role=maintainer cli" in lines[0]
    assert "user add name=alice cli" in lines[2]
    assert "wonderland" not in "".join(lines)


def test_a_robot_is_recorded_under_its_name_for_login_and_push(world: AuthWorld) -> None:
    client = world.as_user("robot")
    repo = f"acme/robot-{uuid.uuid4().hex[:8]}"
    body = image_manifest(client, repo)
    assert put_manifest(client, repo, "v1", body).status == 201
    actions = [(e.action, e.target) for e in world.auth.audit.events(limit=50, actor="acme+ci")]
    assert ("login", "robot") in actions
    assert ("push", f"{repo}@v1") in actions
    assert not [e for e in world.auth.audit.events(limit=50) if e.actor.startswith("token:")]


def test_denied_pushes_and_deletes_are_recorded(world: AuthWorld) -> None:
    repo = f"acme/denied-{uuid.uuid4().hex[:8]}"
    reader = world.as_user("rita")  # a reader of acme
    assert reader.request("POST", f"/v2/{repo}/blobs/uploads/").status == 403
    assert reader.request("PUT", f"/v2/{repo}/manifests/v1", data=b"{}").status == 403
    assert reader.request("DELETE", f"/v2/{repo}/manifests/v1").status == 403
    events = [(e.action, e.target) for e in world.auth.audit.events(limit=50, actor="rita")]
    assert ("push-denied", repo) in events
    assert ("push-denied", f"{repo}@v1") in events
    assert ("delete-denied", f"{repo}@v1") in events


def _open_mode_delete(client: Client) -> tuple[str, str]:
    repo = new_repo("open")
    body = image_manifest(client, repo)
    assert put_manifest(client, repo, "v1", body).status == 201
    assert client.request("DELETE", f"/v2/{repo}/manifests/{sha256(body)}").status == 202
    return repo, sha256(body)


def _recorded(log: AuditLog, repo: str, digest: str) -> None:
    events = [e for e in log.events(limit=500) if e.target.startswith(repo)]
    assert [(e.actor, e.action, e.target) for e in events] == [
        ("anonymous", "delete", f"{repo}@{digest}")  # deletes only: pushes stay one write
    ]


def test_deletes_are_recorded_with_auth_off_through_the_router(tmp_path: Path) -> None:
    options = BackendOptions(data_dir=str(tmp_path))
    router = Router(build_registry(options), audit=build_audit(options))
    _recorded(build_audit(options), *_open_mode_delete(RouterClient(router)))


def test_deletes_are_recorded_with_auth_off_by_soute_serve(soute_server: RegistryServer) -> None:
    repo, digest = _open_mode_delete(LiveClient(soute_server.url))
    _recorded(build_audit(BackendOptions(data_dir=str(soute_server.data_dir))), repo, digest)


def test_deletes_are_recorded_with_auth_off_through_lambda(moto_endpoint: str) -> None:
    options = aws_backend(moto_endpoint)
    repo, digest = _open_mode_delete(LambdaClient(ConfiguredFunction(options.environment())))
    _recorded(build_audit(options), repo, digest)
