"""The `gc` Lambda function: the lifecycle garbage collector (lifecycle/gc.py) on a schedule.

A whole run over a large table can outlast any one invocation, so each invocation goes on
with the saved run (GarbageCollector.run_batch) until a deadline well inside the function's
own timeout, a page at a time, and the next invocation takes up where it stopped: no page is
cut short by Lambda, and a run that Lambda kills anyway resumes from its last saved page (every
step is one conditional transition, lifecycle/gc.py "crash").

Built from the function's environment like the other functions (SOUTE_DYNAMODB_TABLE,
SOUTE_S3_BUCKET, and with several regions SOUTE_AWS_REGION, SOUTE_PRIMARY_REGION,
SOUTE_S3_BUCKETS), plus SOUTE_GC_GRACE (seconds; default lifecycle/gc.DEFAULT_GRACE). The
deployment creates the function, and its schedule, in the primary region's stack only
(docs/regions.md rule 7): its transitions go to the primary's table, and it deletes every
region's copy of a blob's bytes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any, Protocol

from ..lifecycle.gc import DEFAULT_GRACE
from .backends import build_collector, options_from_environment

log = logging.getLogger("soute.gc")

GRACE_VARIABLE = "SOUTE_GC_GRACE"
# Left of the function's time when a batch stops starting pages: a page (PAGE items read, each
# removal a few calls) ends well within it, and the progress is saved after each page.
MARGIN_SECONDS = 60.0


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def grace_from_environment(environ: Mapping[str, str] | None = None) -> float:
    """SOUTE_GC_GRACE in seconds (unset or empty: DEFAULT_GRACE); ValueError saying why not."""
    text = (os.environ if environ is None else environ).get(GRACE_VARIABLE, "").strip()
    if not text:
        return float(DEFAULT_GRACE)
    try:
        grace = float(text)
    except ValueError:
        raise ValueError(f"{GRACE_VARIABLE}={text!r} is not a number of seconds") from None
    if not grace >= 0:  # also refuses nan
        raise ValueError(f"{GRACE_VARIABLE}={text!r}: the grace is 0 or more seconds")
    return grace


def deadline(context: LambdaContext, margin: float = MARGIN_SECONDS) -> float:
    """The clock time (time.time) after which no page starts."""
    return time.time() + context.get_remaining_time_in_millis() / 1000 - margin


def run_scheduled(
    context: LambdaContext, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One invocation: a batch of the current run, one log line of its totals; the totals and
    whether the run finished. `environ` stands for the function's (None: this process's)."""
    variables = os.environ if environ is None else environ
    grace = grace_from_environment(variables)
    collector = build_collector(options_from_environment(variables))
    totals, finished = collector.run_batch(grace, deadline(context))
    state = "run finished" if finished else "run continues next time"
    log.info("gc batch: %s; %s", totals.describe(), state)
    return {
        "uploads": totals.uploads,
        "links": totals.links,
        "blobs": totals.blobs,
        "bytes": totals.bytes,
        "finished": finished,
    }
