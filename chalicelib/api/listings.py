"""GET /v2/ (the version check), /v2/<name>/tags/list, /v2/_catalog and
/v2/<name>/referrers/<digest>."""

from __future__ import annotations

from urllib.parse import urlencode

from ..oci.errors import OCIError
from ..oci.mediatypes import OCI_INDEX
from ..registry.listings import Page
from ..registry.service import Registry
from .messages import Request, Response
from .numbers import decimal


def _page_size(request: Request) -> int | None:
    raw = request.arg("n")
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()):  # isdigit alone takes '²', which int() refuses
        raise OCIError("UNSUPPORTED", f"n={raw!r} must be a non-negative integer", status=400)
    return decimal(raw)


def _link(path: str, page: Page, n: int | None) -> dict[str, str]:
    if not page.more or not page.items:
        return {}
    query = {"last": page.items[-1], **({"n": str(n)} if n is not None else {})}
    return {"Link": f'<{path}?{urlencode(query)}>; rel="next"'}


def base(registry: Registry, request: Request) -> Response:
    return Response.json(200, {})


def list_tags(registry: Registry, request: Request, name: str) -> Response:
    n = _page_size(request)
    page = registry.listing.tags(name, request.arg("last"), n)
    path = f"/v2/{name}/tags/list"
    return Response.json(200, {"name": name, "tags": page.items}, _link(path, page, n))


def catalog(registry: Registry, request: Request) -> Response:
    n = _page_size(request)
    page = registry.listing.catalog(request.arg("last"), n)
    return Response.json(200, {"repositories": page.items}, _link("/v2/_catalog", page, n))


def referrers(registry: Registry, request: Request, name: str, digest: str) -> Response:
    artifact_type = request.arg("artifactType")
    found = registry.listing.referrers(name, digest, artifact_type)
    manifests = []
    for referrer in found:
        descriptor = {
            "mediaType": referrer.media_type,
            "digest": referrer.digest,
            "size": referrer.size,
        }
        if referrer.artifact_type:
            descriptor["artifactType"] = referrer.artifact_type
        if referrer.annotations:
            descriptor["annotations"] = referrer.annotations
        manifests.append(descriptor)
    headers = {"Content-Type": OCI_INDEX}
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    return Response.json(200, document, headers)
