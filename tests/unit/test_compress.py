"""Compressing Docker layers for `soute push`: valid gzip / zstd, the same bytes every time
(whatever the number of threads), a truncated or corrupt layer refused in one line."""

from __future__ import annotations

import gzip
import hashlib
import random
from pathlib import Path

import pytest
import zstandard

from chalicelib.client.errors import UsageError
from chalicelib.client.mediatypes import DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR, DOCKER_LAYER_ZSTD
from chalicelib.client.model import Blob, FileRange
from chalicelib.client.sources.compress import BLOCK, GZIP, NONE, ZSTD, compress_layer

pytestmark = pytest.mark.timeout(60)


def _layer(tmp_path: Path, data: bytes, digest: str | None = None) -> Blob:
    path = tmp_path / "layer.tar"
    path.write_bytes(data)
    digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
    return Blob(digest, len(data), DOCKER_LAYER_TAR, FileRange(path, 0, len(data)))


def _mixed(size: int, seed: int = 11) -> bytes:
    """Text-like and random runs: something like a rootfs tar, reproducibly."""
    rng = random.Random(seed)
    parts, total = [], 0
    while total < size:
        if rng.random() < 0.5:
            part = " ".join(rng.choice(("lib", "usr", "bin", "share", "x86_64")) for _ in range(99))
            part_bytes = part.encode()
        else:
            part_bytes = rng.randbytes(rng.randrange(1000, 60_000))
        parts.append(part_bytes)
        total += len(part_bytes)
    return b"".join(parts)[:size]


def _decompress(algorithm: str, data: bytes) -> bytes:
    if algorithm == GZIP:
        return gzip.decompress(data)  # reads every member, as Go's gzip reader does
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    return bytes(reader.read())


@pytest.mark.parametrize("algorithm", [GZIP, ZSTD])
def test_a_layer_of_several_blocks_decompresses_to_itself(tmp_path: Path, algorithm: str) -> None:
    data = _mixed(2 * BLOCK[algorithm] + 12_345)
    blob = compress_layer(_layer(tmp_path, data), algorithm, tmp_path, workers=2)
    assert blob.data is not None
    compressed = blob.data.path.read_bytes()
    assert blob.size == len(compressed) < len(data)
    assert blob.digest == "sha256:" + hashlib.sha256(compressed).hexdigest()
    assert blob.media_type == {GZIP: DOCKER_LAYER_GZIP, ZSTD: DOCKER_LAYER_ZSTD}[algorithm]
    assert _decompress(algorithm, compressed) == data


@pytest.mark.parametrize("algorithm", [GZIP, ZSTD])
def test_the_same_layer_gives_the_same_bytes_whatever_the_threads(
    tmp_path: Path, algorithm: str
) -> None:
    data = _mixed(3 * BLOCK[algorithm] + 1)
    layer = _layer(tmp_path, data)
    digests = set()
    for workers in (1, 2, 5):
        spool = tmp_path / f"spool-{workers}"
        spool.mkdir()
        digests.add(compress_layer(layer, algorithm, spool, workers=workers).digest)
    assert len(digests) == 1


def test_each_gzip_member_has_no_name_and_no_time(tmp_path: Path) -> None:
    data = _mixed(BLOCK[GZIP] + 100)
    blob = compress_layer(_layer(tmp_path, data), GZIP, tmp_path, workers=2)
    assert blob.data is not None
    compressed = blob.data.path.read_bytes()
    members = compressed.count(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
    assert compressed.startswith(b"\x1f\x8b\x08\x00\x00\x00\x00\x00") and members >= 2


@pytest.mark.parametrize("algorithm", [GZIP, ZSTD])
def test_an_empty_layer_is_one_valid_empty_stream(tmp_path: Path, algorithm: str) -> None:
    blob = compress_layer(_layer(tmp_path, b""), algorithm, tmp_path)
    assert blob.data is not None
    assert _decompress(algorithm, blob.data.path.read_bytes()) == b""


def test_compressed_layers_and_none_are_left_as_they_are(tmp_path: Path) -> None:
    layer = _layer(tmp_path, b"x" * 100)
    assert compress_layer(layer, NONE, tmp_path) is layer
    gzipped = Blob(layer.digest, layer.size, DOCKER_LAYER_GZIP, layer.data)
    assert compress_layer(gzipped, ZSTD, tmp_path) is gzipped


def test_a_truncated_layer_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "layer.tar"
    path.write_bytes(b"x" * 1000)
    layer = Blob("sha256:" + "0" * 64, 5000, DOCKER_LAYER_TAR, FileRange(path, 0, 5000))
    with pytest.raises(UsageError, match="truncated"):
        compress_layer(layer, GZIP, tmp_path)


def test_a_layer_that_is_not_its_diff_id_is_refused(tmp_path: Path) -> None:
    layer = _layer(tmp_path, b"some tar" * 1000, digest="sha256:" + "1" * 64)
    with pytest.raises(UsageError, match="does not hash to its digest"):
        compress_layer(layer, ZSTD, tmp_path)
    assert not list(tmp_path.glob("*.tar.zst"))


# What this checkout's libraries make of a known layer. Another machine (or CI) that computes
# other bytes would push other blobs of the same layers: dedup and mounts across machines would
# be lost. If a change of isal/zstandard version, level or block size moves these on purpose,
# say so in docs/push.md ("The same bytes everywhere") and update them.
KNOWN = {
    GZIP: "sha256:3677b6e4f9d525954649a9d94f7e35e9c37d3f27dbccb6c34e2ad2ff5920c517",
    ZSTD: "sha256:21dcb49dd6c1d8607ea73aff59fb2dbcdc4720c5390a86d12013831e787d4586",
}


@pytest.mark.parametrize("algorithm", [GZIP, ZSTD])
def test_a_known_layer_compresses_to_known_bytes(tmp_path: Path, algorithm: str) -> None:
    data = _mixed(BLOCK[algorithm] + 777, seed=5)
    assert compress_layer(_layer(tmp_path, data), algorithm, tmp_path).digest == KNOWN[algorithm]
