"""The scheduled `gc` function as Lambda runs it (app.py's `gc`, a scheduled event and a
context), on moto, from the environment the template gives it alone: a run of the garbage
collector goes on across invocations from where the last stopped, and every AWS call it makes
is allowed by the policy deploy/merge_template.py gives its role."""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

import app as lambda_function
from chalicelib.lifecycle import quotas, retention
from chalicelib.server.backends import BackendOptions, build_registry, open_storage
from chalicelib.server.gc_function import MARGIN_SECONDS, grace_from_environment
from chalicelib.storage.aws.clients import aws_clients
from tests.support.manifests import OCI_MANIFEST, push_image
from tests.support.moto import aws_backend

from .test_verifier_policy import ROOT, Calls, single_region_resources

REPOSITORY = "team/app"
# What EventBridge sends a scheduled function.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-12-08T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/soute-GcGcEvent-x"],
    "detail": {},
}


class Context:
    """Lambda's context object, as much as the function reads: the time it has left."""

    def __init__(self, remaining_seconds: float) -> None:
        self.remaining_seconds = remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_seconds * 1000)


# No time left beyond the margin: each invocation does its one page, then stops.
NO_TIME = Context(MARGIN_SECONDS)


@pytest.fixture
def backend(moto_endpoint: str) -> BackendOptions:
    return aws_backend(moto_endpoint)


