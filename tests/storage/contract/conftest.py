"""Fixtures of the storage contract suites: each port once per adapter, SQLite and files on a
temporary directory, DynamoDB and S3 on the session's moto server, so one test states one
promise of the port and holds every adapter to it.

The multi-region stores (storage/aws/regions/) are held to the same contracts: the metadata
store as a region other than the primary sees it (every write to the primary's table; with no
replication here, every read falls back to the primary), the blob store in the primary region
(records made here list no regions, which sends a pull to the primary's bucket; the
cross-region cases are in tests/aws/test_regions.py)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from chalicelib.server.backends import open_storage
from chalicelib.storage.aws.clients import aws_clients
from chalicelib.storage.aws.dynamodb import DynamoMetadataStore
from chalicelib.storage.aws.dynamodb_lifecycle import DynamoLifecycleStore
from chalicelib.storage.aws.dynamodb_policies import DynamoPolicyStore
from chalicelib.storage.aws.s3 import S3BlobStore
from chalicelib.storage.embedded.filesystem import FilesystemBlobStore
from chalicelib.storage.embedded.sqlite import SqliteMetadataStore
from chalicelib.storage.embedded.sqlite_lifecycle import SqliteLifecycleStore
from chalicelib.storage.embedded.sqlite_policies import SqlitePolicyStore
from chalicelib.storage.lifecycle_ports import LifecycleStore
from chalicelib.storage.policy_ports import PolicyStore
from chalicelib.storage.ports import BlobBody, BlobStore, MetadataStore
from tests.support.moto import aws_backend
from tests.support.regions import OTHER, PRIMARY, two_regions


@pytest.fixture(params=["sqlite", "dynamodb", "dynamodb-regions"])
def meta(request: pytest.FixtureRequest, tmp_path: Path) -> MetadataStore:
    if request.param == "sqlite":
        return SqliteMetadataStore(str(tmp_path / "metadata.sqlite"))
    if request.param == "dynamodb-regions":
        world = two_regions(request.getfixturevalue("moto_endpoint"))
        return open_storage(world.options(OTHER)).metadata()
    options = aws_backend(request.getfixturevalue("moto_endpoint"))
    clients = aws_clients(options.region, options.endpoint_url)
    return DynamoMetadataStore(
        clients.dynamodb, options.dynamodb_table or "", clients.s3, options.s3_bucket or ""
    )


@pytest.fixture
def lifecycle(meta: MetadataStore) -> LifecycleStore:
    """The GC's store over the same facts as `meta` (each adapter's lifecycle store)."""
    if isinstance(meta, SqliteMetadataStore):
        return SqliteLifecycleStore(meta)
    assert isinstance(meta, DynamoMetadataStore)
    return DynamoLifecycleStore(meta)


@pytest.fixture(params=["sqlite", "dynamodb", "dynamodb-regions"])
def policies(request: pytest.FixtureRequest, tmp_path: Path) -> PolicyStore:
    if request.param == "sqlite":
        return SqlitePolicyStore(str(tmp_path / "metadata.sqlite"))
    if request.param == "dynamodb-regions":
        world = two_regions(request.getfixturevalue("moto_endpoint"))
        return open_storage(world.options(OTHER)).policies()
    options = aws_backend(request.getfixturevalue("moto_endpoint"))
    clients = aws_clients(options.region, options.endpoint_url)
    return DynamoPolicyStore(clients.dynamodb, options.dynamodb_table or "")


@dataclass
class Blobs:
    """A BlobStore and the two things a client does beside it: read a blob's body where the
    store says it is, and send a part to the URL the store handed out."""

    store: BlobStore
    send_part: Callable[[str, int, str, bytes], str]  # (upload id, number, url, bytes) -> ETag

    def read(self, body: BlobBody) -> bytes:
        if body.path is not None:
            return b"".join(body.iter_chunks())
        assert body.redirect_url is not None
        last = body.offset + body.length - 1
        headers = {"Range": f"bytes={body.offset}-{last}"} if body.length else {}
        reply = requests.get(body.redirect_url, headers=headers, timeout=30)
        reply.raise_for_status()
        return reply.content if body.length else b""

    def part_url(self, upload_id: str, state: dict, number: int, size: int) -> str:
        expires = int(time.time()) + 600
        return self.store.part_url(upload_id, state, number, expires, BASE_URL, size=size).url


BASE_URL = "http://registry.test"


@pytest.fixture(params=["filesystem", "s3", "s3-regions"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Blobs:
    if request.param == "filesystem":
        store = FilesystemBlobStore(str(tmp_path / "data"))

        def deliver(upload_id: str, number: int, url: str, data: bytes) -> str:
            query = dict(parse_qsl(urlsplit(url).query))
            return store.receive_part(upload_id, number, query, io.BytesIO(data), len(data))

        return Blobs(store, deliver)
    if request.param == "s3-regions":
        world = two_regions(request.getfixturevalue("moto_endpoint"))
        return Blobs(open_storage(world.options(PRIMARY)).blobs(), _put_to_s3)
    options = aws_backend(request.getfixturevalue("moto_endpoint"))
    s3 = aws_clients(options.region, options.endpoint_url).s3
    return Blobs(S3BlobStore(s3, options.s3_bucket or ""), _put_to_s3)


def _put_to_s3(upload_id: str, number: int, url: str, data: bytes) -> str:
    reply = requests.put(url, data=data, timeout=60)
    reply.raise_for_status()
    return reply.headers["ETag"]
