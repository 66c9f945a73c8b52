"""`soute serve --lambda` (the Chalice app behind the API Gateway emulator) on moto storage."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chalicelib.server.backends import BackendOptions

from .moto import aws_backend
from .server import RegistryServer, default_soute, running_registry


def aws_arguments(storage: BackendOptions) -> list[str]:
    """The options naming `storage`'s bucket, table, endpoint and region on a command line."""
    return ["--s3-bucket", str(storage.s3_bucket), *_table_arguments(storage)]


def _table_arguments(storage: BackendOptions) -> list[str]:
    """The options naming `storage`'s table, its endpoint and its region."""
    return [
        "--dynamodb-table",
        str(storage.dynamodb_table),
        "--endpoint-url",
        str(storage.endpoint_url),
        "--region",
        str(storage.region),
    ]


def admin_arguments(storage: BackendOptions) -> list[str]:
    """The options of the admin verbs (`soute policy`, `soute immutable`...) naming `storage`:
    the data directory, or the table (they need no bucket)."""
    if storage.backend == "embedded":
        return ["--data-dir", storage.data_dir]
    return ["--backend", "aws", *_table_arguments(storage)]


def storage_arguments(storage: BackendOptions) -> list[str]:
    """The options of `soute gc`, `du` and `verify` naming `storage`, on either backend."""
    if storage.backend == "embedded":
        return ["--data-dir", storage.data_dir]
    return ["--backend", "aws", *aws_arguments(storage)]


def serve_template(storage: BackendOptions, *mode: str) -> str:
    """A `running_registry` command template: `soute serve MODE…` on `storage`."""
    arguments = shlex.join([*mode, *aws_arguments(storage)])
    return f"{shlex.quote(default_soute())} serve --host {{host}} --port {{port}} {arguments}"


@contextmanager
def lambda_registry(
    moto_endpoint: str, workdir: Path, *mode: str
) -> Iterator[tuple[RegistryServer, BackendOptions]]:
    """A fresh bucket, table and signing secret on moto, served as Lambda serves them (with
    `mode`, e.g. --auth, added to `soute serve --lambda`)."""
    storage = aws_backend(moto_endpoint)
    ready = 401 if "--auth" in mode else 200
    template = serve_template(storage, "--lambda", *mode)
    with running_registry(workdir, template, ready_status=ready) as server:
        yield server, storage
