"""Failed-login throttling per account and per source address: after `limit` failures within
`window` seconds, further attempts are refused until the window passes, without even checking
the password (so a guesser learns nothing and costs us no scrypt work). A correct login clears
its account's failures, not its address's.

The counts live in a FailureCounter (chalicelib/storage/throttle_ports.py): in this process's
memory by default, or shared by every process of the registry (SQLite in the data directory
for gunicorn workers, the DynamoDB table for Lambda instances), so spreading guesses over
workers or instances gains nothing. Times are wall-clock: processes share no monotonic clock.

When a shared counter fails (CounterUnavailable), `admit` (and `blocked`, `failed`) let the
error through and the login fails for that one request (fail closed). Failing open would hand
unlimited guesses to anyone who can make the counter fail, e.g. by flooding the table until
DynamoDB throttles it; and on the aws backend the passwords are in the same table, so a login
could rarely succeed then anyway. Nothing is locked out beyond the request: the next one asks
again. Only `passed` and `succeeded` log and carry on: the password was right, and failures
they could not clear or release expire with the window.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..storage.memory_throttle import MemoryFailureCounter
from ..storage.throttle_ports import CounterUnavailable, FailureCounter

log = logging.getLogger(__name__)


class LoginThrottle:
    def __init__(
        self, limit: int = 10, window: float = 300.0, counter: FailureCounter | None = None
    ) -> None:
        self.limit = limit
        self.window = window
        self.counter: FailureCounter = counter if counter is not None else MemoryFailureCounter()

    def blocked(self, account: str, source: str, now: float | None = None) -> bool:
        """True when the account or the source has `limit` failures in the window.
        Raises CounterUnavailable."""
        return self._reached(account, source, self.limit, now)

    def failed(self, account: str, source: str, now: float | None = None) -> None:
        """Count one failure for the account and the source. Raises CounterUnavailable."""
        now = time.time() if now is None else now
        for key in _keys(account, source):
            self.counter.add_failure(key, now, self.window)

    def admit(self, account: str, source: str, now: float | None = None) -> float | None:
        """Count an attempt as a failure before its secret is checked, so attempts running at
        once (Lambda instances, workers, threads) see each other and at most `limit` get
        through per window; then check. Returns the time it was counted at (hand it to
        `passed` if the secret was right), or None when the account or the source is over the
        limit (the refused attempt is then not counted). Raises CounterUnavailable."""
        now = time.time() if now is None else now
        self.failed(account, source, now)
        # This attempt is among the counted ones: refused only beyond `limit`.
        if self._reached(account, source, self.limit + 1, now):
            for key in _keys(account, source):
                self.counter.release(key, now, self.window)
            return None
        return now

    def passed(self, account: str, source: str, admitted_at: float) -> None:
        """The admitted attempt was right: it is no failure after all, and its account's
        earlier failures are forgotten."""
        if source:
            try:
                self.counter.release(_source_key(source), admitted_at, self.window)
            except CounterUnavailable:
                log.error("could not release a login of source=%s", source, exc_info=True)
        self.succeeded(account, source)

    def succeeded(self, account: str, source: str) -> None:
        # Only the account: a source's failures may be another account's guesses.
        if not account:
            return
        try:
            self.counter.clear(_account_key(account))
        except CounterUnavailable:
            log.error("could not clear the failed logins of account=%s", account, exc_info=True)

    def _reached(self, account: str, source: str, limit: int, now: float | None) -> bool:
        now = time.time() if now is None else now
        return any(
            self.counter.failures(key, now, self.window) >= limit for key in _keys(account, source)
        )


def sqlite_throttle(path: str) -> LoginThrottle:
    """The embedded backend's throttle: counts in the SQLite file at `path`, shared by every
    process that opens it."""
    from ..storage.sqlite_throttle import SqliteFailureCounter

    return LoginThrottle(counter=SqliteFailureCounter(path))


def dynamodb_throttle(dynamodb_client: Any, table: str) -> LoginThrottle:
    """The aws backend's throttle: counts on the registry's DynamoDB table (a boto3 client),
    shared by every Lambda instance and server process."""
    from ..storage.dynamodb_throttle import DynamoFailureCounter

    return LoginThrottle(counter=DynamoFailureCounter(dynamodb_client, table))


def _account_key(account: str) -> str:
    return f"account:{account}"


def _source_key(source: str) -> str:
    return f"source:{source}"


def _keys(account: str, source: str) -> tuple[str, ...]:
    # An unknown source (no address from the front end) must not become one shared bucket
    # that a single guesser could fill to lock everyone out; nor an empty account (an AWS
    # login, counted by its source only).
    keys = (_account_key(account),) if account else ()
    return (*keys, _source_key(source)) if source else keys
