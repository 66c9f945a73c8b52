"""A storage that is throttling or failing gives the client 503 with Retry-After (which docker,
skopeo and containerd retry) and the log one line per failure; never a 500 nor a traceback,
and nothing corrupt once the storage is well again.

On the aws backend the faults are injected where boto3 meets the network: a botocore
`before-send` hook on the very clients the registry uses answers a seeded share of the calls
with what S3 and DynamoDB send when they throttle or fail (503 SlowDown, 500 InternalError,
400 ProvisionedThroughputExceeded, ...) or raises a connection error, so botocore's retries,
parsing and the registry's own handlers all run as in production."""

from __future__ import annotations

import hashlib
import logging
import random
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from chalicelib.api.router import Router
from chalicelib.server.backends import build_registry
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.embedded.sqlite import SCHEMA
from chalicelib.storage.embedded.sqlite_database import SqliteDatabase
from chalicelib.storage.ports import StorageUnavailable
from tests.contract.client import OCI_MANIFEST, Reply, RouterClient, image_manifest
from tests.support.moto import aws_backend

FAULT_RATE = 0.6
IMAGES = 8
# botocore backs off throttling errors for seconds (5xx for milliseconds): they are a share of
# the faults small enough for the test to take seconds, not minutes.
THROTTLING_SHARE = 0.1

_DYNAMODB_THROTTLING = [
    (400, "ProvisionedThroughputExceededException", "The level of configured throughput ..."),
    (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
]
_DYNAMODB_FAULTS = [
    (500, "InternalServerError", "Internal server error"),
    (503, "ServiceUnavailable", "Service unavailable"),
]
_S3_THROTTLING = [(503, "SlowDown", "Please reduce your request rate.")]
_S3_FAULTS = [
    (500, "InternalError", "We encountered an internal error. Please try again."),
    (503, "ServiceUnavailable", "Service is unable to handle request."),
]


class _Raw:
    """The urllib3 response botocore reads a body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self._body


class FaultInjector:
    """Answers a seeded share of the calls as a failing service would."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.injected = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        if self.random.random() >= self.rate:
            return None
        self.injected += 1
        if self.random.random() < 0.1:  # now and then no answer at all
            if self.random.random() < 0.5:
                raise EndpointConnectionError(endpoint_url=request.url)
            raise ReadTimeoutError(endpoint_url=request.url)
        target = request.headers.get("X-Amz-Target") or ""
        if "dynamodb" in (target.decode() if isinstance(target, bytes) else target).lower():
            status, code, message = self._pick(_DYNAMODB_THROTTLING, _DYNAMODB_FAULTS)
            body = f'{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{message}"}}'
            headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code}
        else:
            status, code, message = self._pick(_S3_THROTTLING, _S3_FAULTS)
            body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            headers = {"Content-Type": "application/xml"}
        return AWSResponse(request.url, status, headers, _Raw(body.encode()))

    def _pick(self, throttling: list, faults: list) -> tuple[int, str, str]:
        choices = throttling if self.random.random() < THROTTLING_SHARE else faults
        return self.random.choice(choices)


@pytest.fixture
def aws_router(moto_endpoint: str) -> Iterator[tuple[RouterClient, FaultInjector]]:
    backend = aws_backend(moto_endpoint)
    client = RouterClient(Router(build_registry(backend)))
    injector = FaultInjector(0.0, seed=10)
    clients = aws_clients(backend.region, backend.endpoint_url)
    for boto in (clients.s3, clients.dynamodb):
        boto.meta.events.register_first("before-send.*.*", injector)
    yield client, injector
    for boto in (clients.s3, clients.dynamodb):
        boto.meta.events.unregister("before-send.*.*", injector)


def _push(
    client: RouterClient, repo: str, tag: str, layer: bytes
) -> tuple[list[Reply], bytes, bool]:
    """Push one image, stopping at the first answer that is not a success, as a client
    would before retrying: every answer, the manifest body, and whether it was stored."""
    replies: list[Reply] = []
    original = client.request

    def recording(*args: Any, **kwargs: Any) -> Reply:
        reply = original(*args, **kwargs)
        replies.append(reply)
        if reply.status >= 300:
            raise _Stop()
        return reply

    client.request = recording  # type: ignore[method-assign]
    body, stored = b"", False
    try:
        body = image_manifest(client, repo, [layer])
        headers = {"Content-Type": OCI_MANIFEST}
        client.request("PUT", f"/v2/{repo}/manifests/{tag}", headers=headers, data=body)
        stored = True
    except _Stop:
        pass
    finally:
        client.request = original  # type: ignore[method-assign]
    return replies, body, stored


class _Stop(Exception):
    pass


def _check_pulls_back(client: RouterClient, repo: str, tag: str, body: bytes) -> None:
    reply = client.request("GET", f"/v2/{repo}/manifests/{tag}")
    assert reply.status == 200 and reply.body == body
    document = reply.json()
    for descriptor in [document["config"], *document["layers"]]:
        blob = client.request("GET", f"/v2/{repo}/blobs/{descriptor['digest']}")
        assert blob.status == 307
        data = requests.get(blob.headers["Location"], timeout=30).content
        assert "sha256:" + hashlib.sha256(data).hexdigest() == descriptor["digest"]


def test_aws_storage_faults_are_503_with_retry_after_and_one_log_line(
    aws_router: tuple[RouterClient, FaultInjector], caplog: pytest.LogCaptureFixture
) -> None:
    client, injector = aws_router
    repo = f"faults/{uuid.uuid4().hex[:8]}"
    layers = {f"v{n}": uuid.uuid4().bytes * (50 + n) for n in range(IMAGES)}
    caplog.set_level(logging.INFO)
    injector.rate = FAULT_RATE
    answers: list[Reply] = []
    pushed: dict[str, bytes] = {}
    for tag, layer in layers.items():
        replies, body, stored = _push(client, repo, tag, layer)
        answers += replies
        if stored:
            pushed[tag] = body
    injector.rate = 0.0

    statuses = sorted({reply.status for reply in answers})
    assert injector.injected > 0
    assert all(s < 500 or s == 503 for s in statuses), statuses
    unavailable = [reply for reply in answers if reply.status == 503]
    assert unavailable, "no request failed: the faults were not injected where they count"
    for reply in unavailable:
        assert reply.headers["Retry-After"].isdigit()
        assert reply.error_code() == "UNAVAILABLE"
    lines = [r for r in caplog.records if r.name == "soute.api"]
    assert len(lines) == len(unavailable)
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)
    assert "Traceback" not in caplog.text

    # Well again: what was pushed reads back whole, and everything pushes and reads back.
    for tag, body in pushed.items():
        _check_pulls_back(client, repo, tag, body)
    for tag, layer in layers.items():
        replies, body, stored = _push(client, repo, tag, layer)
        assert stored, replies[-1]
        _check_pulls_back(client, repo, tag, body)


def test_a_sqlite_file_locked_past_the_busy_timeout_is_storage_unavailable(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "metadata.sqlite")
    database = SqliteDatabase(path, SCHEMA, busy_timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StorageUnavailable), database.write() as db:
        db.execute("INSERT INTO blobs VALUES ('d', 1, 'k', 0)")
    holder.execute("ROLLBACK")
    with database.write() as db:  # and it works again once the lock is gone
        db.execute("INSERT INTO blobs VALUES ('d', 1, 'k', 0)")
