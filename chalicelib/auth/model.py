"""The identities and grants that authorisation reasons about; stored by an `IdentityStore`."""

from __future__ import annotations

from dataclasses import dataclass

from .scopes import DELETE, PULL, PUSH

OWNER, MAINTAINER, READER = "owner", "maintainer", "reader"
ROLE_ACTIONS = {
    OWNER: frozenset({PULL, PUSH, DELETE}),  # and managing the organisation's teams
    MAINTAINER: frozenset({PULL, PUSH, DELETE}),
    READER: frozenset({PULL}),
}


@dataclass(frozen=True)
class User:
    name: str  # also the user's personal namespace
    password_hash: str
    admin: bool = False  # may do anything, including the admin verbs


@dataclass(frozen=True)
class Team:
    org: str  # the organisation, whose name is the namespace it owns
    name: str
    role: str  # OWNER, MAINTAINER or READER
    members: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AccessToken:
    """A robot account (owned by a namespace) or a personal access token (owned by a user):
    a secret, stored only as a hash, allowing `actions` in `namespaces` until `expires_at`."""

    id: str
    kind: str  # "robot" or "pat"
    owner: str  # the namespace of a robot, the user of a personal access token
    secret_hash: str
    namespaces: frozenset[str]
    actions: frozenset[str]
    created_at: float
    expires_at: float | None = None
    revoked: bool = False
    description: str = ""

    def usable(self, now: float) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class AwsMapping:
    """IAM identities whose ARN matches `pattern` (fnmatch, case-sensitive; an assumed-role
    session also matches as its role ARN) log in with AWS credentials as members of a team."""

    pattern: str
    org: str
    team: str


@dataclass(frozen=True)
class Principal:
    """Who a request acts as, once authenticated. Anonymous when `name` is empty."""

    name: str = ""
    kind: str = "anonymous"  # "anonymous", "user", "robot", "pat" or "aws" (name: its ARN)
    admin: bool = False
    teams: tuple[Team, ...] = ()
    # A robot or access token: the namespaces and actions it is limited to.
    namespaces: frozenset[str] | None = None
    actions: frozenset[str] | None = None
    token_id: str = ""  # the access token's id, for a robot or personal access token

    @property
    def anonymous(self) -> bool:
        return not self.name


ANONYMOUS = Principal()
