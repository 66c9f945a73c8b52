#!/usr/bin/env python3
"""The long fuzz run of issue 10: generated requests to every route of the router's table,
through the router in process (auth off and on, embedded storage) and through the Lambda front
end (app.py behind the API Gateway emulator, on S3 + DynamoDB in moto; auth off and on).

Prints, per target, the requests sent, the 5xx answers, the tracebacks in the server log and the
4xx answers without an OCI error body, then one reproduction per distinct failure. Exits 1 when
any count is not 0. The harness is tests/fuzz (docs/fuzzing.md).

    .venv/bin/python scripts/fuzz.py --requests 20000
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.* and app.py, from any working directory

TARGETS = ("router", "router+auth", "lambda", "lambda+auth")
# The Lambda front end on moto is about 3x slower per request than the router; it still gets
# two fifths of the run.
SHARES = {"router": 0.3, "router+auth": 0.3, "lambda": 0.2, "lambda+auth": 0.2}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tests.fuzz.harness import Tally, fuzz, report

    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    chosen = args.targets or list(TARGETS)
    total = sum(SHARES[name] for name in chosen)
    server_log = args.server_log or tempfile.mkstemp(prefix="soute-fuzz-", suffix=".log")[1]
    print(f"fuzz: {args.requests} requests over {', '.join(chosen)}; --seed {seed}", flush=True)
    print(f"server log: {server_log}", flush=True)
    tallies: list[Tally] = []
    with ExitStack() as stack:
        endpoint = _moto(stack) if any(n.startswith("lambda") for n in chosen) else ""
        data_root = stack.enter_context(tempfile.TemporaryDirectory(prefix="soute-fuzz-"))
        log_handler = stack.enter_context(_server_log(server_log))
        for name in chosen:
            share = max(1, round(args.requests * SHARES[name] / total))
            target = _target(name, endpoint, data_root)
            _only(log_handler)
            target.seed()
            started = time.monotonic()
            tally = fuzz(target, share, seed=seed + TARGETS.index(name), progress=_progress)
            target.close()
            print(f"{tally.line()}  ({time.monotonic() - started:.0f} s)", flush=True)
            tallies.append(tally)
    print("\n== totals ==")
    for tally in tallies:
        print(tally.line())
    requests = sum(t.requests for t in tallies)
    failures = [t for t in tallies if t.failed]
    print(
        f"{'all':12} requests={requests:6d} 5xx={sum(t.server_errors for t in tallies):4d} "
        f"tracebacks={sum(t.tracebacks for t in tallies):4d} "
        f"non-OCI-4xx={sum(t.not_oci for t in tallies):4d}"
    )
    if failures:
        print("\n== distinct failures, each with the smallest request seen ==")
        for tally in failures:
            print(report(tally))
    return 1 if failures else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="in total (default 20000)")
    parser.add_argument("--seed", type=int, help="the run's seed (default: random, printed)")
    parser.add_argument(
        "--targets", nargs="+", choices=TARGETS, help="default: all four, shared 3:3:2:2"
    )
    parser.add_argument("--server-log", help="where the soute loggers write (default: a temp file)")
    return parser


@contextmanager
def _server_log(path: str) -> Iterator[logging.Handler]:
    """The registry's log lines, to a file rather than the terminal."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("soute")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        handler.close()


def _only(handler: logging.Handler) -> None:
    """Drop the terminal handler Chalice gives its app's logger (`soute`) when app.py is
    imported: the server log and the fuzzer's own capture stay."""
    logger = logging.getLogger("soute")
    for other in list(logger.handlers):
        if other is not handler and type(other) is logging.StreamHandler:
            logger.removeHandler(other)


def _moto(stack: ExitStack) -> str:
    from tests.support.moto import moto_server

    return stack.enter_context(moto_server())


def _target(name: str, endpoint: str, data_root: str):  # noqa: ANN202 - a tests.fuzz Target
    from tests.fuzz.targets import LambdaTarget, RouterTarget

    auth = name.endswith("+auth")
    if name.startswith("lambda"):
        return LambdaTarget(endpoint, auth=auth)
    return RouterTarget(os.path.join(data_root, name), auth=auth)


def _progress(tally) -> None:  # noqa: ANN001 - a tests.fuzz Tally
    print(f"  ... {tally.line()}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
