"""The fuzzer's property and its runs: hypothesis draws FuzzCases, a Target sends them, and each
answer is checked. Used by the bounded slice in tests/fuzz and by scripts/fuzz.py.

The property, per request: the status is below 500; a 4xx answer other than to HEAD has an OCI
error body ({"errors": [{"code": ..., "message": ...}]}); and the `soute` loggers wrote no
traceback and no "unexpected error" line while it ran. Failures are collected, not raised, so a
run reports every distinct one with a request that reproduces it."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.configuration import set_hypothesis_home_dir

from .strategies import CaseStrategies, FuzzCase
from .targets import Exchange, Target

SERVER_ERROR, TRACEBACK, NOT_OCI = "5xx", "traceback", "4xx without an OCI error body"

# With database=None hypothesis still caches the source's constants under ./.hypothesis; a fuzz
# run writes nothing in the repository, so that cache goes to the temporary directory.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "soute-fuzz-hypothesis"))


@dataclass
class Finding:
    kind: str
    target: str
    route: str
    exchange: Exchange
    summary: str  # what went wrong, short: the exception and where, or the status and code

    def signature(self) -> tuple[str, ...]:
        """What makes two findings the same bug (for counting distinct ones)."""
        return (self.kind, self.route, self.exchange.sent.method, self.summary)


@dataclass
class Tally:
    target: str
    requests: int = 0
    server_errors: int = 0
    tracebacks: int = 0
    not_oci: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    # The smallest reproduction of each distinct finding, and how often it was seen.
    findings: dict[tuple[str, ...], tuple[Finding, int]] = field(default_factory=dict)

    def add(self, case: FuzzCase, exchanges: list[Exchange]) -> list[Finding]:
        found: list[Finding] = []
        for exchange in exchanges:
            self.requests += 1
            self.statuses[exchange.status] = self.statuses.get(exchange.status, 0) + 1
            for finding in check(self.target, case.route, exchange):
                found.append(finding)
                self._keep(finding)
        return found

    def _keep(self, finding: Finding) -> None:
        if finding.kind == SERVER_ERROR:
            self.server_errors += 1
        elif finding.kind == TRACEBACK:
            self.tracebacks += 1
        else:
            self.not_oci += 1
        key = finding.signature()
        kept, count = self.findings.get(key, (finding, 0))
        smaller = len(finding.exchange.sent.body.data) < len(kept.exchange.sent.body.data)
        self.findings[key] = (finding if smaller else kept, count + 1)

    @property
    def failed(self) -> bool:
        return bool(self.server_errors or self.tracebacks or self.not_oci)

    def line(self) -> str:
        return (
            f"{self.target:12} requests={self.requests:6d} 5xx={self.server_errors:4d} "
            f"tracebacks={self.tracebacks:4d} non-OCI-4xx={self.not_oci:4d}"
        )


def check(target: str, route: str, exchange: Exchange) -> list[Finding]:
    found = []
    if exchange.status >= 500:
        found.append(Finding(SERVER_ERROR, target, route, exchange, _status_summary(exchange)))
    elif (
        exchange.status >= 400
        and exchange.sent.method != "HEAD"
        and not is_oci_error(exchange.body)
    ):
        summary = f"{exchange.status} {exchange.body[:80]!r}"
        found.append(Finding(NOT_OCI, target, route, exchange, summary))
    for record in exchange.records:
        if _is_traceback(record):
            found.append(Finding(TRACEBACK, target, route, exchange, _record_summary(record)))
    return found


def is_oci_error(body: bytes) -> bool:
    try:
        errors = json.loads(body)["errors"]
    except (ValueError, KeyError, TypeError):
        return False
    return (
        isinstance(errors, list)
        and bool(errors)
        and all(
            isinstance(e, dict)
            and isinstance(e.get("code"), str)
            and isinstance(e.get("message"), str)
            for e in errors
        )
    )


def _is_traceback(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return bool(record.exc_info) or "Traceback" in message or "unexpected error" in message


def _status_summary(exchange: Exchange) -> str:
    cause = next((r for r in exchange.records if r.exc_info), None)
    if cause is not None:
        return f"{exchange.status} after {_record_summary(cause)}"
    try:
        error = json.loads(exchange.body)["errors"][0]
        return f"{exchange.status} {error['code']}: {error['message'][:80]}"
    except (ValueError, KeyError, TypeError, IndexError):
        return f"{exchange.status} {exchange.body[:80]!r}"


def _record_summary(record: logging.LogRecord) -> str:
    if not record.exc_info or record.exc_info[1] is None:
        return record.getMessage()[:120]
    error = record.exc_info[1]
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "chalicelib" in f.filename] or frames
    where = ""
    if ours:
        frame = ours[-1]
        name = frame.filename
        path = "chalicelib" + name.rsplit("chalicelib", 1)[-1] if "chalicelib" in name else name
        where = f" at {path}:{frame.lineno}"
    return f"{type(error).__name__}{where}"


# -- reports ----------------------------------------------------------------------------------


def _shown(value: str, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(value)} characters)"


def reproduction(finding: Finding, count: int = 1) -> str:
    exchange, sent = finding.exchange, finding.exchange.sent
    target = f"{sent.path}{'?' + sent.query if sent.query else ''}"
    wire = quote(sent.path, safe="/:@!$&'()*+,;=-._~") + (f"?{sent.query}" if sent.query else "")
    lines = [
        f"[{finding.kind}] {finding.target}: {sent.method} {finding.route} -> {exchange.status}"
        f" ({count} times): {finding.summary}",
        f"    request: {sent.method} {_shown(wire, 300)}",
    ]
    if wire != target:
        lines.append(f"    decoded path: {_shown(sent.path, 300)}")
    for name, value in sent.headers.items():
        lines.append(f"    header {name}: {_shown(value)}")
    if sent.chunked:
        lines.append("    (sent with Transfer-Encoding: chunked, no Content-Length)")
    if sent.note:
        lines.append(f"    authorization: {sent.note}")
    data = sent.body.data
    if sent.body.desc:
        lines.append(f"    body ({len(data)} bytes): {sent.body.desc}")
    elif data:
        lines.append(f"    body ({len(data)} bytes): {_shown(data.decode('latin-1'), 300)}")
    lines.append(f"    answer: {exchange.status} {exchange.body[:200]!r}")
    for record in exchange.records:
        if record.exc_info and record.exc_info[1] is not None:
            tail = traceback.format_exception(record.exc_info[1])[-3:]
            lines.append("    log: " + record.getMessage()[:200])
            lines.extend("      " + line.rstrip()[:300] for line in tail)
    return "\n".join(lines)


def report(tally: Tally) -> str:
    """Every distinct finding of a run, each with its reproduction."""
    out = []
    for finding, count in tally.findings.values():
        if finding.kind == TRACEBACK and finding.exchange.status >= 500:
            continue  # reported with its 5xx
        out.append(reproduction(finding, count))
    return "\n".join(out)


# -- runs -------------------------------------------------------------------------------------


def fuzz(
    target: Target,
    requests: int,
    *,
    seed: int = 0,
    once: bool = False,
    batch: int = 1000,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Send at least `requests` requests (one case is one to three requests), in batches of
    cases each seeded from `seed`: the same seed draws the same cases. With `once` the run is
    one batch of `requests` cases (the CI slice)."""
    tally = Tally(target.name)
    strategy = CaseStrategies(target.routes(), target.pool).cases()
    number = 0
    while tally.requests < requests:
        examples = requests if once else min(batch, requests - tally.requests)

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],
            verbosity=Verbosity.quiet,
            print_blob=False,
        )
        @given(strategy)
        def one(case: FuzzCase) -> None:
            tally.add(case, target.exchange(case))

        hypothesis_seed(seed * 1_000_003 + number)(one)()
        number += 1
        if progress:
            progress(tally)
        if once:
            break
    return tally
