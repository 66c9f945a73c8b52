"""API Gateway REST (v1, Lambda proxy integration) in front of a Chalice app, as a WSGI app.

`soute serve --lambda` serves `make_gateway_app(app.app)`, so the very object Lambda runs gets
the events API Gateway would send, under the same limits:

- the whole request body is read first (API Gateway buffers, so chunked requests arrive whole
  and without Transfer-Encoding); over 10 MB is REQUEST_TOO_LARGE;
- the request is matched against the app's routes as API Gateway's resource tree does: one
  segment at a time, a literal child before a variable one, no second try on another branch,
  and a trailing slash ignored; no resource or no method there is MISSING_AUTHENTICATION_TOKEN;
- the body is base64-encoded when its Content-Type matches the binary media types, and the
  serialized event must fit Lambda's 6,291,456-byte invocation payload (REQUEST_TOO_LARGE, as
  AWS answers);
- the handler runs in a worker thread with the 29 s integration timeout (INTEGRATION_TIMEOUT),
  one invocation at a time per app: a Lambda execution environment serves one request at a
  time, and Chalice keeps the current request on the app object;
- the proxy response must fit Lambda's response payload (INTEGRATION_FAILURE) and be well
  formed (DEFAULT_5XX, 502), and base64 bodies are decoded.

Every refusal is one of GATEWAY_RESPONSES (gateway_responses.py), the same definitions the
deployment template (deploy/merge_template.py) gives the real API.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .gateway_responses import GATEWAY_RESPONSE_HEADERS, GATEWAY_RESPONSES
from .wsgi import status_line

log = logging.getLogger("soute.gateway")

StartResponse = Callable[..., Any]
Handler = Callable[[dict[str, Any], Any], Any]  # a Lambda handler: (event, context) -> result
HttpResponse = tuple[int, list[tuple[str, str]], bytes]

REQUEST_BODY_LIMIT = 10 * 1024 * 1024  # API Gateway REST payload quota (10 MB)
INVOCATION_PAYLOAD_LIMIT = 6_291_456  # Lambda synchronous request, measured: 6 MiB
RESPONSE_PAYLOAD_LIMIT = 6_291_556  # Lambda synchronous response, measured: 6 MiB + 100
INTEGRATION_TIMEOUT = 29.0  # seconds, API Gateway REST default
STAGE = "api"

# -- the resource tree ----------------------------------------------------------------------


@dataclass
class _Resource:
    path: str
    literals: dict[str, _Resource] = field(default_factory=dict)
    variable: _Resource | None = None
    variable_name: str = ""
    methods: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Match:
    resource: str
    parameters: dict[str, str]
    methods: frozenset[str]


class ResourceTree:
    """The resources of a REST API, matched the way API Gateway matches them."""

    def __init__(self, routes: Mapping[str, Iterable[str]]) -> None:
        self.root = _Resource("/")
        for path, methods in routes.items():
            self._add(path).methods = frozenset(methods)

    def _add(self, path: str) -> _Resource:
        node = self.root
        for segment in _segments(path):
            node = self._child(node, segment)
        return node

    def _child(self, node: _Resource, segment: str) -> _Resource:
        child_path = node.path.rstrip("/") + "/" + segment
        variable = re.fullmatch(r"\{(\w+)\}", segment)
        if not variable:
            return node.literals.setdefault(segment, _Resource(child_path))
        if node.variable is None:
            node.variable, node.variable_name = _Resource(child_path), variable.group(1)
        elif node.variable_name != variable.group(1):
            # API Gateway refuses the API: one variable child per resource.
            raise ValueError(f"{child_path}: {node.path} already has {{{node.variable_name}}}")
        return node.variable

    def match(self, path: str) -> Match | None:
        node, parameters = self.root, {}
        for segment in _segments(path):
            if segment in node.literals:
                node = node.literals[segment]
            elif node.variable is not None and segment:
                parameters[node.variable_name] = segment
                node = node.variable
            else:
                return None
        return Match(node.path, parameters, node.methods)


def _segments(path: str) -> list[str]:
    if path != "/" and path.endswith("/"):  # API Gateway REST ignores one trailing slash
        path = path[:-1]
    return path.split("/")[1:] if path != "/" else []


# -- the gateway ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    request_body: int = REQUEST_BODY_LIMIT
    invocation_payload: int = INVOCATION_PAYLOAD_LIMIT
    response_payload: int = RESPONSE_PAYLOAD_LIMIT
    timeout: float = INTEGRATION_TIMEOUT


class Refused(Exception):
    """The gateway answers with one of its gateway responses."""

    def __init__(self, response_type: str, status: int | None = None) -> None:
        super().__init__(response_type)
        self.response = GATEWAY_RESPONSES[response_type]
        self.status = self.response.status or status or 500


@dataclass
class LambdaContext:
    """What a Python Lambda handler receives as `context`."""

    deadline: float
    function_name: str = "soute"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:soute"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/soute"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class _Invocation:
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    abandoned: bool = False
    failed: bool = False
    result: Any = None


def make_gateway_app(
    chalice_app: Any, *, limits: Limits | None = None, stage: str = STAGE
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI app that serves `chalice_app` as API Gateway REST + Lambda do."""
    return Gateway(
        chalice_app,
        routes={path: list(methods) for path, methods in chalice_app.routes.items()},
        binary_types=list(chalice_app.api.binary_types),
        limits=limits or Limits(),
        stage=stage,
    )


