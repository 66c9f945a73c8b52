"""Start a registry process on a free loopback port for the real-client tests.

The command comes from a template with the placeholders ``{host}``, ``{port}``,
``{data_dir}``, ``{python}`` (this interpreter) and ``{repo}`` (the checkout). The default is
the repository's own server, ``soute serve``. ``SOUTE_TEST_REGISTRY_CMD`` replaces it, e.g. to
run the same tests against the reference registry (Debian's ``docker-registry``)::

    SOUTE_TEST_REGISTRY_CMD='{python} -m tests.support.refregistry --port {port} \
        --data-dir {data_dir}'
"""

from __future__ import annotations

import os
import shlex
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .procs import stop_process_group, tail

REPO = Path(__file__).resolve().parents[2]
ENV_VAR = "SOUTE_TEST_REGISTRY_CMD"
HOST = "127.0.0.1"


def default_soute() -> str:
    """The ``soute`` console script of the virtualenv that runs the tests."""
    beside_python = Path(sys.executable).parent / "soute"
    if beside_python.exists():
        return str(beside_python)
    return str(REPO / ".venv" / "bin" / "soute")


def default_template() -> str:
    soute = shlex.quote(default_soute())
    return f"{soute} serve --host {{host}} --port {{port}} --data-dir {{data_dir}}"


def free_port(host: str = HOST) -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def render_command(template: str, port: int, data_dir: Path) -> list[str]:
    """Split a command template into arguments and fill its placeholders."""
    values = {
        "host": HOST,
        "port": str(port),
        "data_dir": str(data_dir),
        "python": sys.executable,
        "repo": str(REPO),
    }
    return [part.format(**values) for part in shlex.split(template)]


@dataclass
class RegistryServer:
    """A running registry: its address (``127.0.0.1:PORT``), process and log file."""

    address: str
    command: list[str]
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)


def _v2_status(url: str) -> int | None:
    # Readiness only: a test that serves TLS checks the certificate itself.
    context = ssl._create_unverified_context() if url.startswith("https") else None  # noqa: S323
    try:
        with urllib.request.urlopen(f"{url}/v2/", timeout=2, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


@contextmanager
def running_registry(
    workdir: Path,
    template: str | None = None,
    timeout: float = 60,
    expect_https: bool = False,
    ready_status: int = 200,
) -> Iterator[RegistryServer]:
    """Start a registry on a free loopback port, wait until ``GET /v2/`` answers
    ``ready_status`` (401 with auth on), yield it, and kill it (its whole process group)
    afterwards.

    ``template`` defaults to ``$SOUTE_TEST_REGISTRY_CMD``, then to ``soute serve``.
    """
    template = template or os.environ.get(ENV_VAR) or default_template()
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    data_dir.mkdir(exist_ok=True)
    log_path = workdir / "registry.log"
    port = free_port()
    command = render_command(template, port, data_dir)
    executable = command[0]
    if os.sep in executable and not os.access(executable, os.X_OK):
        raise RuntimeError(
            f"registry command not found: {executable} (from template {template!r}); "
            f"create the virtualenv with `make test`, or set {ENV_VAR}"
        )
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.Popen(
                command,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise RuntimeError(
                f"cannot start the registry ({exc}): {shlex.join(command)} "
                f"(from template {template!r})"
            ) from exc
    server = RegistryServer(f"{HOST}:{port}", command, data_dir, log_path, proc)
    try:
        deadline = time.monotonic() + timeout
        status: int | None = None
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"registry exited with status {proc.returncode} before answering: "
                    f"{shlex.join(command)}\nlog {log_path}:\n{server.log_tail()}"
                )
            status = _v2_status(f"https://{server.address}" if expect_https else server.url)
            if status == ready_status:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"registry did not answer GET /v2/ with {ready_status} within {timeout}s "
                    f"(last status: {status}): {shlex.join(command)}\n"
                    f"log {log_path}:\n{server.log_tail()}"
                )
            time.sleep(0.1)
        yield server
    finally:
        stop_process_group(proc)
