"""Who a caller is: a username with a password, an access-token secret or a presigned STS URL
(at the token endpoint), or the subject of a bearer token (on registry requests, to filter the
catalog)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from .access_tokens import PAT, ROBOT, secret_matches, token_id_of
from .aws_login import ACCOUNT as AWS_ACCOUNT
from .aws_login import AwsLoginVerifier, arn_matches, is_aws_secret
from .identity_ports import IdentityStore
from .model import ANONYMOUS, AccessToken, Principal, Team, User
from .passwords import verify_password
from .throttle import LoginThrottle

TOKEN_SUBJECT = "token:"  # the `sub` of bearer tokens issued to a robot or access token
AWS_SUBJECT = "aws:"  # the `sub` of bearer tokens issued to an AWS login: aws:<ARN>
AWS = "aws"  # the principal kind of an AWS login


class LoginThrottled(Exception):
    """Too many failed logins for this account or from this address; try again later."""


@dataclass
class Authenticator:
    store: IdentityStore
    throttle: LoginThrottle
    aws_login: AwsLoginVerifier | None = None  # None: AWS logins fail like a wrong password
    service: str = ""  # the registry's service name, which an AWS login URL must be signed for

    def login(self, account: str, secret: str, source: str) -> Principal | None:
        """The principal these credentials prove, or None. Raises LoginThrottled, and
        StsUnavailable (an AWS login STS could not answer; counted against the source like a
        failure, since the URL's host is the caller's choice)."""
        token_id = token_id_of(secret)
        if token_id is not None:
            return self._token_login(account, token_id, secret, source)
        key = _throttle_key(account, secret)
        admitted_at = self.throttle.admit(key, source)  # counted as failed until proven right
        if admitted_at is None:
            raise LoginThrottled(account)
        principal = self._check(account, secret)  # StsUnavailable leaves the attempt counted
        if principal is not None:
            self.throttle.passed(key, source, admitted_at)
        return principal

    def _token_login(
        self, account: str, token_id: str, secret: str, source: str
    ) -> Principal | None:
        """A robot's or personal token's secret is checked before any count: 256 random bits
        are no guess, so a right one passes whatever others failed (no lock-out of a CI
        pipeline by guesses at its predictable name), and the check is one read and a SHA-256.
        A wrong one counts against its source only, never the account, whose name anyone can
        type."""
        principal = self._check_token(account, token_id, secret)
        if principal is None and not self.throttle.admit_source(source):
            raise LoginThrottled(account)
        return principal

    def principal(self, subject: str) -> Principal:
        """The principal a verified bearer token's subject names now (teams may have changed
        since; the token's own access claim still bounds what it may do)."""
        if not subject:  # a token issued to an anonymous caller
            return ANONYMOUS
        if subject.startswith(TOKEN_SUBJECT):
            token = self.store.token(subject[len(TOKEN_SUBJECT) :])
            if token is None or not token.usable(time.time()):
                return ANONYMOUS
            return self._token_principal(token)
        if subject.startswith(AWS_SUBJECT):  # nothing stored: the mappings decide again
            return self._aws_principal(subject[len(AWS_SUBJECT) :]) or ANONYMOUS
        return self._user_principal(subject)

    def actor(self, subject: str) -> str:
        """How the audit log names a bearer token's subject: a user by name, a robot as
        `ns+name` and a personal token as its owner (their subject is only the token's id; one
        read), an AWS login as its ARN."""
        if subject.startswith(TOKEN_SUBJECT):
            token = self.store.token(subject[len(TOKEN_SUBJECT) :])
            if token is None:
                return subject
            return robot_name(token) if token.kind == ROBOT else token.owner
        if subject.startswith(AWS_SUBJECT):
            return subject[len(AWS_SUBJECT) :]
        return subject

    def stamp(self, subject: str) -> str:
        """What a refresh token must still match: a digest of the user's password hash, so a
        password change ends every refresh token issued before it. Robots and personal tokens
        have none: revoking the token ends them."""
        if subject.startswith(TOKEN_SUBJECT):
            return ""
        if subject.startswith(AWS_SUBJECT):
            # No refresh for AWS logins: the presigned URL is the only proof. A stamp that no
            # later call repeats makes any refresh token for one unusable.
            return secrets.token_hex(8)
        user = self.store.user(subject)
        return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16] if user else ""

    def subject(self, principal: Principal) -> str:
        token_id = principal.token_id
        if principal.kind == AWS:
            return f"{AWS_SUBJECT}{principal.name}"
        return f"{TOKEN_SUBJECT}{token_id}" if token_id else principal.name

    def _check(self, account: str, secret: str) -> Principal | None:
        if is_aws_secret(secret):
            return self._check_aws(account, secret)
        user = self.store.user(account)
        # An unknown account costs the same scrypt work as a known one (verify_password).
        if not verify_password(secret, user.password_hash if user else None) or user is None:
            return None
        return self._principal_of(user)

    def _check_token(self, account: str, token_id: str, secret: str) -> Principal | None:
        token = self.store.token(token_id)
        if token is None or not secret_matches(token, secret) or not token.usable(time.time()):
            return None
        principal = self._token_principal(token)
        # The account must be the token's: its owner for a personal token, its robot name.
        return principal if account in (principal.name, robot_name(token)) else None

    def _check_aws(self, account: str, secret: str) -> Principal | None:
        if self.aws_login is None or account != AWS_ACCOUNT:
            return None
        identity = self.aws_login.verify(secret, self.service)
        return self._aws_principal(identity.arn) if identity else None

    def _aws_principal(self, arn: str) -> Principal | None:
        """An IAM identity as the member of every team a mapping gives it; None if none does."""
        wanted = {(m.org, m.team) for m in self.store.aws_mappings() if arn_matches(m.pattern, arn)}
        teams: list[Team] = []
        for org in sorted({org for org, _ in wanted}):
            teams += [team for team in self.store.teams(org) if (org, team.name) in wanted]
        return Principal(arn, AWS, teams=tuple(teams)) if teams else None

    def _user_principal(self, name: str) -> Principal:
        user = self.store.user(name)
        return self._principal_of(user) if user is not None else ANONYMOUS

    def _principal_of(self, user: User) -> Principal:
        return Principal(user.name, "user", user.admin, tuple(self.store.teams_of(user.name)))

    def _token_principal(self, token: AccessToken) -> Principal:
        if token.kind == ROBOT:
            return Principal(
                robot_name(token),
                ROBOT,
                # Robots stored before creation checked it named others: never beyond its own.
                namespaces=token.namespaces & {token.owner},
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


def _throttle_key(account: str, secret: str) -> str:
    """The account an attempt counts against, or "" for none. Every AWS login is sent as `aws`,
    so counting them by account would let anyone lock out every AWS login; the access key in
    the URL is unverified and no secret, so counting by it would let anyone lock out a key. An
    AWS login counts against its source address only: a SigV4 signature cannot be guessed,
    and the source's count bounds what a caller makes us ask of STS."""
    return "" if is_aws_secret(secret) else account


def robot_name(token: AccessToken) -> str:
    """How a robot logs in: `<namespace>+<description or id>`, as Quay and Harbor name them."""
    return f"{token.owner}+{token.description or token.id}"