class Gateway:
    def __init__(
        self,
        handler: Handler,
        routes: Mapping[str, Iterable[str]],
        binary_types: list[str],
        limits: Limits,
        stage: str = STAGE,
    ) -> None:
        self.handler = handler
        self.tree = ResourceTree(routes)
        self.binary_types = binary_types
        self.limits = limits
        self.stage = stage
        self._busy = threading.Lock()  # one invocation at a time, see the module docstring

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        try:
            status, headers, body = self._serve(environ, request_id)
        except Refused as refusal:
            status, headers, body = _gateway_response(refusal)
        except Exception:  # a fault of the emulator itself: still no stack trace to the client
            log.exception("the gateway failed on %s", environ.get("PATH_INFO"))
            status, headers, body = _gateway_response(Refused("DEFAULT_5XX", 500))
        headers.append(("x-amzn-RequestId", request_id))
        start_response(status_line(status), headers)
        return [b"" if environ["REQUEST_METHOD"].upper() == "HEAD" else body]

    def _serve(self, environ: dict[str, Any], request_id: str) -> HttpResponse:
        method = environ["REQUEST_METHOD"].upper()
        body = _read_body(environ, self.limits.request_body)
        path = _path(environ)
        match = self.tree.match(path)
        if match is None or method not in match.methods:
            raise Refused("MISSING_AUTHENTICATION_TOKEN")
        event = self._event(environ, method, path, match, body, request_id)
        payload = json.dumps(event).encode()
        if len(payload) > self.limits.invocation_payload:
            # Lambda's RequestEntityTooLargeException: API Gateway answers 413 "Request Too
            # Long", its REQUEST_TOO_LARGE response (docs/lambda-limits.md).
            raise Refused("REQUEST_TOO_LARGE")
        result = self._invoke(json.loads(payload), request_id)
        return self._translate(result, environ, method)

    # -- request -> event ----------------------------------------------------------------------

    def _event(
        self,
        environ: dict[str, Any],
        method: str,
        path: str,
        match: Match,
        body: bytes,
        request_id: str,
    ) -> dict[str, Any]:
        multi_headers = _request_headers(environ)
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        binary = _matches(_first(multi_headers, "content-type"), self.binary_types)
        event_body = None
        if body:
            event_body = (
                base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace")
            )
        return {
            "resource": match.resource,
            "path": path,
            "httpMethod": method,
            "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": match.parameters or None,
            "stageVariables": None,
            "requestContext": self._context(environ, method, path, match, request_id),
            "body": event_body,
            "isBase64Encoded": bool(body) and binary,
        }

    def _context(
        self, environ: dict[str, Any], method: str, path: str, match: Match, request_id: str
    ) -> dict[str, Any]:
        now = time.time()
        return {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": environ.get("HTTP_HOST", "localhost"),
            "httpMethod": method,
            "identity": {
                "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                "userAgent": environ.get("HTTP_USER_AGENT"),
            },
            "path": f"/{self.stage}{path}",
            "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": format(hash(match.resource) & 0xFFFFFF, "06x"),
            "resourcePath": match.resource,
            "stage": self.stage,
        }

    # -- the invocation ------------------------------------------------------------------------

    def _invoke(self, event: dict[str, Any], request_id: str) -> Any:
        call = _Invocation(time.monotonic() + self.limits.timeout)
        context = LambdaContext(call.deadline, aws_request_id=request_id)
        threading.Thread(
            target=self._run,
            args=(event, context, call),
            name=f"lambda-{request_id[:8]}",
            daemon=True,  # a handler that never returns must not keep the server alive
        ).start()
        if not call.done.wait(self.limits.timeout):
            with call.lock:
                call.abandoned = True
            raise Refused("INTEGRATION_TIMEOUT")
        if call.failed:
            raise Refused("DEFAULT_5XX", 502)  # a function error: API Gateway answers 502
        return call.result

    def _run(self, event: dict[str, Any], context: LambdaContext, call: _Invocation) -> None:
        # Waiting for an earlier invocation to finish counts against this request's timeout.
        if not self._busy.acquire(timeout=max(call.deadline - time.monotonic(), 0)):
            return
        try:
            with call.lock:
                if call.abandoned:  # the client already has its INTEGRATION_TIMEOUT
                    return
            try:
                call.result = self.handler(event, context)
            except Exception:
                log.exception("the Lambda handler failed")
                call.failed = True
            call.done.set()
        finally:
            self._busy.release()

    # -- proxy response -> HTTP ----------------------------------------------------------------

    def _translate(self, result: Any, environ: dict[str, Any], method: str) -> HttpResponse:
        try:
            size = len(json.dumps(result).encode())
        except (TypeError, ValueError):
            size = None  # Lambda cannot serialize it: a function error
        if size is None:
            log.error("the Lambda response is not JSON")
            raise Refused("DEFAULT_5XX", 502)
        if size > self.limits.response_payload:
            log.error("the Lambda response is over %d bytes", self.limits.response_payload)
            raise Refused("INTEGRATION_FAILURE")  # as AWS reports it, docs/lambda-limits.md
        status, headers, body = _proxy_response(result)
        if result.get("isBase64Encoded") and _matches(
            environ.get("HTTP_ACCEPT"), self.binary_types, accept=True
        ):
            try:
                body = base64.b64decode(body, validate=True)
            except binascii.Error:
                raise Refused("DEFAULT_5XX", 502) from None
        length = [v for k, v in headers if k.lower() == "content-length"]
        headers = [(k, v) for k, v in headers if k.lower() not in _GATEWAY_OWNED_HEADERS]
        # API Gateway sends one Content-Length: the body's, or on HEAD the function's own.
        if method == "HEAD":
            headers.append(("Content-Length", length[-1] if length else "0"))
        else:
            headers.append(("Content-Length", str(len(body))))
        return status, headers, body


