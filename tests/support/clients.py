"""Daemonless registry clients for the tests: skopeo, and podman with private storage.

Both get a trust policy of our own (accept anything) so the machine's
``/etc/containers/policy.json`` does not matter, and they talk to loopback registries over
plain HTTP (``--tls-verify=false``: containers/image tries HTTPS, then falls back to HTTP).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from .procs import find_tool, run, run_bytes

_POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


def write_policy(path: Path) -> Path:
    """Write a trust policy that accepts every image (test registries are unsigned)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_POLICY))
    return path


class Skopeo:
    """``skopeo`` with a private trust policy."""

    def __init__(self, workdir: Path) -> None:
        self.binary = find_tool("skopeo")
        self.policy = write_policy(workdir / "policy.json")

    def run(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run([self.binary, "--policy", str(self.policy), *args], timeout=timeout, check=check)

    def copy(self, src: str, dest: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """``skopeo copy`` with plain HTTP on both sides (ignored for non-registry refs)."""
        return self.run(
            "copy", "--src-tls-verify=false", "--dest-tls-verify=false", *extra, src, dest
        )

    def inspect_raw(self, ref: str) -> bytes:
        """The exact manifest bytes that the registry serves for ``docker://`` ``ref``."""
        return run_bytes(
            [
                self.binary,
                "--policy",
                str(self.policy),
                "inspect",
                "--raw",
                "--tls-verify=false",
                ref,
            ]
        )

    def inspect(self, ref: str, *extra: str) -> dict[str, object]:
        """``skopeo inspect`` parsed: Digest, Layers, Architecture..."""
        out = self.run("inspect", "--tls-verify=false", *extra, ref).stdout
        result: dict[str, object] = json.loads(out)
        return result

    def list_tags(self, repo_ref: str) -> list[str]:
        out = self.run("list-tags", "--tls-verify=false", repo_ref).stdout
        tags: list[str] = json.loads(out)["Tags"] or []
        return tags


class Podman:
    """``podman`` (run as root) with its own vfs storage, run root and trust policy.

    ``--events-backend none`` and ``--cgroup-manager cgroupfs``: there is no systemd/journald
    in CI containers, and pull/push need neither.
    """

    def __init__(self, base: Path) -> None:
        self.binary = find_tool("podman")
        self.base = base
        self.policy = write_policy(base / "policy.json")
        for name in ("root", "run", "tmp"):
            (base / name).mkdir(parents=True, exist_ok=True)
        self.global_args = [
            f"--root={base / 'root'}",
            f"--runroot={base / 'run'}",
            f"--tmpdir={base / 'tmp'}",
            "--storage-driver=vfs",
            "--events-backend=none",
            "--cgroup-manager=cgroupfs",
        ]

    def run(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run([self.binary, *self.global_args, *args], timeout=timeout, check=check)

    def pull(self, ref: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run(
            "pull", "--tls-verify=false", f"--signature-policy={self.policy}", *extra, ref
        )

    def push(self, ref: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run(
            "push", "--tls-verify=false", f"--signature-policy={self.policy}", *extra, ref
        )

    def cleanup(self) -> None:
        """Drop the private storage (vfs mounts nothing, so removing the tree is enough)."""
        shutil.rmtree(self.base, ignore_errors=True)
