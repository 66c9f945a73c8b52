"""The `FailureCounter` port: failed logins counted per key (`account:<name>`,
`source:<address>`) in a sliding window, shared by every process that uses the same adapter;
and, per account, the few sources that logged in to it successfully of late (a source that
proved the password once is let through when the account is locked by others' guesses).

Times are wall-clock seconds (time.time()): gunicorn workers and Lambda instances share no
monotonic clock. A failure recorded at `at` counts while `now - window < at`; there is no upper
bound, so an instance whose clock runs behind still sees failures another recorded "later".
An adapter may round times into buckets, but only ever to count a failure for longer (at most
a bucket more), never for less.
"""

from __future__ import annotations

from typing import Protocol

KNOWN_SOURCES = 16  # the most recent successful sources kept per account; older ones drop out


class CounterUnavailable(Exception):
    """The shared counter could not be read or written (its database failed). Callers must not
    treat this as "no failures": a guesser who can provoke the error would get unlimited
    tries."""


class FailureCounter(Protocol):
    def add_failure(self, key: str, now: float, window: float) -> None:
        """Record one failure for `key` at `now`, kept at least `window` seconds."""
        ...

    def failures(self, key: str, now: float, window: float) -> int:
        """How many failures of `key` fall in the `window` seconds before `now`."""
        ...

    def release(self, key: str, at: float, window: float) -> None:
        """Undo one `add_failure(key, at, window)`: an attempt counted before it was checked
        (see LoginThrottle.admit) that turned out not to be a failure."""
        ...

    def clear(self, key: str) -> None:
        """Forget every failure of `key` (not the sources it succeeded from)."""
        ...

    def add_success(self, key: str, source: str, now: float, keep: float) -> None:
        """Remember that `source` logged in to `key` at `now`, for `keep` seconds. Each key
        keeps at most KNOWN_SOURCES sources, the most recent ones."""
        ...

    def succeeded_from(self, key: str, source: str, now: float) -> bool:
        """Whether `source` logged in to `key` successfully, less than its `keep` ago."""
        ...
