"""Preflight checks for the external programs, and the machine facts recorded with results."""

import os
import platform
import shutil
import subprocess
from pathlib import Path

from common import BenchError

# program -> Debian package that provides it
PACKAGES = {"skopeo": "skopeo", "docker-registry": "docker-registry", "wrk": "wrk"}


def check_tools(programs: list[str]) -> None:
    """Fail with the Debian packages to install if any program is missing (installs nothing)."""
    missing = sorted({PACKAGES[p] for p in programs if shutil.which(p) is None})
    if missing:
        names = " ".join(missing)
        raise BenchError(
            f"missing Debian package(s): {names}. Install them with: "
            f"apt-get install -y --no-install-recommends {names}"
        )


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def machine_facts() -> dict[str, object]:
    """CPU, memory, kernel and tool versions of this machine."""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total_mb": _mem_total_mb(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "skopeo": _first_line(["skopeo", "--version"]),
        "docker-registry": _first_line(["docker-registry", "--version"]),
        "wrk": _first_line(["wrk", "-v"]),
    }
