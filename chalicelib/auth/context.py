"""Everything auth needs at run time, built once per process: the identity store, the token
services (access and refresh), the authenticator, and the public index."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..storage.identity_ports import IdentityStore
from .audit import AuditLog
from .authenticator import Authenticator
from .keys import KeyRing, SigningKey, load_or_create_key
from .throttle import LoginThrottle
from .tokens import TokenService

ISSUER = "soute"
DEFAULT_SERVICE = "soute-registry"
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
) -> AuthContext:
    return AuthContext(
        store=store,
        tokens=TokenService(ISSUER, service, keys),
        refresh=TokenService(ISSUER, f"{service}/refresh", keys, expires=REFRESH_EXPIRES),
        authenticator=Authenticator(store, LoginThrottle()),
        audit=audit,
    )


def embedded_auth(data_dir: str, service: str = DEFAULT_SERVICE) -> AuthContext:
    """Identities in SQLite and the signing key in a 0600 file, both under `data_dir`."""
    from ..storage.sqlite_audit import SqliteAuditLog
    from ..storage.sqlite_identities import FILE, SqliteIdentityStore

    path = os.path.join(data_dir, FILE)
    keys = (load_or_create_key(data_dir),)
    return auth_context(SqliteIdentityStore(path), keys, SqliteAuditLog(path), service)


def aws_auth(
    dynamodb: object, table: str, keys: KeyRing, service: str = DEFAULT_SERVICE
) -> AuthContext:
    """Identities and the audit log in the registry's DynamoDB table; keys from a secret."""
    from ..storage.dynamodb_audit import DynamoAuditLog
    from ..storage.dynamodb_identities import DynamoIdentityStore

    store = DynamoIdentityStore(dynamodb, table)
    return auth_context(store, keys, DynamoAuditLog(dynamodb, table), service)
