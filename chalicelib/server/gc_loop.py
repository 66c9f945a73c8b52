"""`soute serve --gc-every`: the lifecycle garbage collector, run whole at an interval by one
thread of gunicorn's arbiter (the master process), never by the workers.

gunicorn serves with several worker processes; a collector in each would run the same work
once per worker against the same storage. The arbiter is one per server, starts the thread once
when it is ready to serve (its `when_ready` hook) and stops it when it exits (`on_exit`, after
SIGTERM or SIGINT has stopped the workers). A run cut short there is safe: every step of the
collector is one conditional transition (lifecycle/gc.py, "crash").

The arbiter forks workers while the thread may be running: the thread uses storage of its own,
opened in the thread (an SQLite connection per thread and process; boto3 clients per process,
storage/aws/clients.py), so a worker never inherits a connection the thread was using.

Each run logs one line: its totals, or why it failed; a failed run is retried at the next
interval, not sooner.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from .backends import BackendOptions, build_collector

if TYPE_CHECKING:
    from ..lifecycle.gc import GarbageCollector

log = logging.getLogger("soute.gc")

STOP_WAIT = 10.0  # seconds the arbiter waits for a run in progress when it exits


class GcLoop:
    """Runs the collector every `every` seconds (the first run one interval after start)."""

    def __init__(self, options: BackendOptions, every: float, grace: float) -> None:
        if every <= 0:
            raise ValueError("the interval between GC runs is more than 0 seconds")
        self.options, self.every, self.grace = options, every, grace
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._collector: GarbageCollector | None = None

    def start(self) -> None:
        """Start the thread, once."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="soute-gc", daemon=True)
        self._thread.start()
        log.info("garbage collection every %gs (grace %gs)", self.every, self.grace)

    def stop(self, wait: float = STOP_WAIT) -> None:
        """Ask the thread to stop, and wait for a run in progress up to `wait` seconds."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(wait)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.wait(self.every):
            self.run_once()

    def run_once(self) -> bool:
        """One whole run and its log line; whether it succeeded."""
        started = time.monotonic()
        try:
            if self._collector is None:
                self._collector = build_collector(self.options)
            totals = self._collector.run(self.grace)
        except Exception as error:  # noqa: BLE001 - one line; the next interval tries again
            log.error("gc run failed: %s: %s", type(error).__name__, error)
            return False
        log.info("gc run: %s in %.1fs", totals.describe(), time.monotonic() - started)
        return True
