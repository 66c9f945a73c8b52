"""Everything auth needs at run time, built once per process: the identity store, the token
services (access and refresh), the authenticator, and the audit log.

Which stores those are (SQLite files, the DynamoDB table) is decided by the composition root,
`server/backends.py`: auth knows only its ports (`identity_ports`, `throttle_ports`, `audit`)."""

from __future__ import annotations

from dataclasses import dataclass

from .audit import AuditLog
from .authenticator import Authenticator
from .aws_login import AwsLoginVerifier
from .identity_ports import IdentityStore
from .keys import KeyRing, SigningKey
from .throttle import LoginThrottle
from .tokens import DEFAULT_SERVICE, TokenService

ISSUER = "soute"
REFRESH_EXPIRES = 30 * 24 * 3600  # a refresh token is a long-lived credential, like a password


@dataclass(frozen=True)
class AuthContext:
    store: IdentityStore
    tokens: TokenService
    # Refresh tokens are JWTs for another audience, so one can never pass as a bearer token.
    refresh: TokenService
    authenticator: Authenticator
    audit: AuditLog

    @property
    def service(self) -> str:
        return self.tokens.service


def auth_context(
    store: IdentityStore,
    keys: tuple[SigningKey, ...] | KeyRing,
    audit: AuditLog,
    service: str = DEFAULT_SERVICE,
    *,
    throttle: LoginThrottle | None = None,
    aws_login: AwsLoginVerifier | None = None,
) -> AuthContext:
    """`throttle` defaults to one in this process's memory: pass a shared one (see
    throttle.py) when several processes serve the same identities."""
    return AuthContext(
        store=store,
        tokens=TokenService(ISSUER, service, keys),
        refresh=TokenService(ISSUER, f"{service}/refresh", keys, expires=REFRESH_EXPIRES),
        authenticator=Authenticator(
            store, throttle if throttle is not None else LoginThrottle(), aws_login, service
        ),
        audit=audit,
    )
