"""Fixtures of the image-verb tests: `soute` run as a user runs it, a namespace of their own on
the shared server, and the reference registry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images.runner import Soute
from tests.support.fixtures import setup_or_fail
from tests.support.procs import find_tool
from tests.support.server import RegistryServer, running_registry


@pytest.fixture
def soute(tmp_path: Path) -> Soute:
    return Soute(tmp_path / "home")


@pytest.fixture
def namespace() -> str:
    """A namespace no other test uses (the servers are shared by the session)."""
    return f"img{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def reference_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """The reference registry (distribution 2.8, Debian's docker-registry), deletes enabled."""
    setup_or_fail("the reference registry", lambda: find_tool("docker-registry"))
    template = "{python} -m tests.support.refregistry --port {port} --data-dir {data_dir}"
    with running_registry(tmp_path_factory.mktemp("reference"), template) as server:
        yield server
