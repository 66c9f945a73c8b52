"""Failed-login counts shared across processes: the FailureCounter adapters (memory, SQLite,
DynamoDB on moto), LoginThrottle over a shared counter in one process, in several OS processes,
and behind a live `soute serve --auth` with two workers."""

from __future__ import annotations

import base64
import http.client
import logging
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib.auth.authenticator import Authenticator, LoginThrottled
from chalicelib.auth.memory_throttle import SWEEP_FLOOR, MemoryFailureCounter
from chalicelib.auth.model import User
from chalicelib.auth.passwords import hash_password
from chalicelib.auth.throttle import LoginThrottle
from chalicelib.auth.throttle_ports import KNOWN_SOURCES, CounterUnavailable, FailureCounter
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb_throttle import BUCKETS, DynamoFailureCounter
from chalicelib.storage.embedded.sqlite_identities import FILE, SqliteIdentityStore
from chalicelib.storage.embedded.sqlite_throttle import SqliteFailureCounter
from tests.support.moto import aws_backend
from tests.support.server import REPO, RegistryServer

WINDOW = 60.0
T = 6_000_000.0  # a multiple of the DynamoDB bucket width (WINDOW / BUCKETS): exact buckets


@pytest.fixture(scope="module")
def dynamodb_table(moto_endpoint: str) -> tuple[Any, str]:
    """One table for the module; each test uses keys of its own."""
    options = aws_backend(moto_endpoint)
    return aws_clients(options.region, options.endpoint_url).dynamodb, options.dynamodb_table


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def counter(request: pytest.FixtureRequest, tmp_path: Path) -> FailureCounter:
    if request.param == "memory":
        return MemoryFailureCounter()
    if request.param == "sqlite":
        return SqliteFailureCounter(str(tmp_path / FILE))
    return DynamoFailureCounter(*request.getfixturevalue("dynamodb_table"))


@pytest.fixture
def key() -> Callable[[str], str]:
    """Keys no other test uses (the DynamoDB table is shared by the module)."""
    run = uuid.uuid4().hex[:8]
    return lambda name: f"account:{run}-{name}"


# -- the adapters ----------------------------------------------------------------------------


def test_a_release_undoes_one_failure(counter: FailureCounter, key: Callable[[str], str]) -> None:
    counter.add_failure(key("alice"), T + 1, WINDOW)
    counter.add_failure(key("alice"), T + 2, WINDOW)
    counter.release(key("alice"), T + 2, WINDOW)
    assert counter.failures(key("alice"), T + 3, WINDOW) == 1
    counter.release(key("bob"), T + 2, WINDOW)  # nothing to undo: no error, no negative count
    assert counter.failures(key("bob"), T + 3, WINDOW) == 0


def test_failures_are_counted(counter: FailureCounter, key: Callable[[str], str]) -> None:
    assert counter.failures(key("alice"), T, WINDOW) == 0
    for second in range(3):
        counter.add_failure(key("alice"), T + second, WINDOW)
    assert counter.failures(key("alice"), T + 3, WINDOW) == 3


def test_failures_expire_after_the_window(
    counter: FailureCounter, key: Callable[[str], str]
) -> None:
    counter.add_failure(key("alice"), T + 1, WINDOW)
    counter.add_failure(key("alice"), T + 31, WINDOW)
    # Just before the first failure is a window old, both still count in every adapter.
    assert counter.failures(key("alice"), T + 60.5, WINDOW) == 2
    # A window plus one DynamoDB bucket later, the first is gone everywhere.
    assert counter.failures(key("alice"), T + 1 + WINDOW + WINDOW / BUCKETS, WINDOW) == 1
    assert counter.failures(key("alice"), T + 31 + WINDOW + WINDOW / BUCKETS, WINDOW) == 0


def test_clear_forgets_one_key_only(counter: FailureCounter, key: Callable[[str], str]) -> None:
    counter.add_failure(key("alice"), T, WINDOW)
    counter.add_failure(key("alice"), T + 20, WINDOW)
    counter.add_failure(key("bob"), T, WINDOW)
    counter.clear(key("alice"))
    assert counter.failures(key("alice"), T + 21, WINDOW) == 0
    assert counter.failures(key("bob"), T + 21, WINDOW) == 1
    counter.clear(key("nobody"))  # clearing a key without failures is no error


