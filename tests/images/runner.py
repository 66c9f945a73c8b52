"""`soute` run as a user runs it (the console script, a private docker config), and images put
in a registry by skopeo, exactly as built."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.clients import Skopeo
from tests.support.server import default_soute


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

    def ok(self, *args: str, stdin: str = "") -> Done:
        done = self.run(*args, stdin=stdin)
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


def copy(skopeo: Skopeo, source: str, dest: str, *extra: str) -> None:
    """Put an image (`oci:DIR:TAG`) into a registry, exactly as built."""
    skopeo.copy(source, f"docker://{dest}", "--preserve-digests", *extra)
