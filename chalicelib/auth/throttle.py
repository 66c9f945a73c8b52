"""Failed-login throttling per account and per source address: after `limit` failures within
`window` seconds, further attempts are refused until the window passes, without even checking
the password (so a guesser learns nothing and costs us no scrypt work).

In memory, per process: on Lambda each warm instance throttles on its own, which bounds a
guesser per instance; a shared counter (DynamoDB) is a later step.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginThrottle:
    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, account: str, source: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            return any(len(self._recent(key, now)) >= self.limit for key in _keys(account, source))

    def failed(self, account: str, source: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in _keys(account, source):
                self._recent(key, now).append(now)

    def succeeded(self, account: str, source: str) -> None:
        with self._lock:
            self._failures.pop(f"account:{account}", None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


def _keys(account: str, source: str) -> tuple[str, ...]:
    # An unknown source (no address from the front end) must not become one shared bucket
    # that a single guesser could fill to lock everyone out.
    return (f"account:{account}", f"source:{source}") if source else (f"account:{account}",)
