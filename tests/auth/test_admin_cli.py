"""The admin verbs and `soute login`, in process, on a data directory."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from chalicelib.api.router import Router
from chalicelib.auth.access_tokens import create_access_token
from chalicelib.auth.passwords import verify_password
from chalicelib.auth.throttle import LoginThrottle
from chalicelib.cli.admin import open_store
from chalicelib.server.backends import build_registry, embedded_registry
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb_identities import DynamoIdentityStore
from chalicelib.storage.aws.dynamodb_throttle import DynamoFailureCounter
from chalicelib.storage.embedded.sqlite_identities import FILE
from chalicelib.storage.embedded.sqlite_throttle import SqliteFailureCounter
from tests.auth.soute_main import aws_storage_args, run_soute
from tests.contract.client import RouterClient, image_manifest, put_manifest
from tests.support.moto import aws_backend
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
    # As docker login keeps it: the refresh token the registry gave, and no password.
    assert config["auths"][host]["auth"] == "ZGV2Og=="  # dev:
    assert config["auths"][host]["identitytoken"]
    assert stat.S_IMODE(os.stat(config_path).st_mode) == 0o600
    status, _, err = login("wrong")
    assert status == 3 and "wrong user name or password" in err


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


# -- names, robots, removal and reuse (issue 10, F3 and F4) -----------------------------------


def _push(router: Router, repository: str) -> None:
    client = RouterClient(router)
    reply = put_manifest(client, repository, "latest", image_manifest(client, repository))
    assert reply.status == 201, reply.body


def test_a_name_with_a_final_newline_is_refused(run) -> None:  # noqa: ANN001
    status, _, err = run("user", "add", "bob\n", "--password-stdin", stdin="long enough\n")
    assert status == 1 and "invalid user name 'bob\\n'" in err
    status, _, err = run("org", "add", "acme\n")
    assert status == 1 and "invalid organisation name" in err


def test_robots_act_in_their_namespace_under_a_valid_unique_name(run) -> None:  # noqa: ANN001
    run("org", "add", "acme")
    run("org", "add", "other")
    robot = ("token", "create", "--robot", "acme")
    status, _, err = run(*robot, "--name", "ci", "--namespace", "other")
    assert status == 1 and "acts in acme only, not in other" in err
    status, _, err = run(*robot, "--name", "CI\n")
    assert status == 1 and "invalid robot name" in err
    assert run(*robot, "--name", "ci")[0] == 0
    status, _, err = run(*robot, "--name", "ci", "--actions", "pull,push")
    assert status == 1 and "acme+ci exists already" in err
    assert run("token", "create", "--robot", "other", "--name", "ci")[0] == 0


def test_removing_a_user_revokes_their_robots_and_the_name_keeps_its_leftovers(
    run,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    run("user", "add", "bob", "--password-stdin", stdin="bob's password\n")
    assert run("token", "create", "--robot", "bob", "--name", "ci", "--actions", "push")[0] == 0
    run("public", "bob/app")
    _push(Router(embedded_registry(str(tmp_path))), "bob/app")
    status, out, _ = run("user", "remove", "bob")
    assert status == 0 and "robots are revoked" in out and "bob/ still holds repositories" in out
    store = open_store(str(tmp_path))
    assert all(token.revoked for token in store.tokens("bob"))
    status, _, err = run("user", "add", "bob", "--password-stdin", stdin="new bob's pass\n")
    assert status == 1
    assert "repositories bob/app; public marks bob/app" in err
    assert "--purge-leftovers" in err and "--keep-repositories" in err
    status, _, err = run(
        "user", "add", "bob", "--purge-leftovers", "--password-stdin", stdin="new bob's pass\n"
    )
    assert status == 1 and "--keep-repositories" in err
    assert store.public_marks("bob") == ["bob/app"]  # nothing purged when the name is refused
    assert store.user("bob") is None
    status, out, _ = run(
        "user",
        "add",
        "bob",
        "--purge-leftovers",
        "--keep-repositories",
        "--password-stdin",
        stdin="new bob's pass\n",
    )
    assert status == 0 and "1 public marks cleared" in out
    assert store.user("bob") is not None and store.public_marks("bob") == []
    assert "keep-repositories" in run("audit", "--limit", "1")[1]


def test_tokens_left_behind_by_a_former_holder_block_the_name(run, tmp_path: Path) -> None:  # noqa: ANN001
    """Users removed before removal revoked their robots left live ones behind."""
    store = open_store(str(tmp_path))
    left, _ = create_access_token("robot", "carol", ["carol"], ["pull"], description="ci")
    store.add_token(left)
    status, _, err = run("org", "add", "carol")
    assert status == 1 and f"live tokens {left.id} (carol+ci)" in err
    status, out, _ = run("org", "add", "carol", "--purge-leftovers")
    assert status == 0 and "1 tokens revoked" in out
    assert store.token(left.id).revoked and store.is_org("carol")


def test_unlock_forgets_an_accounts_failed_logins(run, tmp_path: Path) -> None:  # noqa: ANN001
    run("user", "add", "alice", "--password-stdin", stdin="wonderland\n")
    # the counts `soute serve` shares
    throttle = LoginThrottle(counter=SqliteFailureCounter(str(tmp_path / FILE)))
    for number in range(throttle.limit):
        throttle.failed("alice", f"10.6.6.{number}")
    assert throttle.blocked("alice", "10.0.0.1")
    status, out, _ = run("user", "unlock", "alice")
    assert status == 0 and f"{throttle.limit} recent failed logins forgotten" in out
    assert not throttle.blocked("alice", "10.0.0.1")
    status, _, err = run("user", "unlock", "ghost")
    assert status == 1 and "no user 'ghost'" in err


def test_unlock_and_leftovers_on_the_aws_backend(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    options = aws_backend(moto_endpoint)
    aws = ["--backend", "aws", "--dynamodb-table", options.dynamodb_table or ""]
    aws += ["--endpoint-url", moto_endpoint, "--region", options.region or ""]

    def call(*args: str, stdin: str = "") -> tuple[int, str, str]:
        return run_soute(monkeypatch, capsys, *args, *aws, stdin=stdin)

    assert call("user", "add", "alice", "--password-stdin", stdin="wonderland\n")[0] == 0
    dynamodb = aws_clients(options.region, moto_endpoint).dynamodb
    throttle = LoginThrottle(counter=DynamoFailureCounter(dynamodb, options.dynamodb_table or ""))
    for number in range(throttle.limit):
        throttle.failed("alice", f"10.6.6.{number}")
    status, out, _ = call("user", "unlock", "alice")
    assert status == 0 and f"{throttle.limit} recent failed logins" in out
    assert not throttle.blocked("alice", "10.0.0.1")
    assert call("token", "create", "--robot", "alice", "--name", "ci")[0] == 0
    _push(Router(build_registry(options)), "alice/app")
    assert call("user", "remove", "alice")[0] == 0
    store = DynamoIdentityStore(dynamodb, options.dynamodb_table or "")
    assert all(token.revoked for token in store.tokens("alice"))
    status, _, err = call("org", "add", "alice")
    assert status == 1 and "repositories alice/app" in err
    assert call("org", "add", "alice", "--keep-repositories")[0] == 0
