"""Run `soute push` as a user does: the console script, in a subprocess, with its own cache
(resume state) and docker config directories."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from .server import default_soute


class SoutePush:
    """`soute push` with a private `XDG_CACHE_HOME` and `DOCKER_CONFIG` under `home`."""

    def __init__(self, home: Path, env: Mapping[str, str] | None = None) -> None:
        self.home = home
        self.cache = home / "cache"
        self.docker_config = home / "docker-config"
        self.docker_config.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "XDG_CACHE_HOME": str(self.cache),
            "DOCKER_CONFIG": str(self.docker_config),
            **(env or {}),
        }

    @property
    def state_file(self) -> Path:
        return self.cache / "soute" / "uploads.json"

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """`soute push --quiet ARGS`; the result, whatever the exit status."""
        return subprocess.run(
            [default_soute(), "push", "--quiet", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start `soute push --quiet ARGS` with SIGINT handled as in a terminal (a background
        child of a non-interactive shell would ignore it)."""
        return subprocess.Popen(
            [default_soute(), "push", "--quiet", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def ok(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300) -> str:
        """Push; assert it worked; the digest it printed."""
        done = self.run(*args, env=env, timeout=timeout)
        assert done.returncode == 0, (
            f"soute push {' '.join(args)} failed with status {done.returncode}:\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
        return done.stdout.strip()