@pytest.fixture
def gc_environment(backend: BackendOptions, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The gc function's environment as the template sets it, with moto's names, and a grace
    of 0 (what is unused now goes)."""
    resources = single_region_resources()
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    names = {"RegistryBucket": backend.s3_bucket, "RegistryTable": backend.dynamodb_table}
    template = resources["Gc"]["Properties"]["Environment"]["Variables"]
    variables = {
        **config["environment_variables"],
        **{name: names[value["Ref"]] for name, value in template.items()},
    }
    for name in BackendOptions.variable_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SOUTE_GC_GRACE", "0")
    # Not in the template: Lambda sets the region, and only moto needs an endpoint.
    monkeypatch.setenv("AWS_REGION", str(backend.region))
    monkeypatch.setenv("SOUTE_AWS_ENDPOINT_URL", str(backend.endpoint_url))
    yield


def _garbage(backend: BackendOptions) -> tuple[str, str]:
    """A blob pushed then deleted (its link goes, the blob stays until collected), and an
    upload abandoned with a part and a tail in S3; the blob's S3 key and the upload's id."""
    registry = build_registry(backend)
    data = os.urandom(3000)
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    record = registry.uploads.upload_whole(REPOSITORY, digest, io.BytesIO(data), len(data))
    registry.blobs.delete(REPOSITORY, digest)
    upload = registry.uploads.start(REPOSITORY)
    chunk = os.urandom((8 << 20) + 1000)  # a multipart upload's first part, and a tail
    registry.uploads.append(REPOSITORY, upload.upload_id, io.BytesIO(chunk), len(chunk))
    return record.key, upload.upload_id


def _object_exists(backend: BackendOptions, key: str) -> bool:
    s3 = aws_clients(backend.region, backend.endpoint_url).s3
    listed = s3.list_objects_v2(Bucket=backend.s3_bucket, Prefix=key)
    return any(entry["Key"] == key for entry in listed.get("Contents", []))


def test_a_run_goes_on_across_invocations_until_it_is_done(
    backend: BackendOptions, gc_environment: None
) -> None:
    key, upload_id = _garbage(backend)
    lifecycle = open_storage(backend).lifecycle()
    s3 = aws_clients(backend.region, backend.endpoint_url).s3
    assert s3.list_multipart_uploads(Bucket=backend.s3_bucket).get("Uploads")
    results = []
    while not (results and results[-1]["finished"]):
        results.append(lambda_function.gc(SCHEDULED_EVENT, NO_TIME))
        assert len(results) <= 10, results
        if not results[-1]["finished"]:
            assert lifecycle.gc_progress() is not None  # saved for the next invocation
    # One page per phase (retention, uploads, links, blobs): a tiny table is four invocations.
    assert [result["finished"] for result in results] == [False, False, False, True]
    assert sum(result["uploads"] for result in results) == 1
    assert sum(result["blobs"] for result in results) == 1
    assert results[-1]["bytes"] == 3000
    assert lifecycle.gc_progress() is None  # the run is over: the next starts afresh
    assert not _object_exists(backend, key)
    assert not s3.list_multipart_uploads(Bucket=backend.s3_bucket).get("Uploads")
    assert not _object_exists(backend, f"uploads/{upload_id}/")
    # With time to spare, a whole run in one invocation: nothing left to remove.
    again = lambda_function.gc(SCHEDULED_EVENT, Context(600))
    assert again == {"uploads": 0, "links": 0, "blobs": 0, "bytes": 0, "finished": True}


def _gc_statements() -> list[dict[str, Any]]:
    [policy] = single_region_resources()["GcRole"]["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


def _patterns(resource: Any) -> list[str]:
    """The granted resource as patterns over "bucket/<key>" and "table"."""
    if isinstance(resource, list):
        return [pattern for item in resource for pattern in _patterns(item)]
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        return [resource["Fn::Sub"].replace("${RegistryBucket.Arn}", "bucket")]
    if resource == {"Fn::GetAtt": ["RegistryTable", "Arn"]}:
        return ["table"]
    return []


def _allowed(action: str, resource: str, statements: list[dict[str, Any]]) -> bool:
    return any(
        action in statement["Action"] and fnmatch.fnmatchcase(resource, pattern)
        for statement in statements
        for pattern in _patterns(statement["Resource"])
    )


def _expired_image(backend: BackendOptions) -> int:
    """An image under a retention policy that expires every image, in a namespace with a quota:
    the run's first phase lists the policies, the catalog and the repository's images, and
    deletes the manifest, taking its blobs' uses off the namespace's counts (the bytes its
    blobs count for, returned, stay: the newer image shares them)."""
    open_storage(backend).policies().put("gc", quotas.KIND, quotas.document(10_000))
    registry = build_registry(backend)
    config, layer = b'{"os":"linux"}', os.urandom(500)
    first = push_image(registry, "gc/expired", "v1", config, [layer])
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                              "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }  # fmt: skip
    newer = json.dumps({**json.loads(first.body), "annotations": {"version": "2"}}).encode()
    registry.manifests.put("gc/expired", "v2", newer, OCI_MANIFEST)
    open_storage(backend).policies().put("gc/expired", retention.KIND, json.dumps(policy))
    return len(config) + len(layer)


def test_every_call_of_the_gc_is_allowed_by_its_policy(
    backend: BackendOptions, gc_environment: None
) -> None:
    _garbage(backend)
    counted = _expired_image(backend)
    calls = Calls()
    clients = aws_clients(backend.region, backend.endpoint_url)
    for client in (clients.s3, clients.dynamodb):
        client.meta.events.register("before-parameter-build.*.*", calls)
    try:
        result = lambda_function.gc(SCHEDULED_EVENT, Context(600))
    finally:
        for client in (clients.s3, clients.dynamodb):
            client.meta.events.unregister("before-parameter-build.*.*", calls)
    assert result["finished"] and result["blobs"] == 1 and result["uploads"] == 1
    assert build_registry(backend).manifests.meta.tags("gc/expired", None, 10) == ["v2"]
    assert open_storage(backend).lifecycle().namespace_use("gc") == counted
    made = {action for action, _ in calls.made}
    # It deleted a blob and an upload's tail, aborted its multipart upload, and scanned;
    # retention listed the policies, the catalog and the images and deleted a manifest.
    assert {"s3:DeleteObject", "s3:AbortMultipartUpload", "dynamodb:Scan"} <= made
    assert {"dynamodb:Query", "dynamodb:BatchGetItem"} <= made
    statements = _gc_statements()
    refused = sorted({call for call in calls.made if not _allowed(*call, statements)})
    assert refused == [], f"the gc's policy refuses {refused}"


def test_the_grace_comes_from_the_environment() -> None:
    assert grace_from_environment({}) == 24 * 3600
    assert grace_from_environment({"SOUTE_GC_GRACE": " 3600 "}) == 3600
    for wrong in ("1h", "-5", "nan"):
        with pytest.raises(ValueError, match="SOUTE_GC_GRACE"):
            grace_from_environment({"SOUTE_GC_GRACE": wrong})
