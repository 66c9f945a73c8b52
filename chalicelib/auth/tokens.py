"""Bearer tokens as the distribution token spec describes them: ES256 JWTs with `kid`, issuer,
audience (the service name), short expiry, and an `access` claim listing the actions granted on
each resource. Verification accepts ES256 only (never `none` or an HMAC algorithm, which would
let a public key act as a shared secret)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .keys import KeyRing, SigningKey, StaticKeys
from .scopes import Scope

ALGORITHM = "ES256"
DEFAULT_SERVICE = "soute-registry"  # the audience, unless a registry names its own service
DEFAULT_EXPIRES = 300  # seconds; clients fetch a new token when theirs runs out
CLOCK_SKEW = 10  # seconds of leeway for clocks that disagree slightly


class TokenInvalid(Exception):
    """A bearer token that is not to be trusted: the message says why, for the log only."""


@dataclass(frozen=True)
class Grant:
    """What a verified token allows: its subject and the actions per (type, name)."""

    subject: str
    access: Mapping[tuple[str, str], frozenset[str]]
    stamp: str = ""  # a refresh token's credential stamp (see Authenticator.stamp)

    def allows(self, kind: str, name: str, action: str) -> bool:
        return action in self.access.get((kind, name), frozenset())


@dataclass(frozen=True)
class TokenService:
    issuer: str
    service: str  # the audience: the registry's service name
    # A tuple: the first key signs, all of them verify (rotation). Or a ring that may reload.
    keys: tuple[SigningKey, ...] | KeyRing
    expires: int = DEFAULT_EXPIRES
    _verified: VerifiedTokens = field(default_factory=lambda: VerifiedTokens(), compare=False)

    @property
    def ring(self) -> KeyRing:
        return StaticKeys(self.keys) if isinstance(self.keys, tuple) else self.keys

    def issue(
        self, subject: str, scopes: Iterable[Scope], now: float | None = None, stamp: str = ""
    ) -> str:
        import jwt

        now = int(time.time() if now is None else now)
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + self.expires,
            "nbf": now - CLOCK_SKEW,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
            "access": [scope.claim() for scope in scopes],
        }
        if stamp:
            claims["stamp"] = stamp
        key = self.ring.signing_key()
        return jwt.encode(claims, key.private_key(), ALGORITHM, headers={"kid": key.kid})

    def verify(self, token: str) -> Grant:
        cached = self._verified.get(token)
        # The key that signed it must still be held: a key rotated out ends its tokens here too.
        if cached is not None and self.ring.key(cached[1]) is not None:
            return cached[0]
        grant, kid, expires_at = self._verify(token)
        self._verified.put(token, grant, kid, expires_at)
        return grant

    def _verify(self, token: str) -> tuple[Grant, str, float]:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            key = self._key(header.get("kid"))
            claims = jwt.decode(
                token,
                key.public_key(),
                algorithms=[ALGORITHM],
                audience=self.service,
                issuer=self.issuer,
                leeway=CLOCK_SKEW,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise TokenInvalid(str(error)) from None
        grant = Grant(
            str(claims["sub"]), _access(claims.get("access")), str(claims.get("stamp", ""))
        )
        return grant, key.kid, float(claims["exp"]) + CLOCK_SKEW

    def _key(self, kid: Any) -> SigningKey:
        key = self.ring.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenInvalid("unknown signing key")
        return key


class VerifiedTokens:
    """Tokens already verified, until they expire. A client sends the same token with every
    request of a pull or push, and checking it again costs ~1 ms of CPU (PyJWT's parsing and
    the ECDSA verification) against ~0.05 ms for the rest of a manifest GET. A hit is the exact
    string that verified, so it proves as much; its expiry is checked again on every hit."""

    def __init__(self, size: int = 4096, clock: Callable[[], float] = time.time) -> None:
        self.size = size
        self.clock = clock
        self._grants: OrderedDict[str, tuple[Grant, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[Grant, str] | None:
        """The grant and the id of the key that signed it, while unexpired."""
        with self._lock:
            entry = self._grants.get(token)
            if entry is None:
                return None
            if self.clock() >= entry[2]:
                del self._grants[token]
                return None
            self._grants.move_to_end(token)
            return entry[0], entry[1]

    def put(self, token: str, grant: Grant, kid: str, expires_at: float) -> None:
        with self._lock:
            self._grants[token] = (grant, kid, expires_at)
            self._grants.move_to_end(token)
            while len(self._grants) > self.size:
                self._grants.popitem(last=False)


def _access(claim: Any) -> dict[tuple[str, str], frozenset[str]]:
    if not isinstance(claim, list):
        raise TokenInvalid("the access claim is not a list")
    access: dict[tuple[str, str], frozenset[str]] = {}
    for entry in claim:
        try:
            key = (str(entry["type"]), str(entry["name"]))
            actions = frozenset(str(action) for action in entry["actions"])
        except (KeyError, TypeError):
            raise TokenInvalid("an access entry lacks type, name or actions") from None
        access[key] = access.get(key, frozenset()) | actions
    return access
