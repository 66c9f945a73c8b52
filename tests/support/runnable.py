"""A test image that every engine can run, built in pure Python with no network.

Its one layer holds a filler of compressible text and random bytes, big enough that a
compressed push cuts it into several gzip members / zstd frames, then `/bin/true`, a
hand-assembled static ELF of about 130 bytes (exit(0) by a system call, no libc, for amd64 or
arm64): it is in the last member, so only a reader that reads them all can run it. The config's
`Cmd` is `/bin/true`, so `docker run --rm IMAGE` (and podman's, and `ctr run`) exits 0 when
the engine unpacked the layer right.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
from pathlib import Path

from .images import (
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    OciImage,
    _init_layout,
    _tar_member,
    _write_blob,
    _write_index_json,
    canonical_json,
    host_architecture,
    sha256_digest,
)

_LOAD = 0x400000
# exit(0): x86-64 `mov eax, 60; xor edi, edi; syscall`; arm64 `mov x0, 0; mov x8, 93; svc 0`.
_EXIT_0 = {
    "amd64": (62, bytes.fromhex("b83c00000031ff0f05")),
    "arm64": (183, bytes.fromhex("000080d2a80b80d2010000d4")),
}


def exit_zero_elf(architecture: str) -> bytes:
    """A static ELF64 executable that exits with status 0."""
    machine, code = _EXIT_0[architecture]
    entry = _LOAD + 64 + 56
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, entry, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    size = 64 + 56 + len(code)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, _LOAD, _LOAD, size, size, 0x1000)
    return header + program + code


def _filler(size: int) -> bytes:
    """Text that compresses about 3:1 and differs between builds, plus some random bytes."""
    nonce = os.urandom(4).hex()
    lines, total, i = [], 0, 0
    while total < size:
        line = f"{i:08d} {nonce} {os.urandom(6).hex()} the quick brown fox jumps over\n"
        lines.append(line)
        total += len(line)
        i += 1
    return "".join(lines).encode()[:size] + os.urandom(size // 8)


def _layer(architecture: str, filler_size: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _tar_member(tar, "share", None)
        _tar_member(tar, "share/filler", _filler(filler_size))
        _tar_member(tar, "bin", None)  # last: a reader that stops early cannot run it
        elf = exit_zero_elf(architecture)
        info = tarfile.TarInfo("bin/true")
        info.mode, info.size, info.mtime = 0o755, len(elf), 1_700_000_000
        tar.addfile(info, io.BytesIO(elf))
    return buffer.getvalue()


def build_runnable_image(layout: Path, filler_size: int, tag: str = "v1") -> OciImage:
    """An OCI layout holding one image whose `Cmd` is `/bin/true`, of one gzip'd layer."""
    architecture = host_architecture()
    _init_layout(layout)
    raw = _layer(architecture, filler_size)
    blob = gzip.compress(raw, compresslevel=1, mtime=0)
    layer = Descriptor(OCI_LAYER_GZIP, _write_blob(layout, blob), len(blob))
    config_doc = {
        "architecture": architecture,
        "os": "linux",
        "config": {"Cmd": ["/bin/true"], "Labels": {"nonce": os.urandom(8).hex()}},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(raw)]},
    }
    config_bytes = canonical_json(config_doc)
    config = Descriptor(OCI_CONFIG, _write_blob(layout, config_bytes), len(config_bytes))
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.to_json(),
            "layers": [layer.to_json()],
        }
    )
    digest = _write_blob(layout, manifest)
    _write_index_json(layout, OCI_MANIFEST, digest, len(manifest), tag)
    platform = {"os": "linux", "architecture": architecture}
    return OciImage(layout, tag, manifest, digest, config, [layer], [sha256_digest(raw)], platform)
