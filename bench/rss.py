"""Memory of a server's whole process tree (master + workers), read from /proc.

RSS summed over the tree counts pages shared by forked workers once per process (it is what
the target is stated in); PSS (proportional set size) splits shared pages between the
processes that share them, so its sum is the memory the tree really holds.
"""

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

INTERVAL_S = 0.05


def children(pid: int) -> list[int]:
    """Direct children of `pid` (every thread's children list)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children(current)
    return tree


def _field_kb(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def status_kb(pid: int, field: str) -> int:
    """A kB field of /proc/PID/status (VmRSS, VmHWM), 0 if the process is gone."""
    return _field_kb(f"/proc/{pid}/status", field)


def pss_kb(pid: int) -> int:
    """Proportional set size of one process, 0 if the process is gone."""
    return _field_kb(f"/proc/{pid}/smaps_rollup", "Pss")


def reset_peaks(pid: int) -> None:
    """Reset VmHWM of every process in the tree (clear_refs 5), so peaks start now."""
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            Path(f"/proc/{p}/clear_refs").write_text("5")


@dataclass
class MemoryPeak:
    """Peak memory of a process tree while a PeakSampler was running, in MB."""

    rss_mb: float = 0.0  # max over samples of the summed RSS, or the main VmHWM if higher
    pss_mb: float = 0.0  # max over samples of the summed PSS
    main_hwm_mb: float = 0.0  # VmHWM of the main process alone (exact, never missed)
    samples: int = 0
    max_processes: int = 0


class PeakSampler:
    """Context manager sampling a process tree's RSS and PSS every INTERVAL_S seconds."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = MemoryPeak()
        self._rss_kb = self._pss_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakSampler":
        reset_peaks(self.pid)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        hwm_kb = status_kb(self.pid, "VmHWM")
        self.peak.main_hwm_mb = hwm_kb / 1024
        self.peak.rss_mb = max(self._rss_kb, hwm_kb) / 1024
        self.peak.pss_mb = self._pss_kb / 1024

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._sample()
            self._stop.wait(max(0.0, INTERVAL_S - (time.monotonic() - started)))

    def _sample(self) -> None:
        tree = process_tree(self.pid)
        self._rss_kb = max(self._rss_kb, sum(status_kb(p, "VmRSS") for p in tree))
        self._pss_kb = max(self._pss_kb, sum(pss_kb(p) for p in tree))
        self.peak.samples += 1
        self.peak.max_processes = max(self.peak.max_processes, len(tree))
