"""The one HTTP router of Soute: every front end turns its request into a `Request`, calls
`Router.handle`, and sends back the `Response`. Routing, name checks and error rendering live
here and nowhere else."""

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
from . import blobs, direct_uploads, listings, manifests, uploads
from .messages import API_VERSION_HEADER, Request, Response
from .storage_faults import storage_fault

if TYPE_CHECKING:
    from ..auth.context import AuthContext

log = logging.getLogger("soute.api")

Handler = Callable[..., Response]

TOKEN_PATH = "/token"  # the token endpoint, when auth is on
_NAME = r"(?P<name>.+?)"
_UPLOAD = "_soute/uploads/(?P<upload_id>[^/]+)"


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    methods: dict[str, Handler]


def _route(path: str, methods: dict[str, Handler]) -> Route:
    return Route(re.compile(f"^/v2/{path}$"), methods)


def _base(registry: Registry, request: Request) -> Response:
    return Response.json(200, {})


ROUTES = (
    _route("?", {"GET": _base, "HEAD": _base}),
    _route("_catalog", {"GET": listings.catalog}),
    # The direct upload extension; no repository name starts with "_", so these paths are free.
    _route("_soute/uploads", {"POST": direct_uploads.initiate}),
    _route(_UPLOAD, {"GET": direct_uploads.status, "DELETE": direct_uploads.abort}),
    _route(f"{_UPLOAD}/parts", {"POST": direct_uploads.part_urls}),
    _route(f"{_UPLOAD}/complete", {"POST": direct_uploads.complete}),
    _route(
        "_soute/parts/(?P<upload_id>[^/]+)/(?P<number>[1-9][0-9]{0,4})",
        {"PUT": direct_uploads.receive_part},
    ),
    _route(f"{_NAME}/tags/list", {"GET": listings.list_tags}),
    _route(
        f"{_NAME}/manifests/(?P<reference>[^/]+)",
        {
            "GET": manifests.get_manifest,
            "HEAD": manifests.get_manifest,
            "PUT": manifests.put_manifest,
            "DELETE": manifests.delete_manifest,
        },
    ),
    _route(f"{_NAME}/blobs/uploads/?", {"POST": uploads.start_upload}),
    _route(
        f"{_NAME}/blobs/uploads/(?P<upload_id>[^/]+)",
        {
            "GET": uploads.upload_status,
            "PATCH": uploads.append_chunk,
            "PUT": uploads.finish_upload,
            "DELETE": uploads.cancel_upload,
        },
    ),
    _route(
        f"{_NAME}/blobs/(?P<digest>[^/]+)",
        {"GET": blobs.get_blob, "HEAD": blobs.get_blob, "DELETE": blobs.delete_blob},
    ),
    _route(f"{_NAME}/referrers/(?P<digest>[^/]+)", {"GET": listings.referrers}),
)


class Router:
    def __init__(self, registry: Registry, auth: AuthContext | None = None) -> None:
        """Without `auth` every request is allowed (auth off, the default until enabled)."""
        from .gate import AuthorisedDispatch

        self.registry = registry
        self.auth = AuthorisedDispatch(registry, auth) if auth is not None else None

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
        if self.auth is not None and request.path == TOKEN_PATH:
            return self.auth.token(request)
        for route in ROUTES:
            match = route.pattern.match(request.path)
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
            if "name" in params:
                check_name(params["name"])
            if self.auth is not None:
                return self.auth.call(request, handler, params)
            return handler(self.registry, request, **params)
        raise OCIError("UNSUPPORTED", f"no such endpoint: {request.path}", status=404)


def error_response(error: OCIError) -> Response:
    return Response.json(error.status, error.body(), error.headers)
