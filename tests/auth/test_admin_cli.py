"""The admin verbs and `soute login`, in process, on a data directory."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from chalicelib.auth.passwords import verify_password
from chalicelib.cli.admin import open_store
from tests.auth.soute_main import aws_storage_args, run_soute
from tests.support.server import RegistryServer


def test_users_are_added_with_a_hashed_password(run, tmp_path: Path) -> None:  # noqa: ANN001
    assert run("user", "add", "alice", "--password-stdin", stdin="wonderland\n")[0] == 0
    stored = open_store(str(tmp_path)).user("alice")
    assert stored is not None and verify_password("wonderland", stored.password_hash)
    status, out, _ = run("user", "list")
    assert status == 0 and out.strip() == "alice"
    status, _, err = run("user", "add", "alice", "--password-stdin", stdin="wonderland\n")
    assert status == 1 and "taken" in err
    status, _, err = run("user", "add", "bob", "--password-stdin", stdin="short\n")
    assert status == 1 and "at least 8" in err
    status, _, err = run("user", "add", "Bob/x", "--password-stdin", stdin="long enough\n")
    assert status == 1 and "invalid user name" in err
    status, _, err = run("org", "add", "acme+x")
    assert status == 1 and "invalid organisation name" in err


def test_organisations_teams_and_public_marks(run, tmp_path: Path) -> None:  # noqa: ANN001
    run("user", "add", "rita", "--password-stdin", stdin="readonly-rita\n")
    assert run("org", "add", "acme")[0] == 0
    assert run("team", "add", "acme", "readers", "--role", "reader")[0] == 0
    assert run("team", "join", "acme", "readers", "rita")[0] == 0
    status, out, _ = run("team", "list", "acme")
    assert out.strip() == "acme/readers reader: rita"
    status, _, err = run("team", "join", "acme", "readers", "ghost")
    assert status == 1 and "ghost" in err
    assert run("public", "acme/docs")[0] == 0
    assert open_store(str(tmp_path)).is_public("acme/docs")
    assert run("public", "acme/docs", "--off")[0] == 0
    assert not open_store(str(tmp_path)).is_public("acme/docs")
    assert run("team", "leave", "acme", "readers", "rita")[0] == 0
    assert run("team", "remove", "acme", "readers")[0] == 0


def test_a_robot_token_is_shown_once_and_revocable(run, tmp_path: Path) -> None:  # noqa: ANN001
    run("org", "add", "acme")
    status, out, _ = run(
        "token",
        "create",
        "--robot",
        "acme",
        "--name",
        "ci",
        "--actions",
        "pull,push",
        "--expires-days",
        "30",
    )
    assert status == 0 and "acme+ci" in out
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("soute_")
    status, listing, _ = run("token", "list")
    assert secret not in listing and "acme+ci acme pull,push" in listing and "active" in listing
    token_id = listing.split()[0]
    assert run("token", "revoke", token_id)[0] == 0
    assert "revoked" in run("token", "list")[1]
    assert run("token", "revoke", "nope")[0] == 1


def test_a_token_needs_an_existing_owner_and_valid_actions(run) -> None:  # noqa: ANN001
    status, _, err = run("token", "create", "--user", "ghost")
    assert status == 1 and "ghost" in err
    run("user", "add", "alice", "--password-stdin", stdin="wonderland\n")
    status, _, err = run("token", "create", "--user", "alice", "--actions", "sudo")
    assert status == 1 and "pull" in err


def test_login_writes_docker_config(
    auth_server: RegistryServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"credsStore": "", "x": 1}))
    host = auth_server.address

    def login(password: str) -> tuple[int, str, str]:
        args = ("login", host, "--insecure", "-u", "dev", "--password-stdin")
        return run_soute(monkeypatch, capsys, *args, stdin=f"{password}\n")

    status, out, _ = login("pw")
    assert status == 0, out
    config_path = tmp_path / "docker" / "config.json"
    config = json.loads(config_path.read_text())
    assert config["x"] == 1
    assert config["auths"][host] == {"auth": "ZGV2OnB3"}  # dev:pw
    assert stat.S_IMODE(os.stat(config_path).st_mode) == 0o600
    status, _, err = login("wrong")
    assert status == 1 and "wrong user name or password" in err


def test_the_admin_verbs_work_on_the_aws_backend(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aws = aws_storage_args(moto_endpoint)

    def call(*args: str, stdin: str = "") -> tuple[int, str, str]:
        return run_soute(monkeypatch, capsys, *args, *aws, stdin=stdin)

    assert call("user", "add", "alice", "--password-stdin", stdin="wonderland\n")[0] == 0
    assert call("org", "add", "acme")[0] == 0
    assert call("team", "add", "acme", "devs", "--role", "maintainer")[0] == 0
    assert call("team", "join", "acme", "devs", "alice")[0] == 0
    assert call("team", "list")[1].strip() == "acme/devs maintainer: alice"
    status, out, _ = call("token", "create", "--user", "alice", "--actions", "pull")
    assert status == 0 and out.strip().splitlines()[-1].startswith("soute_")
    status, out, _ = call("audit")
    lines = out.strip().splitlines()
    assert status == 0 and len(lines) == 5
    assert "token create user=alice actions=pull cli" in lines[0]
    status, _, err = run_soute(monkeypatch, capsys, "user", "list", "--backend", "aws")
    assert status == 1 and "--dynamodb-table" in err
