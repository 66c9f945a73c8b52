"""Tag immutability through the HTTP API, in process (embedded storage) and through the Lambda
front end on S3 + DynamoDB (moto): the refusal is an OCI error clients print ("denied: ..."),
409, naming repository and tag and the command that lifts it; excluded tags still move."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chalicelib.api.router import Router
from chalicelib.lifecycle import immutability
from chalicelib.server.backends import BackendOptions, embedded_registry, open_storage
from chalicelib.storage.policy_ports import PolicyStore
from tests.contract.client import (
    Client,
    ConfiguredFunction,
    LambdaClient,
    RouterClient,
    image_manifest,
    new_repo,
    put_manifest,
    sha256,
)
from tests.support.moto import aws_backend


@dataclass
class Registry:
    client: Client
    policies: PolicyStore

    def set(self, scope: str, immutable: bool = True, exclusions: tuple[str, ...] = ()) -> None:
        rule = immutability.rule(immutable, list(exclusions))
        self.policies.put(scope, immutability.KIND, rule.document())


@pytest.fixture(params=["router", "lambda"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    if request.param == "router":
        data_dir = str(tmp_path / "data")
        policies = open_storage(BackendOptions(data_dir=data_dir)).policies()
        yield Registry(RouterClient(Router(embedded_registry(data_dir))), policies)
        return
    options = aws_backend(request.getfixturevalue("moto_endpoint"), chunk_min_length=4 << 20)
    client = LambdaClient(ConfiguredFunction(options.environment()))
    yield Registry(client, open_storage(options).policies())


def _error(reply: object) -> dict:
    return json.loads(reply.body)["errors"][0]  # type: ignore[attr-defined]


def test_a_push_over_an_immutable_tag_is_refused_with_what_to_do(registry: Registry) -> None:
    repo = new_repo("locked")
    first = image_manifest(registry.client, repo)
    assert put_manifest(registry.client, repo, "v1", first).status == 201
    registry.set(repo.split("/")[0])  # the namespace
    second = image_manifest(registry.client, repo)
    reply = put_manifest(registry.client, repo, "v1", second)
    assert reply.status == 409
    error = _error(reply)
    assert error["code"] == "DENIED"
    assert f"tag v1 of {repo} is immutable" in error["message"]
    assert f"soute immutable set {repo} --off" in error["message"]
    assert error["detail"] == {"tag": "v1", "digest": sha256(first)}
    got = registry.client.request("GET", f"/v2/{repo}/manifests/v1")
    assert got.body == first
    # The same manifest again is no move: accepted.
    assert put_manifest(registry.client, repo, "v1", first).status == 201


def test_excluded_tags_move_and_the_repository_setting_wins(registry: Registry) -> None:
    repo = new_repo("excl")
    registry.set(repo, exclusions=("dev-*",))
    for tag in ("dev-1", "v1"):
        assert (
            put_manifest(registry.client, repo, tag, image_manifest(registry.client, repo)).status
            == 201
        )
    moved = image_manifest(registry.client, repo)
    assert put_manifest(registry.client, repo, "dev-1", moved).status == 201
    assert registry.client.request("GET", f"/v2/{repo}/manifests/dev-1").body == moved
    assert put_manifest(registry.client, repo, "v1", moved).status == 409
    # Mutable on the repository, immutable on its namespace: the repository's setting wins.
    registry.set(repo.split("/")[0])
    registry.set(repo, immutable=False)
    assert put_manifest(registry.client, repo, "v1", moved).status == 201


def test_deleting_an_immutable_tag_or_its_manifest_is_refused(registry: Registry) -> None:
    repo = new_repo("nodelete")
    body = image_manifest(registry.client, repo)
    assert put_manifest(registry.client, repo, "v1", body).status == 201
    assert put_manifest(registry.client, repo, "dev-1", body).status == 201
    registry.set(repo, exclusions=("dev-*",))
    reply = registry.client.request("DELETE", f"/v2/{repo}/manifests/v1")
    assert reply.status == 409
    assert "cannot be deleted" in _error(reply)["message"]
    reply = registry.client.request("DELETE", f"/v2/{repo}/manifests/{sha256(body)}")
    assert reply.status == 409
    message = _error(reply)["message"]
    assert f"manifest {sha256(body)} is tagged v1" in message
    assert "soute immutable set" in message
    assert registry.client.request("DELETE", f"/v2/{repo}/manifests/dev-1").status == 202
    registry.policies.remove(repo, immutability.KIND)
    assert registry.client.request("DELETE", f"/v2/{repo}/manifests/{sha256(body)}").status == 202
