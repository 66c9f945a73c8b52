"""Authorisation of registry requests, when auth is on: each route and method declares in the
route table (routes.py) the one action it needs (pull, push, delete, the catalog, a part URL's
signature, or just a caller), proven by a bearer token from the token endpoint. A method that
declares none is refused: deny by default.

A request without a usable token gets 401 and the challenge that tells the client where to get
one and for which scope. A token that lacks the action gets 401 again when the caller could be
granted it (the client asks for a wider token, as docker does when a pull turns into a push),
and 403 DENIED when the caller may not have it at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..auth.context import AuthContext
from ..auth.model import ANONYMOUS, Principal
from ..auth.permissions import repository_actions
from ..auth.scopes import ALL, CATALOG, PULL, PUSH, REPOSITORY_ACTIONS, Scope, repository_scope
from ..auth.tokens import Grant, TokenInvalid
from ..oci.errors import OCIError
from .messages import Request
from .routes import NONE, SIGNED, Method

log = logging.getLogger("soute.auth")


@dataclass(frozen=True)
class Caller:
    grant: Grant | None  # None: no bearer token (anonymous)


class Gate:
    def __init__(self, context: AuthContext) -> None:
        self.context = context

    def authorise(self, request: Request, declared: Method, params: dict[str, str]) -> Caller:
        """The caller, once allowed to run the `declared` method of a route with these path
        `params` (`name`: the repository the handler acts on); raises a 401 or 403 OCIError
        otherwise. Reads nothing but headers: never the body."""
        action, name = declared.action, params.get("name")
        if action == SIGNED:  # part URLs are given out only to a caller allowed to push
            return Caller(None)
        if not _usable(action, name):
            # Deny by default: a route the table gives no (usable) action is refused for all.
            log.error("refused %s %s: its route declares no action", request.method, request.path)
            raise OCIError(
                "DENIED",
                f"{request.method} {request.path} is refused: the registry declares no "
                "permission for it (a bug in the registry, logged; report it)",
            )
        caller = self._caller(request)
        if action == CATALOG:
            self._require(request, caller, Scope("registry", CATALOG, frozenset({ALL})), ALL)
        elif action == NONE:
            if caller.grant is None:  # /v2/: "is this registry asking for credentials?" yes
                raise self._unauthorized(request, None, "authentication required")
        elif action and name:
            self._require(request, caller, _challenge_scope(name, action), action)
        return caller

    def pull_check(self, principal: Principal) -> Callable[[str], bool]:
        """For the catalog and cross-repository mounts: whether the caller may pull a
        repository, by the caller's rights now (looked up once, not per repository)."""
        store = self.context.store
        return lambda repository: PULL in repository_actions(principal, repository, store)

    def caller_of(self, request: Request) -> Caller | None:
        """The request's caller, or None when its bearer token is refused."""
        try:
            return self._caller(request)
        except OCIError:
            return None

    def principal(self, caller: Caller) -> Principal:
        if caller.grant is None:
            return ANONYMOUS
        return self.context.authenticator.principal(caller.grant.subject)

    def _caller(self, request: Request) -> Caller:
        header = request.header("authorization") or ""
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            return Caller(None)
        try:
            return Caller(self.context.tokens.verify(token.strip()))
        except TokenInvalid as error:
            log.info("bearer token refused on %s %s: %s", request.method, request.path, error)
            message = "the bearer token is invalid or expired; log in again"
            raise self._unauthorized(request, None, message) from None

    def _require(self, request: Request, caller: Caller, scope: Scope, action: str) -> None:
        if caller.grant is not None and caller.grant.allows(scope.type, scope.name, action):
            return
        # Someone logged in who may not have the action at all: no new token would help.
        # Anonymous callers get the challenge again: logging in might.
        if (
            caller.grant is not None
            and caller.grant.subject
            and scope.type == "repository"
            and not self._could(caller, scope.name, action)
        ):
            raise OCIError(
                "DENIED",
                f"{caller.grant.subject} may not {action} {scope.name}; ask an owner of the "
                "namespace for access",
            )
        raise self._unauthorized(request, scope, f"authentication required to {action}")

    def _could(self, caller: Caller, repository: str, action: str) -> bool:
        principal = self.principal(caller)
        return action in repository_actions(principal, repository, self.context.store)

    def _unauthorized(self, request: Request, scope: Scope | None, message: str) -> OCIError:
        challenge = f'Bearer realm="{request.base_url()}/token",service="{self.context.service}"'
        if scope is not None:
            challenge += f',scope="{scope}"'
        return OCIError("UNAUTHORIZED", message, headers={"WWW-Authenticate": challenge})


def _usable(action: str | None, name: str | None) -> bool:
    """Whether the gate can check this action: a repository action needs the repository."""
    if action in REPOSITORY_ACTIONS:
        return bool(name)
    return action in (CATALOG, NONE)


def _challenge_scope(name: str, action: str) -> Scope:
    # Ask for pull with push, as docker does: a push reads blobs back (HEAD) too.
    actions = (PULL, PUSH) if action == PUSH else (action,)
    return repository_scope(name, *actions)
