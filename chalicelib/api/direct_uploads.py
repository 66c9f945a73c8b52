"""/v2/_soute/: the direct upload extension (docs/upload-extension.openapi.yaml).

Bodies are small JSON documents, checked here field by field: a malformed one is a 400 with an
OCI error that names the field, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

from ..oci.errors import OCIError
from ..oci.names import check_name
from ..registry.direct_uploads import DirectUpload, PartLink
from ..registry.service import Registry
from .messages import Request, Response

# A complete of 10,000 parts with their ETags is about 600 kB.
JSON_BODY_LIMIT = 2 << 20


def initiate(registry: Registry, request: Request) -> Response:
    document = _json_body(request)
    repository = _repository(document)
    digest = _field(document, "digest", str)
    size = _field(document, "size", int)
    if size < 1:
        raise OCIError("SIZE_INVALID", "size must be at least 1; push an empty blob with /v2/")
    existing = registry.direct.existing(repository, digest)
    if existing is not None:
        return Response.json(200, {"status": "exists", "digest": existing.digest})
    upload, links = registry.direct.initiate(repository, digest, size, request.base_url())
    return Response.json(
        201,
        {
            **upload.document(),
            "parts": [_link(link) for link in links],
            "expires_at": links[0].expires_at,
        },
    )


def status(registry: Registry, request: Request, upload_id: str) -> Response:
    upload, received = registry.direct.status(_repository_arg(request), upload_id)
    parts = [{"number": p.number, "etag": p.etag, "size": p.size} for p in received]
    return Response.json(200, {**upload.document(), "received": parts})


def abort(registry: Registry, request: Request, upload_id: str) -> Response:
    registry.direct.abort(_repository_arg(request), upload_id)
    return Response(204)


def part_urls(registry: Registry, request: Request, upload_id: str) -> Response:
    document = _json_body(request)
    repository = _repository(document)
    numbers = _field(document, "numbers", list)
    if not all(type(n) is int for n in numbers):
        raise OCIError("BLOB_UPLOAD_INVALID", "numbers must be a list of part numbers")
    links = registry.direct.part_urls(repository, upload_id, numbers, request.base_url())
    return Response.json(200, {"parts": [_link(link) for link in links]})


def complete(registry: Registry, request: Request, upload_id: str) -> Response:
    document = _json_body(request)
    repository = _repository(document)
    parts = [_part(item) for item in _field(document, "parts", list)]
    upload = registry.direct.complete(repository, upload_id, parts)
    return _completed(upload)


def receive_part(registry: Registry, request: Request, upload_id: str, number: str) -> Response:
    query = {name: request.arg(name) or "" for name in ("length", "expires", "nonce", "signature")}
    etag = registry.direct.receive_part(
        upload_id, int(number), query, request.body, request.content_length
    )
    return Response(200, {"ETag": etag, "Content-Length": "0"})


def _completed(upload: DirectUpload) -> Response:
    status = 201 if upload.status == "available" else 202
    headers = {"Docker-Content-Digest": upload.digest}
    if status == 201:
        headers["Location"] = f"/v2/{upload.repository}/blobs/{upload.digest}"
    return Response.json(status, upload.document(), headers)


def _link(link: PartLink) -> dict[str, Any]:
    return {
        "number": link.number,
        "url": link.url,
        "method": "PUT",
        "headers": link.headers,
        "expires_at": link.expires_at,
    }


def _json_body(request: Request) -> dict[str, Any]:
    data = request.read_body(JSON_BODY_LIMIT)
    if len(data) > JSON_BODY_LIMIT:
        raise OCIError("SIZE_INVALID", f"the JSON body is over {JSON_BODY_LIMIT} bytes")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise OCIError("UNSUPPORTED", "the request body is not JSON", status=400) from None
    if not isinstance(document, dict):
        raise OCIError("UNSUPPORTED", "the request body must be a JSON object", status=400)
    return document


def _field(document: dict[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    # bool is an int to Python, never a size or part number to us.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise OCIError(
            "UNSUPPORTED", f"field {name!r} is missing or not a {kind.__name__}", status=400
        )
    return value


def _repository(document: dict[str, Any]) -> str:
    return check_name(_field(document, "repository", str))


def _repository_arg(request: Request) -> str:
    repository = request.arg("repository")
    if not repository:
        raise OCIError("NAME_INVALID", "add ?repository=<name> to the URL")
    return check_name(repository)


def _part(item: Any) -> tuple[int, str]:
    if not isinstance(item, dict):
        raise OCIError("BLOB_UPLOAD_INVALID", "each part must be an object with number and etag")
    number, etag = item.get("number"), item.get("etag")
    if type(number) is not int or not isinstance(etag, str):
        raise OCIError("BLOB_UPLOAD_INVALID", "each part needs an integer number and an etag")
    return number, etag
