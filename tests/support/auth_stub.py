"""A stub registry that only checks authentication: `/v2/` answers 200 to the right
credentials, 401 with a Bearer or Basic challenge otherwise; `/token` issues Bearer tokens for
`user:secret` and records the scopes asked for. Like GCR or Artifactory, it takes no OAuth2
form: `POST /token` is recorded and answered `form_status` with an empty body."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .threaded import serving

USER, SECRET, TOKEN = "user", "secret", "token-123"
BASIC = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()


@dataclass
class AuthStub:
    """What the stub saw; `address` is `127.0.0.1:PORT`."""

    scheme: str
    address: str = ""
    scopes: list[str] = field(default_factory=list)
    form_status: int = 404
    forms: list[dict[str, list[str]]] = field(default_factory=list)


def _handler(stub: AuthStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: dict[str, object], challenge: str = "") -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if challenge:
                self.send_header("WWW-Authenticate", challenge)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            url = urlsplit(self.path)
            given = self.headers.get("Authorization", "")
            if url.path == "/token":
                stub.scopes += parse_qs(url.query).get("scope", [])
                if given == BASIC:
                    return self._answer(200, {"token": TOKEN})
                return self._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "no"}]})
            wanted = f"Bearer {TOKEN}" if stub.scheme == "bearer" else BASIC
            if given == wanted:
                return self._answer(200, {})
            challenge = (
                f'Bearer realm="http://{stub.address}/token",service="stub"'
                if stub.scheme == "bearer"
                else 'Basic realm="stub"'
            )
            error = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
            return self._answer(401, error, challenge)

        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            length = int(self.headers.get("Content-Length") or 0)
            stub.forms.append(parse_qs(self.rfile.read(length).decode()))
            self.send_response(stub.form_status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def auth_stub(scheme: str) -> Iterator[AuthStub]:
    """Run the stub (`scheme` "bearer" or "basic") on a free loopback port."""
    stub = AuthStub(scheme)
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))) as address:
        stub.address = address
        yield stub
