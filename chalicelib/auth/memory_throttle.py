"""FailureCounter in this process's memory: exact sliding windows, shared by nothing. The
default when no shared counter is configured, and the reference the other adapters are tested
against. Successful sources are kept only for accounts that logged in (a guesser adds none),
at most KNOWN_SOURCES each."""

from __future__ import annotations

import threading
from collections import deque

from .throttle_ports import KNOWN_SOURCES

SWEEP_FLOOR = 1024  # keys held before the first sweep of keys nobody asks about any more


class MemoryFailureCounter:
    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._sweep_at = SWEEP_FLOOR
        self._known: dict[str, dict[str, float]] = {}  # key -> source -> kept until

    def __len__(self) -> int:
        """How many keys hold failures (expired ones may linger until the next sweep)."""
        return len(self._failures)

    def add_failure(self, key: str, now: float, window: float) -> None:
        with self._lock:
            self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) >= self._sweep_at:
                self._sweep(now, window)

    def failures(self, key: str, now: float, window: float) -> int:
        with self._lock:
            return self._recent(key, now - window)

    def release(self, key: str, at: float, window: float) -> None:
        with self._lock:
            times = self._failures.get(key)
            if times is not None and at in times:
                times.remove(at)

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def add_success(self, key: str, source: str, now: float, keep: float) -> None:
        with self._lock:
            sources = self._known.setdefault(key, {})
            sources.pop(source, None)  # re-inserted last: the dict is oldest first
            sources[source] = now + keep
            for stale in [name for name, until in sources.items() if until <= now]:
                del sources[stale]
            while len(sources) > KNOWN_SOURCES:
                del sources[next(iter(sources))]

    def succeeded_from(self, key: str, source: str, now: float) -> bool:
        with self._lock:
            return self._known.get(key, {}).get(source, now) > now

    def _recent(self, key: str, cutoff: float) -> int:
        times = self._failures.get(key)
        if times is None:
            return 0
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[key]
        return len(times)

    def _sweep(self, now: float, window: float) -> None:
        # A guesser cycling through account names leaves keys that are never asked about
        # again; dropping the expired ones, at doubling sizes, keeps memory bounded by the
        # keys of one window at amortised constant cost.
        for key in list(self._failures):
            self._recent(key, now - window)
        self._sweep_at = max(SWEEP_FLOOR, 2 * len(self._failures))
