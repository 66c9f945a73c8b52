"""What a source hands to the pusher: manifests in push order, each with the blobs it needs.

A blob's bytes are a byte range of a file on disk (a layout's blob file, a member of a tar), or
come from a fetcher that writes them to disk first (a blob of another registry), so no layer is
ever held in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .errors import UsageError


@dataclass(frozen=True)
class FileRange:
    """`size` bytes of `path` starting at `offset`."""

    path: Path
    offset: int
    size: int

    def open_at(self, start: int) -> BinaryIO:
        """The file, positioned at byte `start` of the range."""
        handle = open(self.path, "rb")  # noqa: SIM115 (the caller closes it)
        handle.seek(self.offset + start)
        return handle

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The range's bytes, `size` at a time; UsageError if the file ends before it does."""
        with self.open_at(0) as handle:
            left = self.size
            while left:
                chunk = handle.read(min(left, size))
                if not chunk:
                    raise UsageError(f"{self.path} is truncated")
                left -= len(chunk)
                yield chunk


@dataclass
class Blob:
    """One blob to push: its descriptor, and where its bytes are (or how to get them)."""

    digest: str
    size: int
    media_type: str
    data: FileRange | None = None
    fetch: Callable[[], FileRange] | None = None

    def bytes_on_disk(self) -> FileRange:
        """Where the bytes are, fetching them first if they are remote."""
        if self.data is None:
            if self.fetch is None:
                raise RuntimeError(f"blob {self.digest} has no data")
            self.data = self.fetch()
        return self.data


@dataclass(frozen=True)
class Manifest:
    """A manifest (or index) to push, and the blobs that must be in the repository first."""

    media_type: str
    data: bytes
    blobs: list[Blob] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()


@dataclass
class Image:
    """Everything to push; the last manifest is the one the tag names.

    `mount_from` names a repository on the destination registry that may hold the blobs (the
    source repository, when it is on the same registry).
    """

    manifests: list[Manifest]
    mount_from: str | None = None
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def top(self) -> Manifest:
        return self.manifests[-1]

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()


def media_type_of(data: bytes) -> str | None:
    """The `mediaType` a manifest declares, if any."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    value = doc.get("mediaType") if isinstance(doc, dict) else None
    return str(value) if value else None


@dataclass
class Upload:
    """One direct upload in progress, as the registry describes it."""

    upload_id: str
    part_size: int
    part_count: int
    received: dict[int, str]

    def part_length(self, number: int, blob_size: int) -> int:
        """The bytes of part `number` of a blob of `blob_size` bytes (the last may be short)."""
        return min(self.part_size, blob_size - (number - 1) * self.part_size)