_GATEWAY_OWNED_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def _gateway_response(refusal: Refused) -> HttpResponse:
    body = refusal.response.body()
    headers = [*GATEWAY_RESPONSE_HEADERS.items(), ("Content-Length", str(len(body)))]
    return refusal.status, headers, body


def _proxy_response(result: Any) -> HttpResponse:
    """statusCode, the merged headers and the body of a proxy response, or DEFAULT_5XX (502,
    "Malformed Lambda proxy response") when it is not one."""
    try:
        status = int(result["statusCode"])
        merged: dict[str, list[str]] = {
            name: [str(value)] for name, value in (result.get("headers") or {}).items()
        }
        # Values in multiValueHeaders win over the same name in headers, as on API Gateway.
        for name, values in (result.get("multiValueHeaders") or {}).items():
            merged[name] = [str(value) for value in values]
        body = result.get("body") or ""
        if not isinstance(body, str):
            raise TypeError("body is not a string")
    except (KeyError, TypeError, ValueError, AttributeError):
        log.error("malformed Lambda proxy response: %.300r", result)
        raise Refused("DEFAULT_5XX", 502) from None
    headers = [(name, value) for name, values in merged.items() for value in values]
    return status, headers, body.encode()


# -- WSGI helpers -----------------------------------------------------------------------------


