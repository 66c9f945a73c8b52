"""A moto server (S3 + DynamoDB emulator) on a free loopback port, for the AWS backend tests:
the adapters talk to it through boto3 exactly as they talk to AWS."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from moto.server import ThreadedMotoServer

from chalicelib.server.backends import BackendOptions
from chalicelib.storage.aws_clients import aws_clients
from chalicelib.storage.aws_setup import ensure_bucket, ensure_table

from .server import free_port

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto; yield its endpoint URL."""
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def aws_backend(endpoint_url: str, **settings: object) -> BackendOptions:
    """A fresh bucket and table at `endpoint_url`, created as `soute aws init` does."""
    name = f"soute-{uuid.uuid4().hex[:10]}"
    options = BackendOptions(
        backend="aws",
        s3_bucket=name,
        dynamodb_table=name,
        endpoint_url=endpoint_url,
        region="us-east-1",
        **settings,  # type: ignore[arg-type]
    )
    clients = aws_clients(options.region, endpoint_url)
    ensure_bucket(clients.s3, name, options.region)
    ensure_table(clients.dynamodb, name)
    return options
