"""The contract tests run through every front end: the router in process, `soute serve`, and
the Chalice app of app.py behind the API Gateway emulator (the Lambda front end)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.api.router import Router
from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from chalicelib.server.backends import embedded_auth, embedded_registry
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb_identities import DynamoIdentityStore
from tests.contract.client import (
    Client,
    ConfiguredFunction,
    LambdaClient,
    LiveClient,
    RouterClient,
)
from tests.support.moto import aws_backend
from tests.support.server import RegistryServer
from tests.support.token_client import TokenClient


@pytest.fixture(scope="session")
def router_client(tmp_path_factory: pytest.TempPathFactory) -> RouterClient:
    data_dir: Path = tmp_path_factory.mktemp("router-data")
    return RouterClient(Router(embedded_registry(str(data_dir))))


@pytest.fixture(scope="session")
def lambda_client(moto_endpoint: str) -> Iterator[LambdaClient]:
    """The production shape: Lambda behind API Gateway, on S3 + DynamoDB (moto)."""
    # Configured per request (ConfiguredFunction), not through the session's environment:
    # servers the session starts later must not inherit these settings.
    settings = aws_backend(moto_endpoint, chunk_min_length=4 << 20).environment()
    yield LambdaClient(ConfiguredFunction(settings))


@pytest.fixture(scope="session")
def auth_router_client(tmp_path_factory: pytest.TempPathFactory) -> TokenClient:
    """The router with auth on, and an admin logged in: the registry must behave the same."""
    data_dir = str(tmp_path_factory.mktemp("auth-router-data"))
    auth = embedded_auth(data_dir)
    auth.store.add_user(User("root", hash_password("root password"), admin=True))
    return TokenClient(
        RouterClient(Router(embedded_registry(data_dir), auth)), "root", "root password"
    )


@pytest.fixture(scope="session")
def auth_lambda_client(moto_endpoint: str) -> Iterator[TokenClient]:
    """The production shape with auth on, as `chalice deploy` runs it: identities in DynamoDB,
    the signing key derived from a Secrets Manager secret, `/token` routed through API Gateway."""
    options = aws_backend(moto_endpoint, chunk_min_length=4 << 20, auth=True)
    dynamodb = aws_clients(options.region, moto_endpoint).dynamodb
    store = DynamoIdentityStore(dynamodb, options.dynamodb_table or "")
    store.add_user(User("root", hash_password("root password"), admin=True))
    yield TokenClient(
        LambdaClient(ConfiguredFunction(options.environment())), "root", "root password"
    )


@pytest.fixture(params=["router", "server", "lambda", "router+auth", "lambda+auth"])
def client(request: pytest.FixtureRequest, router_client: RouterClient) -> Client:
    if request.param == "router":
        return router_client
    if request.param == "router+auth":
        return request.getfixturevalue("auth_router_client")
    if request.param == "lambda+auth":
        return request.getfixturevalue("auth_lambda_client")
    if request.param == "lambda":
        return request.getfixturevalue("lambda_client")
    server: RegistryServer = request.getfixturevalue("soute_server")
    return LiveClient(server.url)


@pytest.fixture
def live(soute_server: RegistryServer) -> LiveClient:
    """For what only a real HTTP connection can carry (chunked transfer, raw sockets)."""
    return LiveClient(soute_server.url)
