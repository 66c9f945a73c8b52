"""Fixtures for the AWS adapter tests: a fresh bucket and table on the session's moto server,
and a counter of the AWS calls the adapters make (botocore event hooks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from chalicelib.registry.service import Registry
from chalicelib.server.backends import BackendOptions, build_registry
from chalicelib.storage.aws.clients import aws_clients
from tests.support.moto import aws_backend


@pytest.fixture
def backend(moto_endpoint: str) -> BackendOptions:
    return aws_backend(moto_endpoint)


@pytest.fixture
def registry(backend: BackendOptions) -> Registry:
    return build_registry(backend)


class CallCounter:
    WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: object, **_: object) -> None:
        service = model.service_model.service_name  # type: ignore[attr-defined]
        self.calls[f"{service}.{model.name}"] += 1  # type: ignore[attr-defined]

    def reset(self) -> None:
        self.calls.clear()

    def dynamodb(self) -> int:
        return sum(n for call, n in self.calls.items() if call.startswith("dynamodb."))

    def dynamodb_writes(self) -> int:
        return sum(self.calls[f"dynamodb.{name}"] for name in self.WRITES)

    def s3(self) -> int:
        return sum(n for call, n in self.calls.items() if call.startswith("s3."))


@pytest.fixture
def aws_calls(backend: BackendOptions) -> Iterator[CallCounter]:
    counter = CallCounter()
    clients = aws_clients(backend.region, backend.endpoint_url)
    for client in (clients.s3, clients.dynamodb):
        client.meta.events.register("before-call.*.*", counter)
    yield counter
    for client in (clients.s3, clients.dynamodb):
        client.meta.events.unregister("before-call.*.*", counter)
