"""The bounded slice of the fuzz run that `make test` runs: a few hundred generated requests to
every route of the router's table, on each front end with auth off and on, deterministic (a
fixed hypothesis seed per target, no example database). The property is in harness.py; the
long run is scripts/fuzz.py."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest

from tests.fuzz.harness import fuzz, report
from tests.fuzz.known import known_issue
from tests.fuzz.targets import LambdaTarget, RouterTarget, Target

# Cases per target; a case is one to three requests (a login through the token endpoint and
# the retry, when a user's token is asked for). The Lambda front end on moto is the slower.
SLICE = {"router": 160, "router+auth": 160, "lambda": 60, "lambda+auth": 60}


def _build(name: str, request: pytest.FixtureRequest) -> Target:
    auth = name.endswith("+auth")
    if name.startswith("lambda"):
        return LambdaTarget(request.getfixturevalue("moto_endpoint"), auth=auth)
    data_dir = request.getfixturevalue("tmp_path_factory").mktemp(f"fuzz-{name}")
    return RouterTarget(str(data_dir), auth=auth)


@pytest.fixture(params=list(SLICE))
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    built = _build(request.param, request)
    built.seed()
    yield built
    built.close()


def test_every_route_answers_without_5xx_or_traceback(target: Target) -> None:
    # A fixed seed per target: the same cases on every run, different ones per target.
    tally = fuzz(target, SLICE[target.name], seed=zlib.crc32(target.name.encode()), once=True)
    assert tally.requests >= SLICE[target.name]
    unknown = [f for f, _ in tally.findings.values() if known_issue(f) is None]
    tolerated = report(tally, known_issue)
    if tolerated:
        print(f"{tally.line()}\n{tolerated}")  # shown by pytest -rP, and on failure
    assert not unknown, f"{tally.line()}\n{report(tally, known_issue)}"
