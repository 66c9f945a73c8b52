"""The one HTTP router of Soute: every front end turns its request into a `Request`, calls
`Router.handle`, and sends back the `Response`. Routing (from the route table of routes.py),
name checks and error rendering live here and nowhere else (an error's status and headers come
from service_errors.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..oci.errors import OCIError
from ..oci.names import check_name
from ..registry.service import Registry
from ..storage.ports import IncompleteBody, StorageFull, StorageUnavailable
from . import auditing, blobs, direct_uploads, listings, manifests, routes, uploads, usage
from .local_hosts import LocalHosts
from .messages import API_VERSION_HEADER, Request, Response
from .service_errors import status_and_headers
from .storage_faults import storage_fault

if TYPE_CHECKING:
    from ..auth.audit import AuditLog
    from ..auth.context import AuthContext

log = logging.getLogger("soute.api")

Handler = Callable[..., Response]

TOKEN_PATH = routes.TOKEN_PATH
_MODULES = {
    "blobs": blobs,
    "direct_uploads": direct_uploads,
    "listings": listings,
    "manifests": manifests,
    "uploads": uploads,
    "usage": usage,
}


@dataclass(frozen=True)
class Route:
    """A route of the table (routes.py), compiled: its regular expression and handlers."""

    pattern: re.Pattern[str]
    methods: dict[str, Handler]
    declared: routes.Route


def pattern(route: routes.Route) -> re.Pattern[str]:
    """The regular expression of a route's path template."""
    parts = re.split(r"\{(\w+)\}", route.path)  # literal, parameter, literal, ...
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>{_parameter(part)})"
        for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}{'/?' if route.slash else ''}$")


def _parameter(name: str) -> str:
    return routes.PARAMETERS.get(name, routes.SEGMENT)


def resolve(handler: str) -> Handler:
    module, _, function = handler.partition(".")
    resolved: Handler = getattr(_MODULES[module], function)
    return resolved


def _compile(route: routes.Route) -> Route:
    handlers = {method: resolve(declared.handler) for method, declared in route.methods.items()}
    return Route(pattern(route), handlers, route)


ROUTES = tuple(_compile(route) for route in routes.ROUTES)


class Router:
    def __init__(
        self,
        registry: Registry,
        auth: AuthContext | None = None,
        *,
        bound_address: str | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        """Without `auth` every request is allowed (auth off, the default until enabled). A
        front end serving open mode on a local socket gives its `bound_address`: then only
        requests for this machine are answered (local_hosts.py, against DNS rebinding). With
        auth off, `audit` records the deletes (auditing.py); with auth on, auth's log does."""
        from .gate import AuthorisedDispatch

        self.registry = registry
        self.open_audit = audit if auth is None else None
        self.auth = AuthorisedDispatch(registry, auth) if auth is not None else None
        self.local_hosts = LocalHosts(bound_address) if auth is None and bound_address else None

    def handle(self, request: Request) -> Response:
        try:
            response = self._dispatch(request)
        except OCIError as error:
            response = error_response(error)
        except IncompleteBody as error:
            # A body the front end could not read whole (broken chunking, client gone). Handlers
            # that stream bodies answer it with their own code; every other reader lands here.
            response = error_response(OCIError("UNSUPPORTED", str(error), status=400))
        except (StorageUnavailable, StorageFull) as error:  # 503 + Retry-After, 507; one line
            response = error_response(storage_fault(request, error))
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            response = error_response(
                OCIError(
                    "UNSUPPORTED", "internal error; the request was not carried out", status=500
                )
            )
        response.headers.update(API_VERSION_HEADER)
        response.headers.setdefault("Content-Length", str(response.content_length()))
        if request.method == "HEAD":
            response.body = b""  # Content-Length above still tells the size
        return response

    def _dispatch(self, request: Request) -> Response:
        if self.local_hosts is not None:
            self.local_hosts.check(request)
        if self.auth is not None and request.path == TOKEN_PATH:
            return self.auth.token(request)
        for route in ROUTES:
            match = route.pattern.fullmatch(request.path)
            if not match:
                continue
            handler = route.methods.get(request.method)
            if handler is None:
                raise OCIError(
                    "UNSUPPORTED",
                    f"{request.method} is not supported on {request.path}",
                    status=405,
                    headers={"Allow": ", ".join(sorted(route.methods))},
                )
            params = match.groupdict()
            if route.declared.name_in_query:
                params["name"] = _query_name(request)
            if "name" in params:
                check_name(params["name"])
            if self.auth is not None:
                declared = route.declared.methods[request.method]
                return self.auth.call(request, handler, declared, params)
            response = handler(self.registry, request, **params)
            if self.open_audit is not None:
                declared = route.declared.methods[request.method]
                auditing.record_success(
                    self.open_audit,
                    request,
                    declared,
                    params,
                    response,
                    auditing.ANONYMOUS,
                    only=auditing.OPEN_MODE_ACTIONS,
                )
            return response
        raise OCIError("UNSUPPORTED", f"no such endpoint: {request.path}", status=404)


def _query_name(request: Request) -> str:
    """The repository of a call that names it in its query (direct uploads, usage): only ever
    its `?repository=`, which the gate authorises and the handler acts on."""
    name = request.arg("repository")
    if not name:
        raise OCIError("NAME_INVALID", "add ?repository=<name> to the URL")
    return name


def error_response(error: OCIError) -> Response:
    status, headers = status_and_headers(error)
    return Response.json(status, error.body(), headers)
