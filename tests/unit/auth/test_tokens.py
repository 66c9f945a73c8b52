"""Tokens that must be refused: forged, expired, not yet valid, for another audience or issuer,
signed by another key, `alg: none`, HMAC with the public key as secret, scope widened."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chalicelib.auth.keys import StaticKeys, from_pem, generate_key
from chalicelib.auth.scopes import repository_scope
from chalicelib.auth.tokens import Grant, TokenInvalid, TokenService, VerifiedTokens
from chalicelib.storage.embedded.signing_key_file import load_or_create_key

KEY = generate_key()
SERVICE = TokenService(issuer="soute", service="registry.test", keys=(KEY,))
PULL_APP = [repository_scope("team/app", "pull")]


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "soute",
        "sub": "alice",
        "aud": "registry.test",
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "access": [{"type": "repository", "name": "team/app", "actions": ["pull"]}],
    }
    claims.update(changes)
    return claims


def _signed(claims: dict[str, object], key=KEY) -> str:
    return jwt.encode(claims, key.private_key(), "ES256", headers={"kid": key.kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_issued_token_grants_exactly_its_actions() -> None:
    grant = SERVICE.verify(SERVICE.issue("alice", PULL_APP))
    assert grant.subject == "alice"
    assert grant.allows("repository", "team/app", "pull")
    assert not grant.allows("repository", "team/app", "push")
    assert not grant.allows("repository", "team/app/sub", "pull")
    assert not grant.allows("repository", "team/ap", "pull")
    assert not grant.allows("registry", "catalog", "*")


def test_the_header_names_the_key_and_algorithm() -> None:
    header = jwt.get_unverified_header(SERVICE.issue("alice", PULL_APP))
    assert header["alg"] == "ES256"
    assert header["kid"] == KEY.kid


def test_a_rotated_key_still_verifies_its_tokens() -> None:
    old = SERVICE.issue("alice", PULL_APP)
    rotated = TokenService("soute", "registry.test", keys=(generate_key(), KEY))
    assert rotated.verify(old).allows("repository", "team/app", "pull")


@pytest.mark.parametrize(
    "claims",
    [
        _claims(exp=int(time.time()) - 60, iat=int(time.time()) - 400),
        _claims(nbf=int(time.time()) + 600),
        _claims(aud="another.registry"),
        _claims(iss="someone-else"),
    ],
    ids=["expired", "not-yet-valid", "wrong-audience", "wrong-issuer"],
)
def test_tokens_with_bad_claims_are_refused(claims: dict[str, object]) -> None:
    with pytest.raises(TokenInvalid):
        SERVICE.verify(_signed(claims))


@pytest.mark.parametrize("missing", ["exp", "iat", "nbf", "sub", "aud", "iss"])
def test_tokens_missing_a_required_claim_are_refused(missing: str) -> None:
    claims = _claims()
    del claims[missing]
    with pytest.raises(TokenInvalid):
        SERVICE.verify(_signed(claims))


def test_a_token_of_another_key_with_our_kid_is_refused() -> None:
    other = generate_key()
    forged = jwt.encode(_claims(), other.private_key(), "ES256", headers={"kid": KEY.kid})
    with pytest.raises(TokenInvalid):
        SERVICE.verify(forged)


def test_a_token_of_an_unknown_key_is_refused() -> None:
    with pytest.raises(TokenInvalid):
        SERVICE.verify(_signed(_claims(), key=generate_key()))


def test_alg_none_is_refused() -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KEY.kid}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    with pytest.raises(TokenInvalid):
        SERVICE.verify(f"{header}.{payload}.")


def test_hmac_with_the_public_key_as_secret_is_refused() -> None:
    public = KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KEY.kid}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    signature = hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(TokenInvalid):
        SERVICE.verify(f"{header}.{payload}.{_b64(signature)}")


def test_a_widened_scope_breaks_the_signature() -> None:
    header, payload, signature = SERVICE.issue("alice", PULL_APP).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["access"][0]["actions"] = ["pull", "push", "delete"]
    widened = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(TokenInvalid):
        SERVICE.verify(widened)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Basic xyz"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        SERVICE.verify(garbage)


def test_a_malformed_access_claim_is_refused() -> None:
    with pytest.raises(TokenInvalid):
        SERVICE.verify(_signed(_claims(access={"repository": "team/app"})))
    with pytest.raises(TokenInvalid):
        SERVICE.verify(_signed(_claims(access=[{"type": "repository"}])))


def test_the_embedded_key_is_created_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = load_or_create_key(str(tmp_path))
    again = load_or_create_key(str(tmp_path))
    assert first == again
    mode = stat.S_IMODE(os.stat(tmp_path / "token-signing-key.pem").st_mode)
    assert mode == 0o600
    assert from_pem(first.private_pem).kid == first.kid


# -- the cache of verified tokens ------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_verified_token_is_not_verified_again_until_it_expires() -> None:
    clock = Clock()
    service = TokenService("soute", "registry.test", (KEY,), _verified=VerifiedTokens(clock=clock))
    token = service.issue("alice", PULL_APP)
    calls = []
    original = service._verify

    def counting(value: str) -> tuple[Grant, str, float]:
        calls.append(value)
        return original(value)

    object.__setattr__(service, "_verify", counting)
    assert service.verify(token).subject == "alice"
    assert service.verify(token).allows("repository", "team/app", "pull")
    assert len(calls) == 1
    clock.now += service.expires + 11  # past exp and the clock skew allowance
    service.verify(token)  # (PyJWT reads the real clock, so it still passes there)
    assert len(calls) == 2  # the cache no longer vouches for it: verified again


def test_the_cache_holds_a_bounded_number_of_tokens() -> None:
    cache = VerifiedTokens(size=3)
    grant = Grant("alice", {})
    for number in range(5):
        cache.put(f"t{number}", grant, "kid", time.time() + 60)
    hit = (grant, "kid")
    assert [cache.get(f"t{number}") for number in range(5)] == [None, None, hit, hit, hit]


def test_an_expired_entry_is_never_returned() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock=clock)
    cache.put("t", Grant("alice", {}), "kid", clock.now + 5)
    assert cache.get("t") is not None
    clock.now += 5
    assert cache.get("t") is None


def test_a_changed_token_is_not_a_cache_hit() -> None:
    token = SERVICE.issue("alice", PULL_APP)
    assert SERVICE.verify(token).subject == "alice"
    header, payload, signature = token.split(".")
    widened = json.loads(base64.urlsafe_b64decode(payload + "=="))
    widened["access"][0]["actions"].append("push")
    forged_payload = base64.urlsafe_b64encode(json.dumps(widened).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenInvalid):
        SERVICE.verify(f"{header}.{forged_payload}.{signature}")


def test_a_cached_token_is_refused_once_its_key_is_rotated_out() -> None:
    """A warm process must not keep honouring a token whose key its ring no longer holds."""
    old, new = generate_key(), generate_key()
    ring = StaticKeys((old,))
    service = TokenService("soute", "registry.test", ring)
    token = service.issue("alice", PULL_APP)
    assert service.verify(token).subject == "alice"  # now cached
    object.__setattr__(ring, "keys", (new,))  # the ring reloaded: the old key is gone
    with pytest.raises(TokenInvalid, match="unknown signing key"):
        service.verify(token)


def test_processes_starting_at_once_agree_on_one_embedded_key(tmp_path: Path) -> None:
    """Never a half-written key read by a process that lost the race to create it."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(4) as pool:
        kids = {key.kid for key in pool.map(load_or_create_key, [str(tmp_path)] * 8)}
    assert len(kids) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["token-signing-key.pem"]  # no temporaries
