"""Decimal numbers a client writes in a query or header (`n`, Range, Content-Range).

Python's int() refuses a string of more than 4,300 digits (a ValueError, so a 500 if left
alone), and no size, offset or page length of a registry needs more than 19. A longer number is
read as one larger than any of them, so each caller's own bound check answers it (416 for a
range past the blob, the page limit for `n`)."""

from __future__ import annotations

TOO_LARGE = 1 << 63  # past every size, offset and count a registry holds
_MAX_DIGITS = 19


def decimal(digits: str) -> int:
    """The value of a string of ASCII digits, or TOO_LARGE for a longer one than any size."""
    stripped = digits.lstrip("0") or "0"
    return int(stripped) if len(stripped) <= _MAX_DIGITS else TOO_LARGE
