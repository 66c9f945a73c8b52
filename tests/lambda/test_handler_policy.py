"""The API handler's policy against what a push under a namespace quota does (the manifest
PUT reads the namespace's counts and the blobs' links in one BatchGetItem, then writes them in
the manifest's transaction; a delete takes them off): every AWS call, on moto, must be allowed
by the policy deploy/merge_template.py gives the handler's role."""

from __future__ import annotations

import os

from chalicelib.lifecycle import quotas
from chalicelib.server.backends import BackendOptions, build_registry, open_storage
from chalicelib.storage.aws.clients import aws_clients
from tests.support.manifests import push_image
from tests.support.moto import aws_backend

from .test_gc_function import _allowed
from .test_verifier_policy import Calls, single_region_resources


def _handler_statements() -> list[dict]:
    [policy] = single_region_resources()["ApiHandlerRole"]["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


def test_every_call_of_a_push_and_delete_under_a_quota_is_allowed_by_the_handler_policy(
    moto_endpoint: str,
) -> None:
    backend: BackendOptions = aws_backend(moto_endpoint)
    storage = open_storage(backend)
    storage.policies().put("quota", quotas.KIND, quotas.document(10_000))
    registry = build_registry(backend)
    config, layer = b'{"os":"linux"}', os.urandom(500)
    calls = Calls()
    clients = aws_clients(backend.region, backend.endpoint_url)
    for client in (clients.s3, clients.dynamodb):
        client.meta.events.register("before-parameter-build.*.*", calls)
    try:
        record = push_image(registry, "quota/app", "v1", config, [layer])
        assert storage.lifecycle().namespace_use("quota") == len(config) + len(layer)
        registry.manifests.delete("quota/app", record.digest)
    finally:
        for client in (clients.s3, clients.dynamodb):
            client.meta.events.unregister("before-parameter-build.*.*", calls)
    assert storage.lifecycle().namespace_use("quota") == 0
    made = {action for action, _ in calls.made}
    assert {"dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"} <= made
    refused = sorted({call for call in calls.made if not _allowed(*call, _handler_statements())})
    assert refused == [], f"the API handler's policy refuses {refused}"
