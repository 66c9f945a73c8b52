"""Benchmark test images: OCI image layouts of incompressible random data, built offline.

Each layer is a gzip'd tar holding one file of random bytes, so neither the registry nor the
transport can compress it away. Images are generated once into a cache directory and reused.
"""

import hashlib
import json
import math
import os
import secrets
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CACHE_DIR = Path(os.environ.get("SOUTE_BENCH_CACHE", "/tmp/soute-bench-cache"))
LAYOUT_FORMAT = "v1"  # bump when the way images are built changes
TAG = "bench"
MIB = 1 << 20
MAX_LAYER_MB = 100

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Image:
    """An OCI image layout on disk, with the facts the benchmark needs about it."""

    path: Path
    tag: str
    manifest_digest: str
    layer_sizes: tuple[int, ...]  # compressed bytes of each layer
    label: str

    @property
    def total_bytes(self) -> int:
        return sum(self.layer_sizes)


class _GzipSink:
    """Write-only file object: gzips what it is given into `out`, hashing both sides."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.diff_id = hashlib.sha256()
        self.digest = hashlib.sha256()
        self.size = 0
        self._z = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: gzip framing, mtime 0

    def write(self, data: bytes) -> int:
        self.diff_id.update(data)
        self._emit(self._z.compress(data))
        return len(data)

    def finish(self) -> None:
        self._emit(self._z.flush())

    def _emit(self, data: bytes) -> None:
        self.digest.update(data)
        self.out.write(data)
        self.size += len(data)


class _RandomReader:
    """Read-only file object of endless random bytes."""

    def read(self, n: int = MIB) -> bytes:
        return os.urandom(n)


def layer_plan(size_mb: int) -> list[int]:
    """Uncompressed layer sizes in bytes: at least two layers, none above MAX_LAYER_MB."""
    count = max(2, math.ceil(size_mb / MAX_LAYER_MB))
    each = size_mb * MIB // count
    return [each] * (count - 1) + [size_mb * MIB - each * (count - 1)]


def _write_blob_file(layout: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest[7:]).write_bytes(data)
    return digest, len(data)


def _write_layer(layout: Path, payload_bytes: int) -> tuple[str, int, str]:
    """Write one random layer; return (digest, compressed size, diff_id)."""
    tmp = layout / "blobs" / "layer.tmp"
    with tmp.open("wb") as out:
        sink = _GzipSink(out)
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("data.bin")
            info.size, info.mode, info.mtime = payload_bytes, 0o644, 0
            tar.addfile(info, _RandomReader())
        sink.finish()
    digest = "sha256:" + sink.digest.hexdigest()
    tmp.rename(layout / "blobs" / "sha256" / digest[7:])
    return digest, sink.size, "sha256:" + sink.diff_id.hexdigest()


def _config(diff_ids: list[str]) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"soute.bench.nonce": secrets.token_hex(16)}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    return json.dumps(config, sort_keys=True).encode()


def _write_manifest(layout: Path, config: bytes, layers: list[tuple[str, int]]) -> None:
    config_digest, config_size = _write_blob_file(layout, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": LAYER_TYPE, "digest": d, "size": s} for d, s in layers],
    }
    digest, size = _write_blob_file(layout, json.dumps(manifest, sort_keys=True).encode())
    ref = {"org.opencontainers.image.ref.name": TAG}
    desc = {"mediaType": MANIFEST_TYPE, "digest": digest, "size": size, "annotations": ref}
    index = {"schemaVersion": 2, "manifests": [desc]}
    (layout / "index.json").write_text(json.dumps(index))


def build_layout(path: Path, payload_sizes: list[int]) -> None:
    """Build an OCI image layout at `path` (atomically: in a sibling dir, then renamed)."""
    tmp = path.with_name(path.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "blobs" / "sha256").mkdir(parents=True)
    (tmp / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    written = [_write_layer(tmp, size) for size in payload_sizes]
    _write_manifest(tmp, _config([w[2] for w in written]), [(w[0], w[1]) for w in written])
    tmp.rename(path)


def load_layout(path: Path, label: str) -> Image:
    """Read back the facts of a layout written by build_layout."""
    desc = json.loads((path / "index.json").read_text())["manifests"][0]
    manifest = json.loads((path / "blobs" / "sha256" / desc["digest"][7:]).read_bytes())
    sizes = tuple(layer["size"] for layer in manifest["layers"])
    return Image(path=path, tag=TAG, manifest_digest=desc["digest"], layer_sizes=sizes, label=label)


def _cached(name: str, payload_sizes: list[int], label: str, cache_dir: Path) -> Image:
    path = cache_dir / f"{LAYOUT_FORMAT}-{name}"
    if not (path / "index.json").exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        build_layout(path, payload_sizes)
    return load_layout(path, label)


def ensure_image(size_mb: int, cache_dir: Path = CACHE_DIR) -> Image:
    """The cached random image of about `size_mb` MB, built on first use."""
    return _cached(f"{size_mb}mb", layer_plan(size_mb), f"{size_mb} MB", cache_dir)


def ensure_warmup_image(cache_dir: Path = CACHE_DIR) -> Image:
    """A tiny two-layer image pushed and pulled untimed to warm each fresh server up."""
    return _cached("warmup", [4096, 4096], "warm-up", cache_dir)


def prewarm_page_cache(image: Image) -> None:
    """Read every file of the layout once so neither registry pays for a cold page cache."""
    for blob in (image.path / "blobs" / "sha256").iterdir():
        with blob.open("rb") as f:
            while f.read(8 * MIB):
                pass
