"""Failures the fuzzer found that are open while their fixes are under way, each named by the
issue that fixes it. The CI slice tolerates these (and prints them); it fails on any other.
scripts/fuzz.py counts them like any failure. Remove an entry once its fix is merged: the
slice then checks that it stays fixed. SOUTE_FUZZ_STRICT=1 tolerates none."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from .harness import Finding


@dataclass(frozen=True)
class Known:
    issue: str  # who fixes it, and the finding of issue 10 if it has one
    what: str
    matches: Callable[[Finding], bool]


def _tags(finding: Finding) -> int:
    return len(parse_qs(finding.exchange.sent.query).get("tag", []))


def _newline_in_request(finding: Finding) -> bool:
    """A newline in the path, a query value, or a JSON string of the body."""
    sent = finding.exchange.sent
    values = [v for vs in parse_qs(sent.query).values() for v in vs]
    return "\n" in sent.path or any("\n" in v for v in values) or b'\\n"' in sent.body.data


def _errors(finding: Finding) -> str:
    """The messages of the exceptions logged during the request."""
    return " ".join(str(r.exc_info[1]) for r in finding.exchange.records if r.exc_info)


KNOWN_OPEN = (
    Known(
        "gate, F5",
        "deeply nested JSON on /v2/_soute/uploads* is a RecursionError",
        lambda f: f.route.startswith("/v2/_soute/uploads") and "RecursionError" in f.summary,
    ),
    Known(
        "awsdata, A3",
        "many ?tag= on a manifest PUT overflow one DynamoDB transaction",
        lambda f: "manifests" in f.route and f.exchange.sent.method == "PUT" and _tags(f) > 50,
    ),
    Known(
        "reliab, F4",
        "a tag or name with a trailing newline passes, and breaks a header that repeats it "
        "(OCI-Tag, the challenge's scope): Chalice refuses the response",
        lambda f: "ChaliceError" in f.summary and _newline_in_request(f),
    ),
    Known(
        "awsdata (dynamodb.py), found by the fuzzer",
        "an index PUT under the tag of one of its children: two operations on one item in one "
        "DynamoDB transaction",
        lambda f: "multiple operations on one item" in _errors(f),
    ),
    Known(
        "gate (listings.py), found by the fuzzer",
        "?n= of Unicode digits ('²') or over 4,300 digits: int() raises ValueError",
        lambda f: "ValueError at chalicelib/api/listings.py" in f.summary,
    ),
    Known(
        "auth (token_endpoint.py), found by the fuzzer",
        "Authorization: Basic with non-ASCII characters: base64.b64decode raises ValueError",
        lambda f: "ValueError at chalicelib/api/token_endpoint.py" in f.summary,
    ),
    Known(
        "reliab (ranges.py), found by the fuzzer",
        "Range or Content-Range with a number over 4,300 digits: int() raises ValueError",
        lambda f: "ValueError at chalicelib/api/ranges.py" in f.summary,
    ),
)


def known_issue(finding: Finding) -> str | None:
    """The issue that fixes this finding, if it is a known open one."""
    if os.environ.get("SOUTE_FUZZ_STRICT") == "1":
        return None
    for known in KNOWN_OPEN:
        if known.matches(finding):
            return known.issue
    return None
