"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.moto import moto_server
from tests.support.server import RegistryServer, running_registry


@pytest.fixture(scope="session")
def soute_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One `soute serve` for every test that needs a live server."""
    with running_registry(tmp_path_factory.mktemp("soute-server")) as server:
        yield server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One S3 + DynamoDB emulator for the session."""
    with moto_server() as endpoint:
        yield endpoint
