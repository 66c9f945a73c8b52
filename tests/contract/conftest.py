"""The contract tests run through every front end: the router in process and `soute serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.api.router import Router
from chalicelib.server.backends import embedded_registry
from tests.contract.client import Client, LiveClient, RouterClient
from tests.support.server import RegistryServer


@pytest.fixture(scope="session")
def router_client(tmp_path_factory: pytest.TempPathFactory) -> RouterClient:
    data_dir: Path = tmp_path_factory.mktemp("router-data")
    return RouterClient(Router(embedded_registry(str(data_dir))))


@pytest.fixture(params=["router", "server"])
def client(request: pytest.FixtureRequest, router_client: RouterClient) -> Client:
    if request.param == "router":
        return router_client
    server: RegistryServer = request.getfixturevalue("soute_server")
    return LiveClient(server.url)


@pytest.fixture
def live(soute_server: RegistryServer) -> LiveClient:
    """For what only a real HTTP connection can carry (chunked transfer, raw sockets)."""
    return LiveClient(soute_server.url)
