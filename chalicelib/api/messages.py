"""Framework-neutral HTTP request and response, as the router sees them."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ..storage.ports import BlobBody

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: BinaryIO = field(default_factory=io.BytesIO)
    content_length: int | None = None
    scheme: str = "http"  # as the client reached the registry (https behind TLS or a proxy)
    source: str = ""  # the client's address as the front end saw it; "" when unknown

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def base_url(self) -> str:
        """The registry's address as this client sees it, for absolute URLs back to it."""
        return f"{self.scheme}://{self.header('host') or 'localhost'}"

    def read_body(self, limit: int) -> bytes:
        """The whole body, or limit + 1 bytes when it is longer than `limit`."""
        return self.body.read(limit + 1)


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | BlobBody = b""

    @classmethod
    def json(cls, status: int, document: Any, headers: dict[str, str] | None = None) -> Response:
        data = json.dumps(document, separators=(",", ":")).encode()
        return cls(status, {"Content-Type": "application/json", **(headers or {})}, data)

    def content_length(self) -> int:
        if isinstance(self.body, BlobBody):
            return self.body.length if self.body.path else 0
        return len(self.body)
