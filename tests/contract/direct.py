"""Helpers for the direct upload extension tests: the JSON calls, and part PUTs to the URLs the
registry hands out (the registry itself on embedded storage, presigned S3 URLs on moto)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.contract.client import Client, Reply, RouterClient, sha256

MiB = 1 << 20


def call(client: Client, method: str, path: str, document: Any = None, **params: str) -> Reply:
    data = b"" if document is None else json.dumps(document).encode()
    headers = {"Content-Type": "application/json"} if document is not None else {}
    return client.request(method, path, params=params or None, headers=headers, data=data)


def initiate(client: Client, repo: str, data: bytes, digest: str | None = None) -> Reply:
    document = {"repository": repo, "digest": digest or sha256(data), "size": len(data)}
    return call(client, "POST", "/v2/_soute/uploads", document, repository=repo)


def put_part(client: Client, url: str, data: bytes) -> tuple[int, str | None, bytes]:
    """PUT one part as a client would: no Authorization; (status, ETag, body)."""
    inner = getattr(client, "inner", client)  # a TokenClient's router: no Authorization
    if isinstance(inner, RouterClient):  # in process: the URL names the router's own path
        split = urlsplit(url)
        reply = inner.request("PUT", f"{split.path}?{split.query}", data=data)
        return reply.status, reply.headers.get("ETag"), reply.body
    response = requests.put(url, data=data, timeout=60)
    return response.status_code, response.headers.get("ETag"), response.content


def part_bytes(upload: dict[str, Any], data: bytes, number: int) -> bytes:
    size = upload["part_size"]
    return data[(number - 1) * size : number * size]


def send_parts(client: Client, upload: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    """Send every part the upload lists; the parts list for `complete`."""
    parts = []
    for part in upload["parts"]:
        status, etag, body = put_part(client, part["url"], part_bytes(upload, data, part["number"]))
        assert status == 200, body
        parts.append({"number": part["number"], "etag": etag})
    return parts


def complete(client: Client, repo: str, upload_id: str, parts: list[dict[str, Any]]) -> Reply:
    document = {"repository": repo, "parts": parts}
    path = f"/v2/_soute/uploads/{upload_id}/complete"
    return call(client, "POST", path, document, repository=repo)


def status(client: Client, repo: str, upload_id: str) -> Reply:
    return call(client, "GET", f"/v2/_soute/uploads/{upload_id}", repository=repo)
