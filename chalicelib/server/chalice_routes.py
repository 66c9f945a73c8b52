"""The Chalice routes of the Lambda front end: every OCI distribution endpoint, for repository
names of 1 to MAX_DEPTH components, all handed to the one Router.

Neither Chalice nor API Gateway REST can capture a repository name (it contains `/` and sits in
the middle of the path; `{proxy+}` must end a path), so each endpoint is declared once per name
depth: `/v2/{n1}/manifests/{reference}`, `/v2/{n1}/{n2}/manifests/{reference}`, ... The one view
rebuilds the real path from the route and its parameters and calls the Router, so routing, name
checks and errors stay in chalicelib/api like for every other front end. The routes come from
the route table (chalicelib/api/routes.py): each `{name}` route once per depth, the others as
they are, and the token endpoint.

Names the Lambda endpoint cannot address, which every front end therefore refuses with
NAME_INVALID (oci/names.py; through Lambda, API Gateway answers first, with its
MISSING_AUTHENTICATION_TOKEN gateway response, see gateway_responses.py):
- names of more than MAX_DEPTH components;
- names with a component other than the first named `manifests`, `blobs`, `tags` or
  `referrers`: API Gateway resolves a path one segment at a time and prefers a literal child
  resource to a variable one, so `/v2/a/blobs/...` always enters the blob endpoints of `a`.
  Such a request can only fail, never reach another repository's endpoint: the endpoint
  subtrees are at most two segments deep and no endpoint suffix starts with `uploads` or
  `list`.
The first component is free: `/v2`'s only literal child is `_catalog`, which no name can be.

The direct upload extension (docs/upload-extension.md) has fixed paths under `/v2/_soute/`,
which no repository name can shadow (no name starts with `_`). Its part URLs point at S3 on
this front end, so the embedded backend's `PUT /v2/_soute/parts/...` is not routed here.

Resources (the API Gateway quota is 300 per REST API by default): `/`, `/v2`, `/v2/_catalog`,
plus, per depth, the name resource and 10 endpoint resources: 3 + 11 * MAX_DEPTH = 179, plus
the extension's 5 (`_soute`, `uploads`, `{upload_id}`, `parts`, `complete`), plus `/token`
(the token endpoint; the Router answers 404 there while auth is off): 185.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from chalice import Chalice
from chalice import Response as ChaliceResponse
from chalice.app import CaseInsensitiveMapping
from chalice.app import Request as ChaliceRequest

from ..api import routes
from ..api.messages import API_VERSION_HEADER, Request, Response
from ..oci import names
from ..storage.ports import BlobBody

if TYPE_CHECKING:
    from ..api.router import Router
    from ..registry.service import Registry

T = TypeVar("T")

log = logging.getLogger("soute.lambda")

# 16 keeps 116 resources of headroom under the quota. Every front end refuses deeper names
# (oci/names.py), so the routes cover every name the registry accepts.
MAX_DEPTH = names.MAX_COMPONENTS
# Every body crosses API Gateway base64-encoded, byte for byte: blobs and manifests are hashed,
# and a text body would be re-encoded as UTF-8 (and bodies without a Content-Type would not be
# binary at all). With */* API Gateway also decodes every base64 response body.
BINARY_TYPES = ["*/*"]
_ANY_CONTENT_TYPE = ["*/*"]  # or Chalice answers 415 to everything but application/json
API_GATEWAY_RESOURCE_QUOTA = 300


# Set by `soute serve --lambda` in open mode (auth off): the address it listens on. The
# Router then answers only requests for this machine (chalicelib/api/local_hosts.py); a
# deployed function never has it.
BOUND_ADDRESS_VARIABLE = "SOUTE_BOUND_ADDRESS"
_NAME = "{name}"
RESERVED_COMPONENTS = frozenset(
    route.path.split(f"/{_NAME}/")[1].split("/")[0]
    for route in routes.ROUTES
    if f"/{_NAME}/" in route.path
)


def route_table(max_depth: int = MAX_DEPTH) -> dict[str, tuple[str, ...]]:
    """Every Chalice route path with its methods, from the route table: the routes the Lambda
    front end serves, a `{name}` route once per depth (`{n1}`, `{n1}/{n2}`, ...), and
    `/token`. API Gateway ignores a trailing slash (and Chalice refuses routes with one)."""
    table: dict[str, tuple[str, ...]] = {}
    served = [route for route in routes.ROUTES if route.on_lambda]
    for route in served:
        if _NAME not in route.path:
            table[route.path] = tuple(route.methods)
    table[routes.TOKEN_PATH] = routes.TOKEN_METHODS
    for depth in range(1, max_depth + 1):
        name = "/".join(f"{{n{i}}}" for i in range(1, depth + 1))
        for route in served:
            if _NAME in route.path:
                table[route.path.replace(_NAME, name)] = tuple(route.methods)
    return table


def resource_count(paths: Iterator[str] | list[str]) -> int:
    """The API Gateway resources these routes need: every distinct prefix, and the root."""
    resources = {"/"}
    for path in paths:
        parts = path.strip("/").split("/")
        resources.update("/" + "/".join(parts[:end]) for end in range(1, len(parts) + 1))
    return len(resources)


class Lazy(Generic[T]):
    """A Router or Registry, built on first use and kept for the life of the process: Lambda
    reuses a warm process for many requests, and building it at import would slow every cold
    start."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def __call__(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value

    def reset(self) -> None:
        """Forget the value; the next call builds a new one (tests change the storage)."""
        with self._lock:
            self._value = None


