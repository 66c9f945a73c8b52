"""Every store of the aws backend: blobs in one S3 bucket; metadata, identities, the audit log
and failed-login counts on one DynamoDB table; the token signing key derived from a Secrets
Manager secret.

With several regions (a primary region named; regions/ explains the rules): the table is a
global table and every store writes to the primary region's replica, from whichever region
this process runs in; the pull path's reads go to the local replica first (metadata's
`reads`); blobs go to the bucket of the region that receives them (RegionalBlobStore, one
S3BlobStore per region's bucket). Policies (per-scope settings such as tag immutability)
decide writes, so they are read and written in the primary region. Identities, the audit
log, failed-login counts and the signing secret are read in the primary region too:
simplest, and always current (a password change or a revoked token counts at once
everywhere), for one cross-region read per login or token check that misses the token
cache. Manifest bodies too big for an item stay in the primary's bucket.

The composition root (`server/backends.py`) asks this object for each store, so which adapter
keeps which fact is written here only. boto3 is imported on the first client, not with this
module."""

from __future__ import annotations

import functools
from typing import Any

from ...auth.audit import AuditLog
from ...auth.identity_ports import IdentityStore
from ...auth.keys import KeyRing
from ...auth.throttle_ports import FailureCounter
from ..lifecycle_ports import LifecycleStore
from ..policy_ports import PolicyStore
from ..ports import BlobStore, MetadataStore
from .clients import AwsClients, aws_clients, secrets_manager_client
from .dynamodb import DynamoMetadataStore
from .dynamodb_audit import DynamoAuditLog
from .dynamodb_identities import DynamoIdentityStore
from .dynamodb_lifecycle import DynamoLifecycleStore
from .dynamodb_policies import DynamoPolicyStore
from .dynamodb_throttle import DynamoFailureCounter
from .regions.blob_store import RegionalBlobStore
from .regions.copies import BlobCopies
from .regions.reads import RegionalReader
from .regions.recorder import CopyRecorder
from .s3 import PRESIGN_EXPIRES, S3BlobStore
from .secrets_manager_keys import SecretsManagerKeys


class AwsStorage:
    def __init__(
        self,
        table: str | None,
        bucket: str | None = None,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        signing_secret_id: str | None = None,
        presign_expires: int = PRESIGN_EXPIRES,
        primary_region: str | None = None,
        region_buckets: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """`primary_region` (None: one region) and `region_buckets`, each region's bucket
        (the local one included), make it a multi-region store; `region` is then the local
        region, and `bucket` its bucket."""
        self.table, self.bucket = table, bucket
        self.region, self.endpoint_url = region, endpoint_url
        self.signing_secret_id = signing_secret_id
        self.presign_expires = presign_expires
        self.primary_region = primary_region
        self.region_buckets = dict(region_buckets)

    def metadata(self) -> MetadataStore:
        """The table, with the bucket for manifest bodies too big for an item when one is
        named (the admin verbs read the catalog without one)."""
        if self.primary_region is None:
            s3 = self._clients.s3 if self.bucket else None
            return DynamoMetadataStore(self._dynamodb, self._table(), s3, self.bucket)
        bucket = self.region_buckets.get(self.primary_region)
        return DynamoMetadataStore(
            self._dynamodb,
            self._table(),
            self._primary.s3 if bucket else None,
            bucket,
            reads=self._reader,
            copies=self._copies,
        )

    def existing_metadata(self) -> MetadataStore | None:
        return self.metadata()

    def lifecycle(self) -> LifecycleStore:
        """What the lifecycle GC reads and changes: the (primary region's) table."""
        metadata = self.metadata()
        assert isinstance(metadata, DynamoMetadataStore)
        return DynamoLifecycleStore(metadata)

    def blobs(self) -> BlobStore:
        if not self.bucket:
            raise ValueError("the aws backend needs an S3 bucket and a DynamoDB table")
        if self.primary_region is None:
            return S3BlobStore(self._clients.s3, self.bucket, presign_expires=self.presign_expires)
        return RegionalBlobStore(
            self._regional_stores(), self._local_region, self.primary_region, self._copies
        )

    def copy_recorder(self) -> CopyRecorder:
        """The logic of the `blob_copies` function (regions/recorder.py)."""
        if self.primary_region is None:
            raise ValueError("recording blob copies needs several regions (a primary region)")
        return CopyRecorder(self._copies, self._regional_stores())

    def _regional_stores(self) -> dict[str, S3BlobStore]:
        return {
            region: S3BlobStore(
                aws_clients(region, self.endpoint_url).s3,
                bucket,
                presign_expires=self.presign_expires,
            )
            for region, bucket in self.region_buckets.items()
        }

    def identities(self) -> IdentityStore:
        return DynamoIdentityStore(self._dynamodb, self._table())

    def policies(self) -> PolicyStore:
        """Per-scope settings: they decide writes (a tag push), so they are read where writes
        go, the primary region's table."""
        return DynamoPolicyStore(self._dynamodb, self._table())

    def audit(self) -> AuditLog:
        return DynamoAuditLog(self._dynamodb, self._table())

    def failure_counter(self) -> FailureCounter:
        """Shared by every Lambda instance and server process on the table."""
        return DynamoFailureCounter(self._dynamodb, self._table())

    def signing_keys(self) -> KeyRing:
        """Derived from the secret; a missing secret fails here, at the start, not at the first
        login (SigningSecretMissing)."""
        if not self.signing_secret_id:
            raise ValueError("auth on the aws backend needs the token signing secret's name")
        region = self.primary_region or self.region
        secrets = secrets_manager_client(region, self.endpoint_url)
        keys = SecretsManagerKeys(secrets, self.signing_secret_id)
        keys.signing_key()
        return keys

    @functools.cached_property
    def _clients(self) -> AwsClients:
        return aws_clients(self.region, self.endpoint_url)

    @property
    def _primary(self) -> AwsClients:
        if self.primary_region is None:
            return self._clients
        return aws_clients(self.primary_region, self.endpoint_url)

    @property
    def _dynamodb(self) -> Any:
        """The client every write (and every read outside the pull path) uses."""
        return self._primary.dynamodb

    @property
    def _local_region(self) -> str:
        if not self.region:
            raise ValueError("several regions need the local region (--region)")
        return self.region

    @functools.cached_property
    def _reader(self) -> RegionalReader:
        assert self.primary_region is not None
        local = self._clients.dynamodb
        return RegionalReader(
            local, self._primary.dynamodb, self._local_region, self.primary_region
        )

    @functools.cached_property
    def _copies(self) -> BlobCopies:
        return BlobCopies(self._primary.dynamodb, self._table(), self._reader)

    def _table(self) -> str:
        if not self.table:
            raise ValueError("the aws backend needs an S3 bucket and a DynamoDB table")
        return self.table
