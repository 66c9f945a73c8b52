"""A full disk is 507 "registry storage is full", with one log line and no traceback, and the
registry works again, nothing corrupt, once there is room.

The disk is real: a 2 MiB tmpfs mounted in a private mount namespace (`unshare`, as root, or
as a user through a user namespace), so the kernel itself answers ENOSPC to the blob files and
SQLite its own "database or disk is full". The registry runs in that namespace
(full_disk_probe.py) and reports what the client was told."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FULL = "registry storage is full"


def _in_a_small_tmpfs(data_dir: Path) -> subprocess.CompletedProcess[str]:
    namespace = ["--mount"] if os.geteuid() == 0 else ["--user", "--map-root-user", "--mount"]
    script = (
        'mount -t tmpfs -o size=2m tmpfs "$0" && exec "$1" -m tests.storage.full_disk_probe "$0"'  # noqa: E501
    )
    command = ["unshare", *namespace, "sh", "-c", script, str(data_dir), sys.executable]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_a_full_disk_is_507_with_one_log_line_and_no_traceback(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    run = _in_a_small_tmpfs(data_dir)
    if run.returncode != 0 and not run.stdout:
        pytest.fail(f"the probe did not run (a tmpfs in a private namespace): {run.stderr}")
    result = json.loads(run.stdout)
    for step in ("big_blob", "small_blob_on_full_disk", "manifest_on_full_disk"):
        answer = result[step]
        assert answer["status"] == 507, (step, answer)
        assert json.loads(answer["body"])["errors"][0]["message"].startswith(FULL)
    assert result["manifest_after"]["status"] == 201
    assert result["blob_after_hash_ok"] and result["manifest_after_ok"]
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if "storage full" in line]
    assert len(lines) == 3, run.stderr
