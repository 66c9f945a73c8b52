"""The `IdentityStore` port: users, organisations and their teams, public marks, access
tokens (robots and personal), and the mappings of IAM ARN patterns to teams (AWS logins).
Records are the auth layer's plain dataclasses.

Users and organisations share one space of namespace names: a user's personal namespace is
their name, an organisation's namespace is its name, and no two may collide. A robot's name
(`<namespace>+<name>`) is unique among its namespace's live robots.
"""

from __future__ import annotations

from typing import Protocol

from .model import AccessToken, AwsMapping, Team, User


class NameTaken(Exception):
    """A user or organisation already holds this namespace name, or a live robot this robot
    name."""


def robot_name_taken(token: AccessToken, holder: str) -> str:
    """The refusal of a robot whose name a live robot (token id `holder`) has."""
    login = f"{token.owner}+{token.description}"
    return f"robot {login} exists already (token {holder}): revoke it first, or choose another name"


class UnknownName(Exception):
    """No such user, organisation, team or token."""


class IdentityStore(Protocol):
    # -- users -------------------------------------------------------------------------------
    def add_user(self, user: User) -> None:
        """Raises NameTaken when the name is a user's or organisation's already."""
        ...

    def user(self, name: str) -> User | None: ...

    def users(self) -> list[User]: ...

    def set_password(self, name: str, password_hash: str) -> None: ...

    def remove_user(self, name: str) -> None:
        """Also removes the user from every team, and revokes their personal tokens and every
        robot owned by or naming their namespace (a future holder of the name inherits
        nothing)."""
        ...

    # -- organisations and teams ---------------------------------------------------------------
    def add_org(self, name: str) -> None: ...

    def is_org(self, name: str) -> bool: ...

    def orgs(self) -> list[str]:
        """Every organisation's name, sorted."""
        ...

    def remove_org(self, name: str) -> None:
        """Also removes its teams (their members and AWS mappings) and revokes every robot
        owned by or naming its namespace (a future holder of the name inherits nothing)."""
        ...

    def put_team(self, team: Team) -> None:
        """Creates the team or changes its role; members are kept as they are."""
        ...

    def remove_team(self, org: str, name: str) -> None:
        """Also removes the team's members and AWS mappings."""
        ...

    def add_member(self, org: str, team: str, user: str) -> None: ...

    def remove_member(self, org: str, team: str, user: str) -> None: ...

    def teams(self, org: str | None = None) -> list[Team]: ...

    def teams_of(self, user: str) -> list[Team]: ...

    # -- public marks --------------------------------------------------------------------------
    def set_public(self, name: str, public: bool) -> None:
        """Marks a namespace or a single repository public (anonymous pull) or private."""
        ...

    def is_public(self, repository: str) -> bool:
        """Whether `repository` or its namespace is marked public."""
        ...

    def public_marks(self, namespace: str) -> list[str]:
        """The marks of the namespace itself and of repositories in it, sorted."""
        ...

    # -- access tokens -------------------------------------------------------------------------
    def add_token(self, token: AccessToken) -> None:
        """Raises NameTaken when the token is a named robot and its namespace has a usable
        robot of that name already."""
        ...

    def token(self, token_id: str) -> AccessToken | None: ...

    def tokens(self, owner: str | None = None) -> list[AccessToken]: ...

    def revoke_token(self, token_id: str) -> None: ...

    # -- AWS logins: ARN patterns mapped to teams -----------------------------------------------
    def add_aws_mapping(self, mapping: AwsMapping) -> None:
        """Raises UnknownName when the team does not exist; adding one twice changes nothing."""
        ...

    def remove_aws_mapping(self, mapping: AwsMapping) -> None:
        """Raises UnknownName when there is no such mapping."""
        ...

    def aws_mappings(self) -> list[AwsMapping]:
        """Every mapping, ordered by organisation, team and pattern (a login matches them all:
        there are few, written by the admin)."""
        ...
