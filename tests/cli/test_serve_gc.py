"""`soute serve --gc-every`: a real server collects what a client deleted, one run at a time in
its main process, logs a line per run, and still stops cleanly on SIGTERM; a failed run is one
line and the next still runs."""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
import requests

from chalicelib.server.backends import BackendOptions
from chalicelib.server.gc_loop import GcLoop
from tests.support.moto import aws_backend
from tests.support.server import default_soute, default_template, running_registry

REPOSITORY = "team/app"
# Not a grace of 0: a run between the push and the DELETE would drop the link first (the DELETE
# would answer 404). A deleted blob has no link, and goes at the next run whatever the grace.
GC_FLAGS = "--gc-every 1s --gc-grace 10s"
POLL_SECONDS = 20


def _soute(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([default_soute(), *args], capture_output=True, text=True, timeout=60)


def _push_and_delete(url: str, stored: Callable[[str], bool]) -> str:
    """A blob pushed in one request, seen `stored` (given its digest's hex), then deleted
    through the API; its digest's hex."""
    data = os.urandom(4000)
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    pushed = requests.post(
        f"{url}/v2/{REPOSITORY}/blobs/uploads/?digest={digest}",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert pushed.status_code == 201, pushed.text
    assert stored(digest.removeprefix("sha256:"))
    deleted = requests.delete(f"{url}/v2/{REPOSITORY}/blobs/{digest}", timeout=30)
    assert deleted.status_code == 202, deleted.text
    return digest.removeprefix("sha256:")


def _files_of(data_dir: Path, hex_digest: str) -> list[Path]:
    return [path for path in (data_dir / "blobs").rglob(f"{hex_digest}*") if path.is_file()]


def _wait_for(done: Callable[[], bool], what: str, log: Callable[[], str]) -> None:
    deadline = time.monotonic() + POLL_SECONDS
    while not done():
        assert time.monotonic() < deadline, f"{what} within {POLL_SECONDS}s; log:\n{log()}"
        time.sleep(0.2)


def test_serve_collects_a_deleted_blob_on_its_schedule(tmp_path: Path) -> None:
    template = f"{default_template()} {GC_FLAGS}"
    with running_registry(tmp_path, template) as server:
        hex_digest = _push_and_delete(server.url, lambda h: bool(_files_of(server.data_dir, h)))
        gone = lambda: not _files_of(server.data_dir, hex_digest)  # noqa: E731
        _wait_for(gone, "the blob's file gone", server.log_tail)
        _wait_for(
            lambda: "gc run: removed 1 blobs (4000 bytes)" in server.log_path.read_text(),
            "the run's totals logged",
            server.log_tail,
        )
        pulled = requests.get(f"{server.url}/v2/{REPOSITORY}/blobs/sha256:{hex_digest}", timeout=30)
        assert pulled.status_code == 404
    _assert_stopped_cleanly(server.proc, server.log_path)


def _assert_stopped_cleanly(proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """SIGTERM (running_registry's stop) ended it: status 0, not the SIGKILL that follows a
    server that lingers; one GC thread, in the master: one line per run, never a traceback."""
    log = log_path.read_text()
    assert proc.returncode == 0, log
    assert "Traceback" not in log, log
    assert log.count("garbage collection every 1s (grace 10s)") == 1, log


def test_serve_on_aws_collects_with_the_same_collector(moto_endpoint: str, tmp_path: Path) -> None:
    options = aws_backend(moto_endpoint)
    soute = shlex.quote(default_soute())
    template = (
        f"{soute} serve --host {{host}} --port {{port}} --backend aws --s3-bucket"
        f" {options.s3_bucket} --dynamodb-table {options.dynamodb_table} --endpoint-url"
        f" {moto_endpoint} --region us-east-1 {GC_FLAGS}"
    )
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")

    def blob_objects() -> int:
        return int(s3.list_objects_v2(Bucket=options.s3_bucket, Prefix="blobs/")["KeyCount"])

    with running_registry(tmp_path, template) as server:
        _push_and_delete(server.url, lambda _: blob_objects() == 1)
        _wait_for(lambda: blob_objects() == 0, "the blob's object gone", server.log_tail)
        _wait_for(
            lambda: "gc run: removed 1 blobs (4000 bytes)" in server.log_path.read_text(),
            "the run's totals logged",
            server.log_tail,
        )
    _assert_stopped_cleanly(server.proc, server.log_path)


def test_a_failed_run_is_one_line_and_the_next_still_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    in_the_way = tmp_path / "data"
    in_the_way.write_text("a file where the data directory should be")
    loop = GcLoop(BackendOptions(data_dir=str(in_the_way)), every=0.05, grace=0)
    caplog.set_level(logging.INFO, logger="soute.gc")
    loop.start()
    try:
        _wait_for(
            lambda: any("gc run failed" in r.message for r in caplog.records),
            "a failed run logged",
            lambda: caplog.text,
        )
        in_the_way.unlink()
        _wait_for(
            lambda: any(r.message.startswith("gc run: removed") for r in caplog.records),
            "a run after the failure",
            lambda: caplog.text,
        )
    finally:
        loop.stop()
    failed = [r for r in caplog.records if "gc run failed" in r.message]
    assert all(r.levelno == logging.ERROR and "\n" not in r.message for r in failed)
    assert all(r.exc_info is None for r in caplog.records)  # no traceback
    assert not loop.running


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--gc-grace", "1h"], "--gc-grace goes with --gc-every"),
        (["--gc-every", "0"], "the interval is more than 0"),
        (["--gc-every", "soon"], "is not a duration"),
    ],
)
def test_gc_options_that_are_refused(args: list[str], said: str) -> None:
    result = _soute("serve", "--port", "1", *args)
    assert result.returncode == 2
    assert said in result.stderr
    assert "Traceback" not in result.stderr
