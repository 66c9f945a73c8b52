"""The permission model: personal namespaces, team roles, public repositories, robots and
personal access tokens never exceeding their limits."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from chalicelib.auth.model import ANONYMOUS, MAINTAINER, OWNER, READER, Principal, Team
from chalicelib.auth.permissions import grant, repository_actions
from chalicelib.auth.scopes import CATALOG_SCOPE, parse_scope, repository_scope

ALL = {"pull", "push", "delete"}


@dataclass
class Public:
    repositories: frozenset[str] = frozenset({"acme/open"})

    def is_public(self, repository: str) -> bool:
        return repository in self.repositories


PUBLIC = Public()


def _member(name: str, role: str, org: str = "acme") -> Principal:
    return Principal(name, "user", teams=(Team(org, f"{role}s", role, frozenset({name})),))


@pytest.mark.parametrize(
    ("principal", "repository", "expected"),
    [
        (ANONYMOUS, "acme/app", set()),
        (ANONYMOUS, "acme/open", {"pull"}),
        (Principal("alice", "user"), "alice/tool", ALL),
        (Principal("alice", "user"), "alice", ALL),
        (Principal("alice", "user"), "bob/tool", set()),
        (Principal("alice", "user"), "alicex/tool", set()),
        (_member("rita", READER), "acme/app", {"pull"}),
        (_member("mia", MAINTAINER), "acme/deep/app", ALL),
        (_member("olga", OWNER), "acme/app", ALL),
        (_member("olga", OWNER), "other/app", set()),
        (_member("otto", MAINTAINER, org="other"), "acme/app", set()),
        (_member("otto", MAINTAINER, org="other"), "acme/open", {"pull"}),
        (Principal("root", "user", admin=True), "anyone/app", ALL),
        # Only users have a personal namespace: an AWS login named like a namespace has none.
        (Principal("arn", "aws"), "arn/app", set()),
    ],
)
def test_repository_actions(principal: Principal, repository: str, expected: set[str]) -> None:
    assert repository_actions(principal, repository, PUBLIC) == expected


def test_a_robot_has_only_its_namespaces_and_actions() -> None:
    robot = Principal(
        "acme+ci", "robot", namespaces=frozenset({"acme"}), actions=frozenset({"pull", "push"})
    )
    assert repository_actions(robot, "acme/app", PUBLIC) == {"pull", "push"}
    assert repository_actions(robot, "other/app", PUBLIC) == set()


def test_a_personal_token_never_exceeds_its_user() -> None:
    reader = _member("rita", READER)
    token = Principal(
        "rita",
        "pat",
        teams=reader.teams,
        namespaces=frozenset({"acme", "rita"}),
        actions=frozenset({"pull", "push"}),
    )
    assert repository_actions(token, "acme/app", PUBLIC) == {"pull"}
    assert repository_actions(token, "rita/tool", PUBLIC) == {"pull", "push"}
    assert repository_actions(token, "elsewhere/x", PUBLIC) == set()


def test_a_token_grants_the_intersection_of_asked_and_allowed() -> None:
    asked = [
        parse_scope("repository:acme/app:pull,push,delete"),
        parse_scope("repository:other/app:pull"),
        parse_scope("repository:acme/open:pull,push"),
        CATALOG_SCOPE,
        parse_scope("registry:something:*"),
    ]
    granted = grant(_member("rita", READER), asked, PUBLIC)
    assert granted == [
        repository_scope("acme/app", "pull"),
        repository_scope("acme/open", "pull"),
        CATALOG_SCOPE,
    ]


def test_anonymous_gets_public_pulls_only() -> None:
    asked = [parse_scope("repository:acme/open:pull,push"), parse_scope("repository:a/b:pull")]
    assert grant(ANONYMOUS, asked, PUBLIC) == [repository_scope("acme/open", "pull")]
