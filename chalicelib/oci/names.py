"""Repository names and tags, validated against the distribution-spec grammar.

Every check is a full match (`fullmatch`): with `^...$` and `match`, `$` also matches before a
final newline, so `evil\n` would pass as a tag."""

from __future__ import annotations

import re

from .errors import OCIError

COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"  # one path component of a name
NAME_PATTERN = re.compile(rf"{COMPONENT}(?:/{COMPONENT})*")  # use with fullmatch
TAG_PATTERN = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")  # use with fullmatch
MAX_NAME_LENGTH = 255
# Through API Gateway a name is routed one path segment at a time (chalicelib/server/
# chalice_routes.py): at most MAX_COMPONENTS components, and none after the first may be the
# word that starts an endpoint's path. Every front end refuses such names alike, so a name that
# works on a laptop works in production too.
MAX_COMPONENTS = 16
RESERVED_COMPONENTS = frozenset({"blobs", "manifests", "tags", "referrers"})


def is_name(text: str) -> bool:
    """Whether `text` is, whole, a repository name of the grammar (length not checked)."""
    return NAME_PATTERN.fullmatch(text) is not None


def is_tag(text: str) -> bool:
    """Whether `text` is, whole, a tag."""
    return TAG_PATTERN.fullmatch(text) is not None


def check_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise OCIError(
            "NAME_INVALID", f"repository name is {len(name)} characters; at most 255 are allowed"
        )
    if not is_name(name):
        raise OCIError(
            "NAME_INVALID",
            f"invalid repository name {name!r}: use lowercase letters, digits and separators "
            "'.', '_', '__' or '-' between them, with '/' between components",
        )
    if problem := routing_problem(name):
        raise OCIError("NAME_INVALID", problem)
    return name


def routing_problem(name: str) -> str | None:
    """Why API Gateway could not route requests for this (grammatical) name, or None."""
    components = name.split("/")
    if len(components) > MAX_COMPONENTS:
        return (
            f"repository name {name!r} has {len(components)} components; at most"
            f" {MAX_COMPONENTS} are allowed (as the registry's API Gateway routes them)"
        )
    reserved = [c for c in components[1:] if c in RESERVED_COMPONENTS]
    if reserved:
        return (
            f"repository name {name!r} has a component named {reserved[0]!r} after the first:"
            f" no component but the first may be {', '.join(sorted(RESERVED_COMPONENTS))}"
            " (they start the API's paths); rename it"
        )
    return None


def check_tag(tag: str) -> str:
    if not is_tag(tag):
        raise OCIError(
            "TAG_INVALID",
            f"invalid tag {tag!r}: up to 128 characters of [A-Za-z0-9_.-], not starting with"
            " '.' or '-'",
        )
    return tag


def namespace_of(repository: str) -> str:
    """The namespace a repository is in: its first component (`acme` of `acme/app`; a name of
    one component is its own namespace). Access, immutability, retention and quotas use it."""
    return repository.split("/", 1)[0]
