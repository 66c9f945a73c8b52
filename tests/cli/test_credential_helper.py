"""docker-credential-soute, the protocol side: what docker sees for a host it does not serve,
`list`, and the no-op `store`/`erase` (a real `get` is in tests/auth/test_aws_login_served.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from chalicelib.cli import credential_helper


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = ""
) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = credential_helper.main(list(argv))
    return status, capsys.readouterr().out.strip()


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return tmp_path


def test_an_unknown_host_is_not_found_as_docker_expects(monkeypatch, capsys) -> None:  # noqa: ANN001
    assert _run(monkeypatch, capsys, "get", stdin="registry.example.com\n") == (
        1,
        "credentials not found in native keychain",
    )


def test_register_points_docker_at_the_helper_and_list_names_the_host(
    monkeypatch,
    capsys,
    docker_config: Path,  # noqa: ANN001
) -> None:
    config = docker_config / "config.json"
    config.write_text(json.dumps({"auths": {"reg.test": {"auth": "c3RhbGU6b2xk"}}}))
    credential_helper.register("reg.test", "svc.test", "eu-west-1", None)
    written = json.loads(config.read_text())
    assert written["credHelpers"] == {"reg.test": "soute"}
    assert "reg.test" not in written["auths"]  # the stale stored password is gone
    settings = json.loads((docker_config / credential_helper.SETTINGS_FILE).read_text())
    assert settings["reg.test"] == {
        "service": "svc.test",
        "region": "eu-west-1",
        "sts_endpoint": None,
    }
    assert _run(monkeypatch, capsys, "list") == (0, json.dumps({"reg.test": "aws"}))


def test_store_and_erase_keep_nothing(monkeypatch, capsys, docker_config: Path) -> None:  # noqa: ANN001
    stored = json.dumps({"ServerURL": "reg.test", "Username": "aws", "Secret": "s3cret"})
    assert _run(monkeypatch, capsys, "store", stdin=stored) == (0, "")
    assert _run(monkeypatch, capsys, "erase", stdin="reg.test") == (0, "")
    assert "s3cret" not in "".join(p.read_text() for p in docker_config.iterdir())


def test_an_unknown_action_is_a_usage_error(monkeypatch, capsys) -> None:  # noqa: ANN001
    status, output = _run(monkeypatch, capsys, "frobnicate")
    assert status == 2 and "usage" in output
