"""GET, HEAD and DELETE /v2/<name>/blobs/<digest>."""

from __future__ import annotations

from ..oci.mediatypes import OCTET_STREAM
from ..registry.service import Registry
from .messages import Request, Response
from .ranges import blob_range


def get_blob(registry: Registry, request: Request, name: str, digest: str) -> Response:
    record = registry.blobs.stat(name, digest)
    headers = {
        "Content-Type": OCTET_STREAM,
        "Docker-Content-Digest": record.digest,
        "Accept-Ranges": "bytes",
        "Content-Length": str(record.size),
    }
    if request.method == "HEAD":
        return Response(200, headers)
    wanted = blob_range(request.header("Range"), record.size)
    offset, length = wanted if wanted else (0, record.size)
    body = registry.blobs.body(record, offset, length)
    if body.redirect_url:
        return Response(
            307, {"Location": body.redirect_url, "Docker-Content-Digest": record.digest}
        )
    headers["Content-Length"] = str(length)
    if wanted is None:
        return Response(200, headers, body)
    headers["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{record.size}"
    return Response(206, headers, body)


def delete_blob(registry: Registry, request: Request, name: str, digest: str) -> Response:
    registry.blobs.delete(name, digest)
    return Response(202, {"Content-Length": "0"})
