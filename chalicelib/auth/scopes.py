"""Scopes as the distribution token spec writes them: `repository:<name>:pull,push`,
`registry:catalog:*`. A `scope` query parameter may hold several, separated by spaces."""

from __future__ import annotations

from dataclasses import dataclass

PULL, PUSH, DELETE = "pull", "push", "delete"
REPOSITORY_ACTIONS = frozenset({PULL, PUSH, DELETE})
CATALOG = "catalog"
ALL = "*"


class ScopeInvalid(ValueError):
    """A scope string that does not have the form `type:name:actions`."""


@dataclass(frozen=True)
class Scope:
    type: str  # "repository" or "registry"
    name: str  # a repository name, or "catalog"
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"

    def claim(self) -> dict[str, object]:
        """This scope as one entry of a token's `access` claim."""
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}


def parse_scope(text: str) -> Scope:
    """One scope. The name may contain ':' (a registry host with a port, in some clients), so the
    type is before the first colon and the actions after the last one."""
    kind, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and kind and name and actions):
        raise ScopeInvalid(f"scope {text!r} is not of the form type:name:actions")
    return Scope(kind, name, frozenset(a for a in actions.split(",") if a))


def parse_scopes(values: list[str]) -> list[Scope]:
    """Every scope of the `scope` parameters, merged per (type, name)."""
    merged: dict[tuple[str, str], set[str]] = {}
    for value in values:
        for text in value.split():
            scope = parse_scope(text)
            merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return [Scope(kind, name, frozenset(acts)) for (kind, name), acts in merged.items()]


def repository_scope(name: str, *actions: str) -> Scope:
    return Scope("repository", name, frozenset(actions))


CATALOG_SCOPE = Scope("registry", CATALOG, frozenset({ALL}))
