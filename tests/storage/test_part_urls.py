"""Part URLs of the embedded backend bind the exact length of their part (issue 10, A2), as
S3's presigned UploadPart URLs do with a signed content-length: one URL stores one part of the
size the registry laid out, never more."""

from __future__ import annotations

import io
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from chalicelib.storage.embedded.filesystem import FilesystemBlobStore
from chalicelib.storage.ports import PartDenied


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_a_part_url_takes_exactly_its_signed_length(tmp_path: Path) -> None:
    store = FilesystemBlobStore(str(tmp_path))
    state = store.start_parts("up1")
    link = store.part_url("up1", state, 1, int(time.time()) + 60, "http://r", size=10)
    assert link.headers == {"Content-Length": "10"}
    query = _query(link.url)
    for length in (11, 9, None):  # more, fewer, or chunked with no length at all
        data = b"x" * (length or 10)
        with pytest.raises(PartDenied, match="exactly 10 bytes"):
            store.receive_part("up1", 1, query, io.BytesIO(data), length)
    longer = {**query, "length": "5000000000"}  # a client cannot raise the signed length
    with pytest.raises(PartDenied, match="signature"):
        store.receive_part("up1", 1, longer, io.BytesIO(b"x" * 10), 10)
    assert store.receive_part("up1", 1, query, io.BytesIO(b"y" * 10), 10).startswith('"')
    assert [(p.number, p.size) for p in store.received_parts("up1", state)] == [(1, 10)]
