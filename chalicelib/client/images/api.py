"""The registry calls the image verbs make, on top of RegistrySession (docker's credentials,
tokens, transport errors): JSON documents, paginated listings that follow `Link` headers,
manifests with every Accept type, referrers, DELETE. A 404 becomes NotFound (exit 5)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from ..errors import PushError
from ..mediatypes import ACCEPT, OCI_INDEX
from ..session import RegistrySession, oci_error
from .errors import NotFound

# Every manifest type an image verb may meet: images, indexes, and artifacts (OCI manifests).
MANIFEST_ACCEPT = ACCEPT


@dataclass(frozen=True)
class Manifest:
    """A manifest as served: its bytes' digest, media type and parsed document."""

    digest: str
    media_type: str
    size: int
    document: dict[str, Any]


class ImageSession(RegistrySession):
    """A RegistrySession whose refusals name the verb's need (pull, delete), not a push."""

    denied_advice = (
        "check that this account has the access it needs there (pull to see, delete to remove)"
    )


def open_session(host: str, insecure: bool, scopes: list[str]) -> ImageSession:
    """A session to `host` that has answered `GET /v2/` (and authenticated, if asked)."""
    session = ImageSession(host, insecure, scopes, pool_size=8)
    session.ping()
    return session


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise PushError(f"{what}: the registry answered something that is not a JSON object")
    return document


def check(response: requests.Response, what: str) -> requests.Response:
    """`response` if it succeeded; NotFound on 404, PushError otherwise."""
    if response.status_code == 404:
        raise NotFound(f"{what}: not found; the registry answered {oci_error(response)}")
    if response.status_code >= 400:
        raise PushError(f"{what}: the registry answered {oci_error(response)}")
    return response


def pages(
    session: RegistrySession, path: str, key: str, what: str, page_size: int | None
) -> Iterator[list[str]]:
    """The items under `key` of each page of a listing, following `Link: <…>; rel="next"`."""
    url: str | None = path + (f"?n={page_size}" if page_size else "")
    seen: set[str] = set()
    while url and url not in seen:
        seen.add(url)
        response = check(session.request("GET", url), what)
        items = _json(response, what).get(key) or []
        yield [str(item) for item in items]
        following = response.links.get("next", {}).get("url")
        url = session.url(following) if following else None


def get_manifest(session: RegistrySession, repository: str, reference: str, what: str) -> Manifest:
    """The manifest `reference` (a tag or a digest) of `repository`."""
    headers = {"Accept": MANIFEST_ACCEPT}
    response = check(
        session.request("GET", f"/v2/{repository}/manifests/{reference}", headers=headers), what
    )
    body = response.content
    document = _json(response, what)
    media_type = document.get("mediaType") or response.headers.get("Content-Type", "")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    served = response.headers.get("Docker-Content-Digest", "")
    if served and served.startswith("sha256:") and served != digest:
        raise PushError(f"{what}: the registry says {served} but the bytes hash to {digest}")
    return Manifest(digest, str(media_type).split(";")[0].strip(), len(body), document)


def get_blob_json(session: RegistrySession, repository: str, digest: str, what: str) -> Any:
    """A small JSON blob (an image config), or None if it is not JSON."""
    response = check(session.request("GET", f"/v2/{repository}/blobs/{digest}"), what)
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def referrers_tag(digest: str) -> str:
    """The fallback tag of the OCI referrers tag schema: `sha256-<hex>`."""
    return digest.replace(":", "-", 1)


def referrers(
    session: RegistrySession, repository: str, digest: str, what: str
) -> tuple[list[dict[str, Any]], str]:
    """The referrers of `digest` and where they came from: "api" (`/v2/<name>/referrers/`),
    "tag" (the `sha256-<hex>` index of the tag schema), or "none" (neither exists)."""
    response = session.request(
        "GET", f"/v2/{repository}/referrers/{digest}", headers={"Accept": OCI_INDEX}
    )
    if response.status_code == 200:
        return _descriptors(_json(response, what)), "api"
    # Not 200: no referrers API (one that has it may not answer 404), so try the tag schema.
    try:
        index = get_manifest(session, repository, referrers_tag(digest), what)
    except NotFound:
        return [], "none"
    return _descriptors(index.document), "tag"


def _descriptors(index: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in index.get("manifests") or [] if isinstance(m, dict)]


def delete(session: RegistrySession, path: str) -> requests.Response:
    """DELETE `path`; the answer, whatever its status (the caller explains refusals)."""
    return session.request("DELETE", path)