def test_keys_are_isolated(counter: FailureCounter, key: Callable[[str], str]) -> None:
    long_one, long_two = key("x" * 3000 + "1"), key("x" * 3000 + "2")  # hashed on DynamoDB
    for name, count in [(key("al"), 1), (key("alice"), 2), (long_one, 3), (long_two, 4)]:
        for _ in range(count):
            counter.add_failure(name, T, WINDOW)
    counts = [counter.failures(name, T + 1, WINDOW) for name in (key("al"), key("alice"))]
    assert counts == [1, 2]
    assert [counter.failures(name, T + 1, WINDOW) for name in (long_one, long_two)] == [3, 4]


def test_successful_sources_are_remembered_for_a_while(
    counter: FailureCounter, key: Callable[[str], str]
) -> None:
    counter.add_success(key("alice"), "10.0.0.1", T, 100)
    counter.add_success(key("alice"), "2001:db8::1", T + 1, 100)
    assert counter.succeeded_from(key("alice"), "10.0.0.1", T + 99)
    assert counter.succeeded_from(key("alice"), "2001:db8::1", T + 99)
    assert not counter.succeeded_from(key("alice"), "10.0.0.2", T + 50)
    assert not counter.succeeded_from(key("bob"), "10.0.0.1", T + 50)
    counter.clear(key("alice"))  # unlocking forgets failures, not who logged in
    assert counter.succeeded_from(key("alice"), "10.0.0.1", T + 50)
    assert not counter.succeeded_from(key("alice"), "10.0.0.1", T + 100)
    counter.add_success(key("alice"), "10.0.0.1", T + 100, 100)  # a new login: kept anew
    assert counter.succeeded_from(key("alice"), "10.0.0.1", T + 150)


def test_at_most_the_most_recent_sources_are_kept(
    counter: FailureCounter, key: Callable[[str], str]
) -> None:
    sources = [f"10.0.1.{number}" for number in range(KNOWN_SOURCES + 4)]
    for second, source in enumerate(sources):
        counter.add_success(key("alice"), source, T + second, 1000)
    counter.add_success(key("alice"), sources[4], T + 20, 1000)  # the oldest kept, again
    counter.add_success(key("alice"), "10.0.1.99", T + 21, 1000)  # so the next oldest goes
    now = T + 22
    kept = [s for s in [*sources, "10.0.1.99"] if counter.succeeded_from(key("alice"), s, now)]
    assert kept == [sources[4], *sources[6:], "10.0.1.99"]
    assert len(kept) == KNOWN_SOURCES


def test_memory_counter_drops_expired_keys(key: Callable[[str], str]) -> None:
    counter = MemoryFailureCounter()
    for number in range(SWEEP_FLOOR - 1):  # a guesser cycling through account names
        counter.add_failure(key(str(number)), T, WINDOW)
    assert len(counter) == SWEEP_FLOOR - 1
    counter.add_failure(key("late"), T + WINDOW + 1, WINDOW)
    assert len(counter) == 1
    assert counter.failures(key("late"), T + WINDOW + 2, WINDOW) == 1


def test_sqlite_counter_prunes_expired_rows(tmp_path: Path, key: Callable[[str], str]) -> None:
    path = tmp_path / FILE
    counter = SqliteFailureCounter(str(path))
    for number in range(50):
        counter.add_failure(key(str(number)), T, WINDOW)
    counter.add_failure(key("recent"), T + WINDOW - 5, WINDOW)
    counter.add_failure(key("late"), T + WINDOW + 1, WINDOW)
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT key FROM login_failures ORDER BY at").fetchall()
    assert rows == [(key("recent"),), (key("late"),)]


def test_dynamodb_items_carry_the_tables_ttl(
    dynamodb_table: tuple[Any, str], key: Callable[[str], str]
) -> None:
    dynamodb, table = dynamodb_table
    DynamoFailureCounter(dynamodb, table).add_failure(key("alice"), T + 1, WINDOW)
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    items = _items(dynamodb, table, key("alice"))
    assert len(items) == 1
    # Its bucket [T, T + 6) counts until T + 66: expiring then, never earlier.
    assert items[0]["expires_at"] == {"N": str(int(T + WINDOW / BUCKETS + WINDOW))}


def test_dynamodb_successful_sources_carry_the_tables_ttl(
    dynamodb_table: tuple[Any, str], key: Callable[[str], str]
) -> None:
    dynamodb, table = dynamodb_table
    counter = DynamoFailureCounter(dynamodb, table)
    counter.add_success(key("alice"), "10.0.0.1", T, 100)
    counter.add_success(key("alice"), "10.0.0.2", T + 10, 100)
    reply = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"LOGINS#{key('alice')}"}},
    )
    expiries = sorted(item["expires_at"]["N"] for item in reply["Items"])
    assert expiries == [str(int(T + 100)), str(int(T + 110))]
    assert _items(dynamodb, table, key("alice")) == []  # apart from the failure buckets