DISCARD_LIMIT = 256 * 1024 * 1024


def _discard_rest(stream: Any) -> None:
    """Read what the client still sends of a refused body, so that the refusal reaches it:
    a server that closes with unread bytes resets the connection, and the client (docker,
    mid-PATCH) then reports a reset instead of the message. Beyond DISCARD_LIMIT, give up."""
    discarded = 0
    while discarded < DISCARD_LIMIT and (block := stream.read(1 << 20)):
        discarded += len(block)


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The whole request body, as API Gateway buffers it; REQUEST_TOO_LARGE over `limit`."""
    stream = environ["wsgi.input"]
    declared = environ.get("CONTENT_LENGTH") or ""
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if declared and not chunked:
        # ASCII digits only: str.isdigit() also says yes to "²" (which int() refuses) and to
        # other scripts' digits, none of which is a Content-Length.
        if not (declared.isascii() and declared.isdigit()):
            raise Refused("DEFAULT_4XX", 400)
        # Compared as text first: int() refuses more than 4,300 digits, even leading zeros.
        digits = declared.lstrip("0") or "0"
        if len(digits) > len(str(limit)) or int(digits) > limit:
            _discard_rest(stream)
            raise Refused("REQUEST_TOO_LARGE")
        wanted = int(digits)
    elif chunked or environ.get("wsgi.input_terminated"):
        wanted = limit + 1  # read to the end, but no further than one byte over the limit
    else:
        return b""
    body = _read_up_to(stream, wanted)
    if len(body) > limit:
        _discard_rest(stream)
        raise Refused("REQUEST_TOO_LARGE")
    if declared and not chunked and len(body) < wanted:
        raise Refused("DEFAULT_4XX", 400)  # the client stopped before its Content-Length
    return body


def _read_up_to(stream: Any, wanted: int) -> bytes:
    chunks, total = [], 0
    try:
        while total < wanted:
            chunk = stream.read(min(1 << 20, wanted - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except Exception:  # a broken chunked encoding or a client gone mid-body
        raise Refused("DEFAULT_4XX", 400) from None
    return b"".join(chunks)


def _path(environ: dict[str, Any]) -> str:
    # PEP 3333 carries the decoded path as latin-1; API Gateway sees UTF-8.
    raw = environ.get("PATH_INFO", "") or "/"
    return raw.encode("latin-1").decode("utf-8", "replace")


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


def _request_headers(environ: dict[str, Any]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key
        else:
            continue
        title = "-".join(part.capitalize() for part in name.split("_"))
        if title.lower() not in _HOP_BY_HOP:
            # A WSGI server joins repeated headers with commas; that one value is kept whole.
            headers[title] = [value]
    # What API Gateway adds to every request it forwards.
    headers["X-Forwarded-For"] = [environ.get("REMOTE_ADDR", "127.0.0.1")]
    headers["X-Forwarded-Proto"] = [environ.get("wsgi.url_scheme", "http")]
    headers["X-Forwarded-Port"] = [str(environ.get("SERVER_PORT", "80"))]
    return headers


def _first(headers: Mapping[str, list[str]], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name and values:
            return values[0]
    return None


def _matches(value: str | None, binary_types: list[str], accept: bool = False) -> bool:
    """Whether a Content-Type (or an Accept header) matches the API's binary media types."""
    if "*/*" in binary_types:
        return True
    if not value:
        return False
    candidates = value.split(",") if accept else [value]
    for candidate in candidates:
        media = candidate.split(";")[0].strip().lower()
        if any(_media_match(media, pattern.lower()) for pattern in binary_types):
            return True
    return False


def _media_match(media: str, pattern: str) -> bool:
    if pattern.endswith("/*"):
        return media.split("/")[0] == pattern[:-2]
    return media == pattern
