"""AWS-native login end to end, in the production shape: `soute serve --lambda --auth
--aws-login` on moto, a role mapped to a team with `soute aws map`, `soute login --aws` signed
with a session of that role, then skopeo pushing and pulling with the docker config it wrote.
(STS is the emulator of tests/auth/sts_emulator.py; see there what it does not check.)"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from chalicelib.auth.model import MAINTAINER, Team
from chalicelib.server.backends import BackendOptions, build_auth, options_from_environment
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb_identities import DynamoIdentityStore
from tests.auth.sts_emulator import StsEmulator
from tests.support.clients import Skopeo
from tests.support.images import build_image
from tests.support.lambda_server import lambda_registry
from tests.support.server import RegistryServer, default_soute

pytestmark = [pytest.mark.realclient, pytest.mark.timeout(300)]

SERVICE = "127.0.0.1"  # the host clients name: `soute login --aws` signs only for it
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def served(
    moto_endpoint: str, sts: StsEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RegistryServer, BackendOptions]]:
    mode = ("--auth", "--aws-login", "--auth-service", SERVICE, "--sts-endpoint", sts.endpoint)
    workdir = tmp_path_factory.mktemp("aws-login-served")
    with lambda_registry(moto_endpoint, workdir, *mode) as (server, storage):
        store = DynamoIdentityStore(
            aws_clients(storage.region, moto_endpoint).dynamodb, storage.dynamodb_table or ""
        )
        store.add_org("acme")
        store.put_team(Team("acme", "ci", MAINTAINER))
        yield server, storage


def _soute(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [default_soute(), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _role_session(sts: StsEmulator, role: str) -> dict[str, str]:
    client = boto3.client("sts", endpoint_url=sts.endpoint, region_name="us-east-1")
    credentials = client.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="ci-job"
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def test_a_mapped_role_logs_in_and_skopeo_pushes_and_pulls(
    served: tuple[RegistryServer, BackendOptions],
    sts: StsEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the credential helper: skopeo runs docker-credential-soute, which signs a fresh
    request with the role session in its environment on every use."""
    server, storage = served
    helper_dir = str(Path(default_soute()).parent)  # where docker-credential-soute is installed
    for name, value in _role_session(sts, "ci-deployer").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("PATH", f"{helper_dir}{os.pathsep}{os.environ['PATH']}")
    env = dict(os.environ)
    login = ("login", server.address, "--insecure", "--aws", "--sts-endpoint", sts.endpoint)
    refused = _soute(*login, env=env)
    assert refused.returncode == 3, refused.stderr  # refused: soute push's exit status too
    assert "wrong user name or password" in refused.stderr  # no mapping yet: no login

    storage_args = ["--backend", "aws", "--dynamodb-table", str(storage.dynamodb_table)]
    storage_args += ["--endpoint-url", str(storage.endpoint_url), "--region", "us-east-1"]
    pattern = f"arn:aws:iam::{ACCOUNT}:role/ci-*"
    mapped = _soute("aws", "map", pattern, "--team", "acme/ci", *storage_args, env=env)
    assert mapped.returncode == 0, mapped.stderr
    logged_in = _soute(*login, env=env)
    assert logged_in.returncode == 0, logged_in.stderr
    assert "docker-credential-soute" in logged_in.stdout
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["credHelpers"][server.address] == "soute"
    assert server.address not in config.get("auths", {})  # nothing secret stored
    before = len(sts.presigned_hits())

    authfile = str(tmp_path / "config.json")
    skopeo = Skopeo(tmp_path / "skopeo")
    image = build_image(tmp_path / "src", [4096, 1000], tag="v1")
    remote = f"docker://{server.address}/acme/app:v1"
    skopeo.copy(image.ref, remote, "--preserve-digests", "--dest-authfile", authfile)
    back = skopeo.run("inspect", "--raw", "--tls-verify=false", "--authfile", authfile, remote)
    assert back.stdout.encode() == image.manifest
    elsewhere = f"docker://{server.address}/other/app:v1"
    denied = skopeo.run(
        "copy", "--dest-tls-verify=false", "--dest-authfile", authfile, image.ref, elsewhere,
        check=False,
    )  # fmt: skip
    assert denied.returncode != 0
    # Every presigned request reached STS with this registry's service name in the signed
    # header: a URL minted for another registry would fail STS's signature check.
    sent = sts.presigned_hits()
    assert sent and {hit["headers"].get("x-soute-service") for hit in sent} == {SERVICE}
    # skopeo's logins were signed afresh by the helper, not replayed from `soute login`.
    signatures = {hit["query"]["X-Amz-Signature"] for hit in sent[before:]}
    assert len(sent) > before and signatures


def test_aws_login_needs_auth_and_a_service_name_of_its_own() -> None:
    with pytest.raises(ValueError, match="service name"):
        build_auth(BackendOptions(auth=True, aws_login=True))
    options = BackendOptions(
        auth=True, auth_service=SERVICE, aws_login=True, sts_endpoints=("http://127.0.0.1:1",)
    )
    assert options_from_environment(options.environment()) == options
    serve = _soute("serve", "--aws-login", "--auth", env=dict(os.environ))
    assert serve.returncode == 2
    assert "--auth-service" in serve.stderr
