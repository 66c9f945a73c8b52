"""/v2/<name>/blobs/uploads/: start (or mount, or monolithic), PATCH, PUT, GET, DELETE."""

from __future__ import annotations

from ..oci.errors import OCIError
from ..oci.names import check_name
from ..registry.service import Registry
from ..storage.ports import BlobRecord, UploadSession
from .messages import Request, Response
from .ranges import chunk_range


def upload_location(repository: str, upload_id: str) -> str:
    """The URL of an upload session, for its Location header."""
    return f"/v2/{repository}/blobs/uploads/{upload_id}"


def upload_range(size: int) -> str:
    """The Range header of an upload that holds `size` bytes (0-0 when it holds none)."""
    return f"0-{max(size - 1, 0)}"


def _progress(session: UploadSession, status: int, registry: Registry) -> Response:
    return Response(
        status,
        {
            "Location": upload_location(session.repository, session.upload_id),
            "Range": upload_range(session.size),
            "Docker-Upload-UUID": session.upload_id,
            "OCI-Chunk-Min-Length": str(registry.settings.chunk_min_length),
            "Content-Length": "0",
        },
    )


def _created(name: str, blob: BlobRecord) -> Response:
    return Response(
        201,
        {
            "Location": f"/v2/{name}/blobs/{blob.digest}",
            "Docker-Content-Digest": blob.digest,
            "Content-Length": "0",
        },
    )


def start_upload(registry: Registry, request: Request, name: str) -> Response:
    mount = request.arg("mount")
    if mount is not None:
        source = request.arg("from")
        mounted = registry.blobs.mount(name, mount, check_name(source) if source else None)
        if mounted is not None:
            return _created(name, mounted)
    digest = request.arg("digest")
    if digest is not None:
        blob = registry.uploads.upload_whole(name, digest, request.body, request.content_length)
        return _created(name, blob)
    return _progress(registry.uploads.start(name), 202, registry)


def upload_status(registry: Registry, request: Request, name: str, upload_id: str) -> Response:
    return _progress(registry.uploads.session(name, upload_id), 204, registry)


def append_chunk(registry: Registry, request: Request, name: str, upload_id: str) -> Response:
    start = chunk_range(request.header("Content-Range"), request.content_length)
    session = registry.uploads.append(name, upload_id, request.body, request.content_length, start)
    return _progress(session, 202, registry)


def finish_upload(registry: Registry, request: Request, name: str, upload_id: str) -> Response:
    digest = request.arg("digest")
    if not digest:
        raise OCIError("DIGEST_INVALID", "finish the upload with PUT ...?digest=<algorithm>:<hex>")
    start = chunk_range(request.header("Content-Range"), request.content_length)
    blob = registry.uploads.finish(
        name, upload_id, digest, request.body, request.content_length, start
    )
    return _created(name, blob)


def cancel_upload(registry: Registry, request: Request, name: str, upload_id: str) -> Response:
    registry.uploads.session(name, upload_id)
    registry.uploads.cancel(name, upload_id)
    return Response(204)
