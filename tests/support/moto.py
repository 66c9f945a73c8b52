"""A moto server (S3 + DynamoDB emulator) on a free loopback port, for the AWS backend tests:
the adapters talk to it through boto3 exactly as they talk to AWS.

moto applies a DynamoDB transaction item by item and, when one fails, restores a copy of the
whole table taken when it started, so two transactions running at once in its threads can undo
each other's committed writes. DynamoDB itself isolates transactions. The server here handles
one request at a time, which gives each request the isolation DynamoDB gives it; concurrency
tests then test our conditions and transactions, not moto's threading.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from chalicelib.server.backends import BackendOptions
from chalicelib.storage.aws.clients import aws_clients, secrets_manager_client
from chalicelib.storage.aws.provision import ensure_bucket, ensure_table
from chalicelib.storage.aws.secrets_manager_keys import ensure_signing_secret

from .server import free_port

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def use_fake_credentials() -> None:
    """Give boto3 (and moto) the fake credentials, unless the environment names its own."""
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)


def _one_at_a_time(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    lock = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return serialised


class IsolatingMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = _one_at_a_time(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, threaded=True)
        self._server_ready_event.set()
        self._server.serve_forever()


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto; yield its endpoint URL."""
    use_fake_credentials()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
    port = free_port()
    server = IsolatingMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def aws_backend(endpoint_url: str, **settings: Any) -> BackendOptions:
    """A fresh bucket, table and signing secret at `endpoint_url`, created as `soute aws init`
    does."""
    name = f"soute-{uuid.uuid4().hex[:10]}"
    options = BackendOptions(
        backend="aws",
        s3_bucket=name,
        dynamodb_table=name,
        endpoint_url=endpoint_url,
        region="us-east-1",
        **settings,
    )
    clients = aws_clients(options.region, endpoint_url)
    ensure_bucket(clients.s3, name, options.region)
    ensure_table(clients.dynamodb, name)
    secrets = secrets_manager_client(options.region, endpoint_url)
    ensure_signing_secret(secrets, options.signing_secret_id)
    return options
