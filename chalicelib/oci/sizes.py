"""Sizes as people read and write them: docker's decimal units out (66.1 kB, 1.20 GB), and
decimal or binary units in (500MB, 2GiB), for quotas and every table of sizes."""

from __future__ import annotations

import re
from typing import Any

UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")


def human_size(size: Any) -> str:
    """Decimal units, as docker shows them: 512 B, 66.1 kB, 31.5 MB, 1.20 GB."""
    if not isinstance(size, int):
        return "?"
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"
    return f"{size} B"


def parse_size(text: str) -> int:
    """Bytes in `text`: `500MB`, `10GiB`, `1.5TB` (decimal kB MB GB TB, binary KiB MiB GiB TiB)
    or plain bytes; ValueError saying how to write one otherwise."""
    match = _SIZE.fullmatch(text.strip().lower())
    if match is None or match.group(2) not in UNITS:
        raise ValueError(f"{text!r} is not a size: write it like 500MB, 10GB or 2GiB (or bytes)")
    return int(float(match.group(1)) * UNITS[match.group(2)])
