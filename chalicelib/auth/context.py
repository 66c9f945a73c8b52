"""Everything auth needs at run time, built once per process: the identity store, the token
services (access and refresh), the authenticator, and the public index."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .audit import AuditLog
from .authenticator import Authenticator
from .aws_login import AwsLoginVerifier
from .identity_ports import IdentityStore
from .keys import KeyRing, SigningKey, load_or_create_key
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


def embedded_auth(
    data_dir: str, service: str = DEFAULT_SERVICE, *, aws_login: AwsLoginVerifier | None = None
) -> AuthContext:
    """Identities, audit log and failed-login counts in SQLite (the counts shared by every
    worker) and the signing key in a 0600 file, all under `data_dir`."""
    from ..storage.embedded.sqlite_audit import SqliteAuditLog
    from ..storage.embedded.sqlite_identities import FILE, SqliteIdentityStore
    from .throttle import sqlite_throttle

    path = os.path.join(data_dir, FILE)
    keys = (load_or_create_key(data_dir),)
    store, audit = SqliteIdentityStore(path), SqliteAuditLog(path)
    throttle = sqlite_throttle(path)
    return auth_context(store, keys, audit, service, throttle=throttle, aws_login=aws_login)


def aws_auth(
    dynamodb: object,
    table: str,
    keys: KeyRing,
    service: str = DEFAULT_SERVICE,
    *,
    aws_login: AwsLoginVerifier | None = None,
) -> AuthContext:
    """Identities, audit log and failed-login counts in the registry's DynamoDB table (the
    counts shared by every Lambda instance); the signing key derived from a secret."""
    from ..storage.aws.dynamodb_audit import DynamoAuditLog
    from ..storage.aws.dynamodb_identities import DynamoIdentityStore
    from .throttle import dynamodb_throttle

    store = DynamoIdentityStore(dynamodb, table)
    audit = DynamoAuditLog(dynamodb, table)
    throttle = dynamodb_throttle(dynamodb, table)
    return auth_context(store, keys, audit, service, throttle=throttle, aws_login=aws_login)
