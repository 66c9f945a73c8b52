"""Starting and stopping the two registries under test, one at a time, on free loopback ports."""

import contextlib
import itertools
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from common import LOOPBACK, REPO_ROOT, BenchError
from rss import process_tree

SOUTE_ENV = "SOUTE_BENCH_CMD"
SOUTE_DEFAULT = (
    f"{REPO_ROOT}/.venv/bin/soute serve --host {LOOPBACK} --port {{port}} --data-dir {{data_dir}}"
)
REFERENCE_TEMPLATE = "docker-registry serve {data_dir}/config.yml"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0

# Filesystem storage, loopback only, deletes allowed, quiet logs. The in-memory blob descriptor
# cache is what distribution's own sample config ships, i.e. the reference as people run it.
REFERENCE_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: {addr}
"""


def write_reference_config(port: int, data_dir: Path) -> Path:
    """Write the reference registry's config into data_dir (storage under data_dir/registry)."""
    config = data_dir / "config.yml"
    root = data_dir / "registry"
    config.write_text(REFERENCE_CONFIG.format(root=root, addr=f"{LOOPBACK}:{port}"))
    return config


@dataclass(frozen=True)
class ServerSpec:
    """How to start one registry: a command template with {port} and {data_dir}."""

    name: str
    template: str
    writes_reference_config: bool = False

    def argv(self, port: int, data_dir: Path) -> list[str]:
        words = shlex.split(self.template)
        return [w.format(port=port, data_dir=data_dir) for w in words]


def reference_spec() -> ServerSpec:
    return ServerSpec("reference", REFERENCE_TEMPLATE, writes_reference_config=True)


def soute_spec() -> ServerSpec:
    """Soute's command: SOUTE_BENCH_CMD if set, else `.venv/bin/soute serve ...`."""
    template = os.environ.get(SOUTE_ENV) or SOUTE_DEFAULT
    if "{port}" not in template:
        raise BenchError(f"{SOUTE_ENV} must contain {{port}} (and usually {{data_dir}})")
    program = shlex.split(template)[0]
    if shutil.which(program) is None:
        raise BenchError(
            f"Soute command not found: {program}. Create the venv (`make serve` or "
            f"`.venv/bin/pip install -e .`) or point {SOUTE_ENV} at another command."
        )
    return ServerSpec("soute", template)


@dataclass
class Server:
    """A running registry."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"


_used_ports: set[int] = set()
_sequence = itertools.count(1)


def free_port() -> int:
    """A free loopback port never used before in this run (so no client cache can match it)."""
    while True:
        with socket.socket() as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        if port not in _used_ports:
            _used_ports.add(port)
            return port


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    status = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(
                f"{server.name} exited with {server.proc.returncode} before answering; "
                f"the end of its output:\n{log_tail(server.log_path)}"
            )
        with contextlib.suppress(requests.RequestException):
            status = requests.get(f"{server.url}/v2/", timeout=2).status_code
            if status == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"{server.name}: GET /v2/ did not answer 200 (last: {status})")


def start(spec: ServerSpec, run_dir: Path) -> Server:
    """Start `spec` on a free port with an empty data dir; return once GET /v2/ answers 200."""
    seq, port = next(_sequence), free_port()
    data_dir = run_dir / f"{spec.name}-{seq}-data"
    data_dir.mkdir()
    if spec.writes_reference_config:
        write_reference_config(port, data_dir)
    log_path = run_dir / f"{spec.name}-{seq}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            spec.argv(port, data_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=REPO_ROOT,
        )
    server = Server(spec.name, proc, port, data_dir, log_path)
    try:
        _wait_ready(server)
    except BaseException:
        stop(server)
        raise
    return server


def _signal_group(server: Server, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.proc.pid, sig)  # start_new_session made the pid the group id


def stop(server: Server) -> None:
    """Stop the server's process group (TERM, then KILL), and any descendant left behind."""
    tree = process_tree(server.proc.pid) if server.proc.poll() is None else []
    _signal_group(server, signal.SIGTERM)
    try:
        server.proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _signal_group(server, signal.SIGKILL)
        server.proc.wait()
    for pid in tree[1:]:  # a descendant that left the process group but not the session
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getsid(pid) == server.proc.pid:
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running(spec: ServerSpec, run_dir: Path) -> Iterator[Server]:
    """A fresh server with a fresh data dir, stopped and its data removed afterwards."""
    server = start(spec, run_dir)
    try:
        yield server
    finally:
        stop(server)
        shutil.rmtree(server.data_dir, ignore_errors=True)
