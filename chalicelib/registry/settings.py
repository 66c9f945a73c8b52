"""Tunables of the registry service, the same for every front end."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    # Advertised to clients as the smallest chunk to send; chunks may still be smaller on the
    # embedded backend.
    chunk_min_length: int = 1 << 20
    # Page size of /v2/_catalog when the client does not send `n`, and the largest page.
    catalog_page: int = 1000
    # Page size of tags/list without `n`: a page costs DynamoDB reads in proportion to its
    # length, and 101 tag items of at most ~8.3 KiB (dynamodb.py) fit one Query's 1 MB, so a
    # client that names no size gets one Query and a link to the next page, never 10,000
    # tags (clients that list tags follow the link: skopeo, crane, regclient, oras).
    tags_page: int = 100
    max_page: int = 10000
    # Upload sessions untouched for this long are swept with their bytes.
    upload_ttl_seconds: int = 7 * 24 * 3600
    # Direct uploads: blobs up to this size are verified (read back and hashed) within the
    # `complete` request; larger ones in the background, the blob pending meanwhile. 512 MiB
    # reads back well within API Gateway's 29 s on Lambda.
    inline_verify_limit: int = 512 << 20
    # Lifetime of the part URLs of direct uploads, in seconds.
    part_url_expires: int = 3600
    # Direct uploads one namespace (the first component of repository names: an account or
    # organisation) may hold open at once, and the bytes they may declare together. At most
    # ~1000 open uploads fit the one record that counts them (registry/direct_uploads.py).
    max_open_uploads: int = 100
    max_upload_bytes: int = 1 << 40  # 1 TiB
