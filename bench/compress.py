"""How fast `soute push` compresses a Docker layer: the old path beside the new ones.

    .venv/bin/python bench/compress.py [--size-mb 400] [--repeat 5] [--workers N] [--push]
        [--old-repeat 5] [--push-repeat 5]

The layer is a real root filesystem's kind of content: a tar of this machine's /usr (binaries,
shared libraries, text), built once and cached in /tmp/soute-bench-cache (SOUTE_BENCH_CACHE).
Each case compresses it into a spool file exactly as `soute push` does, `--repeat` times;
the table shows the median MB/s of input, the spread, and the output's size. Every output is
decompressed once and its sha256 checked against the layer's (the diff_id).

Cases: the old `--compress` (Python's gzip, level 6, one thread), gzip with ISA-L on one
thread and on every core (the new default), zstd on every core. Besides wall time, each run
records the CPU time it used and the share of the CPUs other processes took meanwhile (the
development machines are shared): MB per CPU-second does not depend on that noise.

With `--push`, also the whole `soute push --compression gzip|zstd|none docker-archive:…` of
an image of that one layer to a fresh `soute serve` (embedded storage) on the same machine,
which shares the CPUs with the client. Performance is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import zstandard  # noqa: E402
from quiet import CLOCK_TICKS, _cpu_times, cpu_busy_pct, wait_for_quiet  # noqa: E402

from chalicelib.client.mediatypes import DOCKER_LAYER_TAR  # noqa: E402
from chalicelib.client.model import Blob, FileRange  # noqa: E402
from chalicelib.client.sources.compress import GZIP, ZSTD, compress_layer  # noqa: E402
from tests.support.server import default_soute, running_registry  # noqa: E402

CACHE = Path(os.environ.get("SOUTE_BENCH_CACHE", "/tmp/soute-bench-cache"))
# Shares of the layer: a rootfs is mostly libraries and binaries, then data and headers.
TREES = (("/usr/lib", 0.45), ("/usr/bin", 0.25), ("/usr/share", 0.2), ("/usr/include", 0.1))
TARGET_MB_S = 150.0


def _add_tree(tar: tarfile.TarFile, root: str, budget: int) -> None:
    """Regular files, links and directories under `root`, in sorted order, up to `budget`."""
    used = 0
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            try:
                info = tar.gettarinfo(path)
            except OSError:
                continue
            if info.isreg() and used + info.size > budget:
                return
            info.mtime, info.uid, info.gid, info.uname, info.gname = 1_700_000_000, 0, 0, "", ""
            if info.isreg():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
                used += info.size
            elif info.issym() or info.isdir():
                tar.addfile(info)


def rootfs_tar(size_mb: int) -> Path:
    """A tar of /usr's content, about `size_mb` MB, built once."""
    path = CACHE / f"usr-rootfs-{size_mb}mb.tar"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"building {path} from /usr ...", file=sys.stderr, flush=True)
    partial = path.with_suffix(".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for root, share in TREES:
            _add_tree(tar, root, int(size_mb * 1e6 * share))
    partial.rename(path)
    return path


def old_gzip(layer: Blob, spool: Path) -> Path:
    """What `--compress` did before: Python's gzip, level 6, in the calling thread."""
    target = spool / "old.tar.gz"
    with open(target, "wb") as out:
        digest = hashlib.sha256()

        class Hashing:
            def write(self, data: bytes) -> int:
                digest.update(data)
                return out.write(data)

            def flush(self) -> None:
                out.flush()

        hashing = Hashing()
        with gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=hashing, mtime=0) as z:
            for chunk in layer.bytes_on_disk().chunks():
                z.write(chunk)
    return target


def new(algorithm: str, workers: int | None) -> Callable[[Blob, Path], Path]:
    def run(layer: Blob, spool: Path) -> Path:
        blob = compress_layer(layer, algorithm, spool, workers)
        assert blob.data is not None
        return blob.data.path

    return run


