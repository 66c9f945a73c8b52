"""Who a caller is: a username with a password or an access-token secret (at the token
endpoint), or the subject of a bearer token (on registry requests, to filter the catalog)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from ..storage.identity_ports import IdentityStore
from .access_tokens import PAT, ROBOT, secret_matches, token_id_of
from .model import ANONYMOUS, AccessToken, Principal
from .passwords import verify_password
from .throttle import LoginThrottle

TOKEN_SUBJECT = "token:"  # the `sub` of bearer tokens issued to a robot or access token


class LoginThrottled(Exception):
    """Too many failed logins for this account or from this address; try again later."""


@dataclass
class Authenticator:
    store: IdentityStore
    throttle: LoginThrottle

    def login(self, account: str, secret: str, source: str) -> Principal | None:
        """The principal these credentials prove, or None. Raises LoginThrottled."""
        if self.throttle.blocked(account, source):
            raise LoginThrottled(account)
        principal = self._check(account, secret)
        if principal is None:
            self.throttle.failed(account, source)
        else:
            self.throttle.succeeded(account, source)
        return principal

    def principal(self, subject: str) -> Principal:
        """The principal a verified bearer token's subject names now (teams may have changed
        since; the token's own access claim still bounds what it may do)."""
        if subject.startswith(TOKEN_SUBJECT):
            token = self.store.token(subject[len(TOKEN_SUBJECT) :])
            if token is None or not token.usable(time.time()):
                return ANONYMOUS
            return self._token_principal(token)
        return self._user_principal(subject)

    def stamp(self, subject: str) -> str:
        """What a refresh token must still match: a digest of the user's password hash, so a
        password change ends every refresh token issued before it. Robots and personal tokens
        have none: revoking the token ends them."""
        if subject.startswith(TOKEN_SUBJECT):
            return ""
        user = self.store.user(subject)
        return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16] if user else ""

    def subject(self, principal: Principal) -> str:
        token_id = principal.token_id
        return f"{TOKEN_SUBJECT}{token_id}" if token_id else principal.name

    def _check(self, account: str, secret: str) -> Principal | None:
        token_id = token_id_of(secret)
        if token_id is not None:
            return self._check_token(account, token_id, secret)
        user = self.store.user(account)
        if not verify_password(secret, user.password_hash if user else None):
            return None
        return self._user_principal(account)

    def _check_token(self, account: str, token_id: str, secret: str) -> Principal | None:
        token = self.store.token(token_id)
        if token is None or not secret_matches(token, secret) or not token.usable(time.time()):
            return None
        principal = self._token_principal(token)
        # The account must be the token's: its owner for a personal token, its robot name.
        return principal if account in (principal.name, robot_name(token)) else None

    def _user_principal(self, name: str) -> Principal:
        user = self.store.user(name)
        if user is None:
            return ANONYMOUS
        return Principal(name, "user", user.admin, tuple(self.store.teams_of(name)))

    def _token_principal(self, token: AccessToken) -> Principal:
        if token.kind == ROBOT:
            return Principal(
                robot_name(token),
                ROBOT,
                namespaces=token.namespaces,
                actions=token.actions,
                token_id=token.id,
            )
        owner = self._user_principal(token.owner)
        if owner.anonymous:
            return ANONYMOUS
        return Principal(
            owner.name,
            PAT,
            owner.admin,
            owner.teams,
            namespaces=token.namespaces,
            actions=token.actions,
            token_id=token.id,
        )


def robot_name(token: AccessToken) -> str:
    """How a robot logs in: `<namespace>+<description or id>`, as Quay and Harbor name them."""
    return f"{token.owner}+{token.description or token.id}"
