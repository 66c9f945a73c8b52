"""Authorisation of registry requests, when auth is on: each route and method needs one action
(pull, push, delete, or the catalog), proven by a bearer token from the token endpoint.

A request without a usable token gets 401 and the challenge that tells the client where to get
one and for which scope. A token that lacks the action gets 401 again when the caller could be
granted it (the client asks for a wider token, as docker does when a pull turns into a push),
and 403 DENIED when the caller may not have it at all.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..auth.context import AuthContext
from ..auth.model import ANONYMOUS, Principal
from ..auth.permissions import repository_actions
from ..auth.scopes import ALL, CATALOG, DELETE, PULL, PUSH, Scope, repository_scope
from ..auth.tokens import Grant, TokenInvalid
from ..oci.errors import OCIError
from ..oci.names import check_name
from . import blobs, direct_uploads, listings, manifests, uploads
from .messages import Request

log = logging.getLogger("soute.auth")

# The action each handler needs on its repository.
ACTIONS = {
    manifests.get_manifest: PULL,
    manifests.put_manifest: PUSH,
    manifests.delete_manifest: DELETE,
    blobs.get_blob: PULL,
    blobs.delete_blob: DELETE,
    listings.list_tags: PULL,
    listings.referrers: PULL,
    uploads.start_upload: PUSH,
    uploads.upload_status: PUSH,
    uploads.append_chunk: PUSH,
    uploads.finish_upload: PUSH,
    uploads.cancel_upload: PUSH,
    direct_uploads.initiate: PUSH,
    direct_uploads.status: PUSH,
    direct_uploads.abort: PUSH,
    direct_uploads.part_urls: PUSH,
    direct_uploads.complete: PUSH,
}
# Authorised by their own HMAC signature, given out only to a caller allowed to push.
SIGNED = {direct_uploads.receive_part}


@dataclass(frozen=True)
class Caller:
    grant: Grant | None  # None: no bearer token (anonymous)


class Gate:
    def __init__(self, context: AuthContext) -> None:
        self.context = context

    def authorise(self, request: Request, handler: object, params: dict[str, str]) -> Caller:
        """The caller, once allowed to run `handler`; raises a 401 or 403 OCIError otherwise."""
        if handler in SIGNED:
            return Caller(None)
        caller = self._caller(request)
        if handler is listings.catalog:
            self._require(request, caller, Scope("registry", CATALOG, frozenset({ALL})), ALL)
        elif handler in ACTIONS:
            action = ACTIONS[handler]
            name = params.get("name") or _direct_repository(request)
            self._require(request, caller, _challenge_scope(name, action), action)
        elif caller.grant is None:  # /v2/: "is this registry asking for credentials?" yes
            raise self._unauthorized(request, None, "authentication required")
        return caller

    def pull_check(self, principal: Principal) -> Callable[[str], bool]:
        """For the catalog and cross-repository mounts: whether the caller may pull a
        repository, by the caller's rights now (looked up once, not per repository)."""
        store = self.context.store
        return lambda repository: PULL in repository_actions(principal, repository, store)

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


def _challenge_scope(name: str, action: str) -> Scope:
    # Ask for pull with push, as docker does: a push reads blobs back (HEAD) too.
    actions = (PULL, PUSH) if action == PUSH else (action,)
    return repository_scope(name, *actions)


def _direct_repository(request: Request) -> str:
    """The repository a direct-upload call names, in its query or in its JSON body (which is
    read here and put back for the handler)."""
    name = request.arg("repository")
    if name is None and request.method == "POST":
        # The handler's own limit: a `complete` naming thousands of parts is that large.
        data = request.read_body(direct_uploads.JSON_BODY_LIMIT)
        request.body = io.BytesIO(data)
        try:
            document = json.loads(data) if len(data) <= direct_uploads.JSON_BODY_LIMIT else None
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("repository"), str):
            name = document["repository"]
    if not name:
        raise OCIError("NAME_INVALID", "name the repository: ?repository=<name> or in the body")
    return check_name(name)
