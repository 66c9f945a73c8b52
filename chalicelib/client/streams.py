"""Request bodies read from disk a piece at a time, reporting progress as they go."""

from __future__ import annotations

from collections.abc import Callable

from .model import FileRange


class RangeReader:
    """A file-like body of `length` bytes of `data` from `start`; `requests` streams it and
    sends `Content-Length` (it has `__len__`)."""

    def __init__(
        self, data: FileRange, start: int, length: int, sent: Callable[[int], None]
    ) -> None:
        self.handle = data.open_at(start)
        self.left = length
        self.length = length
        self.sent = sent

    def __len__(self) -> int:
        return self.left

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            self.handle.close()
            return b""
        size = self.left if size < 0 else min(size, self.left)
        chunk = self.handle.read(max(size, 0))
        if not chunk:
            self.handle.close()
            raise OSError(f"{self.handle.name} ended early")
        self.left -= len(chunk)
        self.sent(len(chunk))
        return chunk

    def close(self) -> None:
        self.handle.close()
