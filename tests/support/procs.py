"""Small helpers shared by the test support modules: run commands, stop daemons."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

INSTALL_HINT = "install the real-client tools with `sudo scripts/install-test-tools.sh`"


class ToolMissing(RuntimeError):
    """A program the real-client tests need is not installed."""


def find_tool(name: str, preferred: Sequence[str] = ()) -> str:
    """The path of program ``name``: the first existing ``preferred`` path, else ``$PATH``."""
    for candidate in preferred:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not found:
        raise ToolMissing(f"`{name}` is not installed (not on PATH); {INSTALL_HINT}")
    return found


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file (empty if it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output, and raise with all of it if it fails."""
    full_env = {**os.environ, **env} if env else None
    try:
        proc = subprocess.run(
            list(args),
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"timed out after {timeout}s: {' '.join(args)}\n"
            f"stdout:\n{exc.stdout!r}\nstderr:\n{exc.stderr!r}"
        ) from exc
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed with exit status {proc.returncode}: {' '.join(args)}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def run_bytes(args: Sequence[str], *, timeout: float = 300) -> bytes:
    """Run a command and return its exact standard output; raise if it fails."""
    try:
        proc = subprocess.run(list(args), capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"timed out after {timeout}s: {' '.join(args)}") from exc
    if proc.returncode != 0:
        raise AssertionError(
            f"command failed with exit status {proc.returncode}: {' '.join(args)}\n"
            f"stderr:\n{proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM a daemon started with ``start_new_session=True``; SIGKILL its group if it lingers.

    Only the process group that the tests created is signalled.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Children (dockerd's containerd, gunicorn workers...) share the group; kill what is left.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
