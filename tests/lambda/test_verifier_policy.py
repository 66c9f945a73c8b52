"""The verifier function's policy against what it really does: a direct upload is completed on
moto by a registry that hands the verification to the verifier function (its invoke stubbed),
then the verifier runs as app.py runs it, from the environment the template gives it alone, and
every AWS call it makes must be allowed by the policy deploy/merge_template.py gives its role."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.stub import ANY, Stubber

from chalicelib.server import verifiers
from chalicelib.server.backends import BackendOptions, build_registry
from chalicelib.server.chalice_routes import registry_from_environment
from chalicelib.storage.aws.clients import aws_clients
from tests.support.moto import aws_backend

from .template_conditions import SINGLE_REGION, resolve

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "team/app"
# The IAM action of each API call (S3 authorises several calls as one action).
S3_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "PutObject": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "CopyObject": "s3:PutObject",
    "ListObjectsV2": "s3:ListBucket",
}
TRANSACTION_ITEMS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def single_region_resources() -> dict[str, Any]:
    """deploy/resources.json as a one-region stack sees it."""
    template = json.loads((ROOT / "deploy" / "resources.json").read_text())
    return resolve(template, SINGLE_REGION)["Resources"]


class Calls:
    """(IAM action, resource) of each call, from botocore's parameter hook."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str]] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service, name = model.service_model.service_name, model.name
        if service == "s3":
            action = S3_ACTIONS.get(name, f"s3:unmapped {name}")
            key = f"/{params['Key']}" if "Key" in params else ""
            self.made.append((action, f"bucket{key}"))
        elif name in ("TransactWriteItems", "TransactGetItems"):
            for item in params["TransactItems"]:
                [(kind, _operation)] = item.items()
                self.made.append((f"dynamodb:{TRANSACTION_ITEMS[kind]}", "table"))
        else:
            self.made.append((f"{service}:{name}", "table"))


@pytest.fixture
def verifier_environment(
    backend: BackendOptions, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The verifier function's environment as the template sets it, with moto's names."""
    resources = single_region_resources()
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    names = {"RegistryBucket": backend.s3_bucket, "RegistryTable": backend.dynamodb_table}
    variables = {
        **config["environment_variables"],
        **{
            name: names[value["Ref"]]
            for name, value in resources["Verifier"]["Properties"]["Environment"][
                "Variables"
            ].items()
        },
    }
    for name in BackendOptions.variable_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    # Not in the template: Lambda sets the region, and only moto needs an endpoint.
    monkeypatch.setenv("AWS_REGION", str(backend.region))
    monkeypatch.setenv("SOUTE_AWS_ENDPOINT_URL", str(backend.endpoint_url))
    yield


@pytest.fixture
def backend(moto_endpoint: str) -> BackendOptions:
    return aws_backend(moto_endpoint)


def _verifier_policy() -> list[dict[str, Any]]:
    resources = single_region_resources()
    [policy] = resources["VerifierRole"]["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


def _allowed(action: str, resource: str, statements: list[dict[str, Any]]) -> bool:
    for statement in statements:
        granted = statement["Resource"]
        if isinstance(granted, dict) and "Fn::Sub" in granted:
            pattern = granted["Fn::Sub"].replace("${RegistryBucket.Arn}", "bucket")
        elif granted == {"Fn::GetAtt": ["RegistryBucket", "Arn"]}:
            pattern = "bucket"
        elif granted == {"Fn::GetAtt": ["RegistryTable", "Arn"]}:
            pattern = "table"
        else:
            continue
        if action in statement["Action"] and fnmatch.fnmatchcase(resource, pattern):
            return True
    return False


def _completed_upload(backend: BackendOptions, content: bytes, digest: str) -> str:
    """A direct upload of `content` as `digest`, completed and handed to the verifier."""
    options = replace(backend, verifier_function="soute-test-verifier", inline_verify_limit=0)
    registry = build_registry(options)
    upload, [link] = registry.direct.initiate(REPOSITORY, digest, len(content), "https://x")
    sent = requests.put(link.url, data=content, headers=link.headers, timeout=30)
    assert sent.status_code == 200, sent.text
    with Stubber(verifiers._lambda_client(options.region)) as stub:
        expected = {"FunctionName": "soute-test-verifier", "InvocationType": "Event"}
        stub.add_response("invoke", {"StatusCode": 202}, {**expected, "Payload": ANY})
        done = registry.direct.complete(REPOSITORY, upload.upload_id, [(1, sent.headers["ETag"])])
        stub.assert_no_pending_responses()
    assert done.status == "verifying"
    return upload.upload_id


@pytest.mark.parametrize("matches", [True, False], ids=["verified", "digest-mismatch"])
def test_every_call_of_the_verifier_is_allowed_by_its_policy(
    backend: BackendOptions, verifier_environment: None, matches: bool
) -> None:
    content = b"layer bytes " * 1000
    digest = "sha256:" + hashlib.sha256(content if matches else b"other").hexdigest()
    upload_id = _completed_upload(backend, content, digest)
    calls = Calls()
    clients = aws_clients(backend.region, backend.endpoint_url)
    for client in (clients.s3, clients.dynamodb):
        client.meta.events.register("before-parameter-build.*.*", calls)
    try:
        event = {"repository": REPOSITORY, "upload_id": upload_id}
        result = verifiers.verify_event(registry_from_environment(), event)
    finally:
        for client in (clients.s3, clients.dynamodb):
            client.meta.events.unregister("before-parameter-build.*.*", calls)
    assert result["status"] == ("available" if matches else "failed")
    statements = _verifier_policy()
    assert calls.made, "the verifier made no call: the hook saw nothing"
    refused = [call for call in calls.made if not _allowed(*call, statements)]
    assert refused == [], f"the verifier's policy refuses {refused}"
