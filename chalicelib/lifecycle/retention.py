"""Retention policies in ECR's lifecycle-policy JSON: parse, validate, evaluate. Pure, no I/O.

Teams that run ECR keep the policies they have: the document is ECR's
(`{"rules": [{"rulePriority", "description", "selection": {"tagStatus", "tagPrefixList" |
"tagPatternList", "countType", "countUnit", "countNumber"}, "action": {"type": "expire"}}]}`),
checked by ECR's rules, and refused whole with the rule (its rulePriority) and the field named.
What ECR has and Soute does not (archive storage: `storageClass: archive`, `countType:
sinceImageTransitioned`, `action: transition`) is refused by name, never ignored.

Evaluation is ECR's (awsdocs, "How lifecycle policies work"):
  - every rule is evaluated on its own over the images its selection matches;
  - then the rules are applied lowest rulePriority first, and an image is expired by at most one
    rule: an image matched by a higher-priority rule's tag selection is never expired by a
    lower-priority one (it is that rule's to keep or expire);
  - `imageCountMoreThan N` keeps the N most recently pushed images the rule selects and
    expires the others, oldest first; `sinceImagePushed N` expires those pushed more than N days
    ago; `sinceImagePulled N` those not pulled for N days (an image never pulled counts from its
    push, so a new image is never "not pulled since" before it is N days old).
  - THE TRAP: several entries in one tagPrefixList or tagPatternList are ANDed: an image is
    selected only if, for each entry, one of its tags matches it. `["prod", "release"]` selects
    images tagged both prod-* and release-*, not either (a re:Post user lost images assuming
    OR). To select either, write two rules.

An image is a manifest of the repository with its tags; its pushed time is when the manifest
was first stored, its last pull the latest pull recorded on it or on any of its tags
(storage/lifecycle_ports.py ImageFacts). What is protected whatever the rules say (immutable
tags, manifests an index lists, referrers of a live subject) is decided by retention_run.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..storage.lifecycle_ports import ImageFacts

KIND = "retention"
DAY = 86400
MAX_WILDCARDS = 4  # ECR: at most four `*` per tagPatternList entry
TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled")
_TAG_TEXT = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # what a tag can hold: a prefix is part of one
_PATTERN = re.compile(r"[A-Za-z0-9_.*-]{1,128}")
_RULE_FIELDS = ("rulePriority", "description", "selection", "action")
_SELECTION_FIELDS = (
    "tagStatus",
    "tagPrefixList",
    "tagPatternList",
    "storageClass",
    "countType",
    "countUnit",
    "countNumber",
)


class PolicyInvalid(ValueError):
    """A policy that cannot be stored; the message names the rule and the field."""


@dataclass(frozen=True)
class Rule:
    priority: int
    tag_status: str
    count_type: str
    count_number: int
    prefixes: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    description: str = ""

    def selects(self, tags: Sequence[str]) -> bool:
        """Whether the rule's tag selection matches an image with these tags."""
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not tags
        # ANDed: every entry needs a tag of its own (see the module docstring's trap)
        if self.prefixes:
            return all(any(tag.startswith(p) for tag in tags) for p in self.prefixes)
        return all(any(wildcard_match(p, tag) for tag in tags) for p in self.patterns)

    def would_expire(self, images: Sequence[ImageFacts], now: float) -> list[ImageFacts]:
        """What this rule alone expires among `images`, oldest pushed first."""
        chosen = sorted((image for image in images if self.selects(image.tags)), key=_newest_first)
        if self.count_type == "imageCountMoreThan":
            doomed = chosen[self.count_number :]
        else:
            since = self.count_number * DAY
            doomed = [image for image in chosen if now - self._since(image) > since]
        return list(reversed(doomed))

    def _since(self, image: ImageFacts) -> float:
        if self.count_type == "sinceImagePushed":
            return image.pushed_at
        return max(image.pushed_at, image.pulled_at or 0.0)

    def describe(self) -> str:
        if self.tag_status != "tagged":
            selection = f"{self.tag_status} images"
        elif self.prefixes:
            selection = "images tagged " + " and ".join(f"{p}*" for p in self.prefixes)
        else:
            selection = "images tagged " + " and ".join(self.patterns)
        if self.count_type == "imageCountMoreThan":
            return f"keep the {self.count_number} newest {selection}"
        verb = "pushed" if self.count_type == "sinceImagePushed" else "pulled"
        return f"expire {selection} not {verb} for {self.count_number} days"


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]  # by rulePriority, lowest (applied first) first
    document: str


