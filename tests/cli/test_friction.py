"""The newcomer frictions of issue 11, one by one: what each verb says and does when it is
used as a newcomer uses it (the sweep over every verb is test_every_verb.py)."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.auth.soute_main import aws_storage_args, run_soute
from tests.support.lambda_server import lambda_registry
from tests.support.server import RegistryServer, default_soute, free_port

PASSWORD = "password1\n"


def _data(tmp_path: Path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data")]


def test_a_piped_password_needs_password_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run_soute(
        monkeypatch, capsys, "user", "add", "al", *_data(tmp_path), stdin=PASSWORD
    )
    assert status == 1
    assert err.strip() == (
        "soute user: the password is piped in: add --password-stdin (or run in a terminal)"
    )


def test_audit_of_a_missing_directory_says_so_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for verb in (("audit",), ("user", "list"), ("token", "list"), ("org", "list")):
        status, _, err = run_soute(monkeypatch, capsys, *verb, *_data(tmp_path))
        assert status == 1 and f"no data directory {tmp_path / 'data'}" in err, verb
    assert not (tmp_path / "data").exists()


def test_public_needs_an_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data(tmp_path)
    assert run_soute(monkeypatch, capsys, "org", "add", "acme", *data)[0] == 0
    status, _, err = run_soute(monkeypatch, capsys, "public", "nobody/app", *data)
    assert status == 1
    assert "no user or organisation owns nobody/: add it first (`soute org add nobody`" in err
    assert run_soute(monkeypatch, capsys, "public", "acme/app", *data)[0] == 0


def _org_world(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *where: str
) -> None:
    for args in (
        ("org", "add", "acme"),
        ("org", "add", "zeta"),
        ("team", "add", "acme", "devs", "--role", "maintainer"),
        ("token", "create", "--robot", "acme", "--name", "ci", "--actions", "pull,push"),
        ("public", "acme"),
    ):
        status, _, err = run_soute(monkeypatch, capsys, *args, *where)
        assert status == 0, (args, err)


@pytest.mark.parametrize("backend", ["embedded", "aws"])
def test_org_list_and_remove(
    backend: str,
    tmp_path: Path,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    where = _data(tmp_path) if backend == "embedded" else aws_storage_args(moto_endpoint)
    _org_world(monkeypatch, capsys, *where)
    status, out, _ = run_soute(monkeypatch, capsys, "org", "list", *where)
    assert (status, out) == (0, "acme  devs (maintainer)\nzeta\n")
    status, out, _ = run_soute(monkeypatch, capsys, "org", "remove", "acme", *where)
    assert status == 0
    assert "organisation acme removed; its teams are gone and its robots revoked" in out
    assert "acme/ still holds public marks acme" in out  # the leftover rules of user remove
    assert run_soute(monkeypatch, capsys, "org", "list", *where)[1] == "zeta\n"
    assert run_soute(monkeypatch, capsys, "team", "list", "acme", *where)[1] == ""
    tokens = run_soute(monkeypatch, capsys, "token", "list", *where)[1]
    assert "acme+ci" in tokens and tokens.strip().endswith("revoked")
    status, _, err = run_soute(monkeypatch, capsys, "org", "add", "acme", *where)
    assert status == 1 and "--purge-leftovers" in err  # refused until told what to do
    assert run_soute(monkeypatch, capsys, "org", "add", "acme", "--purge-leftovers", *where)[0] == 0
    status, _, err = run_soute(monkeypatch, capsys, "org", "remove", "nobody", *where)
    assert (status, err.strip()) == (1, "soute org: no organisation 'nobody'")


def test_admin_verbs_name_a_missing_table(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--backend", "aws", "--dynamodb-table", "no-such-table"]
    where += ["--endpoint-url", moto_endpoint, "--region", "us-east-1"]
    status, _, err = run_soute(monkeypatch, capsys, "user", "list", *where)
    assert status == 1
    assert err.startswith(
        "soute user: no table no-such-table in region us-east-1: create it with `soute aws init"
    )


def test_aws_verbs_without_a_region_say_how_to_set_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    for args in (
        ("user", "list", "--backend", "aws", "--dynamodb-table", "t"),
        ("aws", "init", "--s3-bucket", "b", "--dynamodb-table", "t"),
    ):
        status, _, err = run_soute(monkeypatch, capsys, *args)
        assert status == 1
        assert err.strip().endswith("no AWS region: set --region or AWS_DEFAULT_REGION"), args


ACCESS_TIME = re.compile(r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")


def test_access_log_lines_carry_a_timestamp(soute_server: RegistryServer) -> None:
    marker = f"/v2/timestamped-{id(soute_server)}/tags/list"
    requests.get(f"{soute_server.url}{marker}", timeout=10)
    for _ in range(50):  # gunicorn writes the line once the answer is sent
        lines = [line for line in soute_server.log_path.read_text().splitlines() if marker in line]
        if lines:
            break
        time.sleep(0.1)
    assert lines and ACCESS_TIME.search(lines[0]), lines


def test_serve_lambda_says_first_which_storage_it_serves(
    moto_endpoint: str, tmp_path: Path
) -> None:
    with lambda_registry(moto_endpoint, tmp_path) as (server, storage):
        first = server.log_path.read_text().splitlines()[0]
    assert "auth OFF" in first
    assert (
        f"bucket {storage.s3_bucket}, table {storage.dynamodb_table}, region {storage.region},"
        f" endpoint {moto_endpoint}"
    ) in first


def _serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [default_soute(), "serve", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_serve_refuses_what_would_fail_in_its_workers_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        in_use = _serve("--port", port, cwd=tmp_path)
    missing = _serve("--tls-cert", "nope.pem", "--tls-key", "nope.key", cwd=tmp_path)
    under_file = _serve("--data-dir", "a-file/data", "--port", str(free_port()), cwd=tmp_path)
    assert (in_use.returncode, in_use.stderr) == (
        1,
        f"soute serve: cannot listen on 127.0.0.1:{port}: Address already in use (another"
        " server there? choose another --port or --host)\n",
    )
    assert (missing.returncode, missing.stderr) == (
        1,
        "soute serve: --tls-cert nope.pem: no such file\n",
    )
    assert (under_file.returncode, under_file.stderr) == (
        1,
        f"soute serve: --data-dir a-file/data: {tmp_path / 'a-file'}: it exists and is not a"
        " directory: choose another path\n",
    )
