"""An interrupted `soute push` resumes: run again, it sends only the parts the registry lacks.

`SOUTE_PUSH_FAIL_AFTER_PARTS=N` makes the client lose its connection after N parts, as a
network failure would; the registry's access log then shows which parts each run sent."""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
from collections import Counter
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from tests.support.images import MiB, build_image
from tests.support.server import RegistryServer
from tests.support.soute_push import SoutePush

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

PART_PUT = re.compile(r'"PUT /v2/_soute/parts/([0-9a-z]+)/(\d+)(?:\?\S*)? HTTP/1.1" (\d+) ')


def _log_since(server: RegistryServer, mark: int) -> str:
    with open(server.log_path) as log:
        log.seek(mark)
        return log.read()


def test_interrupted_push_resumes_without_resending_parts(
    soute_push: SoutePush, soute_server: RegistryServer, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "src", [40 * MiB], tag="v1")  # one layer, 6 parts of 8 MiB
    dest = f"{soute_server.address}/push/resume:v1"
    mark = soute_server.log_path.stat().st_size
    failed = soute_push.run(
        "--parallel", "1", image.ref, dest, env={"SOUTE_PUSH_FAIL_AFTER_PARTS": "2"}
    )
    assert failed.returncode == 4, failed.stderr
    assert "run the same command again" in failed.stderr or "simulated" in failed.stderr
    state = json.loads(soute_push.state_file.read_text())
    key = f"{soute_server.address}/push/resume@{image.layers[0].digest}"
    assert list(state) == [key]
    first = [int(n) for _, n, status in PART_PUT.findall(_log_since(soute_server, mark))]
    assert sorted(first) == [1, 2], f"the first run should have sent parts 1 and 2: {first}"

    assert soute_push.ok(image.ref, dest) == image.manifest_digest
    log = _log_since(soute_server, mark)
    sent = [(u, int(n)) for u, n, status in PART_PUT.findall(log) if status == "200"]
    assert {u for u, _ in sent} == {state[key]}, "the second run started a new upload"
    counts = Counter(n for _, n in sent)
    assert sorted(counts) == [1, 2, 3, 4, 5, 6]
    assert max(counts.values()) == 1, f"parts sent twice: {counts}"
    assert len(re.findall(r'"POST /v2/_soute/uploads\?repository=\S+ HTTP/1.1" 201', log)) == 1
    assert json.loads(soute_push.state_file.read_text()) == {}


def test_a_blob_that_does_not_match_its_digest_is_refused(
    soute_push: SoutePush, soute_server: RegistryServer, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "src", [10 * MiB], tag="v1")
    layer = image.blob_path(image.layers[0].digest)
    data = bytearray(layer.read_bytes())
    data[-100] ^= 0xFF
    layer.write_bytes(bytes(data))
    dest = f"{soute_server.address}/push/corrupt"
    done = soute_push.run(image.ref, f"{dest}:v1")
    assert done.returncode == 1, done.stderr
    assert "DIGEST_INVALID" in done.stderr, done.stderr
    request = Request(f"{soute_server.url}/v2/push/corrupt/blobs/{image.layers[0].digest}")
    request.method = "HEAD"
    with pytest.raises(HTTPError) as refused:
        urlopen(request, timeout=10)
    assert refused.value.code == 404


def test_push_interrupted_with_ctrl_c_resumes(
    soute_push: SoutePush, soute_server: RegistryServer, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "src", [300 * MiB, 300 * MiB], tag="v1")
    dest = f"{soute_server.address}/push/ctrl-c:v1"
    mark = soute_server.log_path.stat().st_size
    client = soute_push.start("--parallel", "1", image.ref, dest)
    deadline = time.monotonic() + 60
    while not soute_push.state_file.exists() and client.poll() is None:
        assert time.monotonic() < deadline, "no upload started within a minute"
        time.sleep(0.02)
    time.sleep(0.3)  # some parts go
    client.send_signal(signal.SIGINT)
    _, err = client.communicate(timeout=30)
    assert client.returncode == 1, err
    assert "run the same command again to resume" in err
    assert json.loads(soute_push.state_file.read_text()), "no upload id kept for the resume"
    first = len(PART_PUT.findall(_log_since(soute_server, mark)))
    assert first < 2 * 38, "the push ended before Ctrl-C: make the image bigger"

    assert soute_push.ok(image.ref, dest) == image.manifest_digest
    sent = [
        (u, int(n))
        for u, n, status in PART_PUT.findall(_log_since(soute_server, mark))
        if status == "200"
    ]
    twice = [part for part, count in Counter(sent).items() if count > 1]
    assert not twice, f"parts sent twice: {twice}"
    assert len(sent) == 2 * 38  # 300 MiB and a little: 38 parts of 8 MiB per layer
    shutil.rmtree(image.layout)
