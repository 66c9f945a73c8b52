"""The clients that drive the registries: skopeo for push/pull, wrk for the manifest GET rate."""

import hashlib
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from common import BenchError
from images import Image
from servers import Server

SKOPEO_TIMEOUT_S = 900
WRK_THREADS = 2
WRK_CONNECTIONS = 16
WRK_SECONDS = 10
WRK_WARMUP_SECONDS = 2

MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)

WRK_LUA = f"""\
wrk.method = "GET"
wrk.headers["Accept"] = "{MANIFEST_ACCEPT}"
"""


def _skopeo_copy(src: str, dest: str, tls_flags: list[str]) -> float:
    """Run one `skopeo copy`; return its wall-clock seconds."""
    argv = ["skopeo", "--insecure-policy", "copy", "--quiet", *tls_flags, src, dest]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=SKOPEO_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"skopeo copy {src} {dest} failed: {done.stderr.strip()[-800:]}")
    return elapsed


def push(image: Image, server: Server, repo: str) -> float:
    """Seconds for skopeo to push the OCI layout to server/repo:tag."""
    flags = ["--dest-tls-verify=false", "--dest-no-creds"]
    dest = f"docker://{server.host}/{repo}:{image.tag}"
    return _skopeo_copy(f"oci:{image.path}:{image.tag}", dest, flags)


def pull(image: Image, server: Server, repo: str, into: Path) -> float:
    """Seconds for skopeo to pull server/repo:tag into a fresh OCI layout (removed after)."""
    flags = ["--src-tls-verify=false", "--src-no-creds"]
    shutil.rmtree(into, ignore_errors=True)
    src = f"docker://{server.host}/{repo}:{image.tag}"
    try:
        elapsed = _skopeo_copy(src, f"oci:{into}:{image.tag}", flags)
        if not (into / "index.json").exists():
            raise BenchError(f"pull from {server.name} left no OCI layout in {into}")
        return elapsed
    finally:
        shutil.rmtree(into, ignore_errors=True)


def manifest_url(image: Image, server: Server, repo: str) -> str:
    return f"{server.url}/v2/{repo}/manifests/{image.tag}"


def check_manifest(image: Image, server: Server, repo: str) -> None:
    """One GET with the wrk headers must return 200 and the very manifest that was pushed."""
    resp = requests.get(manifest_url(image, server, repo), headers={"Accept": MANIFEST_ACCEPT})
    digest = "sha256:" + hashlib.sha256(resp.content).hexdigest()
    if resp.status_code != 200 or digest != image.manifest_digest:
        raise BenchError(
            f"{server.name}: manifest GET gave {resp.status_code}, digest {digest} "
            f"(expected 200, {image.manifest_digest})"
        )


@dataclass
class WrkResult:
    requests_per_s: float
    requests: int
    non_2xx_3xx: int
    socket_errors: int
    output: str


def parse_wrk(output: str) -> WrkResult:
    """The numbers of wrk's summary."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise BenchError(f"cannot read wrk output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        requests=int(total.group(1)),
        non_2xx_3xx=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        output=output,
    )


def _wrk(url: str, lua: Path, seconds: int) -> WrkResult:
    argv = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{seconds}s",
        "-s",
        str(lua),
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def manifest_rate(image: Image, server: Server, repo: str, lua: Path) -> WrkResult:
    """Manifest GET requests/s by tag with wrk, after a short untimed warm-up run."""
    check_manifest(image, server, repo)
    url = manifest_url(image, server, repo)
    _wrk(url, lua, WRK_WARMUP_SECONDS)
    result = _wrk(url, lua, WRK_SECONDS)
    if result.non_2xx_3xx:
        raise BenchError(f"{server.name}: {result.non_2xx_3xx} non-2xx/3xx answers under wrk")
    return result


def write_wrk_script(run_dir: Path) -> Path:
    path = run_dir / "manifest-get.lua"
    path.write_text(WRK_LUA)
    return path