def test_dynamodb_concurrent_successes_are_all_remembered(
    dynamodb_table: tuple[Any, str], key: Callable[[str], str]
) -> None:
    counter = DynamoFailureCounter(*dynamodb_table)
    sources = [f"10.0.2.{number}" for number in range(8)]

    def succeed(source: str) -> None:
        counter.add_success(key("alice"), source, T, 100)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(succeed, sources))
    assert all(counter.succeeded_from(key("alice"), source, T + 1) for source in sources)


def test_dynamodb_concurrent_failures_are_all_counted(
    dynamodb_table: tuple[Any, str], key: Callable[[str], str]
) -> None:
    dynamodb, table = dynamodb_table
    counter = DynamoFailureCounter(dynamodb, table)

    def fail(_: int) -> None:
        counter.add_failure(key("alice"), T + 1, WINDOW)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fail, range(40)))
    assert counter.failures(key("alice"), T + 2, WINDOW) == 40
    assert [item["failures"] for item in _items(dynamodb, table, key("alice"))] == [{"N": "40"}]


def test_dynamodb_failures_spread_over_partitions(
    dynamodb_table: tuple[Any, str], key: Callable[[str], str]
) -> None:
    dynamodb, table = dynamodb_table
    counter = DynamoFailureCounter(dynamodb, table)
    counter.add_failure(key("alice"), T, WINDOW)
    counter.add_failure(key("bob"), T, WINDOW)
    assert _items(dynamodb, table, key("alice")) and _items(dynamodb, table, key("bob"))


def _items(dynamodb: Any, table: str, key: str) -> list[dict[str, Any]]:
    reply = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"THROTTLE#{key}"}},
    )
    return reply["Items"]


# -- when DynamoDB fails -----------------------------------------------------------------------


@pytest.fixture
def broken_throttle(dynamodb_table: tuple[Any, str]) -> LoginThrottle:
    dynamodb, _ = dynamodb_table
    return LoginThrottle(counter=DynamoFailureCounter(dynamodb, f"missing-{uuid.uuid4().hex[:8]}"))


def test_a_failing_counter_fails_the_check_closed(broken_throttle: LoginThrottle) -> None:
    with pytest.raises(CounterUnavailable):
        broken_throttle.blocked("alice", "10.0.0.1")
    with pytest.raises(CounterUnavailable):
        broken_throttle.failed("alice", "10.0.0.1")


def test_a_failing_counter_refuses_even_the_right_password(
    broken_throttle: LoginThrottle, tmp_path: Path
) -> None:
    store = SqliteIdentityStore(str(tmp_path / FILE))
    store.add_user(User("alice", hash_password("wonderland")))
    with pytest.raises(CounterUnavailable):
        Authenticator(store, broken_throttle).login("alice", "wonderland", "10.0.0.1")


def test_a_failing_clear_after_a_success_is_logged_not_raised(
    broken_throttle: LoginThrottle, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="chalicelib.auth.throttle"):
        broken_throttle.succeeded("alice", "10.0.0.1")
    assert [record.levelno for record in caplog.records] == [logging.ERROR]
    assert "account=alice" in caplog.records[0].getMessage()


# -- LoginThrottle over a shared counter -------------------------------------------------------


def test_two_throttles_on_one_sqlite_file_see_each_others_failures(tmp_path: Path) -> None:
    path = str(tmp_path / FILE)
    first, second = (LoginThrottle(counter=SqliteFailureCounter(path)) for _ in range(2))
    for _ in range(5):
        first.failed("alice", "10.0.0.1")
        second.failed("alice", "10.0.0.2")
    assert first.blocked("alice", "10.0.0.3") and second.blocked("alice", "10.0.0.3")
    assert not first.blocked("bob", "10.0.0.1")  # each source has only five
    second.succeeded("alice", "10.0.0.2")
    assert not first.blocked("alice", "10.0.0.3")


def test_two_throttles_on_one_dynamodb_table_see_each_others_failures(
    dynamodb_table: tuple[Any, str],
) -> None:
    account = f"alice-{uuid.uuid4().hex[:8]}"
    first, second = (LoginThrottle(counter=DynamoFailureCounter(*dynamodb_table)) for _ in range(2))
    for _ in range(5):
        first.failed(account, "")
        second.failed(account, "")
    assert first.blocked(account, "") and second.blocked(account, "")
    second.succeeded(account, "")
    assert not first.blocked(account, "")


