"""Fixtures for the real-client tests: one registry, one dockerd, one containerd per session.

The registry is ``soute serve`` from this checkout's virtualenv, or the command in
``SOUTE_TEST_REGISTRY_CMD`` (see tests/support/server.py). The tools come from Debian's
packages (scripts/install-test-tools.sh); a missing tool fails the tests, it never skips them.
When a test fails, the registry's log lines written during that test are added to the report.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.support.clients import Podman, Skopeo
from tests.support.engines import Containerd, DockerEngine
from tests.support.procs import ToolMissing
from tests.support.server import RegistryServer

T = TypeVar("T")

_SERVER_KEY = pytest.StashKey[RegistryServer]()
_LOG_OFFSET_KEY = pytest.StashKey[int]()


def _setup(what: str, start: Callable[[], T]) -> T:
    """Run a fixture's setup; turn a missing tool or a daemon that won't start into a failure
    with a readable message (no traceback), never a skip."""
    try:
        return start()
    except (ToolMissing, RuntimeError) as exc:
        message = f"{what}: {exc}"
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback


def _short_tempdir(prefix: str) -> Path:
    # Unix socket paths are limited to 107 bytes: keep daemon directories short, under /tmp.
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


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


@pytest.fixture(scope="session")
def _root_required() -> None:
    if os.geteuid() != 0:
        pytest.fail(
            "the real-client tests start dockerd and containerd and need root (CI runs them "
            "as root)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def skopeo(tmp_path_factory: pytest.TempPathFactory) -> Skopeo:
    return _setup("skopeo", lambda: Skopeo(tmp_path_factory.mktemp("skopeo")))


@pytest.fixture(scope="session")
def containerd(
    _root_required: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Containerd]:
    """A private containerd (own config, root, state and socket), shared by the session."""
    log = tmp_path_factory.mktemp("containerd") / "containerd.log"
    daemon = Containerd(_short_tempdir("soute-ctd-"), log_path=log)
    _setup("starting a private containerd", daemon.start)
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def docker_engine(
    containerd: Containerd, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerEngine]:
    """A private dockerd (vfs storage, no networking), using the private containerd."""
    engine = DockerEngine(
        _short_tempdir("soute-dkd-"),
        containerd_address=containerd.address,
        log_path=tmp_path_factory.mktemp("dockerd") / "dockerd.log",
    )
    _setup("starting a private dockerd", engine.start)
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture
def podman(_root_required: None) -> Iterator[Podman]:
    """podman with private vfs storage, fresh for each test."""
    client = _setup("podman", lambda: Podman(_short_tempdir("soute-pod-")))
    try:
        yield client
    finally:
        client.cleanup()
