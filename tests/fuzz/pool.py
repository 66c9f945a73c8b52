"""What the fuzzer knows exists on its target: repositories, digests, tags, upload sessions,
signed part URLs and tokens. The target seeds it and adds what answers reveal (a new upload's
Location), so that generated requests reach past "not found" into the handlers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_UPLOAD_LOCATION = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<id>[^/?]+)$")
POOL_LIMIT = 64  # per list: old entries make way for new ones


@dataclass
class Pool:
    names: list[str] = field(default_factory=list)
    blobs: list[tuple[str, int, str]] = field(default_factory=list)  # (digest, size, type)
    manifests: list[tuple[str, int, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    uploads: list[tuple[str, str]] = field(default_factory=list)  # (repository, upload id)
    direct_uploads: list[tuple[str, str]] = field(default_factory=list)
    part_paths: list[tuple[str, str]] = field(default_factory=list)  # (path, query)
    # Bearer tokens by who holds them ("admin", "alice"), with the scopes seeded at start.
    tokens: dict[str, str] = field(default_factory=dict)

    def learn(self, location: str | None) -> None:
        """An upload session, from the Location of an answer."""
        if location:
            match = _UPLOAD_LOCATION.match(urlsplit(location).path)
            if match:
                _add(self.uploads, (match["name"], match["id"]))

    def learn_direct(self, repository: str, document: object) -> None:
        """A direct upload's id and signed part URLs (embedded storage signs its own)."""
        if isinstance(document, dict) and isinstance(document.get("upload_id"), str):
            _add(self.direct_uploads, (repository, document["upload_id"]))
            for part in document.get("parts") or []:
                url = part.get("url") if isinstance(part, dict) else None
                if isinstance(url, str) and "/v2/_soute/parts/" in url:
                    path, _, query = url[url.index("/v2/_soute/parts/") :].partition("?")
                    _add(self.part_paths, (path, query))


def _add(items: list, item: object) -> None:
    if item in items:
        return
    items.append(item)
    if len(items) > POOL_LIMIT:
        del items[0]
