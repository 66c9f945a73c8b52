"""Tag immutability rules (chalicelib/lifecycle/immutability.py): ECR's wildcard filters, the
checks that refuse a setting whole with the field named, and repository over namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.api.service_errors import status_and_headers
from chalicelib.lifecycle import immutability
from chalicelib.lifecycle.immutability import ImmutabilityRule, RuleInvalid, matches, parse, rule
from chalicelib.registry.errors import TagLocked
from chalicelib.storage.embedded.sqlite_policies import SqlitePolicyStore


@pytest.mark.parametrize(
    ("pattern", "tag", "expected"),
    [
        ("dev-*", "dev-1", True),
        ("dev-*", "dev-", True),  # * matches no characters too
        ("dev-*", "xdev-1", False),  # the whole tag is matched
        ("dev-*", "DEV-1", False),  # case-sensitive
        ("*-rc*", "1.2-rc3", True),
        ("*-rc*", "1.2", False),
        ("v1.0", "v1x0", False),  # . is itself, not any character
        ("v1.0", "v1.0", True),
        ("*", "anything", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "acb", False),
        ("latest", "latest", True),
        ("latest", "latest2", False),
    ],
)
def test_wildcards_match_as_ecr_filters_do(pattern: str, tag: str, expected: bool) -> None:
    assert matches(pattern, tag) is expected


def test_exclusions_invert_the_setting_for_the_tags_they_match() -> None:
    immutable = rule(True, ["dev-*", "latest"])
    assert immutable.protects("v1")
    assert not immutable.protects("dev-3")
    assert not immutable.protects("latest")
    mutable = rule(False, ["release-*"])  # ECR MUTABLE_WITH_EXCLUSION
    assert mutable.protects("release-1")
    assert not mutable.protects("v1")
    assert not rule(False).protects("v1")


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("not json", "not JSON"),
        ("[]", "not a JSON object"),
        ("{}", "immutable: missing"),
        ('{"immutable": "yes"}', "immutable: must be true or false"),
        ('{"immutable": true, "exclusions": "dev-*"}', "exclusions: must be a list"),
        ('{"immutable": true, "exclusions": ["dev/*"]}', "exclusions: 'dev/*' is not"),
        ('{"immutable": true, "exclusions": [""]}', "exclusions: '' is not"),
        ('{"immutable": true, "exclusions": [7]}', "exclusions: 7 is not"),
        ('{"immutable": true, "exclusions": ["' + "a" * 129 + '"]}', "is not a wildcard"),
        ('{"immutable": true, "exclusions": ["*a*b*c*d*"]}', "at most 4"),
        ('{"immutable": true, "exclusions": ["a","b","c","d","e","f"]}', "at most 5 patterns"),
        ('{"immutable": true, "exlusions": []}', "exlusions: unknown field"),
    ],
)
def test_an_invalid_setting_is_refused_whole_with_the_field_named(
    document: str, field: str
) -> None:
    with pytest.raises(RuleInvalid) as refused:
        parse(document)
    assert field in str(refused.value)


def test_the_limits_themselves_are_accepted() -> None:
    longest = "a" * 127 + "*"
    accepted = rule(True, ["*a*b*c*d", longest, "x", "y", "z"])
    assert parse(accepted.document()) == accepted
    assert accepted.exclusions[1] == longest


def test_the_repository_setting_wins_over_the_namespace(tmp_path: Path) -> None:
    policies = SqlitePolicyStore(str(tmp_path / "metadata.sqlite"))
    kind = immutability.KIND
    assert immutability.effective_rule(policies, "acme/app") == ("", ImmutabilityRule(False))
    policies.put("acme", kind, rule(True, ["dev-*"]).document())
    assert immutability.effective_rule(policies, "acme/app/deep") == (
        "acme",
        rule(True, ["dev-*"]),
    )
    policies.put("acme/app", kind, rule(False).document())
    assert immutability.effective_rule(policies, "acme/app") == ("acme/app", rule(False))
    assert immutability.effective_rule(policies, "acme") == ("acme", rule(True, ["dev-*"]))


def test_a_stored_setting_that_does_not_parse_keeps_every_tag(tmp_path: Path) -> None:
    policies = SqlitePolicyStore(str(tmp_path / "metadata.sqlite"))
    policies.put("acme", immutability.KIND, '{"immutable": "maybe"}')
    scope, found = immutability.effective_rule(policies, "acme/app")
    assert (scope, found.protects("dev-1")) == ("acme", True)


def test_a_locked_tag_answers_409_without_retry_after() -> None:
    error = TagLocked("tag v1 of a/b is immutable", repository="a/b", tag="v1", digest="sha256:0")
    assert status_and_headers(error) == (409, {})
    assert error.code == "DENIED"
