"""`soute login` and `soute push` pick the scheme the same way (plain HTTP for loopback hosts,
HTTPS otherwise, --tls and --insecure to force one) and fail with the same words and exit
statuses; an AWS login is signed for the STS endpoint botocore gives the region."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chalicelib.auth.aws_login import decode_secret, sts_hosts
from chalicelib.cli.login import aws_secret
from chalicelib.client.errors import UsageError
from chalicelib.client.references import base_url
from tests.support.images import build_image
from tests.support.server import RegistryServer, default_soute
from tests.support.soute_push import SoutePush


@pytest.mark.parametrize(
    ("host", "insecure", "tls", "url"),
    [
        ("localhost", False, False, "http://localhost"),
        ("localhost:5000", False, False, "http://localhost:5000"),
        ("127.0.0.1", False, False, "http://127.0.0.1"),
        ("127.8.9.10:80", False, False, "http://127.8.9.10:80"),
        ("[::1]:5000", False, False, "http://[::1]:5000"),
        ("registry.example.com", False, False, "https://registry.example.com"),
        ("10.0.0.1:5000", False, False, "https://10.0.0.1:5000"),
        ("localhost.example.com", False, False, "https://localhost.example.com"),
        ("127.0.0.1:5000", False, True, "https://127.0.0.1:5000"),
        ("registry.example.com", True, False, "http://registry.example.com"),
    ],
)
def test_the_scheme(host: str, insecure: bool, tls: bool, url: str) -> None:
    assert base_url(host, insecure, tls) == url


def test_insecure_and_tls_together_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="contradict"):
        base_url("127.0.0.1", True, True)


def _soute(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    client = SoutePush(tmp_path / "client")
    return subprocess.run(
        [default_soute(), *args],
        input="pw\n",
        env=client.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("flags", "status", "words"),
    [
        (["--tls"], 4, "TLS with {host} failed ("),
        (["--tls", "--insecure"], 2, "--insecure (plain HTTP) and --tls (HTTPS) contradict"),
    ],
)
def test_login_and_push_fail_alike(
    soute_server: RegistryServer, tmp_path: Path, flags: list[str], status: int, words: str
) -> None:
    host = soute_server.address
    image = build_image(tmp_path / "src", [100], tag="v1")
    push = _soute(tmp_path, "push", "-q", *flags, image.ref, f"{host}/team/app:v1")
    login = _soute(tmp_path, "login", *flags, "-u", "dev", "--password-stdin", host)
    for done, verb in ((push, "push"), (login, "login")):
        assert done.returncode == status, done.stderr
        assert done.stderr.startswith(f"soute {verb}: {words.format(host=host)}"), done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("eu-west-1", "sts.eu-west-1.amazonaws.com"),
        ("cn-north-1", "sts.cn-north-1.amazonaws.com.cn"),
        ("us-gov-west-1", "sts.us-gov-west-1.amazonaws.com"),
        ("us-iso-east-1", "sts.us-iso-east-1.c2s.ic.gov"),
        ("eu-isoe-west-1", "sts.eu-isoe-west-1.cloud.adc-e.uk"),
    ],
)
def test_an_aws_login_is_signed_for_the_regions_own_sts(
    monkeypatch: pytest.MonkeyPatch, region: str, host: str
) -> None:
    """Whatever the partition; and it is a host the registry would send the login to."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    url = decode_secret(aws_secret("registry.example.com", region, 900, None))
    assert url is not None and urlsplit(url).hostname == host
    assert host in sts_hosts()
