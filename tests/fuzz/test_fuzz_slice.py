"""The bounded slice of the fuzz run that `make test` runs: a few hundred generated requests to
every route of the router's table, on each front end with auth off and on, deterministic (a
fixed hypothesis seed per target, no example database). The property is in harness.py; the
long run is scripts/fuzz.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.harness import fuzz, report
from tests.fuzz.targets import LambdaTarget, RouterTarget, Target

# (cases, hypothesis seed) per target; a case is one to three requests (a login through the
# token endpoint and the retry, when a user's token is asked for). The Lambda front end on moto
# is the slower. The seeds are fixed, so the slice is the same on every run; they were chosen
# (of 0 to 11) for drawing, on the code of 2026-12-03, cases that hit the findings of that day
# (docs/fuzzing.md): the slice is a regression test for their fixes too.
SLICE = {
    "router": (300, 5),
    "router+auth": (300, 4),
    "lambda": (100, 11),
    "lambda+auth": (100, 10),
}


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
    cases, seed = SLICE[target.name]
    tally = fuzz(target, cases, seed=seed, once=True)
    assert tally.requests >= cases
    assert not tally.findings, f"{tally.line()}\n{report(tally)}"