@dataclass(frozen=True)
class Expiry:
    image: ImageFacts
    rule: int  # the rulePriority of the rule that expires it


def _newest_first(image: ImageFacts) -> tuple[float, str]:
    return (-image.pushed_at, image.digest)


def evaluate(policy: Policy, images: Sequence[ImageFacts], now: float) -> list[Expiry]:
    """What the policy expires among a repository's images, each with the one rule that
    expires it: all rules evaluated, applied in priority order (module docstring)."""
    expired: list[Expiry] = []
    claimed: set[str] = set()  # matched by a higher-priority rule's tag selection
    for rule in policy.rules:
        doomed = rule.would_expire(images, now)
        expired += [Expiry(image, rule.priority) for image in doomed if image.digest not in claimed]
        claimed |= {image.digest for image in images if rule.selects(image.tags)}
    return expired


def wildcard_match(pattern: str, tag: str) -> bool:
    """ECR's tagPatternList match: `*` any run of characters, the whole tag, case-sensitive."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), tag) is not None


# -- parsing and validation ---------------------------------------------------------------------
def parse(text: str) -> Policy:
    """The policy a document says; PolicyInvalid naming the rule and the field otherwise."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise PolicyInvalid(f"the policy is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise PolicyInvalid('the policy is not a JSON object like {"rules": [...]}')
    _no_unknown(data, ("rules",), "the policy")
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyInvalid("rules: missing or empty (a list of one or more rules)")
    parsed = [_rule(index, rule) for index, rule in enumerate(rules)]
    _check_together(parsed)
    return Policy(tuple(sorted(parsed, key=lambda rule: rule.priority)), text)


def _rule(index: int, data: object) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(data, dict):
        raise PolicyInvalid(f"{where}: not an object")
    priority = data.get("rulePriority")
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
        raise PolicyInvalid(
            f"{where}: rulePriority: {priority!r} is not a positive integer (required, unique)"
        )
    where = f"rule {priority}"
    _no_unknown(data, _RULE_FIELDS, where)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise PolicyInvalid(f"{where}: description: must be a string")
    _action(where, data.get("action"))
    selection = data.get("selection")
    if not isinstance(selection, dict):
        raise PolicyInvalid(f"{where}: selection: missing (an object with tagStatus, countType…)")
    _no_unknown(selection, _SELECTION_FIELDS, f"{where}: selection")
    status = _tag_status(where, selection)
    prefixes, patterns = _tag_lists(where, selection, status)
    count_type, number = _count(where, selection)
    return Rule(priority, status, count_type, number, prefixes, patterns, description)


def _no_unknown(data: dict, known: Sequence[str], where: str) -> None:
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise PolicyInvalid(
            f"{where}: {unknown[0]}: unknown field; the fields are {', '.join(known)}"
        )


def _action(where: str, action: object) -> None:
    if not isinstance(action, dict):
        raise PolicyInvalid(f'{where}: action: missing (write {{"type": "expire"}})')
    _no_unknown(action, ("type", "targetStorageClass"), f"{where}: action")
    if action.get("type") == "transition" or "targetStorageClass" in action:
        raise PolicyInvalid(
            f"{where}: action.type: transition to archive is ECR's; Soute has no archive"
            " storage class and only expires"
        )
    if action.get("type") != "expire":
        raise PolicyInvalid(f"{where}: action.type: {action.get('type')!r}; must be 'expire'")


