"""The IdentityStore's mappings of IAM ARN patterns to teams, on SQLite and on DynamoDB (moto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.auth.identity_ports import IdentityStore, UnknownName
from chalicelib.auth.model import MAINTAINER, READER, AwsMapping, Team
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb_identities import DynamoIdentityStore
from chalicelib.storage.embedded.sqlite_identities import SqliteIdentityStore
from tests.support.moto import aws_backend

CI = AwsMapping("arn:aws:iam::123456789012:role/ci-*", "acme", "ci")
# A '#' in a pattern must not confuse the DynamoDB sort key <org>#<team>#<pattern>.
ODD = AwsMapping("arn:aws:iam::123456789012:user/a#b*", "acme", "readers")


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> IdentityStore:
    if request.param == "sqlite":
        store: IdentityStore = SqliteIdentityStore(str(tmp_path / "identities.sqlite"))
    else:
        options = aws_backend(request.getfixturevalue("moto_endpoint"))
        dynamodb = aws_clients(options.region, options.endpoint_url).dynamodb
        store = DynamoIdentityStore(dynamodb, options.dynamodb_table or "")
    store.add_org("acme")
    store.put_team(Team("acme", "ci", MAINTAINER))
    store.put_team(Team("acme", "readers", READER))
    return store


def test_mappings_are_added_listed_and_removed(store: IdentityStore) -> None:
    store.add_aws_mapping(ODD)
    store.add_aws_mapping(CI)
    store.add_aws_mapping(CI)  # twice: still one
    assert store.aws_mappings() == [CI, ODD]
    store.remove_aws_mapping(CI)
    assert store.aws_mappings() == [ODD]
    with pytest.raises(UnknownName):
        store.remove_aws_mapping(CI)


def test_a_mapping_needs_its_team(store: IdentityStore) -> None:
    with pytest.raises(UnknownName):
        store.add_aws_mapping(AwsMapping(CI.pattern, "acme", "ghosts"))
    with pytest.raises(UnknownName):
        store.add_aws_mapping(AwsMapping(CI.pattern, "nobody", "ci"))
    assert store.aws_mappings() == []


def test_removing_a_team_removes_its_mappings(store: IdentityStore) -> None:
    store.add_aws_mapping(CI)
    store.add_aws_mapping(ODD)
    store.remove_team("acme", "ci")
    assert store.aws_mappings() == [ODD]
