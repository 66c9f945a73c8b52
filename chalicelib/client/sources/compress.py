"""`--compress`: gzip an uncompressed layer into a spool file before it is pushed.

The output is deterministic (no file name, mtime 0, level 6), so the same layer compressed
again on a later run has the same digest, and an interrupted push resumes.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from ..mediatypes import DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR
from ..model import Blob, FileRange


class _HashingFile:
    def __init__(self, path: Path) -> None:
        self.handle = open(path, "wb")  # noqa: SIM115 (closed in close())
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def gzip_layer(layer: Blob, spool: Path) -> Blob:
    """A gzip'd copy of an uncompressed layer; other layers are returned as they are."""
    if layer.media_type != DOCKER_LAYER_TAR:
        return layer
    source = layer.bytes_on_disk()
    target = spool / (layer.digest.replace(":", "-") + ".tar.gz")
    out = _HashingFile(target)
    try:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=out, mtime=0) as zipped:
            for chunk in source.chunks():  # a truncated source raises instead of looping
                zipped.write(chunk)
    finally:
        out.close()
    digest = "sha256:" + out.digest.hexdigest()
    return Blob(digest, out.size, DOCKER_LAYER_GZIP, FileRange(target, 0, out.size))
