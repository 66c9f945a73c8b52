"""Tag immutability: which tags of a repository may not move to another manifest, nor be
deleted, once they exist.

A setting is a document of kind `immutability` in the PolicyStore, on a repository or on a
namespace (the first component of a name): `{"immutable": true, "exclusions": ["dev-*"]}`.
The setting on the repository wins over the one on its namespace, whole (exclusions are not
merged). Exclusions invert the setting for the tags they match, which gives ECR's four
values: immutable (no exclusions), immutable except the excluded tags (ECR
IMMUTABLE_WITH_EXCLUSION), mutable (`"immutable": false`, which also lifts a namespace's
setting for one repository), mutable except the excluded tags (MUTABLE_WITH_EXCLUSION).

Exclusions are ECR's wildcard filters: `^[0-9a-zA-Z._*-]{1,128}$`, `*` matching any run of
characters (none included), the whole tag matched, case-sensitive; at most MAX_EXCLUSIONS of
them (ECR PutImageTagMutability: 1-5 filters). ECR documents no limit of `*` per filter; we
take the limit its lifecycle rules' wildcard filters document, 4 (MAX_WILDCARDS), so that a
pattern stays a few steps to match.

This module decides; the storage adapters enforce, inside the conditional tag write
(storage/ports.py ManifestWrite.immutable_tags and TagImmutable), so two concurrent pushes to
one new immutable tag cannot both win.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..oci.names import namespace_of
from ..storage.policy_ports import PolicyStore

KIND = "immutability"
MAX_EXCLUSIONS = 5
MAX_WILDCARDS = 4
_FILTER = re.compile(r"[0-9a-zA-Z._*-]{1,128}")

log = logging.getLogger("soute.lifecycle")


class RuleInvalid(ValueError):
    """A setting that cannot be stored; the message names the field and what is allowed."""


@dataclass(frozen=True)
class ImmutabilityRule:
    immutable: bool
    exclusions: tuple[str, ...] = ()

    def protects(self, tag: str) -> bool:
        """Whether `tag` may not move or be deleted once it exists."""
        return self.immutable != any(matches(pattern, tag) for pattern in self.exclusions)

    def document(self) -> str:
        return json.dumps({"immutable": self.immutable, "exclusions": list(self.exclusions)})

    def describe(self) -> str:
        """One line for the admin verbs."""
        state = "immutable" if self.immutable else "mutable"
        if not self.exclusions:
            return state
        return f"{state} except {', '.join(self.exclusions)}"


def rule(immutable: bool, exclusions: list[str] | tuple[str, ...] = ()) -> ImmutabilityRule:
    """A checked rule; RuleInvalid naming the field otherwise."""
    if not isinstance(immutable, bool):
        raise RuleInvalid(f"immutable: must be true or false, not {immutable!r}")
    if not isinstance(exclusions, list | tuple):
        raise RuleInvalid("exclusions: must be a list of wildcard patterns")
    if len(exclusions) > MAX_EXCLUSIONS:
        raise RuleInvalid(
            f"exclusions: at most {MAX_EXCLUSIONS} patterns (as ECR allows), not {len(exclusions)}"
        )
    for pattern in exclusions:
        check_pattern(pattern)
    return ImmutabilityRule(immutable, tuple(dict.fromkeys(exclusions)))


def check_pattern(pattern: object) -> str:
    if not isinstance(pattern, str) or not _FILTER.fullmatch(pattern):
        raise RuleInvalid(
            f"exclusions: {pattern!r} is not a wildcard pattern: 1 to 128 of the characters"
            " A-Z a-z 0-9 . _ - and * (any run of characters), e.g. 'dev-*'"
        )
    if pattern.count("*") > MAX_WILDCARDS:
        raise RuleInvalid(
            f"exclusions: {pattern!r} has {pattern.count('*')} '*'; a pattern has at most"
            f" {MAX_WILDCARDS}"
        )
    return pattern


def parse(document: str) -> ImmutabilityRule:
    """The rule a stored document says; RuleInvalid naming the field otherwise."""
    try:
        data = json.loads(document)
    except ValueError:
        raise RuleInvalid("the setting is not JSON") from None
    if not isinstance(data, dict):
        raise RuleInvalid('the setting is not a JSON object like {"immutable": true}')
    unknown = sorted(set(data) - {"immutable", "exclusions"})
    if unknown:
        raise RuleInvalid(f"{unknown[0]}: unknown field; the fields are immutable, exclusions")
    if "immutable" not in data:
        raise RuleInvalid("immutable: missing (true or false)")
    return rule(data["immutable"], data.get("exclusions", []))


def matches(pattern: str, tag: str) -> bool:
    """ECR's wildcard match: `*` is any run of characters, everything else itself."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), tag) is not None


def effective_rule(
    policies: PolicyStore | None,
    repository: str,
    namespace_settings: dict[str, str] | None = None,
) -> tuple[str, ImmutabilityRule]:
    """The scope whose setting applies to `repository` and its rule: the repository's, else its
    namespace's, else ("", mutable). `namespace_settings`: the namespace's settings, when the
    caller read them already (PolicyStore.settings), so they are not read again."""
    if policies is None:
        return "", ImmutabilityRule(False)
    namespace = namespace_of(repository)
    for scope in dict.fromkeys((repository, namespace)):
        if scope == namespace and namespace_settings is not None:
            document = namespace_settings.get(KIND)
        else:
            document = policies.get(scope, KIND)
        if document is not None:
            return scope, _stored(scope, document)
    return "", ImmutabilityRule(False)


def _stored(scope: str, document: str) -> ImmutabilityRule:
    """A stored setting; one the admin verbs did not write (changed by hand) and that does not
    parse protects every tag: refusing a push is recoverable, a moved release tag is not."""
    try:
        return parse(document)
    except RuleInvalid as problem:
        log.warning("immutability setting of %s is invalid (%s): every tag kept", scope, problem)
        return ImmutabilityRule(True)


def protected(policies: PolicyStore | None, repository: str) -> Callable[[str], bool]:
    """A test of the tags of `repository` that may not move or be deleted, read once."""
    return effective_rule(policies, repository)[1].protects
