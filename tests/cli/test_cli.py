"""The `soute` command: serve over TLS, `aws init`, and the errors a person gets."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import requests

from tests.support.moto import aws_backend
from tests.support.procs import find_tool
from tests.support.server import default_soute, default_template, running_registry


def _soute(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([default_soute(), *args], capture_output=True, text=True, timeout=timeout)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            find_tool("openssl"),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_serve_https(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    template = f"{default_template()} --tls-cert {cert} --tls-key {key}"
    # running_registry waits on plain HTTP; wait for the TLS port ourselves instead.
    with running_registry(tmp_path, template, expect_https=True) as server:
        reply = requests.get(f"https://{server.address}/v2/", verify=str(cert), timeout=10)
        assert reply.status_code == 200
        assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_tls_cert_without_key_is_a_usage_error(tmp_path: Path) -> None:
    result = _soute("serve", "--tls-cert", str(tmp_path / "cert.pem"))
    assert result.returncode == 2
    assert "--tls-cert and --tls-key go together" in result.stderr


def test_aws_init_is_idempotent(moto_endpoint: str) -> None:
    name = f"soute-cli-{uuid.uuid4().hex[:8]}"
    args = (
        "aws",
        "init",
        "--s3-bucket",
        name,
        "--dynamodb-table",
        name,
        "--endpoint-url",
        moto_endpoint,
        "--region",
        "us-east-1",
    )
    first = _soute(*args)
    assert first.returncode == 0, first.stderr
    assert f"bucket {name}: created" in first.stdout
    assert f"token signing secret {name}-token-signing: created" in first.stdout
    again = _soute(*args)
    assert again.returncode == 0, again.stderr
    assert f"table {name}: already there" in again.stdout
    assert f"token signing secret {name}-token-signing: already there" in again.stdout


def test_serve_with_auth_on_aws_without_the_secret_says_to_create_it(
    moto_endpoint: str,
) -> None:
    options = aws_backend(moto_endpoint)
    result = _soute(
        "serve",
        "--backend",
        "aws",
        "--auth",
        "--port",
        "1",
        "--s3-bucket",
        options.s3_bucket or "",
        "--dynamodb-table",
        options.dynamodb_table or "",
        "--signing-secret",
        "soute-never-created",
        "--endpoint-url",
        moto_endpoint,
        "--region",
        "us-east-1",
    )
    assert result.returncode == 1
    assert "soute-never-created" in result.stderr
    assert "soute aws init" in result.stderr
    assert "Traceback" not in result.stderr


def test_aws_init_reports_a_bad_bucket_name(moto_endpoint: str) -> None:
    result = _soute(
        "aws",
        "init",
        "--s3-bucket",
        "x",
        "--dynamodb-table",
        "t",
        "--endpoint-url",
        moto_endpoint,
        "--region",
        "us-east-1",
    )
    assert result.returncode == 1
    assert "InvalidBucketName" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_on_missing_aws_storage_says_to_create_it(moto_endpoint: str) -> None:
    result = _soute(
        "serve",
        "--backend",
        "aws",
        "--port",
        "1",
        "--s3-bucket",
        "no-such-bucket",
        "--dynamodb-table",
        "no-such-table",
        "--endpoint-url",
        moto_endpoint,
        "--region",
        "us-east-1",
    )
    assert result.returncode == 1
    assert "soute aws init" in result.stderr
    assert "Traceback" not in result.stderr


def test_aws_backend_needs_bucket_and_table() -> None:
    result = _soute("serve", "--backend", "aws")
    assert result.returncode == 2
    assert "--s3-bucket and --dynamodb-table" in result.stderr
