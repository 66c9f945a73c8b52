"""The router's auth step, when auth is on: the token endpoint, then for every registry request
the authorisation check and the two handlers whose answer depends on the caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..auth.context import AuthContext
from ..oci.errors import OCIError
from ..registry.service import Registry
from . import auditing, listings, uploads
from .access import Caller, Gate
from .guarded import guarded_upload, visible_catalog
from .messages import Request, Response
from .routes import TOKEN_METHODS, Method
from .token_endpoint import get_token, post_token


class AuthorisedDispatch:
    def __init__(self, registry: Registry, context: AuthContext) -> None:
        self.registry = registry
        self.gate = Gate(context)

    def token(self, request: Request) -> Response:
        if request.method == "GET":
            return get_token(self.gate.context, request)
        if request.method == "POST":
            return post_token(self.gate.context, request)
        raise OCIError(
            "UNSUPPORTED",
            f"{request.method} is not supported on /token",
            status=405,
            headers={"Allow": ", ".join(TOKEN_METHODS)},
        )

    def call(
        self,
        request: Request,
        handler: Callable[..., Response],
        declared: Method,
        params: dict[str, Any],
    ) -> Response:
        """Run `handler` once the gate allowed the `declared` method (its route's entry)."""
        try:
            caller = self.gate.authorise(request, declared, params)
        except OCIError as error:
            if error.code == "DENIED":
                actor = self._actor(self.gate.caller_of(request))
                auditing.record_denied(self.gate.context.audit, request, declared, params, actor)
            raise
        if handler is listings.catalog:
            principal = self.gate.principal(caller)
            return visible_catalog(self.registry, request, self.gate.pull_check(principal))
        # Only a mount depends on the caller: a plain upload start needs no principal lookup.
        if handler is uploads.start_upload and request.arg("mount") is not None:
            principal = self.gate.principal(caller)
            may_pull = self.gate.pull_check(principal)
            name = params["name"]
            return guarded_upload(self.registry, request, name, may_pull, principal.admin)
        response = handler(self.registry, request, **params)
        self._audit(request, declared, params, caller, response)
        return response

    def _audit(
        self,
        request: Request,
        declared: Method,
        params: dict[str, Any],
        caller: Caller,
        response: Response,
    ) -> None:
        if declared.audited and response.status < 300:
            actor = self._actor(caller)
            auditing.record_success(
                self.gate.context.audit, request, declared, params, response, actor
            )

    def _actor(self, caller: Caller | None) -> str:
        """The caller as the audit log names it (Authenticator.actor), or anonymous."""
        if caller is None or caller.grant is None or not caller.grant.subject:
            return auditing.ANONYMOUS
        return self.gate.context.authenticator.actor(caller.grant.subject)