def router_from_environment() -> Router:
    """The Router on the storage that the function's environment names (.chalice/config.json,
    or `soute serve --lambda`)."""
    from .backends import build_router, options_from_environment

    bound = os.environ.get(BOUND_ADDRESS_VARIABLE) or None
    return build_router(options_from_environment(), bound_address=bound)


def registry_from_environment() -> Registry:
    """The registry alone, for the verifier function: it serves no request, so it needs no
    auth (and its role may not read the token signing secret)."""
    from .backends import build_registry, options_from_environment

    return build_registry(options_from_environment())


def register_routes(app: Chalice, router: Callable[[], Router], max_depth: int = MAX_DEPTH) -> None:
    """Declare every route on `app`, with its binary types; all of them call `router()`."""
    app.api.binary_types = list(BINARY_TYPES)

    def dispatch(**_params: str) -> ChaliceResponse:
        # The route's parameters are in the event; to_request reads them from there.
        return handle(app.current_request, router)

    app.register_middleware(accept_any, "http")
    for path, methods in route_table(max_depth).items():
        app.route(path, name="registry", methods=list(methods), content_types=_ANY_CONTENT_TYPE)(
            dispatch
        )


def accept_any(request: ChaliceRequest, get_response: Callable[..., Any]) -> Any:
    # Chalice refuses (400) to return a binary body unless the request's Accept header matches a
    # binary type. With */* as the binary type only a missing Accept trips it, and Go clients
    # (docker, containerd, crane) send none on blob and upload requests. API Gateway itself has
    # no such rule once */* is a binary media type. The view reads headers from the event, so
    # the Router still sees the request as sent.
    if "accept" not in request.headers:
        request.headers = CaseInsensitiveMapping({**request.headers, "accept": "*/*"})
    return get_response(request)


def handle(current: ChaliceRequest | None, router: Callable[[], Router]) -> ChaliceResponse:
    if current is None:  # not an API Gateway event: Chalice already refuses those
        return to_chalice(_error(500, "UNSUPPORTED", "not an API Gateway request"))
    request = to_request(current.to_original_event(), current.raw_body)
    try:
        registry_router = router()
    except Exception:
        log.exception("the registry could not be built from the function's environment")
        return to_chalice(
            _error(500, "UNSUPPORTED", "the registry is misconfigured; see the function's logs")
        )
    return to_chalice(registry_router.handle(request))


_PARAMETER = re.compile(r"\{(\w+)\}")


def real_path(resource: str, parameters: Mapping[str, str] | None) -> str:
    """The request path, rebuilt from the route and its parameters. The event's own `path` is
    not used: behind a custom domain with a base path mapping it may carry that prefix."""
    values = parameters or {}
    return _PARAMETER.sub(lambda match: values[match.group(1)], resource)


def to_request(event: Mapping[str, Any], body: bytes | str) -> Request:
    data = body.encode() if isinstance(body, str) else body
    headers = _headers(event)
    # API Gateway hands over the whole body, however the client framed it.
    headers.pop("transfer-encoding", None)
    headers["content-length"] = str(len(data))
    return Request(
        method=event["httpMethod"].upper(),
        path=real_path(event["resource"], event.get("pathParameters")),
        query={k: list(v) for k, v in (event.get("multiValueQueryStringParameters") or {}).items()},
        headers=headers,
        body=io.BytesIO(data),
        content_length=len(data),
        # API Gateway (and the emulator) say how the client connected.
        scheme=headers.get("x-forwarded-proto", "https").split(",")[0].strip(),
        source=((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "",
    )


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    # multiValueHeaders keeps every value of a repeated header (docker sends one Accept header
    # per manifest type); `headers` keeps only the last one.
    multi = event.get("multiValueHeaders") or {}
    if multi:
        return {name.lower(): ", ".join(values) for name, values in multi.items()}
    return {name.lower(): value for name, value in (event.get("headers") or {}).items()}


def to_chalice(response: Response) -> ChaliceResponse:
    body = response.body
    if isinstance(body, BlobBody):
        if body.redirect_url:
            return _redirect(response, body.redirect_url)
        if body.length:
            return to_chalice(_local_blob_error())
        body = b""
    return ChaliceResponse(body=body, headers=dict(response.headers), status_code=response.status)


def _redirect(response: Response, location: str) -> ChaliceResponse:
    headers = {**response.headers, "Location": location, "Content-Length": "0"}
    return ChaliceResponse(body=b"", headers=headers, status_code=307)


def _local_blob_error() -> Response:
    # A Lambda response carries 6 MB at most and a function has no lasting disk: blob bytes
    # must come from S3 through a presigned URL. Only a misconfigured function gets here.
    return _error(
        501,
        "UNSUPPORTED",
        "this registry's storage serves blobs from local files, which the Lambda front end "
        "cannot send; run the function on the aws backend (S3 presigned downloads), or serve "
        "this storage with `soute serve`",
    )


def _error(status: int, code: str, message: str) -> Response:
    response = Response.json(status, {"errors": [{"code": code, "message": message}]})
    response.headers.update(API_VERSION_HEADER)
    response.headers["Content-Length"] = str(response.content_length())
    return response
