"""Parsing of the Range header (blob GET) and Content-Range (chunked upload PATCH)."""

from __future__ import annotations

import re

from ..oci.errors import OCIError
from .numbers import decimal

# Matched whole (fullmatch): `$` with `match` would let a final newline through.
# ASCII digits only: \d also matches other scripts' digits.
_BYTES_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
_CHUNK_RANGE = re.compile(r"(?:bytes )?([0-9]+)-([0-9]+)(?:/(?:[0-9]+|\*))?")


def blob_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(offset, length) asked for by a single-range Range header, or None for the whole blob."""
    if header is None or not header.strip().lower().startswith("bytes="):
        return None
    value = header.strip().replace(" ", "")
    if "," in value:
        return None  # several ranges: answer with the whole blob, which every client accepts
    match = _BYTES_RANGE.fullmatch(value.lower())
    if not match or match.groups() == ("", ""):
        raise _unsatisfiable(header, size)
    first, last = match.groups()
    if first == "":
        length = min(decimal(last), size)
        if length == 0:
            raise _unsatisfiable(header, size)
        return size - length, length
    start = decimal(first)
    end = min(decimal(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise _unsatisfiable(header, size)
    return start, end - start + 1


def _unsatisfiable(header: str, size: int) -> OCIError:
    return OCIError(
        "UNSUPPORTED",
        f"Range {header!r} cannot be satisfied: the blob has {size} bytes",
        status=416,
        headers={"Content-Range": f"bytes */{size}"},
    )


def chunk_range(header: str | None, length: int | None) -> int | None:
    """Where a PATCH chunk starts, from Content-Range `start-end`; None if not sent."""
    if header is None:
        return None
    match = _CHUNK_RANGE.fullmatch(header.strip())
    if not match:
        raise OCIError(
            "BLOB_UPLOAD_INVALID",
            f"Content-Range {header!r} is not of the form <start>-<end>",
            status=416,
        )
    start, end = decimal(match.group(1)), decimal(match.group(2))
    if end < start or (length is not None and end - start + 1 != length):
        raise OCIError(
            "BLOB_UPLOAD_INVALID",
            f"Content-Range {header!r} does not match the {length}-byte body",
            status=416,
        )
    return start
