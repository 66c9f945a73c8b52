"""Fixtures shared by every test folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from tests.support.clients import Skopeo
from tests.support.engines import Containerd, DockerEngine
from tests.support.fixtures import setup_or_fail, short_tempdir
from tests.support.moto import moto_server
from tests.support.procs import find_tool
from tests.support.server import RegistryServer, running_registry


@pytest.fixture(autouse=True)
def _soute_logs_reach_caplog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chalice(app_name="soute"), once any test imports app.py, stops the "soute" logger
    propagating to the root logger that caplog listens on: every test sees soute's log lines."""
    monkeypatch.setattr(logging.getLogger("soute"), "propagate", True)


@pytest.fixture(scope="session")
def soute_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One `soute serve` for every test that needs a live server."""
    with running_registry(tmp_path_factory.mktemp("soute-server")) as server:
        yield server


@pytest.fixture(scope="session")
def reference_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """The reference registry (distribution 2.8, Debian's docker-registry), deletes enabled,
    shared by the session's tests (each uses repositories of its own)."""
    setup_or_fail("the reference registry", lambda: find_tool("docker-registry"))
    template = "{python} -m tests.support.refregistry --port {port} --data-dir {data_dir}"
    with running_registry(tmp_path_factory.mktemp("reference"), template) as server:
        yield server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One S3 + DynamoDB emulator for the session."""
    with moto_server() as endpoint:
        yield endpoint


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
    return setup_or_fail("skopeo", lambda: Skopeo(tmp_path_factory.mktemp("skopeo")))


@pytest.fixture(scope="session")
def containerd(
    _root_required: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Containerd]:
    """A private containerd (own config, root, state and socket), shared by the session."""
    log = tmp_path_factory.mktemp("containerd") / "containerd.log"
    daemon = Containerd(short_tempdir("soute-ctd-"), log_path=log)
    setup_or_fail("starting a private containerd", daemon.start)
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
        short_tempdir("soute-dkd-"),
        containerd_address=containerd.address,
        log_path=tmp_path_factory.mktemp("dockerd") / "dockerd.log",
    )
    setup_or_fail("starting a private dockerd", engine.start)
    try:
        yield engine
    finally:
        engine.stop()
