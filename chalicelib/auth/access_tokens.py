"""Robot accounts and personal access tokens: created with a random secret that is shown once
and stored only as a hash.

The secret carries the token's id (`soute_<id>_<random>`), so a login finds the one record to
check without comparing against every stored hash. The random part has 256 bits, so a fast hash
(SHA-256) is enough: slow hashing only matters for guessable secrets such as passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

from .model import AccessToken
from .names import NameInvalid, check_account_name
from .scopes import REPOSITORY_ACTIONS

PREFIX = "soute"
ROBOT, PAT = "robot", "pat"


class TokenRequestInvalid(ValueError):
    """An access token cannot be created as asked; the message says why."""


def _hash(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def create_access_token(
    kind: str,
    owner: str,
    namespaces: Iterable[str],
    actions: Iterable[str],
    expires_in: float | None = None,
    description: str = "",
    now: float | None = None,
) -> tuple[AccessToken, str]:
    """A new token and its secret: give the secret to the user once, store only the token."""
    if kind not in (ROBOT, PAT):
        raise TokenRequestInvalid(f"kind {kind!r} is neither {ROBOT!r} nor {PAT!r}")
    wanted = frozenset(actions)
    if not wanted or not wanted <= REPOSITORY_ACTIONS:
        raise TokenRequestInvalid(f"actions must be among {', '.join(sorted(REPOSITORY_ACTIONS))}")
    scope = frozenset(namespaces)
    if not scope:
        raise TokenRequestInvalid("a token needs at least one namespace")
    if kind == ROBOT:
        _check_robot(owner, scope, description)
    now = time.time() if now is None else now
    token_id = secrets.token_hex(8)
    secret = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    token = AccessToken(
        id=token_id,
        kind=kind,
        owner=owner,
        secret_hash=_hash(secret),
        namespaces=scope,
        actions=wanted,
        created_at=now,
        expires_at=None if expires_in is None else now + expires_in,
        description=description,
    )
    return token, secret


def _check_robot(owner: str, namespaces: frozenset[str], name: str) -> None:
    # A robot's rights are its limits (it has no user's rights to be bounded by), so it may act
    # only in the namespace that owns it.
    if namespaces != {owner}:
        others = ", ".join(sorted(namespaces - {owner})) or "-"
        raise TokenRequestInvalid(
            f"a robot of {owner} acts in {owner} only, not in {others}: create the robot in the"
            " namespace it works in"
        )
    if name:
        try:
            check_account_name(name, "robot")
        except NameInvalid as error:
            raise TokenRequestInvalid(str(error)) from None


def token_id_of(secret: str) -> str | None:
    """The id inside a secret of ours, or None when `secret` is not one (e.g. a password)."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1]:
        return None
    return parts[1]


def secret_matches(token: AccessToken, secret: str) -> bool:
    return hmac.compare_digest(token.secret_hash.encode(), _hash(secret).encode())
