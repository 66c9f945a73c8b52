"""A registry with auth on, and the people of the permission matrix:

- acme: an organisation with teams `owners` (olga), `maintainers` (mia), `readers` (rita),
  and a robot `acme+ci` allowed pull and push in acme;
- other: an organisation whose maintainer otto has no team in acme;
- `pub`: a public namespace (anonymous pull).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chalicelib.api.router import Router
from chalicelib.auth.access_tokens import create_access_token
from chalicelib.auth.audit import AuditLog
from chalicelib.auth.context import AuthContext
from chalicelib.auth.model import MAINTAINER, OWNER, READER, Team, User
from chalicelib.auth.passwords import hash_password
from chalicelib.server.backends import build_auth, build_registry, embedded_auth, embedded_registry
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb_audit import DynamoAuditLog
from chalicelib.storage.aws.dynamodb_identities import DynamoIdentityStore
from chalicelib.storage.embedded.sqlite_audit import SqliteAuditLog
from chalicelib.storage.embedded.sqlite_identities import FILE, SqliteIdentityStore
from tests.auth.soute_main import run_soute
from tests.auth.sts_emulator import StsEmulator, sts_emulator
from tests.contract.client import ConfiguredFunction, LambdaClient, LiveClient, RouterClient
from tests.support.lambda_server import lambda_registry
from tests.support.moto import aws_backend
from tests.support.server import RegistryServer, default_template, running_registry
from tests.support.token_client import TokenClient

PASSWORD = "correct horse battery staple"
PEOPLE = {"olga": ("acme", OWNER), "mia": ("acme", MAINTAINER), "rita": ("acme", READER)}
PEOPLE_ELSEWHERE = {"otto": ("other", MAINTAINER)}
SERVE_AUTH = f"{default_template()} --auth"  # `soute serve --auth` on a data directory


@dataclass
class AuthWorld:
    router: Router
    auth: AuthContext
    robot_secret: str
    url: str | None = None  # a live `soute serve --auth` on the same data, when set
    function: ConfiguredFunction | None = None  # the Lambda front end on the same data, when set

    def raw(self) -> RouterClient | LiveClient | LambdaClient:
        if self.function is not None:
            return LambdaClient(self.function)
        return LiveClient(self.url) if self.url else RouterClient(self.router)

    def as_user(self, name: str | None) -> TokenClient:
        if name is None:
            return TokenClient(self.raw())
        if name == "robot":
            return TokenClient(self.raw(), "acme+ci", self.robot_secret)
        return TokenClient(self.raw(), name, PASSWORD)


def _populate(auth: AuthContext) -> str:
    store = auth.store
    hashed = hash_password(PASSWORD)  # one scrypt for everyone: the tests stay fast
    for org in ("acme", "other"):
        store.add_org(org)
    for name, (org, role) in {**PEOPLE, **PEOPLE_ELSEWHERE}.items():
        store.add_user(User(name, hashed))
        store.put_team(Team(org, f"{role}s", role))
        store.add_member(org, f"{role}s", name)
    store.add_org("pub")
    store.set_public("pub", True)
    robot, secret = create_access_token("robot", "acme", ["acme"], ["pull", "push"], None, "ci")
    store.add_token(robot)
    return secret


@pytest.fixture(scope="module")
def router_world(tmp_path_factory: pytest.TempPathFactory) -> AuthWorld:
    data_dir: Path = tmp_path_factory.mktemp("auth-data")
    auth = embedded_auth(str(data_dir))
    secret = _populate(auth)
    return AuthWorld(Router(embedded_registry(str(data_dir)), auth), auth, secret)


@pytest.fixture(scope="module")
def world(router_world: AuthWorld) -> AuthWorld:
    return router_world


@pytest.fixture(scope="module")
def served_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthWorld]:
    """The same people, behind a real `soute serve --auth` sharing the data directory."""
    workdir: Path = tmp_path_factory.mktemp("served-world")
    with running_registry(workdir, SERVE_AUTH, ready_status=401) as server:
        auth = embedded_auth(str(server.data_dir))
        secret = _populate(auth)
        router = Router(embedded_registry(str(server.data_dir)), auth)
        yield AuthWorld(router, auth, secret, server.url)


# The audit log each auth server writes, by address: SQLite in its data directory, or DynamoDB.
AUDIT_LOGS: dict[str, AuditLog] = {}


def audit_log(server: RegistryServer) -> AuditLog:
    return AUDIT_LOGS[server.address]


@pytest.fixture(scope="module")
def lambda_world(moto_endpoint: str) -> AuthWorld:
    """The same people in DynamoDB, behind the Lambda front end (API Gateway emulator) on S3 and
    DynamoDB, the signing key from Secrets Manager: the deployed shape."""
    options = aws_backend(moto_endpoint, auth=True)
    auth = build_auth(options)
    assert auth is not None
    secret = _populate(auth)
    function = ConfiguredFunction(options.environment())
    return AuthWorld(Router(build_registry(options), auth), auth, secret, function=function)


@pytest.fixture(scope="session")
def embedded_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """`soute serve --auth` with one user, dev (password "pw"), added through its data dir."""
    workdir: Path = tmp_path_factory.mktemp("auth-server")
    with running_registry(workdir, SERVE_AUTH, ready_status=401) as server:
        SqliteIdentityStore(str(server.data_dir / FILE)).add_user(User("dev", hash_password("pw")))
        AUDIT_LOGS[server.address] = SqliteAuditLog(str(server.data_dir / FILE))
        yield server


@pytest.fixture(scope="session")
def lambda_auth_server(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """`soute serve --lambda --auth` on moto, as deployed: the same user dev, in DynamoDB."""
    workdir = tmp_path_factory.mktemp("lambda-auth-server")
    with lambda_registry(moto_endpoint, workdir, "--auth") as (server, storage):
        dynamodb = aws_clients(storage.region, moto_endpoint).dynamodb
        store = DynamoIdentityStore(dynamodb, storage.dynamodb_table or "")
        store.add_user(User("dev", hash_password("pw")))
        AUDIT_LOGS[server.address] = DynamoAuditLog(dynamodb, storage.dynamodb_table or "")
        yield server


@pytest.fixture(scope="session", params=["embedded", "lambda"])
def auth_server(request: pytest.FixtureRequest) -> RegistryServer:
    """Each real-client test runs against `soute serve --auth` and `soute serve --lambda
    --auth`, both with the user dev."""
    return request.getfixturevalue(f"{request.param}_auth_server")


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    """`soute` in process on the data directory `tmp_path`: `run(*args, stdin="")` gives its
    status, output and error output."""

    def call(*args: str, stdin: str = "") -> tuple[int, str, str]:
        return run_soute(monkeypatch, capsys, *args, "--data-dir", str(tmp_path), stdin=stdin)

    return call


@pytest.fixture(scope="module")
def sts() -> Iterator[StsEmulator]:
    """The STS emulator (tests/auth/sts_emulator.py), one per test module."""
    with sts_emulator() as emulator:
        yield emulator
