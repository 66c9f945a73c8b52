"""Compress an uncompressed Docker layer into a spool file before it is pushed, on every core.

`docker save` layers are plain tars; pushed as they are, every pull downloads them whole
(egress is a registry's main cost). So `soute push` compresses them by default: gzip (every
client reads it) or zstd (`--compression zstd`), with ISA-L (`isal`) and `zstandard`, which
release the GIL, so a thread pool uses every core.

The layer is cut into blocks of a fixed size; each block becomes an independent gzip member
(RFC 1952 allows several; Go's gzip reader, used by docker, containerd and podman, reads them
all) or zstd frame (RFC 8878 likewise), and they are written in order. The output depends only
on the input, the block size and the level (never on the number of cores, no file name, mtime
0), so the same layer compressed again, or on another machine with the same library versions,
has the same digest: a resumed push finds its upload, and mounts and dedup keep working.

Memory stays bounded: at most two blocks more than workers are in flight (16 workers at most,
so about 50 MiB on 2 cores and 220 MiB at most); the output goes to disk (the upload needs its
digest and size before it starts), hashed as it is written. The input is hashed too, and must
be the layer's digest (its diff_id): a `docker save` tar whose layer does not match its config
is refused here rather than pulled broken.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..mediatypes import DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR, DOCKER_LAYER_ZSTD
from ..model import Blob, FileRange

if TYPE_CHECKING:
    from concurrent.futures import Future

GZIP, ZSTD, NONE = "gzip", "zstd", "none"
COMPRESSIONS = (GZIP, ZSTD, NONE)

GZIP_LEVEL = 1  # ISA-L's 0-3; level 3 differs on AVX-512 CPUs (docs/benchmarks.md, push.md)
ZSTD_LEVEL = 3  # zstd's default
BLOCK = {GZIP: 4 << 20, ZSTD: 8 << 20}  # part of the output format: never change silently
MAX_WORKERS = 16  # so at most 18 blocks (and their outputs) are in memory on a big machine

# A gzip member header: deflate, no flags, mtime 0, no extra flags, OS "unknown".
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_MEDIA_TYPES = {GZIP: DOCKER_LAYER_GZIP, ZSTD: DOCKER_LAYER_ZSTD}
_SUFFIXES = {GZIP: ".tar.gz", ZSTD: ".tar.zst"}


def gzip_member(block: bytes, level: int = GZIP_LEVEL) -> bytes:
    """`block` as one complete gzip member (header, raw deflate, CRC-32, size)."""
    from isal import isal_zlib  # client-only dependency: imported when a push compresses

    deflater = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15)
    body = deflater.compress(block) + deflater.flush()
    trailer = struct.pack("<II", isal_zlib.crc32(block) & 0xFFFFFFFF, len(block) & 0xFFFFFFFF)
    return _GZIP_HEADER + body + trailer


_zstd_local = threading.local()


def zstd_frame(block: bytes, level: int = ZSTD_LEVEL) -> bytes:
    """`block` as one complete zstd frame (with its content size and checksum)."""
    import zstandard  # client-only dependency: imported when a push compresses

    compressor = getattr(_zstd_local, "compressor", None)  # one per thread: not thread-safe
    if compressor is None:
        compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        _zstd_local.compressor = compressor
    return bytes(compressor.compress(block))


_COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {GZIP: gzip_member, ZSTD: zstd_frame}


def compressed_blocks(
    blocks: Iterable[bytes], algorithm: str, workers: int | None = None
) -> Iterator[bytes]:
    """Each block compressed on its own, in order, `workers` at a time (default: every core,
    up to MAX_WORKERS)."""
    from concurrent.futures import ThreadPoolExecutor  # here: `soute serve` imports this module

    compress = _COMPRESSORS[algorithm]
    workers = workers or min(_cores(), MAX_WORKERS)
    pending: deque[Future[bytes]] = deque()
    sent = False
    with ThreadPoolExecutor(workers, thread_name_prefix="soute-compress") as pool:
        try:
            for block in blocks:
                sent = True
                pending.append(pool.submit(compress, block))
                if len(pending) >= workers + 2:  # every worker busy, memory bounded
                    yield pending.popleft().result()
            if not sent:  # an empty input is still one valid (empty) member or frame
                pending.append(pool.submit(compress, b""))
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _cores() -> int:
    """The CPUs this process may run on (taskset, a container's cpuset), else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Sink:
    """The spool file, with the sha256 and size of what was written."""

    def __init__(self, path: Path) -> None:
        self.handle = open(path, "wb")  # noqa: SIM115 (closed in close())
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.handle.write(data)

    def close(self) -> None:
        self.handle.close()


def _hashed(chunks: Iterable[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def compress_layer(layer: Blob, algorithm: str, spool: Path, workers: int | None = None) -> Blob:
    """A compressed copy of an uncompressed Docker layer; other layers are returned as they are."""
    if algorithm == NONE or layer.media_type != DOCKER_LAYER_TAR:
        return layer
    source = layer.bytes_on_disk()
    target = spool / (layer.digest.replace(":", "-") + _SUFFIXES[algorithm])
    read = hashlib.sha256()
    out = _Sink(target)
    try:
        chunks = _hashed(source.chunks(BLOCK[algorithm]), read)  # truncated: UsageError
        for member in compressed_blocks(chunks, algorithm, workers):
            out.write(member)
    finally:
        out.close()
    if "sha256:" + read.hexdigest() != layer.digest:
        target.unlink(missing_ok=True)
        raise UsageError(
            f"{source.path}: the layer {layer.digest} does not hash to its digest (the image's "
            "diff_id): the image is corrupt; export it again (docker save)"
        )
    digest = "sha256:" + out.digest.hexdigest()
    return Blob(digest, out.size, _MEDIA_TYPES[algorithm], FileRange(target, 0, out.size))
