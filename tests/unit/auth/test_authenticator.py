"""Logins with passwords and access-token secrets, throttling, and bearer subjects."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.auth.access_tokens import create_access_token
from chalicelib.auth.authenticator import Authenticator, LoginThrottled
from chalicelib.auth.model import READER, Team, User
from chalicelib.auth.passwords import hash_password
from chalicelib.auth.throttle import LoginThrottle
from chalicelib.storage.embedded.sqlite_identities import SqliteIdentityStore


@pytest.fixture
def auth(tmp_path: Path) -> Authenticator:
    store = SqliteIdentityStore(str(tmp_path / "identities.sqlite"))
    store.add_user(User("alice", hash_password("wonderland")))
    store.add_org("acme")
    store.put_team(Team("acme", "readers", READER))
    store.add_member("acme", "readers", "alice")
    return Authenticator(store, LoginThrottle(limit=3, window=60))


def test_a_password_login_carries_the_teams(auth: Authenticator) -> None:
    principal = auth.login("alice", "wonderland", "10.0.0.1")
    assert principal is not None and principal.kind == "user"
    assert [team.name for team in principal.teams] == ["readers"]
    assert auth.subject(principal) == "alice"


@pytest.mark.parametrize(("account", "secret"), [("alice", "wrong"), ("ghost", "wonderland")])
def test_wrong_credentials_prove_nothing(auth: Authenticator, account: str, secret: str) -> None:
    assert auth.login(account, secret, "10.0.0.1") is None


def test_repeated_failures_throttle_the_account(auth: Authenticator) -> None:
    for _ in range(3):
        assert auth.login("alice", "guess", "10.0.0.1") is None
    with pytest.raises(LoginThrottled):
        auth.login("alice", "wonderland", "10.0.0.2")  # even the right password, elsewhere


def test_repeated_failures_throttle_the_source(auth: Authenticator) -> None:
    for account in ("a", "b", "c"):
        auth.login(account, "guess", "10.6.6.6")
    with pytest.raises(LoginThrottled):
        auth.login("alice", "wonderland", "10.6.6.6")
    assert auth.login("alice", "wonderland", "10.0.0.1") is not None


def test_a_robot_logs_in_with_its_secret(auth: Authenticator) -> None:
    token, secret = create_access_token("robot", "acme", ["acme"], ["pull"], description="ci")
    auth.store.add_token(token)
    principal = auth.login("acme+ci", secret, "10.0.0.1")
    assert principal is not None and principal.kind == "robot"
    assert principal.namespaces == {"acme"} and principal.actions == {"pull"}
    assert auth.subject(principal) == f"token:{token.id}"
    assert auth.principal(f"token:{token.id}") == principal
    assert auth.login("someone", secret, "10.0.0.1") is None


def test_a_personal_token_acts_as_its_user_within_its_limits(auth: Authenticator) -> None:
    token, secret = create_access_token("pat", "alice", ["acme"], ["pull"])
    auth.store.add_token(token)
    principal = auth.login("alice", secret, "10.0.0.1")
    assert principal is not None and principal.kind == "pat"
    assert principal.name == "alice" and principal.teams


def test_a_revoked_or_expired_token_proves_nothing(auth: Authenticator) -> None:
    token, secret = create_access_token("pat", "alice", ["alice"], ["pull"], expires_in=-1)
    auth.store.add_token(token)
    assert auth.login("alice", secret, "10.0.0.1") is None
    live, live_secret = create_access_token("pat", "alice", ["alice"], ["pull"])
    auth.store.add_token(live)
    auth.store.revoke_token(live.id)
    assert auth.login("alice", live_secret, "10.0.0.1") is None
    assert auth.principal(f"token:{live.id}").anonymous


def test_a_subject_that_no_longer_exists_is_anonymous(auth: Authenticator) -> None:
    assert auth.principal("ghost").anonymous
    assert auth.principal("token:nope").anonymous


# -- who can lock out whom (issue 10, F2) ------------------------------------------------------


def _robot(auth: Authenticator) -> str:
    token, secret = create_access_token("robot", "acme", ["acme"], ["pull"], description="ci")
    auth.store.add_token(token)
    return secret


def _wrong(secret: str) -> str:
    """The same token id with another random part: the most targeted guess there is."""
    return secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")


def test_guesses_at_a_robots_name_never_lock_out_its_secret(auth: Authenticator) -> None:
    secret = _robot(auth)
    for guess in ["guess", _wrong(secret), "soute_0123456789abcdef_x"] * 4:  # 12 > limit 3
        with contextlib.suppress(LoginThrottled):  # the guesser's own source is refused
            assert auth.login("acme+ci", guess, "10.6.6.6") is None
    assert auth.login("acme+ci", secret, "10.0.0.2") is not None  # another address
    assert auth.login("acme+ci", secret, "10.6.6.6") is not None  # even the guessing one


def test_wrong_token_secrets_count_against_their_source_only(auth: Authenticator) -> None:
    secret = _robot(auth)
    for _ in range(3):
        assert auth.login("alice", _wrong(secret), "10.6.6.6") is None
    assert auth.login("alice", "wonderland", "10.0.0.2") is not None  # no account count
    with pytest.raises(LoginThrottled):
        auth.login("alice", "wonderland", "10.6.6.6")
    with pytest.raises(LoginThrottled):
        auth.login("acme+ci", _wrong(secret), "10.6.6.6")


def test_a_source_that_logged_in_before_passes_its_accounts_lock(auth: Authenticator) -> None:
    assert auth.login("alice", "wonderland", "10.0.0.1") is not None  # alice's laptop
    for number in range(3):  # guesses from three addresses, each below its own limit
        assert auth.login("alice", "guess", f"10.6.6.{number}") is None
    with pytest.raises(LoginThrottled):
        auth.login("alice", "wonderland", "10.0.0.9")  # a new address: the account is locked
    assert auth.login("alice", "wonderland", "10.0.0.1") is not None
    for _ in range(3):  # the laptop is still bound by its own source's count
        assert auth.login("alice", "typo", "10.0.0.1") is None
    with pytest.raises(LoginThrottled):
        auth.login("alice", "wonderland", "10.0.0.1")


def test_unlock_clears_an_accounts_failures(auth: Authenticator) -> None:
    for number in range(3):
        assert auth.login("alice", "guess", f"10.6.6.{number}") is None
    with pytest.raises(LoginThrottled):
        auth.login("alice", "wonderland", "10.0.0.9")
    assert auth.throttle.unlock("alice") == 3
    assert auth.login("alice", "wonderland", "10.0.0.9") is not None


def test_a_robot_stored_naming_other_namespaces_acts_in_its_own_only(auth: Authenticator) -> None:
    """Robots created before their namespaces were checked may name others' (issue 10, F3)."""
    token, secret = create_access_token("robot", "acme", ["acme"], ["pull"], description="ci")
    auth.store.add_token(replace(token, namespaces=frozenset({"acme", "alice"})))
    principal = auth.login("acme+ci", secret, "10.0.0.1")
    assert principal is not None and principal.namespaces == {"acme"}
