"""The GC soak (issue 14): pushers share base layers across repositories (HEAD first and mount,
as docker does), push manifest lists and referrers, and delete tags and manifests as they go,
against a running `soute serve` on each backend, while a GC runs continuously beside it with a
grace of one second (far shorter than any deployment's, so it races the pushes constantly).

A push whose manifest the registry refused (the GC dropped a blob's link first: the case
"manifest-put, drop first" of lifecycle/gc.py) is pushed again, as a client would; nothing it
sent was acknowledged. At the end, every acknowledged manifest not deleted must pull back
byte for byte, every blob it references too, and `soute verify` must find nothing missing.
bench/gc_soak.py runs the same for longer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.server.backends import BackendOptions, build_collector, build_registry
from tests.support.gc_soak import Soak, SoakResult, run_soak
from tests.support.lambda_server import serve_template
from tests.support.moto import aws_backend
from tests.support.server import RegistryServer, running_registry

pytestmark = [pytest.mark.timeout(300)]

# (pushers, images each): the aws backend goes through moto, which answers one request at a time.
SIZES = {"embedded": (6, 12), "aws": (4, 6)}
GRACE = 1.0


@pytest.fixture(scope="module", params=["embedded", "aws"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, RegistryServer, BackendOptions]]:
    workdir = tmp_path_factory.mktemp(f"soak-{request.param}")
    if request.param == "embedded":
        with running_registry(workdir) as server:
            yield request.param, server, BackendOptions(data_dir=str(server.data_dir))
        return
    options = aws_backend(request.getfixturevalue("moto_endpoint"))
    with running_registry(workdir, serve_template(options, "--backend", "aws")) as server:
        yield request.param, server, options


def test_pushes_and_deletes_under_a_continuous_gc_lose_no_acknowledged_image(
    served: tuple[str, RegistryServer, BackendOptions], tmp_path: Path
) -> None:
    backend, server, options = served
    pushers, images = SIZES[backend]
    collector = build_collector(options)
    stop = threading.Event()
    runs: list[int] = []

    def collect() -> None:
        while not stop.is_set():
            totals = collector.run(GRACE)
            runs.append(totals.blobs)

    gc = threading.Thread(target=collect, daemon=True)
    gc.start()
    try:
        result = run_soak(Soak(server.url, pushers=pushers, images=images))
        during = len(runs)
        time.sleep(GRACE + 0.5)  # the last deletes' blobs idle past the grace: collected now
    finally:
        stop.set()
        gc.join(timeout=60)
    assert during >= 3  # the GC ran while the pushes went on
    _check(result, runs, options)


def _check(result: SoakResult, runs: list[int], options: BackendOptions) -> None:
    assert result.errors == []
    assert sum(runs) > 0  # the GC removed the deleted images' blobs
    assert result.deleted and result.indexes and result.referrers
    lost = result.verify()
    assert lost == [], f"{len(lost)} acknowledged images lost: {lost[:5]}"
    missing = [m for m in build_registry(options).manifests.missing_bodies() if m[1]]
    assert missing == []