@dataclass
class Case:
    name: str
    compress: Callable[[Blob, Path], Path]
    decompress: Callable[[bytes], bytes]
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # CPU seconds of the compressing process
    others: list[float] = field(default_factory=list)  # % of all CPUs used by other processes
    out_bytes: int = 0


class Timed:
    """Wall time, this process's (and its reaped children's) CPU time, and the share of the
    machine's CPUs that other processes used meanwhile."""

    def __enter__(self) -> Timed:
        self.start = (time.monotonic(), _own_cpu(), _cpu_times())
        return self

    def __exit__(self, *exc: object) -> None:
        (wall0, own0, (busy0, total0)), (busy1, total1) = self.start, _cpu_times()
        self.seconds = time.monotonic() - wall0
        self.cpu = _own_cpu() - own0
        others = (busy1 - busy0) - self.cpu * CLOCK_TICKS
        self.others = max(0.0, 100.0 * others / max(1, total1 - total0))


def _own_cpu() -> float:
    mine = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + kids.ru_utime + kids.ru_stime


def _zstd_decompress(data: bytes) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    return reader.read()


def cases(workers: int) -> list[Case]:
    return [
        Case("old --compress: gzip (zlib) level 6, 1 thread", old_gzip, gzip.decompress),
        Case("gzip (ISA-L) level 1, 1 thread", new(GZIP, 1), gzip.decompress),
        Case(f"gzip (ISA-L) level 1, {workers} threads", new(GZIP, workers), gzip.decompress),
        Case(f"zstd level 3, {workers} threads", new(ZSTD, workers), _zstd_decompress),
    ]


def measure(case: Case, layer: Blob, spool: Path, quiet_wait: float) -> None:
    os.sync()
    wait_for_quiet(quiet_wait)
    with Timed() as timed:
        output = case.compress(layer, spool)
    case.seconds.append(timed.seconds)
    case.cpu.append(timed.cpu)
    case.others.append(timed.others)
    case.out_bytes = output.stat().st_size
    if len(case.seconds) == 1:
        restored = case.decompress(output.read_bytes())
        if "sha256:" + hashlib.sha256(restored).hexdigest() != layer.digest:
            raise SystemExit(f"{case.name}: the output does not decompress to the layer")
    output.unlink()


def print_table(cases: list[Case], mb: float) -> None:
    header = (
        f"{'case':<46} {'median s':>8} {'MB/s in':>8} {'spread':>7} {'CPU s':>6} "
        f"{'MB/CPU-s':>8} {'others':>6} {'out MB':>7} {'ratio':>6} {'vs old':>7}"
    )
    print(header)
    print("-" * len(header))
    base = mb / statistics.median(cases[0].seconds)
    for case in cases:
        median = statistics.median(case.seconds)
        spread = (max(case.seconds) - min(case.seconds)) / median
        cpu = statistics.median(case.cpu)
        rate = mb / median
        print(
            f"{case.name:<46} {median:>8.2f} {rate:>8.1f} {spread:>6.0%} {cpu:>6.2f} "
            f"{mb / cpu:>8.1f} {statistics.median(case.others):>5.0f}% "
            f"{case.out_bytes / 1e6:>7.1f} {case.out_bytes / (mb * 1e6):>6.1%} {rate / base:>6.2f}x"
        )


def docker_archive(layer: Blob) -> Path:
    """A `docker save` tar of one image whose one layer is `layer`, built once."""
    assert layer.data is not None
    path = layer.data.path.with_suffix(".docker-save.tar")
    if path.exists():
        return path
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
    }
    entry = {"Config": "config.json", "RepoTags": ["bench/usr:v1"], "Layers": ["l/layer.tar"]}
    partial = path.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        for name, data in (("manifest.json", [entry]), ("config.json", config)):
            body = json.dumps(data).encode()
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        tar.add(layer.data.path, arcname="l/layer.tar")
    partial.rename(path)
    return path


