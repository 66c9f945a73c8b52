"""What a user's machine has after `docker login`: the real docker CLI logging in (no engine
needed: with none to ask, the CLI logs in itself), into a private `DOCKER_CONFIG`, and a real
credential store to keep the secret in: `pass` (gpg) behind Debian's docker-credential-pass.

docker-credential-pass is unpacked by scripts/install-test-tools.sh into HELPERS_DIR, off the
default PATH (on it, every `docker login` without a credsStore would store through an
uninitialised pass); `PassStore.env` puts it on PATH for the processes that use the store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .procs import INSTALL_HINT, ToolMissing, find_tool, run

HELPERS_DIR = Path("/usr/local/lib/soute-test-tools/bin")  # scripts/install-test-tools.sh
NO_ENGINE = "unix:///nonexistent/docker.sock"  # so the CLI logs in by itself


class DockerCli:
    """The docker CLI with its own config directory; `env` adds to the environment."""

    def __init__(self, config_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.cli = find_tool("docker", ["/usr/bin/docker"])
        self.config_dir = config_dir
        config_dir.mkdir(parents=True, exist_ok=True)
        self.env = {"DOCKER_CONFIG": str(config_dir), "DOCKER_HOST": NO_ENGINE, **(env or {})}

    def login(self, host: str, user: str, password: str) -> subprocess.CompletedProcess[str]:
        """`docker login -u USER --password-stdin HOST`; asserts it succeeded."""
        done = subprocess.run(
            [self.cli, "login", "-u", user, "--password-stdin", host],
            input=password + "\n",
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0 and "Login Succeeded" in done.stdout, done
        return done

    def config(self) -> dict[str, object]:
        return json.loads((self.config_dir / "config.json").read_text())

    def write_config(self, config: dict[str, object]) -> None:
        (self.config_dir / "config.json").write_text(json.dumps(config))


class PassStore:
    """A pass store under `home` with a passphrase-less gpg key, as `pass init` leaves it."""

    def __init__(self, home: Path) -> None:
        helper = HELPERS_DIR / "docker-credential-pass"
        if not os.access(helper, os.X_OK):
            raise ToolMissing(f"{helper} is missing; {INSTALL_HINT}")
        self.gnupg = home / "gnupg"
        self.gnupg.mkdir(parents=True, mode=0o700)
        self.store = home / "password-store"
        self.env = {
            "GNUPGHOME": str(self.gnupg),
            "PASSWORD_STORE_DIR": str(self.store),
            "PATH": f"{HELPERS_DIR}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
        self.helper = str(helper)

    def init(self) -> None:
        user = "soute-tests@example.invalid"
        gpg = find_tool("gpg")
        run([gpg, "--batch", "--passphrase", "", "--quick-gen-key", user, "future-default",
             "default", "never"], env=self.env)  # fmt: skip
        run([find_tool("pass"), "init", user], env=self.env)

    def secrets(self) -> dict[str, str]:
        """`docker-credential-pass list`: server URL → user name of what it keeps."""
        return json.loads(run([self.helper, "list"], env=self.env).stdout)

    def stop(self) -> None:
        """Stop the gpg-agent that gpg started for this home (it outlives gpg)."""
        gpgconf = shutil.which("gpgconf")
        if gpgconf:
            run([gpgconf, "--kill", "all"], env=self.env, check=False)


@contextmanager
def pass_store(home: Path) -> Iterator[PassStore]:
    """An initialised pass store, its gpg-agent stopped afterwards."""
    store = PassStore(home)
    try:
        store.init()
        yield store
    finally:
        store.stop()
