"""`soute push` of a 1 GB image: throughput and the client's peak RSS, against skopeo.

    .venv/bin/python bench/push.py [--size-mb 1024] [--parallel 4]

Three pushes of the same image (4 layers of random, incompressible bytes, in an OCI layout),
each to a registry of its own (so nothing is there yet):

- `soute push` → `soute serve --lambda` on a moto server (parts straight to "S3");
- `soute push` → `soute serve` (embedded storage);
- `skopeo copy` → `soute serve` (embedded storage), the v2 API.

Throughput is the image's bytes over the wall time of the client process; peak RSS is the
client's own (`wait4` rusage). Prints a table; needs skopeo and the checkout's .venv.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.clients import Skopeo  # noqa: E402
from tests.support.images import MiB, OciImage, build_image  # noqa: E402
from tests.support.lambda_server import lambda_registry  # noqa: E402
from tests.support.moto import moto_server  # noqa: E402
from tests.support.server import RegistryServer, default_soute, running_registry  # noqa: E402


@dataclass
class Result:
    name: str
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    megabytes: float

    @property
    def throughput(self) -> float:
        return self.megabytes / self.seconds


def vm_hwm_kb(pid: int) -> int:
    """The peak RSS of the process's current program (VmHWM starts again at exec)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Run `command`; (wall seconds, CPU seconds, peak RSS in MB). Raises if it fails.

    Both are polled from /proc every 20 ms: rusage's ru_maxrss would count the memory of the
    forking bench process too (it survives exec)."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=out)
        peak, cpu = 0, 0.0
        while proc.poll() is None:
            peak = max(peak, vm_hwm_kb(proc.pid))
            cpu = max(cpu, cpu_seconds(proc.pid))
            time.sleep(0.02)
        seconds = time.monotonic() - started
        if proc.returncode != 0:
            out.seek(0)
            raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{out.read()!r}")
    return seconds, cpu, peak / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (with its waited-for children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def image_megabytes(image: OciImage) -> float:
    total = sum(layer.size for layer in image.layers) + image.config.size + len(image.manifest)
    return total / 1e6


def soute_push(image: OciImage, parallel: int, cache: Path) -> Callable[[str], list[str]]:
    def command(dest: str) -> list[str]:
        return [default_soute(), "push", "--quiet", "--parallel", str(parallel), image.ref, dest]

    return command


def skopeo_copy(image: OciImage, skopeo: Skopeo) -> Callable[[str], list[str]]:
    def command(dest: str) -> list[str]:
        return [
            skopeo.binary,
            "--policy",
            str(skopeo.policy),
            "copy",
            "--dest-tls-verify=false",
            image.ref,
            f"docker://{dest}",
        ]

    return command


def run_case(
    name: str,
    registry: AbstractContextManager[RegistryServer],
    command: Callable[[str], list[str]],
    env: dict[str, str],
    megabytes: float,
) -> Result:
    with registry as server:
        print(f"{name} ...", file=sys.stderr, flush=True)
        seconds, cpu, rss = measure(command(f"{server.address}/bench/push:v1"), env)
    return Result(name, seconds, cpu, rss, megabytes)


def print_table(results: list[Result]) -> None:
    header = (
        f"{'client → registry':<44} {'MB':>7} {'seconds':>8} {'MB/s':>7} "
        f"{'client CPU s':>12} {'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<44} {r.megabytes:>7.0f} {r.seconds:>8.1f} {r.throughput:>7.1f} "
            f"{r.cpu_seconds:>12.1f} {r.peak_rss_mb:>12.1f}"
        )


def cases(
    image: OciImage, args: argparse.Namespace, work: Path, endpoint: str
) -> Iterator[tuple[str, AbstractContextManager[RegistryServer], Callable[[str], list[str]]]]:
    push = soute_push(image, args.parallel, work / "cache")
    yield "soute push → soute serve --lambda + moto", lambda_registry(endpoint, work / "l"), push
    yield "soute push → soute serve (embedded)", running_registry(work / "e1"), push
    skopeo = Skopeo(work / "skopeo")
    yield (
        "skopeo copy → soute serve (embedded)",
        running_registry(work / "e2"),
        skopeo_copy(image, skopeo),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="image size (4 layers)")
    parser.add_argument("--parallel", type=int, default=4, help="soute push --parallel")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="soute-bench-push-"))
    try:
        print(f"building a {args.size_mb} MB image ...", file=sys.stderr, flush=True)
        image = build_image(work / "image", [args.size_mb * MiB // 4] * 4, tag="v1")
        env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
        megabytes = image_megabytes(image)
        with moto_server() as endpoint:
            results = [
                run_case(name, registry, command, env, megabytes)
                for name, registry, command in cases(image, args, work, endpoint)
            ]
        print_table(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
