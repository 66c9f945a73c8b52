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
    return name


def check_tag(tag: str) -> str:
    if not is_tag(tag):
        raise OCIError(
            "TAG_INVALID",
            f"invalid tag {tag!r}: up to 128 characters of [A-Za-z0-9_.-], not starting with"
            " '.' or '-'",
        )
    return tag
