"""Fixtures of the image-verb tests: `soute` run as a user runs it, and images put in place by
skopeo (images) or plain HTTP (artifacts with a subject, extra tags)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.clients import Skopeo
from tests.support.fixtures import setup_or_fail
from tests.support.procs import find_tool
from tests.support.server import RegistryServer, default_soute, running_registry


@dataclass
class Done:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Soute:
    """The `soute` console script in a subprocess, with a private docker config directory."""

    def __init__(self, home: Path) -> None:
        self.docker_config = home / "docker-config"
        self.docker_config.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "DOCKER_CONFIG": str(self.docker_config)}

    def run(self, *args: str, stdin: str = "") -> Done:
        done = subprocess.run(
            [default_soute(), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Done(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str) -> Done:
        done = self.run(*args)
        assert done.code == 0, f"soute {' '.join(args)}: {done.code}\n{done.out}\n{done.err}"
        assert not done.err or "Traceback" not in done.err, done.err
        return done

    def fails(self, code: int, *args: str) -> str:
        """Run a command that must fail with `code`: its one-line message."""
        done = self.run(*args)
        assert done.code == code, f"soute {' '.join(args)}: {done.code}\n{done.out}\n{done.err}"
        assert "Traceback" not in done.err, done.err
        lines = done.err.strip().splitlines()
        assert len(lines) == 1, f"not one line: {done.err}"
        return lines[0]


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


def copy(skopeo: Skopeo, source: str, dest: str, *extra: str) -> None:
    """Put an image (`oci:DIR:TAG`) into a registry, exactly as built."""
    skopeo.copy(source, f"docker://{dest}", "--preserve-digests", *extra)