def _timed_push(archive: Path, compression: str, quiet_wait: float) -> Timed:
    work = Path(tempfile.mkdtemp(prefix="soute-bench-push-"))
    try:
        with running_registry(work / "server") as server:
            command = [default_soute(), "push", "--quiet", "--compression", compression]
            command += [f"docker-archive:{archive}", f"{server.address}/bench/usr:v1"]
            env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
            os.sync()
            wait_for_quiet(quiet_wait)
            with Timed() as timed:
                subprocess.run(command, env=env, check=True, capture_output=True)
            return timed
    finally:
        shutil.rmtree(work, ignore_errors=True)


def push_cases(layer: Blob, repeat: int, quiet_wait: float) -> list[tuple[str, list[Timed]]]:
    """`soute push` of the one-layer image, whole, to a fresh embedded server each time."""
    archive = docker_archive(layer)
    results: list[tuple[str, list[Timed]]] = []
    for compression in (GZIP, ZSTD, "none"):
        runs: list[Timed] = []
        for round_ in range(repeat):
            print(f"push {compression}, round {round_ + 1} ...", file=sys.stderr, flush=True)
            runs.append(_timed_push(archive, compression, quiet_wait))
        results.append((f"soute push --compression {compression}", runs))
    return results


def print_push_table(results: list[tuple[str, list[Timed]]], mb: float) -> None:
    header = (
        f"{'whole push → soute serve (same machine)':<46} {'median s':>8} {'MB/s in':>8} "
        f"{'client CPU s':>12} {'others':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, runs in results:
        median = statistics.median(r.seconds for r in runs)
        cpu = statistics.median(r.cpu for r in runs)
        others = statistics.median(r.others for r in runs)
        print(f"{name:<46} {median:>8.2f} {mb / median:>8.1f} {cpu:>12.2f} {others:>5.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=400, help="the layer's size")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (median)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="threads")
    parser.add_argument("--quiet-wait", type=float, default=30, help="wait for a quiet machine")
    parser.add_argument("--push", action="store_true", help="also time whole pushes")
    parser.add_argument(
        "--old-repeat", type=int, default=5, help="runs of the old path (slow: 15+ s each)"
    )
    parser.add_argument("--push-repeat", type=int, default=5, help="runs of each whole push")
    args = parser.parse_args()
    path = rootfs_tar(args.size_mb)
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:  # also warms the page cache
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    layer = Blob("sha256:" + digest.hexdigest(), size, DOCKER_LAYER_TAR, FileRange(path, 0, size))
    spool = Path(tempfile.mkdtemp(prefix="soute-bench-compress-"))
    todo = cases(args.workers)
    try:
        for round_ in range(args.repeat):
            for index, case in enumerate(todo):
                if index == 0 and round_ >= args.old_repeat:
                    continue
                print(f"round {round_ + 1}: {case.name} ...", file=sys.stderr, flush=True)
                measure(case, layer, spool, args.quiet_wait)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    pushes = push_cases(layer, args.push_repeat, args.quiet_wait) if args.push else []
    print(
        f"layer: {path} ({size / 1e6:.1f} MB), {os.cpu_count()} CPUs, repeat {args.repeat} "
        f"(old path {min(args.old_repeat, args.repeat)}, whole pushes {args.push_repeat})"
    )
    print_table(todo, size / 1e6)
    gzip_rate = size / 1e6 / statistics.median(todo[2].seconds)
    verdict = "PASS" if gzip_rate >= TARGET_MB_S else "MISS"
    print(f"target: gzip on every core >= {TARGET_MB_S:.0f} MB/s of input: {verdict}")
    if pushes:
        print()
        print_push_table(pushes, size / 1e6)
    print(f"machine busy after the run: {cpu_busy_pct(1.0):.0f}%")


if __name__ == "__main__":
    main()
