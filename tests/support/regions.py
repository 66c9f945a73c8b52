"""Two regions on one moto server: the same table name in us-east-1 (the primary) and
eu-west-1, a bucket in each, the token signing secret in the primary; `soute serve` commands
for each region; the test replicator (replicator.py) between them.

moto keeps a table set per region (the region of each request's signature), so one endpoint
serves both regions' tables, as AWS's regional endpoints would.
"""

from __future__ import annotations

import shlex
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from chalicelib.server.backends import BackendOptions
from chalicelib.storage.aws.clients import aws_clients, secrets_manager_client
from chalicelib.storage.aws.provision import ensure_bucket, ensure_table
from chalicelib.storage.aws.secrets_manager_keys import ensure_signing_secret

from .clients import Skopeo
from .images import OciImage, assert_same_blobs, build_image
from .moto import use_fake_credentials
from .replicator import ReplicaRegion, Replicator
from .server import RegistryServer, default_soute

PRIMARY = "us-east-1"
OTHER = "eu-west-1"
REGIONS = (PRIMARY, OTHER)
FALLBACK = f"read from the primary region {PRIMARY}: not yet in {OTHER}"  # B's log line


@dataclass(frozen=True)
class TwoRegions:
    endpoint_url: str
    table: str
    buckets: tuple[tuple[str, str], ...]  # (region, bucket), the primary's first

    def bucket(self, region: str) -> str:
        return dict(self.buckets)[region]

    def options(self, region: str, **settings: Any) -> BackendOptions:
        """What a registry in `region` runs on."""
        return BackendOptions(
            backend="aws",
            s3_bucket=self.bucket(region),
            dynamodb_table=self.table,
            endpoint_url=self.endpoint_url,
            region=region,
            primary_region=PRIMARY,
            region_buckets=self.buckets,
            **settings,
        )

    def serve_arguments(self, region: str) -> list[str]:
        """The `soute serve` options of a registry in `region` (the README's commands)."""
        arguments = [
            "--dynamodb-table",
            self.table,
            "--endpoint-url",
            self.endpoint_url,
            "--region",
            region,
            "--primary-region",
            PRIMARY,
        ]
        for name, bucket in self.buckets:
            arguments += ["--region-bucket", f"{name}={bucket}"]
        return arguments

    def serve_template(self, region: str, *mode: str) -> str:
        """A `running_registry` template: `soute serve MODE…` in `region`."""
        arguments = shlex.join([*mode, *self.serve_arguments(region)])
        return f"{shlex.quote(default_soute())} serve --host {{host}} --port {{port}} {arguments}"

    def replicator(self, interval: float = 0.05) -> Replicator:
        regions = [
            ReplicaRegion(name, bucket, self.options(name).environment())
            for name, bucket in self.buckets
        ]
        return Replicator(self.endpoint_url, self.table, PRIMARY, regions, interval)

    def dynamodb(self, region: str) -> Any:
        return aws_clients(region, self.endpoint_url).dynamodb

    def s3(self, region: str) -> Any:
        return aws_clients(region, self.endpoint_url).s3

    def item(self, region: str, pk: str, sk: str) -> dict[str, Any] | None:
        """An item of `region`'s table, as it is there (raw DynamoDB form)."""
        reply = self.dynamodb(region).get_item(
            TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = reply.get("Item")
        return item

    def has_object(self, region: str, key: str) -> bool:
        s3 = self.s3(region)
        try:
            s3.head_object(Bucket=self.bucket(region), Key=key)
        except s3.exceptions.ClientError:
            return False
        return True


def two_regions(endpoint_url: str) -> TwoRegions:
    """A fresh table (in both regions), a bucket per region and the signing secret, as
    `soute aws init` makes them in each region (the deployment makes the global table)."""
    use_fake_credentials()
    name = f"soute-{uuid.uuid4().hex[:10]}"
    buckets = tuple((region, f"{name}-{region}") for region in REGIONS)
    for region, bucket in buckets:
        clients = aws_clients(region, endpoint_url)
        ensure_table(clients.dynamodb, name)
        ensure_bucket(clients.s3, bucket, region)
    world = TwoRegions(endpoint_url, name, buckets)
    secrets = secrets_manager_client(PRIMARY, endpoint_url)
    ensure_signing_secret(secrets, world.options(PRIMARY).signing_secret_id)
    return world


def push_image(skopeo: Skopeo, tmp_path: Path, server: RegistryServer, repo: str) -> OciImage:
    """A small image of two layers, pushed as `repo`:v1 through `server` by skopeo."""
    image = build_image(tmp_path / f"src-{repo.replace('/', '-')}", [200 * 1024, 1000], tag="v1")
    skopeo.copy(image.ref, f"docker://{server.address}/{repo}:v1", "--preserve-digests")
    return image


def pull_image(
    skopeo: Skopeo, tmp_path: Path, server: RegistryServer, repo: str, image: OciImage
) -> None:
    """Pull `repo`:v1 through `server` with skopeo and check it is `image`, blob for blob."""
    back = tmp_path / f"back-{server.address.rsplit(':', 1)[1]}"
    shutil.rmtree(back, ignore_errors=True)
    skopeo.copy(f"docker://{server.address}/{repo}:v1", f"oci:{back}:v1")
    assert_same_blobs(image.layout, back)


def redirect_bucket(server: RegistryServer, repo: str, digest: str) -> str:
    """The bucket `server` redirects a pull of the blob to."""
    reply = requests.get(
        f"{server.url}/v2/{repo}/blobs/{digest}", allow_redirects=False, timeout=30
    )
    assert reply.status_code == 307, reply.text
    return urlsplit(reply.headers["Location"]).path.split("/")[1]  # path-style on moto


class ServerLog:
    """The lines a server logs from now on."""

    def __init__(self, server: RegistryServer) -> None:
        self.path, self.offset = server.log_path, server.log_path.stat().st_size

    def text(self) -> str:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            return log.read().decode(errors="replace")
