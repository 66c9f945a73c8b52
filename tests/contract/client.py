"""One small HTTP client interface for the contract tests, with one implementation per front
end: into the shared router through the WSGI front end's converter (in process), over HTTP to
a running `soute serve`, and through the API Gateway emulator into the Chalice app Lambda runs
(in process, as a WSGI call)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from chalicelib.api.router import Router
from chalicelib.server.wsgi import WsgiApp

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"


@dataclass
class Reply:
    status: int
    headers: CaseInsensitiveDict
    body: bytes
    via: Reply | None = None  # the registry's 307 that led here, when the client followed one

    @property
    def registry_headers(self) -> CaseInsensitiveDict:
        """Headers of the registry's own answer (the 307, when the bytes came from S3)."""
        return self.via.headers if self.via else self.headers

    def json(self) -> Any:
        return json.loads(self.body)

    def error_code(self) -> str:
        return self.json()["errors"][0]["code"]


def _in_process(
    path: str, params: dict[str, str] | None, data: bytes | Iterable[bytes]
) -> tuple[str, str, bytes, bool]:
    """A request as an in-process front end receives it: the path, the query string (the
    path's own, then `params`), the body's bytes, and whether it came in chunks (an iterable
    rather than bytes, so without a Content-Length)."""
    split = urlsplit(path)
    query = split.query
    if params:
        query += ("&" if query else "") + urlencode(params)
    chunked = not isinstance(data, bytes)
    return split.path, query, b"".join(data) if chunked else data, chunked


class RouterClient:
    """Calls the router through the WSGI front end's converter (server/wsgi.py), as `soute
    serve` does, without a server or a socket."""

    name = "router"

    def __init__(self, router: Router) -> None:
        self.router = router
        # No peer address: in process there is none, and the throttle counts no unknown source.
        self._call = WsgiCaller(WsgiApp(router), remote_addr=None)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | Iterable[bytes] = b"",
    ) -> Reply:
        return self._call(method, path, params, headers, data)


class LiveClient:
    """Talks HTTP to a running server."""

    name = "server"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | Iterable[bytes] = b"",
    ) -> Reply:
        url = path if path.startswith("http") else self.base_url + path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        response = self.session.request(
            method, url, headers=headers, data=data, allow_redirects=False, timeout=60
        )
        return Reply(response.status_code, response.headers, response.content)


WsgiCallable = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class WsgiCaller:
    """Calls a WSGI app in process, as a WSGI server would, from `remote_addr`."""

    def __init__(self, app: WsgiCallable, remote_addr: str | None = "127.0.0.1") -> None:
        self.app = app
        self.remote_addr = remote_addr

    def __call__(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        headers: dict[str, str] | None,
        data: bytes | Iterable[bytes],
    ) -> Reply:
        path, query, body, chunked = _in_process(path, params, data)
        environ = wsgi_environ(method, path, query, body)
        if self.remote_addr is None:
            del environ["REMOTE_ADDR"]
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
        if chunked:  # what a WSGI server hands over once it decoded a chunked body
            environ.pop("CONTENT_LENGTH", None)
            environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        captured: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = CaseInsensitiveDict(response_headers)

        payload = b"".join(self.app(environ, start_response))
        return Reply(captured["status"], captured["headers"], payload)


class LambdaClient:
    """Calls a WSGI app in process: here the API Gateway emulator in front of the Chalice app,
    so every request goes through the Lambda front end. It follows a GET's 307 to S3, as
    registry clients do."""

    name = "lambda"

    def __init__(self, app: WsgiCallable) -> None:
        self.app = app
        self._call = WsgiCaller(app)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | Iterable[bytes] = b"",
    ) -> Reply:
        reply = self._call(method, path, params, headers, data)
        if reply.status == 307 and method == "GET":
            return follow_redirect(reply, headers)
        return reply


def follow_redirect(reply: Reply, headers: dict[str, str] | None) -> Reply:
    """Fetch a blob from the presigned URL a 307 names, as every registry client does: with
    the Range header, without Authorization."""
    forwarded = {k: v for k, v in (headers or {}).items() if k.lower() == "range"}
    response = requests.get(reply.headers["Location"], headers=forwarded, timeout=60)
    return Reply(response.status_code, response.headers, response.content, via=reply)


def wsgi_environ(method: str, path: str, query: str, body: bytes) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path).encode().decode("latin-1"),  # PEP 3333 strings
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (Lambda configures its function this way)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ConfiguredFunction:
    """The API Gateway emulator in front of the Chalice app Lambda runs (create_app, as app.py
    and `soute serve --lambda` build it), configured by the SOUTE_* environment `settings` for
    each request: one app per configuration, as each deployed function has its own, so tests
    can keep several alive at once (the session's lambda and lambda+auth clients)."""

    def __init__(self, settings: Mapping[str, str]) -> None:
        from chalicelib.server.chalice_app import create_app
        from chalicelib.server.gateway_emulator import make_gateway_app

        self.settings = dict(settings)
        self.app = create_app()
        self.gateway = make_gateway_app(self.app)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with environment(self.settings):
            return list(self.gateway(environ, start_response))


@contextmanager
def lambda_app(settings: Mapping[str, str]) -> Iterator[ConfiguredFunction]:
    """The Lambda function configured by `settings` (BackendOptions.environment()), as `soute
    serve --lambda` serves it. The settings are also the environment for the duration, for
    tests that call the function's objects (`.app.router()`, `.app.verifier`) directly."""
    with environment(settings):
        yield ConfiguredFunction(settings)


Client = RouterClient | LiveClient | LambdaClient


def new_repo(prefix: str = "test") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(client: Client, repo: str, data: bytes) -> str:
    digest = sha256(data)
    reply = client.request(
        "POST", f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data
    )
    assert reply.status == 201, reply.body
    return digest


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def image_manifest(
    client: Client, repo: str, layers: list[bytes] | None = None, **extra: Any
) -> bytes:
    """Push a config and layers; return an OCI image manifest body that references them."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": uuid.uuid4().hex}).encode()
    push_blob(client, repo, config)
    layers = layers if layers is not None else [uuid.uuid4().bytes * 100]
    for layer in layers:
        push_blob(client, repo, layer)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, layer) for layer in layers],
        **extra,
    }
    return json.dumps(document).encode()


def put_manifest(
    client: Client, repo: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST
) -> Reply:
    return client.request(
        "PUT", f"/v2/{repo}/manifests/{reference}", headers={"Content-Type": media_type}, data=body
    )
