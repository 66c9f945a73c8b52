"""What a namespace name still holds once its user is gone: repositories, public marks, live
tokens. Giving the name to a new user or organisation would hand them all that, so `soute user
add` and `soute org add` refuse a name with leftovers unless the admin says what to do with
them: `--purge-leftovers` revokes the tokens and clears the marks, `--keep-repositories` hands
the repositories over (soute cannot delete a repository: its manifests are deleted through the
registry API).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

from ..auth.access_tokens import ROBOT
from ..auth.authenticator import robot_name
from ..auth.identity_ports import IdentityStore
from ..auth.model import AccessToken
from ..storage.ports import MetadataStore
from .admin_storage import open_metadata

SHOWN = 5  # repositories named in a refusal; the rest are counted
PURGE, KEEP = "--purge-leftovers", "--keep-repositories"


class LeftoversRemain(Exception):
    """The name still holds a former holder's things; the message says which and what to do."""


@dataclass
class Leftovers:
    repositories: list[str] = field(default_factory=list)  # the first SHOWN + 1
    public: list[str] = field(default_factory=list)
    tokens: list[AccessToken] = field(default_factory=list)


def find_leftovers(store: IdentityStore, meta: MetadataStore | None, name: str) -> Leftovers:
    now = time.time()
    tokens = [
        token
        for token in store.tokens()
        if token.usable(now)
        and (token.owner == name or (token.kind == ROBOT and name in token.namespaces))
    ]
    return Leftovers(repositories(meta, name), store.public_marks(name), tokens)


def repositories(meta: MetadataStore | None, namespace: str, limit: int = SHOWN + 1) -> list[str]:
    """The first `limit` repositories of the namespace, from the catalog."""
    if meta is None:
        return []
    found = [namespace] if meta.repository_exists(namespace) else []
    # In the catalog's order, the namespace's repositories come right after "<namespace>/".
    return (
        found
        + [
            repository
            for repository in meta.repositories(f"{namespace}/", limit)
            if repository.startswith(f"{namespace}/")
        ][: limit - len(found)]
    )


def check_name(store: IdentityStore, args: argparse.Namespace, name: str) -> Leftovers:
    """What `purge` must clear before `name` is given out; raises LeftoversRemain when the
    name holds leftovers the admin did not say what to do with."""
    found = find_leftovers(store, open_metadata(args), name)
    purge, keep = getattr(args, "purge_leftovers", False), getattr(args, "keep_repositories", False)
    if (found.tokens or found.public) and not purge or found.repositories and not keep:
        raise LeftoversRemain(_refusal(name, found, purge))
    return found


def purge(store: IdentityStore, name: str, found: Leftovers) -> None:
    """Revoke the leftover tokens and clear the leftover marks (the repositories stay)."""
    for token in found.tokens:
        store.revoke_token(token.id)
    for mark in found.public:
        store.set_public(mark, False)
    if found.tokens or found.public:
        print(
            f"{name}: {len(found.tokens)} tokens revoked, {len(found.public)} public marks cleared"
        )


def describe(found: Leftovers) -> list[str]:
    """What remains, in a few words per kind."""
    parts = []
    if found.repositories:
        shown = ", ".join(found.repositories[:SHOWN])
        more = " and more" if len(found.repositories) > SHOWN else ""
        parts.append(f"repositories {shown}{more}")
    if found.public:
        parts.append(f"public marks {', '.join(found.public)}")
    if found.tokens:
        names = (robot_name(t) if t.kind == ROBOT else f"{t.owner}'s token" for t in found.tokens)
        listed = ", ".join(f"{t.id} ({n})" for t, n in zip(found.tokens, names, strict=True))
        parts.append(f"live tokens {listed}")
    return parts


def _refusal(name: str, found: Leftovers, purged: bool) -> str:
    advice = []
    if (found.tokens or found.public) and not purged:
        advice.append(f"pass {PURGE} to revoke the tokens and clear the marks")
    if found.repositories:
        advice.append(
            "soute cannot delete repositories: delete their manifests through the registry"
            f" (DELETE /v2/<repository>/manifests/<digest>, e.g. with skopeo delete), or pass"
            f" {KEEP} to give them to the new {name}"
        )
    return (
        f"the name {name} still holds a former holder's {'; '.join(describe(found))}: "
        + "; ".join(advice)
    )
