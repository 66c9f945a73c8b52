"""The route table: the one place where an endpoint of Soute is declared, with per method its
handler, the permission it needs and whether it is audited. Everything else is derived from
it: the router's regular expressions (router.py), the gate's action lookup and audit set
(access.py, gate.py), and the Chalice routes of the Lambda front end, one per name depth
(server/chalice_routes.py).

Deny by default: a method that declares no action is refused by the gate (403), whatever the
token; tests/unit/test_route_table.py fails on one.

Declarations only, no handler imports: `import app` (the Lambda cold start) reads this table to
declare its routes without loading the router. Handlers are named `<module>.<function>` within
chalicelib/api and resolved by the router.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..auth.scopes import CATALOG, DELETE, PULL, PUSH

SIGNED = "signed"  # authorised by the HMAC signature of a part URL, not by a token
NONE = "none"  # no permission, only a caller: /v2/, "does this registry want credentials?"
ACTIONS = frozenset({PULL, PUSH, DELETE, CATALOG, SIGNED, NONE})

# The token endpoint (auth on): answered before the registry routes, 404 while auth is off.
TOKEN_PATH = "/token"
TOKEN_METHODS = ("GET", "POST")

# What a `{parameter}` of a path matches; any other parameter is one path segment.
PARAMETERS = {"name": r".+?", "number": r"[1-9][0-9]{0,4}"}
SEGMENT = r"[^/]+"


@dataclass(frozen=True)
class Method:
    handler: str  # "<module>.<function>" in chalicelib/api
    action: str | None  # one of ACTIONS; None (or anything else) is refused by the gate
    audited: bool = False  # recorded in the audit log, as `action`, once it succeeded


@dataclass(frozen=True)
class Route:
    path: str  # a template: `{name}` is a repository name of one or more components
    methods: Mapping[str, Method]
    # The direct upload extension names its repository in `?repository=`, not in the path.
    name_in_query: bool = False
    slash: bool = False  # also answered with a trailing `/` (clients POST .../uploads/)
    on_lambda: bool = True  # False: the embedded part receiver (on AWS part URLs point at S3)

    def names_repository(self) -> bool:
        return self.name_in_query or "{name}" in self.path


def _pull(handler: str) -> Method:
    return Method(handler, PULL)


def _push(handler: str, audited: bool = False) -> Method:
    return Method(handler, PUSH, audited)


_UPLOAD = "/v2/_soute/uploads/{upload_id}"

ROUTES: tuple[Route, ...] = (
    Route(
        "/v2",
        {"GET": Method("listings.base", NONE), "HEAD": Method("listings.base", NONE)},
        slash=True,
    ),
    Route("/v2/_catalog", {"GET": Method("listings.catalog", CATALOG)}),
    # The direct upload extension; no repository name starts with "_", so these paths are free.
    Route("/v2/_soute/uploads", {"POST": _push("direct_uploads.initiate")}, name_in_query=True),
    Route(
        _UPLOAD,
        {"GET": _push("direct_uploads.status"), "DELETE": _push("direct_uploads.abort")},
        name_in_query=True,
    ),
    Route(f"{_UPLOAD}/parts", {"POST": _push("direct_uploads.part_urls")}, name_in_query=True),
    Route(f"{_UPLOAD}/complete", {"POST": _push("direct_uploads.complete")}, name_in_query=True),
    # What a repository uses (soute du's figures), for the web interface.
    Route("/v2/_soute/usage", {"GET": _pull("usage.repository_usage")}, name_in_query=True),
    Route(
        "/v2/_soute/parts/{upload_id}/{number}",
        {"PUT": Method("direct_uploads.receive_part", SIGNED)},
        on_lambda=False,
    ),
    Route("/v2/{name}/tags/list", {"GET": _pull("listings.list_tags")}),
    Route(
        "/v2/{name}/manifests/{reference}",
        {
            "GET": _pull("manifests.get_manifest"),
            "HEAD": _pull("manifests.get_manifest"),
            "PUT": _push("manifests.put_manifest", audited=True),
            "DELETE": Method("manifests.delete_manifest", DELETE, audited=True),
        },
    ),
    Route("/v2/{name}/blobs/uploads", {"POST": _push("uploads.start_upload")}, slash=True),
    Route(
        "/v2/{name}/blobs/uploads/{upload_id}",
        {
            "GET": _push("uploads.upload_status"),
            "PATCH": _push("uploads.append_chunk"),
            "PUT": _push("uploads.finish_upload"),
            "DELETE": _push("uploads.cancel_upload"),
        },
    ),
    Route(
        "/v2/{name}/blobs/{digest}",
        {
            "GET": _pull("blobs.get_blob"),
            "HEAD": _pull("blobs.get_blob"),
            "DELETE": Method("blobs.delete_blob", DELETE, audited=True),
        },
    ),
    Route("/v2/{name}/referrers/{digest}", {"GET": _pull("listings.referrers")}),
)
