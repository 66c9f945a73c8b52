"""WSGI front end: turns a WSGI request into the router's Request and back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from ..api.messages import Request
from ..api.numbers import decimal
from ..api.router import Router, error_response
from ..oci.errors import OCIError
from ..storage.ports import BlobBody, IncompleteBody

StartResponse = Callable[..., Any]


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


class _Body:
    """The request body stream; a body the server cannot decode (a broken chunked encoding,
    a client gone mid-request) surfaces as IncompleteBody, which the service answers with 400."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except (OSError, ValueError, RuntimeError) as error:
            raise IncompleteBody(f"request body could not be read: {error}") from None
        except Exception as error:  # gunicorn's parse errors derive from Exception only
            raise IncompleteBody(f"request body is malformed: {error}") from None


def to_request(environ: dict[str, Any]) -> Request:
    headers = _headers(environ)
    raw_length = headers.get("content-length")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raw_length = None
    if raw_length is not None and not (raw_length.isascii() and raw_length.isdigit()):
        raise OCIError("SIZE_INVALID", f"Content-Length {raw_length!r} is not a number")
    return Request(
        method=environ["REQUEST_METHOD"].upper(),
        path=environ.get("PATH_INFO", "") or "/",
        query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
        headers=headers,
        body=_Body(environ["wsgi.input"]),
        content_length=decimal(raw_length) if raw_length is not None else None,
        scheme=environ.get("wsgi.url_scheme", "http"),
        source=environ.get("REMOTE_ADDR", ""),
    )


def status_line(status: int) -> str:
    """The status line of a WSGI start_response: `404 Not Found`."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _body(environ: dict[str, Any], body: bytes | BlobBody) -> Iterable[bytes]:
    if not isinstance(body, BlobBody):
        return [body]
    if body.path is None or body.length == 0:
        return [b""]
    if environ.get("wsgi.url_scheme") == "https" or "wsgi.file_wrapper" not in environ:
        return body.iter_chunks()
    # Plain HTTP: the server's file wrapper sends the range with sendfile(2).
    handle = open(body.path, "rb")  # noqa: SIM115 - closed by the file wrapper
    handle.seek(body.offset)
    return environ["wsgi.file_wrapper"](handle, 1 << 20)


class WsgiApp:
    def __init__(self, router: Router) -> None:
        self.router = router

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            request = to_request(environ)
        except OCIError as error:
            response = error_response(error)
        else:
            response = self.router.handle(request)
        start_response(status_line(response.status), list(response.headers.items()))
        return _body(environ, response.body)
