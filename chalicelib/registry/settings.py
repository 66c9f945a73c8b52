"""Tunables of the registry service, the same for every front end."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    # Advertised as OCI-Chunk-Min-Length; chunks may still be smaller on the embedded backend.
    chunk_min_length: int = 1 << 20
    # Page size of /v2/_catalog when the client does not send `n`, and the largest page.
    catalog_page: int = 1000
    max_page: int = 10000
    # Upload sessions untouched for this long are swept with their bytes.
    upload_ttl_seconds: int = 7 * 24 * 3600
