"""The AWS backend's token signing keys: derived from a Secrets Manager secret (on moto),
reloaded after a rotation, the previous version still verifying."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.auth.keys import derive_key
from chalicelib.auth.scopes import repository_scope
from chalicelib.auth.tokens import TokenInvalid, TokenService
from chalicelib.server.backends import BackendOptions, build_auth
from chalicelib.storage.aws.clients import secrets_manager_client
from chalicelib.storage.aws.secrets_manager_keys import (
    SecretsManagerKeys,
    SigningSecretMissing,
    ensure_signing_secret,
)
from tests.support.moto import aws_backend

SECRET = b"0123456789abcdef0123456789abcdef-a-test-secret"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secrets(moto_endpoint: str) -> object:
    return secrets_manager_client("us-east-1", moto_endpoint)


@pytest.fixture
def secret_id(secrets: object) -> str:
    name = f"soute-test-{uuid.uuid4().hex[:10]}-token-signing"
    assert ensure_signing_secret(secrets, name)
    return name


def service(keys: object) -> TokenService:
    return TokenService("soute", "registry.test", keys)  # type: ignore[arg-type]


def test_a_secret_derives_the_same_key_everywhere_and_another_secret_another() -> None:
    first, again = derive_key(SECRET), derive_key(SECRET)
    assert first.kid == again.kid
    token = service((first,)).issue("alice", [repository_scope("alice/app", "pull")])
    assert service((again,)).verify(token).subject == "alice"
    other = derive_key(SECRET + b"!")
    assert other.kid != first.kid
    with pytest.raises(TokenInvalid):
        service((other,)).verify(token)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        derive_key(b"short")


def test_init_creates_the_secret_once_with_a_random_value(secrets: object, secret_id: str) -> None:
    value = secrets.get_secret_value(SecretId=secret_id)["SecretString"]  # type: ignore[attr-defined]
    assert len(value) >= 64
    assert not ensure_signing_secret(secrets, secret_id)
    assert secrets.get_secret_value(SecretId=secret_id)["SecretString"] == value  # type: ignore[attr-defined]


def test_tokens_survive_a_rotation_and_new_keys_are_learnt(secrets: object, secret_id: str) -> None:
    clock = Clock()
    old_instance = SecretsManagerKeys(secrets, secret_id, clock=clock)
    before = service(old_instance).issue("alice", [])
    secrets.put_secret_value(SecretId=secret_id, SecretString=SECRET.decode())  # type: ignore[attr-defined]

    new_instance = SecretsManagerKeys(secrets, secret_id, clock=clock)
    assert new_instance.signing_key().kid == derive_key(SECRET).kid
    # A token signed before the rotation still verifies on a new instance (AWSPREVIOUS)...
    assert service(new_instance).verify(before).subject == "alice"
    after = service(new_instance).issue("bob", [])
    # ...and an instance started before it learns the new key from the first token it sees,
    # once `recheck` seconds have passed since its last read.
    with pytest.raises(TokenInvalid, match="unknown signing key"):
        service(old_instance).verify(after)
    clock.now += old_instance.recheck
    assert service(old_instance).verify(after).subject == "bob"
    assert old_instance.signing_key().kid == derive_key(SECRET).kid


def test_made_up_key_ids_cost_one_read_per_recheck(secrets: object, secret_id: str) -> None:
    clock = Clock()
    keys = SecretsManagerKeys(secrets, secret_id, clock=clock)
    reads = []
    secrets.meta.events.register(  # type: ignore[attr-defined]
        "before-call.secrets-manager.GetSecretValue", lambda **_: reads.append(1)
    )
    keys.signing_key()
    first = len(reads)
    for number in range(20):
        assert keys.key(f"made-up-{number}") is None
    assert len(reads) == first
    clock.now += keys.recheck
    assert keys.key("made-up") is None
    assert first < len(reads) <= 2 * first


def test_a_missing_secret_says_which(secrets: object) -> None:
    keys = SecretsManagerKeys(secrets, "soute-no-such-secret")
    with pytest.raises(SigningSecretMissing, match="soute-no-such-secret"):
        keys.signing_key()


def test_auth_on_the_aws_backend_fails_at_start_without_its_secret(moto_endpoint: str) -> None:
    options = aws_backend(moto_endpoint, auth=True)
    missing = BackendOptions(**{**options.__dict__, "signing_secret": "soute-not-created"})
    with pytest.raises(SigningSecretMissing):
        build_auth(missing)
    assert build_auth(options) is not None


class DenyingPrevious:
    """The moto client, except that reads of AWSPREVIOUS are denied once `deny` is set."""

    def __init__(self, client: object) -> None:
        self.client = client
        self.deny = False

    def get_secret_value(self, **arguments: str) -> dict:
        from botocore.exceptions import ClientError

        if self.deny and arguments.get("VersionStage") == "AWSPREVIOUS":
            error = {"Error": {"Code": "AccessDeniedException", "Message": "denied"}}
            raise ClientError(error, "GetSecretValue")
        return self.client.get_secret_value(**arguments)  # type: ignore[attr-defined]


def test_a_denied_previous_version_keeps_the_keys_loaded(secrets: object, secret_id: str) -> None:
    """Only "no previous version" means never rotated; a denied read must not drop the key
    that still verifies the tokens signed before a rotation."""
    old = SecretsManagerKeys(secrets, secret_id)
    before = service(old).issue("alice", [])
    secrets.put_secret_value(SecretId=secret_id, SecretString=SECRET.decode())  # type: ignore[attr-defined]
    clock, client = Clock(), DenyingPrevious(secrets)
    keys = SecretsManagerKeys(client, secret_id, clock=clock)
    assert service(keys).verify(before).subject == "alice"
    client.deny = True
    clock.now += keys.refresh
    assert keys.signing_key().kid == derive_key(SECRET).kid
    assert keys.key(old.signing_key().kid) is not None  # still held
