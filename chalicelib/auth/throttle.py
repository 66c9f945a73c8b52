"""Failed-login throttling per account and per source address: after `limit` failures within
`window` seconds, further attempts are refused until the window passes, without even checking
the password (so a guesser learns nothing and costs us no scrypt work). A correct login clears
its account's failures, not its address's.

Only passwords are counted per account, since only a password can be guessed. An account
locked by someone else's guesses would lock out its owner too, so a source that logged in to
the account successfully within `remember` seconds (the last KNOWN_SOURCES of them) is still
let through; it remains bound by its own source's count. An admin clears an account's
failures with `soute user unlock`. Robots and personal access tokens carry 256 random bits:
the authenticator checks them first, lets a right one through whatever the counts say, and
counts a wrong one against its source only (see Authenticator.login).

The counts live in a FailureCounter (chalicelib/auth/throttle_ports.py): in this process's
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

from .memory_throttle import MemoryFailureCounter
from .throttle_ports import CounterUnavailable, FailureCounter

REMEMBER = 30 * 86400.0  # how long a source that logged in to an account passes its lock

log = logging.getLogger(__name__)


class LoginThrottle:
    def __init__(
        self,
        limit: int = 10,
        window: float = 300.0,
        counter: FailureCounter | None = None,
        remember: float = REMEMBER,
    ) -> None:
        self.limit = limit
        self.window = window
        self.counter: FailureCounter = counter if counter is not None else MemoryFailureCounter()
        self.remember = remember

    def blocked(self, account: str, source: str, now: float | None = None) -> bool:
        """True when the source has `limit` failures in the window, or the account has and
        the source never logged in to it (of late). Raises CounterUnavailable."""
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

    def admit_source(self, source: str, now: float | None = None) -> bool:
        """Count a failure against the source alone (a wrong access-token secret, a failed
        AWS login): False, and nothing counted, when the source is over the limit already.
        Raises CounterUnavailable."""
        return self.admit("", source, now) is not None

    def unlock(self, account: str, now: float | None = None) -> int:
        """Forget the account's failures (`soute user unlock`); how many there were in the
        window. Raises CounterUnavailable."""
        now = time.time() if now is None else now
        key = _account_key(account)
        count = self.counter.failures(key, now, self.window)
        self.counter.clear(key)
        return count

    def passed(self, account: str, source: str, admitted_at: float) -> None:
        """The admitted attempt was right: it is no failure after all, and its account's
        earlier failures are forgotten."""
        if source:
            try:
                self.counter.release(_source_key(source), admitted_at, self.window)
            except CounterUnavailable:
                log.error("could not release a login of source=%s", source, exc_info=True)
        self.succeeded(account, source)

    def succeeded(self, account: str, source: str, now: float | None = None) -> None:
        """Clear the account's failures, and remember the source as one that knows the
        account's password. Only the account's: a source's failures may be another account's
        guesses."""
        if not account:
            return
        now = time.time() if now is None else now
        try:
            self.counter.clear(_account_key(account))
            if source:
                self.counter.add_success(_account_key(account), source, now, self.remember)
        except CounterUnavailable:
            log.error("could not record the login of account=%s", account, exc_info=True)

    def _reached(self, account: str, source: str, limit: int, now: float | None) -> bool:
        now = time.time() if now is None else now
        if source and self.counter.failures(_source_key(source), now, self.window) >= limit:
            return True
        if not account or self.counter.failures(_account_key(account), now, self.window) < limit:
            return False
        # The account is locked; a source that proved its password before is not.
        return not (source and self.counter.succeeded_from(_account_key(account), source, now))


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
