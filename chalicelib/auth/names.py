"""Names of users, organisations and teams. A user's or organisation's name is a namespace: the
first component of repository names, so it follows the same grammar (and never holds the '+'
that robot logins use, nor '/')."""

from __future__ import annotations

import re

from ..oci.names import COMPONENT

_COMPONENT = re.compile(rf"^{COMPONENT}$")
MAX_LENGTH = 64


class NameInvalid(ValueError):
    """Not usable as a user, organisation or team name; the message says what is."""


def check_account_name(name: str, kind: str = "user") -> str:
    if len(name) > MAX_LENGTH or not _COMPONENT.match(name):
        raise NameInvalid(
            f"invalid {kind} name {name!r}: up to {MAX_LENGTH} lowercase letters and digits, with"
            " '.', '_' or '-' between them (it names a namespace: <name>/<repository>)"
        )
    return name
