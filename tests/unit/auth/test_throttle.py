from chalicelib.auth.throttle import LoginThrottle


def test_failures_expire_with_the_window() -> None:
    throttle = LoginThrottle(limit=2, window=60)
    throttle.failed("alice", "10.0.0.1", now=0)
    throttle.failed("alice", "10.0.0.1", now=1)
    assert throttle.blocked("alice", "10.0.0.9", now=30)
    assert not throttle.blocked("alice", "10.0.0.9", now=61.5)


def test_a_success_clears_the_account_but_not_the_source() -> None:
    throttle = LoginThrottle(limit=2, window=60)
    throttle.failed("alice", "10.0.0.1", now=0)
    throttle.failed("bob", "10.0.0.1", now=0)
    throttle.succeeded("alice", "10.0.0.1")
    assert not throttle.blocked("alice", "10.0.0.2", now=1)
    assert throttle.blocked("carol", "10.0.0.1", now=1)


def test_an_unknown_source_is_not_one_shared_bucket() -> None:
    throttle = LoginThrottle(limit=2, window=60)
    throttle.failed("a", "", now=0)
    throttle.failed("b", "", now=0)
    assert not throttle.blocked("c", "", now=1)
