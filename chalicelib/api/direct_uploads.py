"""/v2/_soute/: the direct upload extension (docs/upload-extension.openapi.yaml).

Every call acts on the repository of its `?repository=`, which the router hands over as
`name` once the gate authorised it; a body may repeat it but not name another. An upload is
found only under the repository it was started in.

Bodies are small JSON documents, checked here field by field: a malformed one (too deep too) is
a 400 with an OCI error that names the field, never a 500.
"""

from __future__ import annotations

from typing import Any

from ..oci import jsondoc
from ..oci.errors import OCIError
from ..registry.direct_uploads import DirectUpload, PartLink
from ..registry.service import Registry
from .messages import Request, Response

# A complete of 10,000 parts with their ETags is about 600 kB.
JSON_BODY_LIMIT = 2 << 20


def initiate(registry: Registry, request: Request, name: str) -> Response:
    document = _json_body(request, name)
    digest = _field(document, "digest", str)
    size = _field(document, "size", int)
    if size < 1:
        raise OCIError("SIZE_INVALID", "size must be at least 1; push an empty blob with /v2/")
    existing = registry.direct.existing(name, digest)
    if existing is not None:
        return Response.json(200, {"status": "exists", "digest": existing.digest})
    upload, links = registry.direct.initiate(name, digest, size, request.base_url())
    return Response.json(
        201,
        {
            **upload.document(),
            "parts": [_link(link) for link in links],
            "expires_at": links[0].expires_at,
        },
    )


def status(registry: Registry, request: Request, name: str, upload_id: str) -> Response:
    upload, received = registry.direct.status(name, upload_id)
    parts = [{"number": p.number, "etag": p.etag, "size": p.size} for p in received]
    return Response.json(200, {**upload.document(), "received": parts})


def abort(registry: Registry, request: Request, name: str, upload_id: str) -> Response:
    registry.direct.abort(name, upload_id)
    return Response(204)


def part_urls(registry: Registry, request: Request, name: str, upload_id: str) -> Response:
    document = _json_body(request, name)
    numbers = _field(document, "numbers", list)
    if not all(type(n) is int for n in numbers):
        raise OCIError("BLOB_UPLOAD_INVALID", "numbers must be a list of part numbers")
    links = registry.direct.part_urls(name, upload_id, numbers, request.base_url())
    return Response.json(200, {"parts": [_link(link) for link in links]})


def complete(registry: Registry, request: Request, name: str, upload_id: str) -> Response:
    document = _json_body(request, name)
    parts = [_part(item) for item in _field(document, "parts", list)]
    upload = registry.direct.complete(name, upload_id, parts)
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


def _json_body(request: Request, name: str) -> dict[str, Any]:
    """The body's JSON object; a `repository` in it must be `name`, the one authorised."""
    data = request.read_body(JSON_BODY_LIMIT)
    if len(data) > JSON_BODY_LIMIT:
        raise OCIError("SIZE_INVALID", f"the JSON body is over {JSON_BODY_LIMIT} bytes")
    try:
        document = jsondoc.loads(data)
    except jsondoc.NestedTooDeep as error:
        raise OCIError("UNSUPPORTED", f"the request body: {error}", status=400) from None
    except ValueError:  # UnicodeDecodeError too
        raise OCIError("UNSUPPORTED", "the request body is not JSON", status=400) from None
    if not isinstance(document, dict):
        raise OCIError("UNSUPPORTED", "the request body must be a JSON object", status=400)
    if "repository" in document and document["repository"] != name:
        raise OCIError(
            "NAME_INVALID",
            f"the body names repository {str(document['repository'])[:256]!r} but the URL's "
            f"?repository= names {name!r}; name one repository (the URL's is the one used)",
        )
    return document


def _field(document: dict[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    # bool is an int to Python, never a size or part number to us.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise OCIError(
            "UNSUPPORTED", f"field {name!r} is missing or not a {kind.__name__}", status=400
        )
    return value


def _part(item: Any) -> tuple[int, str]:
    if not isinstance(item, dict):
        raise OCIError("BLOB_UPLOAD_INVALID", "each part must be an object with number and etag")
    number, etag = item.get("number"), item.get("etag")
    if type(number) is not int or not isinstance(etag, str):
        raise OCIError("BLOB_UPLOAD_INVALID", "each part needs an integer number and an etag")
    return number, etag
