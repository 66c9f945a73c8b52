"""GET, HEAD, PUT and DELETE /v2/<name>/manifests/<reference>."""

from __future__ import annotations

from ..oci.errors import OCIError
from ..oci.manifest import MAX_MANIFEST_BYTES
from ..registry.service import Registry
from ..storage.ports import IncompleteBody
from .messages import Request, Response


def get_manifest(registry: Registry, request: Request, name: str, reference: str) -> Response:
    if request.method == "HEAD":  # from the record alone: a HEAD never reads a body
        info = registry.manifests.head(name, reference)
        return Response(200, _headers(info.media_type, info.digest, info.size), b"")
    record = registry.manifests.get(name, reference)
    return Response(200, _headers(record.media_type, record.digest, len(record.body)), record.body)


def _headers(media_type: str, digest: str, size: int) -> dict[str, str]:
    return {
        "Content-Type": media_type,
        "Docker-Content-Digest": digest,
        "Content-Length": str(size),
        "ETag": f'"{digest}"',
    }


def put_manifest(registry: Registry, request: Request, name: str, reference: str) -> Response:
    if request.content_length is not None and request.content_length > MAX_MANIFEST_BYTES:
        raise OCIError(
            "SIZE_INVALID",
            f"manifest is {request.content_length} bytes; the limit is {MAX_MANIFEST_BYTES}",
            status=413,
        )
    try:
        body = request.read_body(MAX_MANIFEST_BYTES)
    except IncompleteBody as error:
        raise OCIError("MANIFEST_INVALID", str(error)) from None
    record, tags = registry.manifests.put(
        name, reference, body, request.header("Content-Type"), tuple(request.query.get("tag", ()))
    )
    headers = {
        "Location": f"/v2/{name}/manifests/{record.digest}",
        "Docker-Content-Digest": record.digest,
        "Content-Length": "0",
    }
    if record.subject:
        headers["OCI-Subject"] = record.subject
    if tags:
        headers["OCI-Tag"] = ", ".join(tags)
    return Response(201, headers)


def delete_manifest(registry: Registry, request: Request, name: str, reference: str) -> Response:
    registry.manifests.delete(name, reference)
    return Response(202, {"Content-Length": "0"})
