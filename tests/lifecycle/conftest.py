"""Fixtures of the lifecycle tests: a registry service and its garbage collector over the same
stores, once on the embedded backend (files + SQLite) and once on the aws backend (S3 +
DynamoDB on the session's moto server), through the composition root as `soute serve` and
`soute gc` build them."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from chalicelib.lifecycle.gc import GarbageCollector
from chalicelib.registry.service import Registry
from chalicelib.server.backends import BackendOptions, build_registry, open_storage
from chalicelib.storage.lifecycle_ports import LifecycleStore
from chalicelib.storage.ports import BlobRecord
from tests.support.lambda_server import serve_template
from tests.support.manifests import push_image, sha256
from tests.support.moto import aws_backend
from tests.support.server import RegistryServer, running_registry


@dataclass
class World:
    """One backend: the service, the GC's store, and a GC at a chosen time."""

    options: BackendOptions
    registry: Registry
    lifecycle: LifecycleStore

    def collector(self, clock: Callable[[], float] = time.time) -> GarbageCollector:
        storage = open_storage(self.options)
        return GarbageCollector(
            self.lifecycle,
            storage.metadata(),
            storage.blobs(),
            clock=clock,
            policies=storage.policies(),
        )

    def collect(self, at: float | None = None, **options: object):  # type: ignore[no-untyped-def]
        """A GC run with grace 0 as of `at` (now by default): whatever is idle before then."""
        clock = (lambda: at) if at is not None else time.time
        return self.collector(clock).run(0, **options)  # type: ignore[arg-type]

    # -- what a client does, through the service -----------------------------------------
    def push_blob(self, repository: str, data: bytes) -> BlobRecord:
        return self.registry.uploads.upload_whole(
            repository, sha256(data), io.BytesIO(data), len(data)
        )

    def push_image(self, repository: str, tag: str, layers: list[bytes]) -> tuple[str, list[str]]:
        """Push a config and layers, then a manifest tagged `tag`; the manifest's digest and
        the blobs' digests (config first)."""
        config = json.dumps({"os": "linux", "n": uuid.uuid4().hex}).encode()
        record = push_image(self.registry, repository, tag, config, layers)
        return record.digest, [sha256(blob) for blob in (config, *layers)]

    def read_blob(self, repository: str, digest: str) -> bytes:
        record = self.registry.blobs.stat(repository, digest)
        body = self.registry.blobs.body(record, 0, record.size)
        if body.path is not None:
            return b"".join(body.iter_chunks())
        assert body.redirect_url is not None
        reply = requests.get(body.redirect_url, timeout=30)
        reply.raise_for_status()
        return reply.content

    def bytes_exist(self, record: BlobRecord) -> bool:
        """Whether the bytes at the record's key are still stored."""
        if self.options.backend == "embedded":
            return os.path.exists(os.path.join(self.options.data_dir, record.key))
        store = open_storage(self.options).blobs()
        try:
            store.s3.head_object(Bucket=self.options.s3_bucket, Key=record.key)  # type: ignore[attr-defined]
        except store.s3.exceptions.ClientError:  # type: ignore[attr-defined]
            return False
        return True


def layer(size: int = 3000) -> bytes:
    return os.urandom(size)


@pytest.fixture(params=["embedded", "aws"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> World:
    if request.param == "embedded":
        options = BackendOptions(data_dir=str(tmp_path / "data"))
    else:
        options = aws_backend(request.getfixturevalue("moto_endpoint"))
    storage = open_storage(options)
    return World(options, build_registry(options), storage.lifecycle())


@pytest.fixture(scope="module", params=["embedded", "aws"])
def served_registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RegistryServer, BackendOptions]]:
    """A `soute serve` of the requesting module's own, on each backend (a fresh data directory,
    or a fresh bucket and table on the session's moto), and the options naming its storage."""
    workdir = tmp_path_factory.mktemp(f"served-{request.param}")
    if request.param == "embedded":
        with running_registry(workdir) as server:
            yield server, BackendOptions(data_dir=str(server.data_dir))
        return
    options = aws_backend(request.getfixturevalue("moto_endpoint"))
    with running_registry(workdir, serve_template(options, "--backend", "aws")) as server:
        yield server, options
