"""The IdentityStore port, on SQLite and on DynamoDB (moto): users, organisations, teams,
public marks, access tokens."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.auth.access_tokens import create_access_token
from chalicelib.auth.identity_ports import IdentityStore, NameTaken, UnknownName
from chalicelib.auth.model import MAINTAINER, READER, Team, User
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb_identities import DynamoIdentityStore
from chalicelib.storage.embedded.sqlite_identities import SqliteIdentityStore
from tests.support.moto import aws_backend


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> IdentityStore:
    if request.param == "sqlite":
        return SqliteIdentityStore(str(tmp_path / "identities.sqlite"))
    options = aws_backend(request.getfixturevalue("moto_endpoint"))
    dynamodb = aws_clients(options.region, options.endpoint_url).dynamodb
    return DynamoIdentityStore(dynamodb, options.dynamodb_table or "")


def test_users_are_added_listed_and_removed(store: IdentityStore) -> None:
    store.add_user(User("alice", "h1"))
    store.add_user(User("root", "h2", admin=True))
    assert store.user("alice") == User("alice", "h1")
    assert [user.name for user in store.users()] == ["alice", "root"]
    store.set_password("alice", "h3")
    assert store.user("alice").password_hash == "h3"
    store.remove_user("alice")
    assert store.user("alice") is None
    with pytest.raises(UnknownName):
        store.remove_user("alice")


def test_empty_names_are_simply_unknown(store: IdentityStore) -> None:
    """An anonymous token's subject is empty: DynamoDB refuses empty keys, SQLite has none."""
    assert store.user("") is None
    assert store.token("") is None
    assert store.teams_of("") == []
    assert not store.is_org("")


def test_users_and_organisations_share_one_namespace_space(store: IdentityStore) -> None:
    store.add_user(User("alice", "h"))
    with pytest.raises(NameTaken):
        store.add_user(User("alice", "other"))
    with pytest.raises(NameTaken):
        store.add_org("alice")
    store.add_org("acme")
    with pytest.raises(NameTaken):
        store.add_user(User("acme", "h"))
    assert store.is_org("acme") and not store.is_org("alice")


def test_teams_roles_and_members(store: IdentityStore) -> None:
    store.add_org("acme")
    store.add_user(User("rita", "h"))
    store.put_team(Team("acme", "readers", READER))
    store.add_member("acme", "readers", "rita")
    assert store.teams_of("rita") == [Team("acme", "readers", READER, frozenset({"rita"}))]
    store.put_team(Team("acme", "readers", MAINTAINER))  # a role change keeps the members
    assert store.teams("acme")[0].role == MAINTAINER
    assert store.teams("acme")[0].members == {"rita"}
    store.remove_member("acme", "readers", "rita")
    assert store.teams_of("rita") == []
    store.remove_team("acme", "readers")
    assert store.teams() == []


def test_teams_need_an_organisation_and_members_need_to_exist(
    store: IdentityStore,
) -> None:
    with pytest.raises(UnknownName):
        store.put_team(Team("nowhere", "t", READER))
    store.add_org("acme")
    store.put_team(Team("acme", "t", READER))
    with pytest.raises(UnknownName):
        store.add_member("acme", "t", "ghost")
    with pytest.raises(UnknownName):
        store.add_member("acme", "missing", "ghost")


def test_removing_a_user_ends_their_memberships_and_personal_tokens(
    store: IdentityStore,
) -> None:
    store.add_org("acme")
    store.add_user(User("rita", "h"))
    store.put_team(Team("acme", "t", READER))
    store.add_member("acme", "t", "rita")
    token, _ = create_access_token("pat", "rita", ["rita"], ["pull"])
    store.add_token(token)
    store.remove_user("rita")
    assert store.teams("acme")[0].members == frozenset()
    assert store.token(token.id).revoked


def test_removing_a_user_revokes_every_robot_of_their_namespace(store: IdentityStore) -> None:
    """Else the next user of the name would inherit them (issue 10, F3)."""
    store.add_user(User("bob", "h"))
    store.add_org("acme")
    own, _ = create_access_token("robot", "bob", ["bob"], ["pull", "push"], description="ci")
    # Robots from before creation checked their namespaces: acme's robot naming bob's.
    naming, _ = create_access_token("robot", "acme", ["acme"], ["push"], description="deploy")
    naming = replace(naming, namespaces=frozenset({"acme", "bob"}))
    elsewhere, _ = create_access_token("robot", "acme", ["acme"], ["pull"], description="bobby")
    others_pat, _ = create_access_token("pat", "alice", ["alice", "bob"], ["pull"])
    for token in (own, naming, elsewhere, others_pat):
        store.add_token(token)
    store.remove_user("bob")
    assert store.token(own.id).revoked and store.token(naming.id).revoked
    # Another user's personal token acts as that user only: bob's name gives it nothing.
    assert not store.token(elsewhere.id).revoked and not store.token(others_pat.id).revoked


def test_a_robot_name_is_unique_among_live_robots(store: IdentityStore) -> None:
    first, _ = create_access_token("robot", "acme", ["acme"], ["pull"], description="ci")
    store.add_token(first)
    again, _ = create_access_token("robot", "acme", ["acme"], ["push"], description="ci")
    with pytest.raises(NameTaken, match=f"acme\\+ci exists already \\(token {first.id}\\)"):
        store.add_token(again)
    other, _ = create_access_token("robot", "other", ["other"], ["pull"], description="ci")
    store.add_token(other)  # another namespace's ci
    for _ in range(2):  # unnamed robots log in as acme+<id>: never the same
        store.add_token(create_access_token("robot", "acme", ["acme"], ["pull"])[0])
    store.revoke_token(first.id)
    store.add_token(again)  # a revoked robot frees its name
    expired, _ = create_access_token("robot", "acme", ["acme"], ["pull"], -1, "old")
    store.add_token(expired)
    store.add_token(create_access_token("robot", "acme", ["acme"], ["pull"], None, "old")[0])
    assert [t.description for t in store.tokens("acme")].count("ci") == 2


def test_public_marks_of_a_namespace_are_listed(store: IdentityStore) -> None:
    for name in ("bob", "bob/app", "bob/a/b", "bob_x/app", "bob-x", "bo", "bob0/c"):
        store.set_public(name, True)
    assert store.public_marks("bob") == ["bob", "bob/a/b", "bob/app"]
    assert store.public_marks("bob_x") == ["bob_x/app"]
    assert store.public_marks("nobody") == []


def test_public_marks_cover_a_namespace_or_one_repository(store: IdentityStore) -> None:
    store.set_public("acme/open", True)
    store.set_public("docs", True)
    assert store.is_public("acme/open")
    assert not store.is_public("acme/app")
    assert store.is_public("docs/any/depth")
    store.set_public("docs", False)
    assert not store.is_public("docs/any/depth")


def test_tokens_are_stored_listed_and_revoked(store: IdentityStore) -> None:
    robot, _ = create_access_token("robot", "acme", ["acme"], ["pull", "push"], expires_in=60)
    pat, _ = create_access_token("pat", "alice", ["alice", "acme"], ["pull"])
    store.add_token(robot)
    store.add_token(pat)
    assert store.token(robot.id) == robot
    assert store.tokens("alice") == [pat]
    assert len(store.tokens()) == 2
    store.revoke_token(robot.id)
    assert store.token(robot.id).revoked
    with pytest.raises(UnknownName):
        store.revoke_token("nope")
    assert store.token("nope") is None