def _tag_status(where: str, selection: dict) -> str:
    status = selection.get("tagStatus")
    if status not in TAG_STATUSES:
        raise PolicyInvalid(
            f"{where}: selection.tagStatus: {status!r}; one of {', '.join(TAG_STATUSES)}"
        )
    storage = selection.get("storageClass", "standard")
    if storage != "standard":
        raise PolicyInvalid(
            f"{where}: selection.storageClass: {storage!r}; only 'standard' (no archive here)"
        )
    return str(status)


def _tag_lists(where: str, selection: dict, status: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    has_prefixes, has_patterns = "tagPrefixList" in selection, "tagPatternList" in selection
    if status != "tagged":
        if has_prefixes or has_patterns:
            field = "tagPrefixList" if has_prefixes else "tagPatternList"
            raise PolicyInvalid(
                f"{where}: selection.{field}: only with tagStatus 'tagged' (this one is {status})"
            )
        return (), ()
    if has_prefixes == has_patterns:
        raise PolicyInvalid(
            f"{where}: selection.tagPrefixList: tagStatus 'tagged' needs a tagPrefixList or a"
            " tagPatternList, not both"
        )
    if has_prefixes:
        return _strings(where, "tagPrefixList", selection["tagPrefixList"], _TAG_TEXT), ()
    patterns = _strings(where, "tagPatternList", selection["tagPatternList"], _PATTERN)
    for pattern in patterns:
        if pattern.count("*") > MAX_WILDCARDS:
            raise PolicyInvalid(
                f"{where}: selection.tagPatternList: {pattern!r} has {pattern.count('*')} '*';"
                f" at most {MAX_WILDCARDS} per pattern"
            )
    return (), patterns


def _strings(where: str, field: str, value: object, shape: re.Pattern[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise PolicyInvalid(f"{where}: selection.{field}: must be a non-empty list of strings")
    for entry in value:
        if not isinstance(entry, str) or not shape.fullmatch(entry):
            allowed = "A-Z a-z 0-9 _ . -" + (" and *" if field == "tagPatternList" else "")
            raise PolicyInvalid(
                f"{where}: selection.{field}: {entry!r} is not 1 to 128 of the characters {allowed}"
            )
    return tuple(dict.fromkeys(value))


def _count(where: str, selection: dict) -> tuple[str, int]:
    count_type = selection.get("countType")
    if count_type == "sinceImageTransitioned":
        raise PolicyInvalid(
            f"{where}: selection.countType: sinceImageTransitioned needs ECR's archive storage"
            " class, which Soute does not have"
        )
    if count_type not in COUNT_TYPES:
        raise PolicyInvalid(
            f"{where}: selection.countType: {count_type!r}; one of {', '.join(COUNT_TYPES)}"
        )
    unit = selection.get("countUnit")
    if count_type == "imageCountMoreThan" and unit is not None:
        raise PolicyInvalid(f"{where}: selection.countUnit: not used with imageCountMoreThan")
    if count_type != "imageCountMoreThan" and unit != "days":
        raise PolicyInvalid(f"{where}: selection.countUnit: {unit!r}; {count_type} needs 'days'")
    number = selection.get("countNumber")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise PolicyInvalid(
            f"{where}: selection.countNumber: {number!r} is not an integer greater than 0"
        )
    return str(count_type), number


def _check_together(rules: list[Rule]) -> None:
    """ECR's rules across rules: unique priorities, `any` last, one rule for untagged."""
    seen: set[int] = set()
    for rule in rules:
        if rule.priority in seen:
            raise PolicyInvalid(f"rule {rule.priority}: rulePriority: used by another rule")
        seen.add(rule.priority)
    highest = max(seen)
    for rule in rules:
        if rule.tag_status == "any" and rule.priority != highest:
            raise PolicyInvalid(
                f"rule {rule.priority}: selection.tagStatus: a rule with 'any' must have the"
                f" highest rulePriority ({highest} is higher)"
            )
    untagged = [rule.priority for rule in rules if rule.tag_status == "untagged"]
    if len(untagged) > 1:
        raise PolicyInvalid(
            f"rule {untagged[1]}: selection.tagStatus: only one rule may select untagged images"
            f" (rule {untagged[0]} does)"
        )
