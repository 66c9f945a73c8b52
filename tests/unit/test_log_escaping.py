"""Values a client chose (account names, paths, user agents) cannot forge log lines: every
record's control characters are escaped, on `soute serve` (gunicorn's access and error logs
and Soute's own lines) and on Lambda (app.py's Chalice logger)."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import requests

from chalicelib.server.logs import escape_controls
from tests.support.server import default_soute, running_registry

ROOT = Path(__file__).resolve().parents[2]
FORGED = "a\nFORGED login: account=admin source=10.0.0.1"


def _basic(account: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{account}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _when_logged(path: Path, text: str, timeout: float = 20) -> str:
    """The log once it holds `text`: gunicorn writes the access line after the answer."""
    deadline = time.monotonic() + timeout
    while text not in (log := path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return log


def _check_one_escaped_line(log: str) -> None:
    assert not any(line.startswith("FORGED") for line in log.splitlines()), log
    lines = [line for line in log.splitlines() if "FORGED" in line]
    assert lines, log
    assert all("a\\nFORGED" in line for line in lines), lines


def test_a_login_as_an_account_with_a_newline_is_one_log_line_on_soute_serve(
    tmp_path: Path,
) -> None:
    template = (
        f"{default_soute()} serve --auth --host {{host}} --port {{port}} --data-dir {{data_dir}}"
    )
    with running_registry(tmp_path, template=template, ready_status=401) as server:
        reply = requests.get(
            f"{server.url}/token",
            params={"service": "soute-registry", "scope": "repository:x/y:pull"},
            headers={**_basic(FORGED, "guess"), "User-Agent": "agent\x1b[2Jcleared"},
            timeout=30,
        )
        assert reply.status_code == 401, reply.text
        log = _when_logged(server.log_path, "GET /token")
    _check_one_escaped_line(log)
    assert "\x1b" not in log and "agent\\x1b[2Jcleared" in log  # the access log line


LAMBDA_LOGIN = """
import base64, json, sys
from chalicelib.server.backends import BackendOptions
from tests.contract.client import LambdaClient, lambda_app

settings = BackendOptions(data_dir=sys.argv[1], auth=True).environment()
with lambda_app(settings) as function:
    token = base64.b64encode(sys.argv[2].encode() + b":guess").decode()
    headers = {"Authorization": "Basic " + token}
    params = {"service": "soute-registry"}
    reply = LambdaClient(function).request("GET", "/token", params=params, headers=headers)
    print("STATUS", reply.status)
"""


def test_a_login_as_an_account_with_a_newline_is_one_log_line_on_lambda(tmp_path: Path) -> None:
    """In a process of its own, so that only app.py installs the escaping (as on Lambda)."""
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LAMBDA_LOGIN), str(tmp_path), FORGED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "STATUS 401" in run.stdout, run.stdout + run.stderr
    _check_one_escaped_line(run.stdout + run.stderr)


def test_control_characters_are_escaped() -> None:
    assert escape_controls("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert escape_controls("\x1b[31m\x00\x7f\x85") == "\\x1b[31m\\x00\\x7f\\x85"
    assert escape_controls("line\u2028sep") == "line\\u2028sep"
    assert escape_controls("plain é ü 漢") == "plain é ü 漢"
