"""Progress of a long listing: a one-line counter on standard error, only on a terminal (a
script reading stdout, or a log, sees nothing of it)."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class Counter:
    """`with Counter("tags of HOST/REPO", shown) as count: count.add(n)`."""

    def __init__(self, label: str, shown: bool) -> None:
        self.label = label
        self.total = 0
        self._status: Any = None
        self._shown = shown

    def __enter__(self) -> Counter:
        if self._shown:
            from rich.console import Console

            self._status = Console(stderr=True).status(self._text())
            self._status.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._status is not None:
            self._status.stop()

    def add(self, count: int) -> None:
        self.total += count
        if self._status is not None:
            self._status.update(self._text())

    def _text(self) -> str:
        return f"{self.label}: {self.total}"


def shows_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()
