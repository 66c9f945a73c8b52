"""JSON documents from clients (manifests, the upload extension's bodies), parsed with a bound
on their nesting.

json.loads raises RecursionError on a document nested about 1,000 deep, and how deep it gets
first depends on how deep the stack already is: a manifest that parses in one front end could
fail when its body or annotations are parsed or written again elsewhere (another front end, the
DynamoDB adapter). A fixed bound, far below the interpreter's limit and far above any real
document (manifests nest 4 or 5 levels), makes every reader agree, and both cases are the
client's error, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 100


class NestedTooDeep(ValueError):
    """A document nested more than MAX_DEPTH levels."""


def loads(data: bytes | str) -> Any:
    """json.loads, refusing (NestedTooDeep) a document nested more than MAX_DEPTH levels;
    ValueError for one that is not JSON."""
    try:
        document = json.loads(data)
    except RecursionError:
        raise NestedTooDeep(f"the JSON document is nested more than {MAX_DEPTH} levels") from None
    if _openings(data) > MAX_DEPTH and _deeper_than(document, MAX_DEPTH):
        raise NestedTooDeep(f"the JSON document is nested more than {MAX_DEPTH} levels")
    return document


def _openings(data: bytes | str) -> int:
    """An upper bound of the depth, counted fast: every `[` and `{`, in strings too."""
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    return data.count(b"[") + data.count(b"{")


def _deeper_than(document: Any, limit: int) -> bool:
    # Iterative: a recursive walk would hit the very limit it guards against.
    stack = [(document, 1)] if isinstance(document, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