_FAIL = """
import sys
from chalicelib.auth.throttle import LoginThrottle
from chalicelib.storage.embedded.sqlite_throttle import SqliteFailureCounter
throttle = LoginThrottle(counter=SqliteFailureCounter(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    throttle.failed("alice", sys.argv[3])
print(throttle.blocked("alice", "10.9.9.9"))
"""


def _python(*arguments: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", _FAIL, *arguments]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)


def test_processes_on_one_sqlite_file_share_the_counts(tmp_path: Path) -> None:
    path = str(tmp_path / FILE)
    writers = [_python(path, "20", f"10.0.0.{number}") for number in (1, 2)]  # at once
    assert [writer.communicate(timeout=60)[0].strip() for writer in writers] == ["True"] * 2
    counter = SqliteFailureCounter(path)
    now = time.time()
    assert counter.failures("account:alice", now, 300) == 40  # none lost between processes
    assert [counter.failures(f"source:10.0.0.{n}", now, 300) for n in (1, 2)] == [20, 20]
    reader = _python(path, "0", "10.0.0.3")  # a fresh process that failed nothing itself
    assert reader.communicate(timeout=60)[0].strip() == "True"


# -- a live server with two workers ----------------------------------------------------------

SOURCE = "127.0.0.2"  # not the suite's 127.0.0.1: this test blocks its source for 5 minutes


def _login(url: str, account: str, password: str) -> int:
    address = urlsplit(url)
    connection = http.client.HTTPConnection(
        address.hostname, address.port, timeout=30, source_address=(SOURCE, 0)
    )
    basic = base64.b64encode(f"{account}:{password}".encode()).decode()
    try:
        connection.request(
            "GET",
            "/token?service=soute-registry",
            headers={"Authorization": f"Basic {basic}", "Connection": "close"},
        )
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_served_registrys_workers_share_the_throttle(
    embedded_auth_server: RegistryServer,
) -> None:
    account = f"guessed-{uuid.uuid4().hex[:8]}"
    store = SqliteIdentityStore(str(embedded_auth_server.data_dir / FILE))
    store.add_user(User(account, hash_password("right")))
    # Two at a time, so both workers (default --workers 2) take failures: with counts per
    # process neither would reach 10, and the right password below would get a token.
    with ThreadPoolExecutor(2) as pool:
        failures = list(
            pool.map(lambda _: _login(embedded_auth_server.url, account, "wrong"), range(10))
        )
        assert failures == [401] * 10
        retries = list(
            pool.map(lambda _: _login(embedded_auth_server.url, account, "right"), range(8))
        )
    assert retries == [429] * 8


# -- concurrent attempts ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
def test_concurrent_wrong_passwords_get_at_most_the_limit_checked(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Each attempt is counted before its password is checked, so attempts running at once
    (Lambda instances, workers, threads) cannot all slip past the limit together."""
    path = str(tmp_path / FILE)
    store = SqliteIdentityStore(path)
    account = f"racer-{uuid.uuid4().hex[:8]}"
    store.add_user(User(account, hash_password("right")))
    if backend == "sqlite":
        throttle = LoginThrottle(counter=SqliteFailureCounter(path))
    else:
        table = request.getfixturevalue("dynamodb_table")
        throttle = LoginThrottle(counter=DynamoFailureCounter(*table))
    authenticator = Authenticator(store, throttle)
    checked: list[str] = []
    check = authenticator._check

    def slow_check(name: str, secret: str) -> object:
        checked.append(secret)
        time.sleep(0.2)  # every attempt is in flight at once
        return check(name, secret)

    authenticator._check = slow_check  # type: ignore[method-assign]

    def attempt(number: int) -> str:
        try:
            authenticator.login(account, "wrong", f"10.1.0.{number}")
        except LoginThrottled:
            return "throttled"
        return "checked"

    with ThreadPoolExecutor(30) as pool:
        outcomes = list(pool.map(attempt, range(30)))
    assert len(checked) == outcomes.count("checked") <= throttle.limit
    assert outcomes.count("throttled") >= 30 - throttle.limit


def test_a_right_password_is_not_left_counted_against_its_source(tmp_path: Path) -> None:
    """Admitted attempts count as failures until proven right: twenty good logins from one
    address (a CI fleet behind one NAT) must not lock that address out."""
    path = str(tmp_path / FILE)
    store = SqliteIdentityStore(path)
    store.add_user(User("ci", hash_password("right")))
    authenticator = Authenticator(store, LoginThrottle(counter=SqliteFailureCounter(path)))
    for _ in range(20):
        assert authenticator.login("ci", "right", "10.2.0.1") is not None
    assert authenticator.throttle.counter.failures("source:10.2.0.1", time.time(), 300) == 0
