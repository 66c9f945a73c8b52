"""How busy the machine is with work that is not the benchmark's (other users, builds).

Before each measured step the benchmark waits (a bounded time) for the machine to be quiet,
and during the step it measures how much CPU went to processes other than the server under
test, the benchmark and its clients; both numbers are recorded with every measurement.
"""

import os
import resource
import time
from pathlib import Path
from types import TracebackType

from rss import process_tree

QUIET_PCT = 25.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from the first line of /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # up to steal; guest time is already counted in user
    return total - idle, total


def cpu_busy_pct(seconds: float = 0.3) -> float:
    """Percent of all CPUs busy over the next `seconds` (while the benchmark itself is idle)."""
    busy0, total0 = _cpu_times()
    time.sleep(seconds)
    busy1, total1 = _cpu_times()
    return 100.0 * (busy1 - busy0) / max(1, total1 - total0)


def wait_for_quiet(max_wait: float, threshold: float = QUIET_PCT) -> float:
    """Wait (up to max_wait seconds) until the machine is under `threshold`% busy; return it."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy_pct()
    while busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy_pct(1.0)
    return busy


def _tree_jiffies(pid: int) -> int:
    """CPU time of a process tree, including reaped children of its processes."""
    total = 0
    for p in process_tree(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total


def _own_jiffies() -> float:
    """CPU time of this process and its reaped children (skopeo, wrk)."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = mine.ru_utime + mine.ru_stime + kids.ru_utime + kids.ru_stime
    return seconds * CLOCK_TICKS


class OtherCpu:
    """Context manager: percent of all CPUs used by anything but the server and the benchmark."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.pct = 0.0
        self._start = (0, 0, 0, 0.0)

    def _snapshot(self) -> tuple[int, int, int, float]:
        busy, total = _cpu_times()
        return busy, total, _tree_jiffies(self.server_pid), _own_jiffies()

    def __enter__(self) -> "OtherCpu":
        self._start = self._snapshot()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        end = self._snapshot()
        busy, total, server, own = (e - s for e, s in zip(end, self._start, strict=True))
        self.pct = max(0.0, 100.0 * (busy - server - own) / max(1, total))
