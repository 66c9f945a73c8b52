"""Retention policies (chalicelib/lifecycle/retention.py): ECR's validation rules, each refused
with the rule and the field named, and ECR's evaluation on the examples of its documentation
("Examples of lifecycle policies in Amazon ECR")."""

from __future__ import annotations

import json

import pytest

from chalicelib.lifecycle.retention import DAY, PolicyInvalid, evaluate, parse
from chalicelib.storage.lifecycle_ports import ImageFacts

NOW = 1_700_000_000.0


def _policy(*rules: dict) -> str:
    return json.dumps({"rules": list(rules)})


def _rule(priority: int, action: dict | None = None, **selection: object) -> dict:
    return {
        "rulePriority": priority,
        "selection": selection,
        "action": action or {"type": "expire"},
    }


def _count(priority: int, n: int, status: str = "tagged", **lists: object) -> dict:
    return _rule(priority, tagStatus=status, countType="imageCountMoreThan", countNumber=n, **lists)


def _image(name: str, tags: list[str], days_ago: float, pulled_days_ago: float | None = None):
    pulled = None if pulled_days_ago is None else NOW - pulled_days_ago * DAY
    return ImageFacts(f"sha256:{name}", tuple(tags), NOW - days_ago * DAY, pulled)


def _expired(text: str, images: list[ImageFacts]) -> list[tuple[str, int]]:
    return [(e.image.digest[7:], e.rule) for e in evaluate(parse(text), images, NOW)]


# -- validation ----------------------------------------------------------------------------------
def _any(priority: int, **selection: object) -> str:
    """A one-rule policy selecting every image, with these selection fields."""
    return _policy(_rule(priority, tagStatus="any", **selection))


DAYS = {"countType": "sinceImagePushed", "countUnit": "days", "countNumber": 3}
TOP3 = {"countType": "imageCountMoreThan", "countNumber": 3}
ARCHIVE = {"type": "transition", "targetStorageClass": "archive"}
V = {"tagPrefixList": ["v"]}


