"""A contract-test client that does what docker does on a registry with auth on: on a 401 with
a Bearer challenge, fetch a token for the challenge's scope from the realm (Basic credentials,
or none for anonymous), then retry with it."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from tests.contract.client import Client, Reply

_PARAM = re.compile(r'(\w+)="([^"]*)"')


class TokenClient:
    def __init__(self, inner: Client, account: str | None = None, secret: str | None = None):
        self.inner = inner
        self.name = f"{inner.name}+token"
        self.account, self.secret = account, secret
        self.tokens: dict[str, str] = {}  # scope -> bearer token, as clients cache them

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | Iterable[bytes] = b"",
    ) -> Reply:
        data = data if isinstance(data, bytes) else b"".join(data)  # retried: keep the bytes
        scope = self._scope_for(path)
        reply = self._send(method, path, params, headers, data, self.tokens.get(scope))
        challenge = reply.headers.get("WWW-Authenticate", "")
        if reply.status != 401 or not challenge.startswith("Bearer "):
            return reply
        values = dict(_PARAM.findall(challenge))
        token = self.fetch_token(values.get("service", ""), values.get("scope"))
        if token is None:
            return reply
        self.tokens[scope] = token
        return self._send(method, path, params, headers, data, token)

    def fetch_token(self, service: str, scope: str | None) -> str | None:
        query = {"service": service, **({"scope": scope} if scope else {})}
        headers = {}
        if self.account is not None:
            pair = f"{self.account}:{self.secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        reply = self.inner.request("GET", "/token", params=query, headers=headers)
        return reply.json()["token"] if reply.status == 200 else None

    def _send(self, method, path, params, headers, data, token):  # noqa: ANN001, ANN202
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.inner.request(method, path, params=params, headers=headers, data=data)

    @staticmethod
    def _scope_for(path: str) -> str:
        return urlsplit(path).path
