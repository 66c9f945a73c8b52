"""How long each client takes to fail a push of a layer too large for the Lambda endpoint.

    .venv/bin/python bench/lambda_refusals.py [--repeat 5] [--clients docker,skopeo,podman,ctr]

Through `soute serve --lambda` on a moto server (the gateway responses of the deployed API),
docker, skopeo, podman and ctr push an image with one layer of random bytes: 6 MB (over
Lambda's 6 MB payload once base64-encoded, under API Gateway's 10 MB) and 30 MiB (over 10 MB).
Each push must fail; the time is the wall time of the client process, from start to exit, and
the table shows the median of --repeat runs, the number of refused uploads in the server's
access log (more than one per run means the client retried) and the first line of the
client's error that names `soute push`, if any. Needs root (a private dockerd and containerd,
as the tests start them), skopeo, podman and ctr.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.clients import Podman, Skopeo  # noqa: E402
from tests.support.engines import Containerd, DockerEngine  # noqa: E402
from tests.support.images import MiB, build_image  # noqa: E402
from tests.support.lambda_server import lambda_registry  # noqa: E402
from tests.support.moto import moto_server  # noqa: E402
from tests.support.server import RegistryServer  # noqa: E402

SIZES = {"6mb": 6_000_000, "30mib": 30 * MiB}
CLIENTS = ("docker", "skopeo", "podman", "ctr")


@dataclass
class Row:
    client: str
    size: str
    seconds: list[float]
    refusals: list[int]
    shown: str


class Clients:
    """The four clients, each with both images loaded."""

    def __init__(self, work: Path, wanted: list[str]) -> None:
        self.work = work
        self.skopeo = Skopeo(work / "skopeo")
        self.images = {
            label: build_image(work / label, [size], tag="v1") for label, size in SIZES.items()
        }
        self.archives: dict[str, Path] = {}
        for label, image in self.images.items():
            self.archives[label] = work / f"{label}.tar"
            self.skopeo.copy(image.ref, f"docker-archive:{self.archives[label]}:{local(label)}")
        self.containerd = Containerd(Path(tempfile.mkdtemp(prefix="bench-ctd-")))
        self.containerd.start()
        self.engine: DockerEngine | None = None
        self.podman: Podman | None = None
        if "docker" in wanted:
            self.engine = DockerEngine(
                Path(tempfile.mkdtemp(prefix="bench-dkd-")), self.containerd.address
            )
            self.engine.start()
            for archive in self.archives.values():
                self.engine.docker("load", "--input", str(archive))
        if "podman" in wanted:
            self.podman = Podman(Path(tempfile.mkdtemp(prefix="bench-pod-")))
            for label, image in self.images.items():
                image_id = self.podman.pull(image.ref).stdout.split()[-1]
                self.podman.run("tag", image_id, local(label))
        if "ctr" in wanted:
            for archive in self.archives.values():
                self.containerd.ctr("images", "import", "--no-unpack", str(archive))

    def command(self, client: str, label: str, target: str) -> Callable[[], str]:
        """A function that runs the failing push and returns the client's output."""
        if client == "docker":
            engine = self.engine
            assert engine is not None
            engine.docker("tag", local(label), target)
            return lambda: output(engine.docker("push", target, check=False))
        if client == "skopeo":
            ref = self.images[label].ref
            return lambda: output(
                self.skopeo.run(
                    "copy", "--dest-tls-verify=false", ref, f"docker://{target}", check=False
                )
            )
        if client == "podman":
            podman = self.podman
            assert podman is not None
            policy = f"--signature-policy={podman.policy}"
            return lambda: output(
                podman.run("push", "--tls-verify=false", policy, local(label), target, check=False)
            )
        source = f"docker.io/{local(label)}"
        return lambda: output(
            self.containerd.ctr("images", "push", "--plain-http", target, source, check=False)
        )

    def close(self) -> None:
        if self.podman is not None:
            self.podman.cleanup()
        if self.engine is not None:
            self.engine.stop()
        self.containerd.stop()


def local(label: str) -> str:
    return f"bench-refusal/{label}:v1"


def output(done: object) -> str:
    returncode = getattr(done, "returncode", 0)
    if returncode == 0:
        raise SystemExit("a push that should have been refused succeeded")
    return f"{getattr(done, 'stdout', '')}{getattr(done, 'stderr', '')}"


def refusals(server: RegistryServer, offset: int, repository: str) -> int:
    """Refused uploads (413, or the 502 of an older gateway) to `repository` in the access log
    from `offset`. The server logs a request just after answering it: wait for the line."""
    pattern = rf'"\w+ /v2/{re.escape(repository)}/blobs/uploads/\S* HTTP/1.1" (?:413|502) '

    def count() -> int:
        with open(server.log_path, "rb") as log:
            log.seek(offset)
            return len(re.findall(pattern, log.read().decode(errors="replace")))

    deadline = time.monotonic() + 10
    while not count() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # and for the line of a last retry, if there was one
    return count()


def measure(clients: Clients, server: RegistryServer, client: str, label: str, repeat: int) -> Row:
    row = Row(client, label, [], [], "")
    for _ in range(repeat):
        repository = f"bench/{client}-{label}-{uuid.uuid4().hex[:6]}"
        push = clients.command(client, label, f"{server.address}/{repository}:v1")
        offset = server.log_path.stat().st_size
        started = time.monotonic()
        said = push()
        row.seconds.append(time.monotonic() - started)
        row.refusals.append(refusals(server, offset, repository))
        lines = [line for line in said.splitlines() if "soute push" in line]
        row.shown = (lines[0] if lines else said.strip().splitlines()[-1])[:140]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--sizes", default=",".join(SIZES), help="6mb,30mib")
    args = parser.parse_args()
    wanted = [c for c in args.clients.split(",") if c]
    rows = []
    # Not mkdtemp: podman names an image pulled from an OCI layout after its path, and a
    # random "_" at the end of a name is no valid reference.
    work = Path(tempfile.gettempdir()) / f"bench-refusals-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    with contextlib.ExitStack() as cleanup, moto_server() as endpoint:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        clients = Clients(work, wanted)
        try:
            with lambda_registry(endpoint, work / "server") as (server, _):
                for client in wanted:
                    for label in args.sizes.split(","):
                        rows.append(measure(clients, server, client, label, args.repeat))
                        print(f"{client} {label}: {rows[-1].seconds}", file=sys.stderr)
        finally:
            clients.close()
    print(f"| client | layer | median s (of {args.repeat}) | refused uploads per push | shown |")
    print("|---|---|---|---|---|")
    for row in rows:
        shown = row.shown.replace("|", "\\|")
        counts = ",".join(str(n) for n in row.refusals)
        median = statistics.median(row.seconds)
        print(f"| {row.client} | {row.size} | {median:.1f} | {counts} | {shown} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
