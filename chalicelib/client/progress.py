"""Progress: a rich bar per blob (bytes sent), or nothing when output is not a terminal."""

from __future__ import annotations

import sys
import threading
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class Tracker(Protocol):
    """What the uploaders report to."""

    def start(self, digest: str, size: int) -> None: ...
    def advance(self, digest: str, sent: int) -> None: ...
    def finish(self, digest: str, note: str) -> None: ...


class Silent:
    """Reports nothing."""

    def start(self, digest: str, size: int) -> None:
        pass

    def advance(self, digest: str, sent: int) -> None:
        pass

    def finish(self, digest: str, note: str) -> None:
        pass


class Bars:
    """One rich progress bar per blob, on standard error."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.tasks: dict[str, TaskID] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, digest: str, size: int) -> None:
        with self.lock:
            if digest not in self.tasks:
                label = digest.removeprefix("sha256:")[:12]
                self.tasks[digest] = self.progress.add_task(label, total=size)

    def advance(self, digest: str, sent: int) -> None:
        self.progress.advance(self.tasks[digest], sent)

    def finish(self, digest: str, note: str) -> None:
        task = self.tasks[digest]
        label = digest.removeprefix("sha256:")[:12]
        self.progress.update(
            task, completed=self.progress.tasks[task].total, description=f"{label} {note}"
        )


def wants_bars(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()
