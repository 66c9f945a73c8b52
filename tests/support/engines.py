"""Private container engines for the real-client tests: a containerd and a Docker engine.

Both live entirely under one temporary directory (state, sockets, storage), listen only on
Unix sockets there, and never touch the machine's own ``/var/lib/docker``,
``/run/containerd`` or ``/etc/docker/daemon.json``. They need root.

The Docker engine is pointed at the private containerd (``--containerd``): left alone, dockerd
20.10 would use the system containerd whenever ``/run/containerd/containerd.sock`` exists.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .procs import find_tool, run, stop_process_group, tail

_DOCKER_CLI_PREFERRED = ("/usr/bin/docker",)  # Debian's CLI matches Debian's dockerd (20.10)


def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise RuntimeError(f"{what} needs root (the real-client tests run as root, like CI)")


def _mounted_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    return [p for p in points if p.startswith(prefix)]


def _remove_tree(path: Path) -> None:
    """Remove daemon state, unless something is still mounted inside it (then leave it)."""
    if path.exists() and not _mounted_under(path):
        shutil.rmtree(path, ignore_errors=True)


def _unix_http_ok(socket_path: Path, request_path: str) -> bool:
    """Whether an HTTP server on a Unix socket answers ``GET request_path`` with 200."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(socket_path))
            sock.sendall(f"GET {request_path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            status_line = sock.recv(64).split(b"\r\n", 1)[0]
    except OSError:
        return False
    return b" 200 " in status_line + b" "


def _wait_until_ready(
    name: str,
    proc: subprocess.Popen[bytes],
    log_path: Path,
    ready: Callable[[], bool],
    timeout: float,
    stop: Callable[[], None],
) -> None:
    """Poll `ready()` until it holds; raise, with the log's tail, if the daemon exits first or
    (after `stop()`) if `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{name} exited with status {proc.returncode}; log {log_path}:\n{tail(log_path)}"
            )
        if ready():
            return
        if time.monotonic() > deadline:
            stop()
            raise RuntimeError(
                f"{name} not ready after {timeout}s; log {log_path}:\n{tail(log_path)}"
            )
        time.sleep(0.1)


class Containerd:
    """A containerd with its own config, root, state and gRPC socket in ``base``."""

    def __init__(self, base: Path, log_path: Path | None = None) -> None:
        self.base = base
        self.root = base / "root"
        self.state = base / "state"
        self.address = base / "containerd.sock"
        self.config = base / "config.toml"
        self.log_path = log_path or base / "containerd.log"
        self.ctr_path = "ctr"  # resolved by start()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        _require_root("containerd")
        containerd = find_tool("containerd")
        self.ctr_path = find_tool("ctr")
        self.base.mkdir(parents=True, exist_ok=True)
        # The CRI plugin (Kubernetes) is not needed and would want CNI; the native snapshotter
        # is selected per command (`--snapshotter native`) since it works on any filesystem.
        self.config.write_text(
            "\n".join(
                [
                    "version = 2",
                    f'root = "{self.root}"',
                    f'state = "{self.state}"',
                    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
                    "[grpc]",
                    f'  address = "{self.address}"',
                    "[ttrpc]",
                    f'  address = "{self.address}.ttrpc"',
                    "[debug]",
                    '  level = "info"',
                    "",
                ]
            )
        )
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [containerd, "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_until_ready("containerd", self.proc, self.log_path, self._answers, timeout, self.stop)

    def _answers(self) -> bool:
        if not self.address.exists():
            return False
        probe = run(
            [self.ctr_path, "--address", str(self.address), "version"], timeout=10, check=False
        )
        return probe.returncode == 0

    def ctr(
        self, *args: str, namespace: str = "test", timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``ctr`` against this containerd in ``namespace``."""
        return run(
            [self.ctr_path, "--address", str(self.address), "--namespace", namespace, *args],
            timeout=timeout,
            check=check,
        )

    def stop(self) -> None:
        """Stop containerd and remove ``base`` (all its state; the log too if it is there)."""
        if self.proc is not None:
            stop_process_group(self.proc)
            self.proc = None
        _remove_tree(self.base)


class DockerEngine:
    """A dockerd with its own data root, exec root, socket and daemon.json in ``base``.

    It uses the ``vfs`` storage driver (works on any filesystem, also inside containers where
    overlay-on-overlay fails), no bridge and no iptables rules. 127.0.0.0/8 registries are
    insecure (plain HTTP) by default, so no configuration is needed for a loopback registry.
    """

    def __init__(
        self,
        base: Path,
        containerd_address: Path | None = None,
        storage_driver: str = "vfs",
        log_path: Path | None = None,
    ) -> None:
        self.base = base
        self.data_root = base / "root"
        self.exec_root = base / "exec"
        self.socket = base / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.daemon_json = base / "daemon.json"
        self.client_config = base / "client-config"
        self.log_path = log_path or base / "dockerd.log"
        self.containerd_address = containerd_address
        self.storage_driver = storage_driver
        self.cli = "docker"  # resolved by start()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for the docker CLI: this engine, and a private client config."""
        return {"DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.client_config)}

    def start(self, timeout: float = 90) -> None:
        _require_root("dockerd")
        dockerd = find_tool("dockerd")
        self.cli = find_tool("docker", _DOCKER_CLI_PREFERRED)
        self.base.mkdir(parents=True, exist_ok=True)
        self.client_config.mkdir(exist_ok=True)
        # Our own (empty) daemon.json, so the machine's /etc/docker/daemon.json cannot conflict.
        self.daemon_json.write_text("{}\n")
        args = [
            dockerd,
            f"--config-file={self.daemon_json}",
            f"--data-root={self.data_root}",
            f"--exec-root={self.exec_root}",
            f"--pidfile={self.base / 'docker.pid'}",
            f"--host={self.host}",
            f"--storage-driver={self.storage_driver}",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--ip6tables=false",
            "--userland-proxy=false",
        ]
        if self.containerd_address is not None:
            args += [
                f"--containerd={self.containerd_address}",
                "--containerd-namespace=soute-docker",
                "--containerd-plugins-namespace=soute-docker-plugins",
            ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_until_ready("dockerd", self.proc, self.log_path, self._answers, timeout, self.stop)

    def _answers(self) -> bool:
        return _unix_http_ok(self.socket, "/_ping")

    def docker(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the docker CLI against this engine."""
        return run([self.cli, *args], env=self.env, timeout=timeout, check=check)

    def stop(self) -> None:
        """Stop dockerd and remove ``base`` (all its state; the log too if it is there)."""
        if self.proc is not None:
            stop_process_group(self.proc, grace=20)
            self.proc = None
        _remove_tree(self.base)
