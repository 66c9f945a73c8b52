"""Fixtures for the real-client tests: one registry, one dockerd, one containerd per session.

The registry is ``soute serve`` from this checkout's virtualenv, or the command in
``SOUTE_TEST_REGISTRY_CMD`` (see tests/support/server.py). The tools come from Debian's
packages (scripts/install-test-tools.sh); a missing tool fails the tests, it never skips them.
When a test fails, the registry's log lines written during that test are added to the report.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.clients import Podman
from tests.support.fixtures import setup_or_fail as _setup
from tests.support.fixtures import short_tempdir as _short_tempdir
from tests.support.server import RegistryServer

_SERVER_KEY = pytest.StashKey[RegistryServer]()
_LOG_OFFSET_KEY = pytest.StashKey[int]()


@pytest.fixture(scope="session")
def registry_server(request: pytest.FixtureRequest, soute_server: RegistryServer) -> RegistryServer:
    """The registry under test: the suite's one shared server (tests/conftest.py)."""
    request.config.stash[_SERVER_KEY] = soute_server
    return soute_server


@pytest.fixture(scope="session")
def registry(registry_server: RegistryServer) -> str:
    """The registry's address, ``127.0.0.1:PORT``: prefix it to repository names."""
    return registry_server.address


@pytest.fixture(autouse=True)
def _registry_log_mark(request: pytest.FixtureRequest, registry_server: RegistryServer) -> None:
    """Remember where the registry log stood when this test started."""
    try:
        offset = registry_server.log_path.stat().st_size
    except OSError:
        offset = 0
    request.node.stash[_LOG_OFFSET_KEY] = offset


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    server = item.config.stash.get(_SERVER_KEY, None)
    if not report.failed or server is None:
        return
    offset = item.stash.get(_LOG_OFFSET_KEY, 0)
    try:
        with open(server.log_path, "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except OSError:
        return
    lines = text.splitlines()
    shown = lines[-150:]
    header = f"{server.log_path}, {len(lines)} lines during this test"
    if len(shown) < len(lines):
        header += f", last {len(shown)} shown"
    report.sections.append((f"registry log ({header})", "\n".join(shown)))


@pytest.fixture
def podman(_root_required: None) -> Iterator[Podman]:
    """podman with private vfs storage, fresh for each test."""
    client = _setup("podman", lambda: Podman(_short_tempdir("soute-pod-")))
    try:
        yield client
    finally:
        client.cleanup()
