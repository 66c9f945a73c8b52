"""boto3 clients are cached per process: a forked process (a gunicorn worker, forked from the
master that checked the storage and may be running the GC in a thread) makes its own instead
of sharing the pooled connections and locks of the one it was copied from."""

from __future__ import annotations

import multiprocessing
import os

from chalicelib.storage.aws.clients import aws_clients

ENDPOINT = "http://127.0.0.1:9"  # never called: clients connect on their first request


def _child(parents: int) -> None:
    mine = aws_clients("us-east-1", ENDPOINT)
    same_again = aws_clients("us-east-1", ENDPOINT) is mine
    os._exit(0 if id(mine) != parents and same_again else 1)


def test_a_forked_process_makes_its_own_clients() -> None:
    clients = aws_clients("us-east-1", ENDPOINT)
    assert aws_clients("us-east-1", ENDPOINT) is clients  # once per process
    child = multiprocessing.get_context("fork").Process(target=_child, args=(id(clients),))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
