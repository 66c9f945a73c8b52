"""The routes the fuzzer sends requests to, read from the router's own route table, so that a
route added there is fuzzed with no change here.

`router_routes` is the one adapter to that table: it accepts the table as it is today
(chalicelib.api.router.ROUTES, each entry a compiled pattern and a method -> handler dict) and
the shapes a single declarative table is likely to take (one entry per method, a `path` or
`pattern` string, `method` or `methods`). Re-point it here if the table moves."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ALL_METHODS = ("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class Param:
    """A named group of the route's pattern: the fuzzer fills it with a value of its kind."""

    name: str
    pattern: str  # the group's own regex, for values of a kind the fuzzer does not know


@dataclass(frozen=True)
class Optional:
    """A literal the pattern allows or not (`/v2/?`, `uploads/?`)."""

    text: str


@dataclass(frozen=True)
class FuzzRoute:
    pattern: re.Pattern[str]
    methods: tuple[str, ...]
    # Literal text, Param and Optional pieces, in order; None when the pattern uses a regex
    # construct the template reader does not know (paths then come from the regex itself).
    template: tuple[str | Param | Optional, ...] | None

    @property
    def label(self) -> str:
        """A short name for reports: the template with {param} placeholders."""
        if self.template is None:
            return self.pattern.pattern
        out = []
        for piece in self.template:
            if isinstance(piece, Param):
                out.append(f"{{{piece.name}}}")
            elif isinstance(piece, Optional):
                out.append(f"[{piece.text}]")
            else:
                out.append(piece)
        return "".join(out)

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.pattern.groupindex)


def router_routes() -> list[FuzzRoute]:
    """Every route of the router, with the token endpoint (served by the router when auth is
    on, outside the table)."""
    from chalicelib.api import router

    merged: dict[str, tuple[re.Pattern[str], set[str]]] = {}
    for entry in router.ROUTES:
        pattern = _pattern(entry)
        _, methods = merged.setdefault(pattern.pattern, (pattern, set()))
        methods.update(_methods(entry))
    token = getattr(router, "TOKEN_PATH", "/token")
    merged.setdefault(f"^{re.escape(token)}$", (re.compile(f"^{re.escape(token)}$"), set()))
    merged[f"^{re.escape(token)}$"][1].update({"GET", "POST"})
    return [
        FuzzRoute(pattern, tuple(sorted(methods)), template(pattern.pattern))
        for pattern, methods in merged.values()
    ]


def _pattern(entry: Any) -> re.Pattern[str]:
    value = getattr(entry, "pattern", None) or getattr(entry, "regex", None)
    if value is None:
        value = getattr(entry, "path")  # noqa: B009 - the last shape tried; fails loudly
    return value if isinstance(value, re.Pattern) else re.compile(value)


def _methods(entry: Any) -> Iterable[str]:
    methods = getattr(entry, "methods", None)
    if methods is None:
        return [entry.method]
    if isinstance(methods, str):
        return [methods]
    return [str(method) for method in methods]  # a dict iterates over its keys


def template(source: str) -> tuple[str | Param | Optional, ...] | None:
    """The pieces of a route pattern such as `^/v2/(?P<name>.+?)/blobs/uploads/?$`, or None
    when it holds something other than literals, named groups and `x?`."""
    text = source.removeprefix("^").removesuffix("$")
    pieces: list[str | Param | Optional] = []
    i = 0
    while i < len(text):
        if text.startswith("(?P<", i):
            end_name = text.index(">", i)
            close = _group_end(text, end_name + 1)
            pieces.append(Param(text[i + 4 : end_name], text[end_name + 1 : close]))
            i = close + 1
            continue
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            char, i = text[i + 1], i + 1
        elif char in "[](){}*+|.?":
            return None
        if i + 1 < len(text) and text[i + 1] == "?":
            pieces.append(Optional(char))
            i += 2
            continue
        pieces.append(char)
        i += 1
    return tuple(_join_literals(pieces))


def _group_end(text: str, start: int) -> int:
    """The index of the `)` that closes the group whose body starts at `start`."""
    depth, i, in_class = 1, start, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced group in {text!r}")


def _join_literals(pieces: list[str | Param | Optional]) -> list[str | Param | Optional]:
    joined: list[str | Param | Optional] = []
    for piece in pieces:
        if isinstance(piece, str) and joined and isinstance(joined[-1], str):
            joined[-1] += piece
        else:
            joined.append(piece)
    return joined
