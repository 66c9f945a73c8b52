"""The audit log: logins, pushes, deletes and permission changes, without secrets; and no
password or token in any log line."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import pytest

from chalicelib.auth.audit import AuditEvent
from chalicelib.cli.main import main
from chalicelib.storage.sqlite_audit import SqliteAuditLog
from tests.auth.conftest import PASSWORD, AuthWorld
from tests.contract.client import image_manifest, put_manifest, sha256


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
