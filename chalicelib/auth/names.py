"""Names of users, organisations and teams. A user's or organisation's name is a namespace: the
first component of repository names, so it follows the same grammar (and never holds the '+'
that robot logins use, nor '/'). Robot names (after the '+') follow it too."""

from __future__ import annotations

import re

from ..oci.names import COMPONENT

_COMPONENT = re.compile(COMPONENT)  # always fullmatch: `$` would let a final "\n" through
MAX_LENGTH = 64
_WHAT_IT_NAMES = {
    "robot": "it logs in as <namespace>+<name>",
    "team": "it is written <organisation>/<team>",
}


class NameInvalid(ValueError):
    """Not usable as a user, organisation or team name; the message says what is."""


def check_account_name(name: str, kind: str = "user") -> str:
    if len(name) > MAX_LENGTH or not _COMPONENT.fullmatch(name):
        names = _WHAT_IT_NAMES.get(kind, "it names a namespace: <name>/<repository>")
        raise NameInvalid(
            f"invalid {kind} name {name!r}: up to {MAX_LENGTH} lowercase letters and digits, with"
            f" '.', '_' or '-' between them ({names})"
        )
    return name
