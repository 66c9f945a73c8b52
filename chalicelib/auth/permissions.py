"""The permission model: which repository actions a principal has, from its namespaces, teams,
token limits, and what is public. Pure: the facts come in as arguments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ..oci.names import namespace_of
from .model import ROLE_ACTIONS, Principal
from .scopes import ALL, CATALOG, PULL, REPOSITORY_ACTIONS, Scope

NONE: frozenset[str] = frozenset()


class PublicIndex(Protocol):
    def is_public(self, repository: str) -> bool:
        """Whether anyone, even anonymous, may pull `repository` (it or its namespace is public)."""
        ...


def repository_actions(
    principal: Principal, repository: str, public: PublicIndex
) -> frozenset[str]:
    """The actions `principal` may take on `repository`."""
    granted = _own_actions(principal, repository)
    if principal.namespaces is not None:  # a robot or access token: never beyond its limits
        if namespace_of(repository) not in principal.namespaces:
            granted = NONE
        granted &= principal.actions or NONE
    if public.is_public(repository):
        granted |= {PULL}
    return granted


def _own_actions(principal: Principal, repository: str) -> frozenset[str]:
    if principal.anonymous:
        return NONE
    if principal.admin:
        return REPOSITORY_ACTIONS
    namespace = namespace_of(repository)
    if principal.kind == "robot":  # its grants are its limits, applied by the caller
        return REPOSITORY_ACTIONS
    # A user's personal namespace (a personal access token acts as its user). Only users have
    # one: an AWS login's name is an ARN, which names no namespace.
    if principal.kind in ("user", "pat") and namespace == principal.name:
        return REPOSITORY_ACTIONS
    actions: frozenset[str] = NONE
    for team in principal.teams:
        if team.org == namespace:
            actions |= ROLE_ACTIONS.get(team.role, NONE)
    return actions


def grant(principal: Principal, asked: Iterable[Scope], public: PublicIndex) -> list[Scope]:
    """The scopes a token for `principal` gets: for each asked scope, the intersection of the
    asked and the allowed actions; scopes left with no action are dropped (the spec's way of
    saying "not allowed" without failing the token request)."""
    granted: list[Scope] = []
    for scope in asked:
        allowed = _allowed(principal, scope, public)
        actions = scope.actions & allowed
        if actions:
            granted.append(Scope(scope.type, scope.name, actions))
    return granted


def _allowed(principal: Principal, scope: Scope, public: PublicIndex) -> frozenset[str]:
    if scope.type == "repository":
        return repository_actions(principal, scope.name, public)
    if scope.type == "registry" and scope.name == CATALOG:
        # Anyone may ask for the catalog; it lists only what the caller may pull.
        return frozenset({ALL})
    return NONE
