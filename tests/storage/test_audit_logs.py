"""The audit log adapters, on SQLite and on DynamoDB (moto): newest first, by actor, limited,
and across months on DynamoDB's monthly partitions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chalicelib.auth.audit import AuditEvent, AuditLog
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb_audit import DynamoAuditLog
from chalicelib.storage.embedded.sqlite_audit import SqliteAuditLog
from tests.support.moto import aws_backend


@pytest.fixture(params=["sqlite", "dynamodb"])
def audit_log(request: pytest.FixtureRequest, tmp_path: Path) -> AuditLog:
    if request.param == "sqlite":
        return SqliteAuditLog(str(tmp_path / "identities.sqlite"))
    options = aws_backend(request.getfixturevalue("moto_endpoint"))
    dynamodb = aws_clients(options.region, options.endpoint_url).dynamodb
    return DynamoAuditLog(dynamodb, options.dynamodb_table or "")


def test_events_newest_first_by_actor_and_limited(audit_log: AuditLog) -> None:
    now = time.time()
    old = AuditEvent("alice", "login", "user", "10.0.0.1", at=now - 40 * 86400)
    newer = AuditEvent("bob", "push", "bob/app@v1", "10.0.0.2", at=now - 5)
    newest = AuditEvent("alice", "delete", "alice/x@sha256:ab", "10.0.0.1", at=now - 1)
    for event in (old, newer, newest):
        audit_log.record(event)
    assert audit_log.events() == [newest, newer, old]
    assert audit_log.events(actor="alice") == [newest, old]
    assert audit_log.events(limit=2) == [newest, newer]
