"""Password and secret hashing: scrypt with a per-secret random salt, compared in constant time.

The stored form is self-describing (`scrypt$n$r$p$salt$hash`, base64 without padding) so the
cost can rise later without breaking existing hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# 16 MiB of memory and about 50 ms per check: slow for an attacker, fine on a 128 MB Lambda.
N, R, P = 1 << 14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
_PREFIX = "scrypt"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES, maxmem=64 << 20
    )


def hash_password(secret: str) -> str:
    """The stored form of `secret`; never store or log the secret itself."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(secret, salt, N, R, P)
    return f"{_PREFIX}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(secret: str, stored: str | None) -> bool:
    """Whether `secret` matches `stored`. With no stored hash (unknown account) the same work is
    still done, so response time does not tell which account names exist."""
    if stored is None:
        _scrypt(secret, b"\0" * SALT_BYTES, N, R, P)
        return False
    try:
        prefix, n, r, p, salt, expected = stored.split("$")
        if prefix != _PREFIX:
            return False
        actual = _scrypt(secret, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, _unb64(expected))


def new_secret(prefix: str) -> str:
    """A random secret for a robot account or access token, e.g. `sr_…`: shown once."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"