@pytest.mark.parametrize(
    ("document", "names"),
    [
        ("{", "not JSON"),
        ("[]", "JSON object"),
        ('{"rules": []}', "rules: missing or empty"),
        ('{"rules": [], "extra": 1}', "extra: unknown field"),
        (_policy(_count(0, 1, **V)), "rules[0]: rulePriority"),
        (_policy(_count(True, 1, **V)), "rules[0]: rulePriority"),
        (_policy(_count(2, 1, **V), _count(2, 3, "untagged")), "rule 2: rulePriority"),
        (_policy(_count(1, 0, **V)), "rule 1: selection.countNumber"),
        (_policy(_count(1, 1)), "rule 1: selection.tagPrefixList: tagStatus 'tagged' needs"),
        (
            _policy(_count(1, 1, tagPrefixList=["v"], tagPatternList=["v*"])),
            "rule 1: selection.tagPrefixList: tagStatus 'tagged' needs a tagPrefixList or a"
            " tagPatternList, not both",
        ),
        (_policy(_count(3, 1, "untagged", **V)), "rule 3: selection.tagPrefixList"),
        (_policy(_count(1, 1, tagPatternList=["a*b*c*d*e*"])), "rule 1: selection.tagPatternList"),
        (_policy(_count(1, 1, tagPatternList=["has space"])), "rule 1: selection.tagPatternList"),
        (_policy(_count(1, 1, tagPrefixList=[])), "rule 1: selection.tagPrefixList"),
        (_policy(_count(1, 1, "any"), _count(2, 1, **V)), "rule 1: selection.tagStatus"),
        (
            _policy(_count(1, 1, "untagged"), _count(2, 5, "untagged")),
            "rule 2: selection.tagStatus",
        ),
        (_policy(_count(1, 1, "sometimes")), "rule 1: selection.tagStatus"),
        (_any(4, **{**DAYS, "countUnit": None}), "rule 4: selection.countUnit"),
        (_any(4, **{**DAYS, "countUnit": "hours"}), "rule 4: selection.countUnit"),
        (_any(4, **TOP3, countUnit="days"), "rule 4: selection.countUnit"),
        (_any(4, **{**DAYS, "countType": "sinceImageTransitioned"}), "rule 4: selection.countType"),
        (_any(4, **{**TOP3, "countType": "biggest"}), "rule 4: selection.countType"),
        (_any(1, **TOP3, storageClass="archive"), "rule 1: selection.storageClass"),
        (_any(1, **TOP3, colour=1), "rule 1: selection: colour: unknown field"),
        (_policy(_rule(1, ARCHIVE, tagStatus="any", **TOP3)), "rule 1: action.type"),
        (_policy(_rule(1, {"type": "delete"}, tagStatus="any", **TOP3)), "rule 1: action.type"),
        (_policy({**_count(1, 1, "any"), "note": "x"}), "rule 1: note: unknown field"),
        (_policy({**_count(1, 1, "any"), "action": None}), "rule 1: action: missing"),
        (_policy({"rulePriority": 7, "action": {"type": "expire"}}), "rule 7: selection: missing"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_rule_and_field(document: str, names: str) -> None:
    with pytest.raises(PolicyInvalid) as refused:
        parse(document)
    assert names in str(refused.value)


def test_a_valid_policy_parses_in_priority_order() -> None:
    policy = parse(
        _policy(
            _count(30, 2, "any"),
            _count(10, 1, tagPatternList=["prod*", "*-rc*"]),
            _rule(20, tagStatus="untagged", countType="sinceImagePulled", countUnit="days",
                  countNumber=14),
        )
    )  # fmt: skip
    assert [rule.priority for rule in policy.rules] == [10, 20, 30]
    assert policy.rules[0].patterns == ("prod*", "*-rc*")


# -- evaluation: ECR's documented examples -------------------------------------------------------
def test_ecr_example_filtering_on_multiple_rules() -> None:
    """Rule 1 (prod, >1) expires A; rule 2 (beta, >1) would expire A and B, but A is rule 1's
    and B matches rule 1's selection, so it is skipped: only A is expired."""
    images = [
        _image("A", ["beta-1", "prod-1"], 10),
        _image("B", ["beta-2", "prod-2"], 9),
        _image("C", ["beta-3"], 8),
    ]
    text = _policy(_count(1, 1, tagPrefixList=["prod"]), _count(2, 1, tagPrefixList=["beta"]))
    assert _expired(text, images) == [("A", 1)]


def test_ecr_example_filtering_on_multiple_rules_with_a_larger_count() -> None:
    images = [
        _image("A", ["beta-1", "prod-1"], 10),
        _image("B", ["beta-2", "prod-2"], 9),
        _image("C", ["beta-3"], 8),
        _image("D", ["beta-4"], 7),
    ]
    text = _policy(_count(1, 1, tagPrefixList=["prod"]), _count(2, 1, tagPrefixList=["beta"]))
    # rule 2 alone expires A, B, C (keeps D): A is rule 1's, B matches rule 1, C goes by rule 2
    assert sorted(_expired(text, images)) == [("A", 1), ("C", 2)]


def test_ecr_example_several_tags_in_one_list_are_anded() -> None:
    """The trap: ["alpha", "beta"] selects images carrying both, not either."""
    images = [
        _image("A", ["alpha-1"], 12),
        _image("B", ["beta-1"], 11),
        _image("C", ["alpha-2", "beta-2"], 10),
        _image("D", ["alpha-3", "beta-3"], 9),
    ]
    text = _policy(_count(1, 1, tagPrefixList=["alpha", "beta"]))
    assert _expired(text, images) == [("C", 1)]
    patterns = _policy(_count(1, 1, tagPatternList=["alpha*", "beta*"]))
    assert _expired(patterns, images) == [("C", 1)]


def test_ecr_example_all_images_with_any() -> None:
    images = [
        _image("A", [], 4),
        _image("B", ["v1"], 3),
        _image("C", [], 2),
        _image("D", ["v2"], 1),
    ]
    assert _expired(_policy(_count(1, 1, "any")), images) == [("A", 1), ("B", 1), ("C", 1)]


def test_untagged_and_since_pushed() -> None:
    images = [_image("A", [], 15), _image("B", [], 13), _image("C", ["v1"], 30)]
    rule = _rule(1, tagStatus="untagged", countType="sinceImagePushed", countUnit="days",
                 countNumber=14)  # fmt: skip
    assert _expired(_policy(rule), images) == [("A", 1)]


def test_since_pulled_counts_a_never_pulled_image_from_its_push() -> None:
    images = [
        _image("old-unpulled", ["a"], 40),
        _image("old-pulled-recently", ["b"], 40, pulled_days_ago=2),
        _image("old-pulled-long-ago", ["c"], 40, pulled_days_ago=31),
        _image("new-unpulled", ["d"], 3),
    ]
    rule = _rule(1, tagStatus="any", countType="sinceImagePulled", countUnit="days",
                 countNumber=30)  # fmt: skip
    assert sorted(_expired(_policy(rule), images)) == [
        ("old-pulled-long-ago", 1),
        ("old-unpulled", 1),
    ]


def test_wildcards_match_the_whole_tag() -> None:
    images = [_image("A", ["prod-1"], 3), _image("B", ["preprod-1"], 2), _image("C", ["prod-2"], 1)]
    text = _policy(_count(1, 1, tagPatternList=["prod-*"]))
    assert _expired(text, images) == [("A", 1)]


def test_a_lower_rule_never_expires_what_a_higher_rule_selects() -> None:
    images = [_image("A", ["release-1"], 100), _image("B", [], 50), _image("C", ["dev-1"], 40)]
    text = _policy(_count(1, 10, tagPrefixList=["release"]), _count(2, 1, "any"))
    # `any` alone would expire A and B (keeping C); A is rule 1's to keep
    assert _expired(text, images) == [("B", 2)]
