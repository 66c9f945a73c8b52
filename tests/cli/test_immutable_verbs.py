"""`soute immutable set|get|rm|list` on both backends, as an admin runs them: what each prints,
that a setting is what the registry then reads, and one line with exit 1 (2 for usage) for
what a user gets wrong."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chalicelib.lifecycle import immutability
from chalicelib.server.backends import BackendOptions, open_storage
from tests.support.moto import aws_backend
from tests.support.server import default_soute


@pytest.fixture(params=["embedded", "aws"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[list[str], BackendOptions]:
    """The CLI's storage arguments and the options of the registry they reach."""
    if request.param == "embedded":
        data_dir = tmp_path / "data"
        data_dir.mkdir(mode=0o700)
        return ["--data-dir", str(data_dir)], BackendOptions(data_dir=str(data_dir))
    options = aws_backend(request.getfixturevalue("moto_endpoint"))
    args = ["--backend", "aws", "--dynamodb-table", str(options.dynamodb_table)]
    args += ["--endpoint-url", str(options.endpoint_url), "--region", str(options.region)]
    return args, options


def _soute(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [default_soute(), "immutable", *args], capture_output=True, text=True, timeout=60
    )


def test_set_get_list_rm(backend: tuple[list[str], BackendOptions]) -> None:
    where, options = backend
    done = _soute("set", "acme", "--exclude", "dev-*", "--exclude", "*-rc*", *where)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "acme (namespace or repository): tags immutable except dev-*, *-rc*\n"
    assert _soute("set", "acme/app", "--off", *where).returncode == 0
    policies = open_storage(options).policies()
    assert immutability.effective_rule(policies, "acme/other")[1].protects("v1")
    assert not immutability.effective_rule(policies, "acme/app")[1].protects("v1")

    assert _soute("get", "acme/app", *where).stdout == "acme/app: mutable\n"
    assert _soute("get", "acme/other", *where).stdout == (
        "acme/other: no setting\nacme/other: tags immutable except dev-*, *-rc* (namespace acme)\n"
    )
    assert _soute("list", *where).stdout == (
        "acme: immutable except dev-*, *-rc*\nacme/app: mutable\n"
    )
    assert _soute("rm", "acme/app", *where).stdout == "acme/app: immutability setting removed\n"
    again = _soute("rm", "acme/app", *where)
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr == (
        "soute immutable: acme/app has no immutability setting (`soute immutable list`)\n"
    )
    assert _soute("list", *where).stdout == "acme: immutable except dev-*, *-rc*\n"


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (["set", "acme", "--exclude", "dev/*"], 1, "exclusions: 'dev/*' is not a wildcard"),
        (["set", "acme", "--exclude", "*a*b*c*d*"], 1, "has 5 '*'; a pattern has at most 4"),
        (["set", "Acme"], 1, "invalid repository name 'Acme'"),
        (["set"], 2, "the following arguments are required: SCOPE"),
        (["get", "a//b"], 1, "invalid repository name 'a//b'"),
    ],
)
def test_bad_input_is_one_line(
    backend: tuple[list[str], BackendOptions], args: list[str], status: int, says: str
) -> None:
    where, options = backend
    refused = _soute(*args, *where)
    assert refused.returncode == status
    assert says in refused.stderr
    assert "Traceback" not in refused.stderr
    lines = refused.stderr.strip().splitlines()
    if status == 1:
        assert len(lines) == 1
    else:  # argparse: its usage, then the one line of the error
        assert lines[-1].startswith("soute immutable set: error: ")
    assert open_storage(options).policies().entries(immutability.KIND) == []
