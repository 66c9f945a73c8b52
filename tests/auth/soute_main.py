"""`soute` run in this process, as the admin-verb and login tests run it."""

from __future__ import annotations

import io

import pytest

from chalicelib.cli.main import main
from tests.support.moto import aws_backend


def run_soute(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    """`soute ARGS` with `stdin` as its standard input: its status, output and error output."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def aws_storage_args(moto_endpoint: str) -> list[str]:
    """The options that point `soute` at a fresh bucket and table on `moto_endpoint`."""
    options = aws_backend(moto_endpoint)
    args = ["--backend", "aws", "--dynamodb-table", options.dynamodb_table or ""]
    return args + ["--endpoint-url", moto_endpoint, "--region", options.region or ""]
