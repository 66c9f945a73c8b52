"""Pulls during replication: push an image through region A, pull it through region B at
once, while the test replicator copies each change `lag` seconds after it was made. Counts the
pulls that fail (the target is none) and how often B had to read from the primary (the
fallback rate). Used by tests/regions/test_replication_lag.py and bench/regions.py."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .clients import Skopeo
from .images import build_image
from .regions import ServerLog
from .replicator import Replicator
from .server import RegistryServer

FALLBACK = "read from the primary region"


@dataclass
class Measured:
    pulls: int = 0
    failures: int = 0  # pulls through B that did not give back the pushed image
    pulls_with_fallback: int = 0  # pulls during which B read anything from the primary
    fallback_reads: int = 0  # those reads (log lines of soute.regions)
    seconds: float = 0.0
    failed: list[str] | None = None

    @property
    def fallback_rate(self) -> float:
        return self.pulls_with_fallback / self.pulls if self.pulls else 0.0

    def line(self) -> str:
        return (
            f"{self.pulls} pulls through B right after a push through A: {self.failures}"
            f" failed; {self.pulls_with_fallback} ({self.fallback_rate:.0%}) read from the"
            f" primary, {self.fallback_reads} fallback reads"
            f" ({self.fallback_reads / max(self.pulls, 1):.1f} a pull); {self.seconds:.1f} s"
        )


def measure(
    skopeo: Skopeo,
    replicator: Replicator,
    a: RegistryServer,
    b: RegistryServer,
    workdir: Path,
    images: int,
    lag: float,
    layer_sizes: tuple[int, ...] = (100 * 1024, 2000),
) -> Measured:
    result = Measured(failed=[])
    started = time.monotonic()
    replicator.start(lag)
    try:
        for n in range(images):
            stamp = f"{int(time.time() * 1000)}-{n}"
            image = build_image(workdir / f"src-{stamp}", layer_sizes, tag="v1")
            repo = f"lag/app-{stamp}"
            skopeo.copy(image.ref, f"docker://{a.address}/{repo}:v1", "--preserve-digests")
            said = ServerLog(b)
            back = workdir / f"back-{stamp}"
            pulled = skopeo.run(
                "copy", "--src-tls-verify=false", f"docker://{b.address}/{repo}:v1",
                f"oci:{back}:v1", check=False,
            )  # fmt: skip
            result.pulls += 1
            if pulled.returncode != 0 or not (back / "index.json").exists():
                result.failures += 1
                result.failed.append(f"{repo}: {pulled.stderr.strip()[-300:]}")
            fallbacks = said.text().count(FALLBACK)
            result.fallback_reads += fallbacks
            result.pulls_with_fallback += fallbacks > 0
            shutil.rmtree(image.layout, ignore_errors=True)
            shutil.rmtree(back, ignore_errors=True)
    finally:
        replicator.stop()
    result.seconds = time.monotonic() - started
    if replicator.errors:
        raise RuntimeError(f"the replicator failed: {replicator.errors[0]!r}")
    return result
